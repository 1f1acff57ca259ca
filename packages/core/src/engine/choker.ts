/**
 * BEP 3 tit-for-tat choking: which peers we upload to.
 *
 * Pure and deterministic: no timers, no I/O. The coordinator passes the time and the peers'
 * current state on every tick, and the randomness comes from the `rng` option, so a run is
 * reproducible from its seed and tests need no sleeps.
 */

/** What the choker needs to know about one connected peer, as of the current tick. */
export interface ChokerPeer {
  /** The peer's actor id: the identity the coordinator uses for it. */
  readonly actorId: number;
  /** The peer is interested in us (wants pieces we have). */
  readonly interested: boolean;
  /** Bytes/s we receive from this peer: the ranking while we are leeching. */
  readonly downloadRate: number;
  /** Bytes/s we send to this peer: the ranking while we are seeding. */
  readonly uploadRate: number;
  /** When the connection was established, ms (same clock as `update`'s `now`). */
  readonly connectedAt: number;
  /** The peer has every piece, so it never needs our upload. */
  readonly seed: boolean;
}

export interface ChokerOptions {
  /** Regular (rate-ranked) unchoke slots; the optimistic unchoke comes on top. Default: 4. */
  readonly uploadSlots?: number;
  /** How often the regular slots are re-ranked, ms. Default: 10,000 (BEP 3). */
  readonly rechokeIntervalMs?: number;
  /** How often the optimistic unchoke moves to another peer, ms. Default: 30,000 (BEP 3). */
  readonly optimisticIntervalMs?: number;
  /**
   * Peers connected for less than this are "new" and weigh 3× in the optimistic draw: they have
   * no pieces to trade yet, and the optimistic slot is how they get their first ones.
   * Default: 60,000.
   */
  readonly newPeerMs?: number;
  /** Source of randomness in [0, 1) for the optimistic draw; pass a seeded one for reproducibility. */
  readonly rng: () => number;
}

export interface ChokeDecision {
  /** The actor ids to unchoke; every other peer is choked. */
  readonly unchoked: ReadonlySet<number>;
  /** Whether `unchoked` differs from the previous decision (i.e. choke/unchoke messages are due). */
  readonly changed: boolean;
}

export const DEFAULT_UPLOAD_SLOTS = 4;
export const DEFAULT_RECHOKE_INTERVAL_MS = 10_000;
export const DEFAULT_OPTIMISTIC_INTERVAL_MS = 30_000;
export const DEFAULT_NEW_PEER_MS = 60_000;

/** Weight of a new peer in the optimistic draw, relative to 1 for an established one (BEP 3). */
const NEW_PEER_WEIGHT = 3;

/**
 * Decides which peers to unchoke.
 *
 * - `uploadSlots` regular slots go to the interested, non-seed peers with the best rate: the rate
 *   they give us while we leech (tit-for-tat), the rate we achieve to them while we seed (the
 *   pieces spread fastest through the peers that can take them fastest). Ties go to a peer that
 *   is already unchoked (no churn among equals, e.g. at start when every rate is 0), then to
 *   the lower actor id, so the order is stable.
 * - One optimistic unchoke, on top, goes to a random interested, non-seed peer outside the
 *   regular slots, new peers weighted 3×. It moves every `optimisticIntervalMs`; between moves it
 *   stays while its holder is connected, interested and not promoted into a regular slot.
 * - A peer that is not interested is never unchoked. libtorrent unchokes such peers without
 *   costing a slot so that they can request the moment they become interested; we save that
 *   complexity: the caller passes `force` when a peer becomes interested, which costs the peer one
 *   round trip at most.
 */
export class Choker {
  #uploadSlots: number;
  readonly #rechokeIntervalMs: number;
  readonly #optimisticIntervalMs: number;
  readonly #newPeerMs: number;
  readonly #rng: () => number;

  #unchoked: ReadonlySet<number> = new Set();
  /** Time of the last recomputation; undefined until the first `update`. */
  #lastRechokeAt: number | undefined;
  #optimistic: number | undefined;
  /** When the current optimistic holder got the slot. */
  #optimisticSince = 0;
  /** An unchoked peer left: its slot is refilled at the next `update`, due or not. */
  #dirty = false;

  constructor(options: ChokerOptions) {
    this.#uploadSlots = options.uploadSlots ?? DEFAULT_UPLOAD_SLOTS;
    this.#rechokeIntervalMs = options.rechokeIntervalMs ?? DEFAULT_RECHOKE_INTERVAL_MS;
    this.#optimisticIntervalMs = options.optimisticIntervalMs ?? DEFAULT_OPTIMISTIC_INTERVAL_MS;
    this.#newPeerMs = options.newPeerMs ?? DEFAULT_NEW_PEER_MS;
    this.#rng = options.rng;
    if (!Number.isInteger(this.#uploadSlots) || this.#uploadSlots < 0)
      throw new RangeError(`uploadSlots must be a non-negative integer, got ${this.#uploadSlots}`);
    for (const [name, value] of [
      ['rechokeIntervalMs', this.#rechokeIntervalMs],
      ['optimisticIntervalMs', this.#optimisticIntervalMs],
      ['newPeerMs', this.#newPeerMs],
    ] as const) {
      if (!(value >= 0)) throw new RangeError(`${name} must be a non-negative number, got ${value}`);
    }
  }

  /** Regular (rate-ranked) unchoke slots. */
  get uploadSlots(): number {
    return this.#uploadSlots;
  }

  /** New regular slot count; the next `update` recomputes (fewer slots choke the surplus then). */
  setUploadSlots(uploadSlots: number): void {
    if (!Number.isInteger(uploadSlots) || uploadSlots < 0)
      throw new RangeError(`uploadSlots must be a non-negative integer, got ${uploadSlots}`);
    if (uploadSlots === this.#uploadSlots) return;
    this.#uploadSlots = uploadSlots;
    this.#dirty = true;
  }

  /** The actor id holding the optimistic unchoke, if any. */
  get optimistic(): number | undefined {
    return this.#optimistic;
  }

  /** The current decision, without recomputing. */
  get unchoked(): ReadonlySet<number> {
    return this.#unchoked;
  }

  /**
   * Called on every coordinator tick. Recomputes only when a rechoke is due (the rechoke or the
   * optimistic interval elapsed, an unchoked peer left) or `force` is set — e.g. a peer became
   * interested while a slot is free. Otherwise returns the previous decision unchanged.
   *
   * @param peers every connected peer of the torrent.
   * @param now current time, ms.
   * @param seeding we have every piece: rank by upload rate instead of download rate.
   */
  update(peers: readonly ChokerPeer[], now: number, seeding: boolean, force = false): ChokeDecision {
    const due =
      force ||
      this.#dirty ||
      this.#lastRechokeAt === undefined ||
      now - this.#lastRechokeAt >= this.#rechokeIntervalMs ||
      (this.#optimistic !== undefined && now - this.#optimisticSince >= this.#optimisticIntervalMs) ||
      // A caller that forgot `remove` must not leave a departed peer holding a slot.
      this.#holdsDeparted(peers);
    if (!due) return { unchoked: this.#unchoked, changed: false };
    this.#dirty = false;
    this.#lastRechokeAt = now;

    const previous = this.#unchoked;
    const candidates = peers.filter((peer) => peer.interested && !peer.seed);
    const rate = seeding ? (peer: ChokerPeer) => peer.uploadRate : (peer: ChokerPeer) => peer.downloadRate;
    candidates.sort(
      (a, b) =>
        rate(b) - rate(a) ||
        Number(previous.has(b.actorId)) - Number(previous.has(a.actorId)) ||
        a.actorId - b.actorId,
    );
    const regular = candidates.slice(0, this.#uploadSlots);
    const next = new Set(regular.map((peer) => peer.actorId));
    const others = candidates.slice(this.#uploadSlots);

    const holder = this.#optimistic;
    const rotationDue = now - this.#optimisticSince >= this.#optimisticIntervalMs;
    // `others` holds exactly the interested, connected non-seeds outside the regular slots: a
    // holder still among them keeps the slot until its interval is up.
    const keep = holder !== undefined && !rotationDue && others.some((peer) => peer.actorId === holder);
    if (!keep) {
      // Rotating means a different peer when there is one: the point is to try someone new.
      const pool = others.length > 1 ? others.filter((peer) => peer.actorId !== holder) : others;
      this.#optimistic = this.#pick(pool, now);
      this.#optimisticSince = now;
    }
    if (this.#optimistic !== undefined) next.add(this.#optimistic);

    const changed = next.size !== previous.size || [...next].some((id) => !previous.has(id));
    if (changed) this.#unchoked = next;
    return { unchoked: this.#unchoked, changed };
  }

  /** A peer left: forget it. If it was unchoked (the optimistic one included), the next `update` refills its slot. */
  remove(actorId: number): void {
    if (this.#optimistic === actorId) this.#optimistic = undefined;
    if (!this.#unchoked.has(actorId)) return;
    const rest = new Set(this.#unchoked);
    rest.delete(actorId);
    this.#unchoked = rest;
    this.#dirty = true;
  }

  #holdsDeparted(peers: readonly ChokerPeer[]): boolean {
    if (this.#unchoked.size === 0) return false;
    let present = 0;
    for (const peer of peers) if (this.#unchoked.has(peer.actorId)) present++;
    return present !== this.#unchoked.size;
  }

  /** A weighted draw: new peers weigh NEW_PEER_WEIGHT, established ones 1. One rng call. */
  #pick(pool: readonly ChokerPeer[], now: number): number | undefined {
    if (pool.length === 0) return undefined;
    const weight = (peer: ChokerPeer) => (now - peer.connectedAt < this.#newPeerMs ? NEW_PEER_WEIGHT : 1);
    let total = 0;
    for (const peer of pool) total += weight(peer);
    let target = this.#rng() * total;
    for (const peer of pool) {
      target -= weight(peer);
      if (target < 0) return peer.actorId;
    }
    // Only reachable through float rounding at the very top of the range.
    return pool[pool.length - 1]!.actorId;
  }
}
