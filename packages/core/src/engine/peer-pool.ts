import type { PeerTransportKind } from './transport-policy.js';

/**
 * Where a peer address came from: given by hand (`--peer`: never given up on), a tracker, a peer
 * that dialled us, the DHT, peer exchange, or local service discovery; or a web seed (BEP 19: an
 * HTTP(S) server, from `url-list` or `--web-seed`), which is no address at all.
 */
export type PeerSource = 'manual' | 'tracker' | 'incoming' | 'dht' | 'pex' | 'lsd' | 'webseed';

export interface PeerPoolOptions {
  /** Most addresses remembered; the oldest idle ones are forgotten beyond it. Default: 2,000. */
  readonly maxAddresses?: number;
  /** First reconnect delay after a failure or disconnect, ms. Default: 2,000. */
  readonly baseBackoffMs?: number;
  /** Longest reconnect delay, ms. Default: 120,000. */
  readonly maxBackoffMs?: number;
  /** Consecutive failures after which a tracker-learnt address is dropped. Default: 6. */
  readonly maxFailures?: number;
}

interface Entry {
  readonly key: string;
  readonly host: string;
  readonly port: number;
  source: PeerSource;
  state: 'idle' | 'connecting' | 'connected';
  failures: number;
  notBefore: number;
  banned: boolean;
  lastSeen: number;
  /** Live connections that are this peer without having been dialled here (see `alias`). */
  aliases: number;
  /**
   * Dial plain BitTorrent next: the last encrypted dial failed at its MSE handshake. Cleared when a
   * plain dial is closed during its handshake (a peer that requires encryption), so the two
   * alternate and one failed MSE handshake never costs a peer for good.
   */
  plainRetry: boolean;
  /** The transport to dial next (`--transport both`): the one that worked, or the other after a failure. */
  transport: PeerTransportKind | undefined;
  /** The last dial's transport failed and the other was tried at once; reset when one connects. */
  transportSwitched: boolean;
  /** Its last connection ended with it holding every piece: no use to a torrent that is seeding. */
  seed: boolean;
}

export interface PeerAddress {
  readonly host: string;
  readonly port: number;
}

export function peerKey(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * The addresses a torrent may connect to, with reconnect backoff and bans. Pure: the caller
 * passes the time, so tests need no sleeps.
 */
export class PeerPool {
  readonly #entries = new Map<string, Entry>();
  readonly #maxAddresses: number;
  readonly #baseBackoffMs: number;
  readonly #maxBackoffMs: number;
  readonly #maxFailures: number;

  constructor(options: PeerPoolOptions = {}) {
    this.#maxAddresses = options.maxAddresses ?? 2_000;
    this.#baseBackoffMs = options.baseBackoffMs ?? 2_000;
    this.#maxBackoffMs = options.maxBackoffMs ?? 120_000;
    this.#maxFailures = options.maxFailures ?? 6;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** Adds addresses; known ones are refreshed (a tracker re-listing a peer forgives old failures). */
  add(addresses: Iterable<PeerAddress>, source: PeerSource, now: number): number {
    let added = 0;
    for (const { host, port } of addresses) {
      const key = peerKey(host, port);
      const known = this.#entries.get(key);
      if (known) {
        known.lastSeen = now;
        if (source === 'manual') known.source = 'manual';
        continue;
      }
      if (this.#entries.size >= this.#maxAddresses && !this.#evictOne()) break;
      this.#entries.set(key, {
        key,
        host,
        port,
        source,
        state: 'idle',
        failures: 0,
        notBefore: 0,
        banned: false,
        lastSeen: now,
        aliases: 0,
        plainRetry: false,
        transport: undefined,
        transportSwitched: false,
        seed: false,
      });
      added++;
    }
    return added;
  }

  /**
   * Up to `max` addresses ready to dial now, marked as connecting. Fewest failures first. While
   * `seeding`, not the peers last seen with every piece (libtorrent's rule too): two seeds have
   * nothing to trade, and a downloader that finished and left was redialled by every seeder of the
   * bench, then tried over uTP for 3 s, for as long as the seeders ran.
   */
  take(
    max: number,
    now: number,
    seeding = false,
  ): Array<
    PeerAddress & {
      readonly source: PeerSource;
      readonly plainRetry: boolean;
      readonly transport: PeerTransportKind | undefined;
    }
  > {
    const ready: Entry[] = [];
    for (const entry of this.#entries.values()) {
      if (
        entry.state === 'idle' &&
        !entry.banned &&
        entry.aliases === 0 &&
        entry.notBefore <= now &&
        !(seeding && entry.seed)
      )
        ready.push(entry);
    }
    ready.sort((a, b) => a.failures - b.failures);
    return ready.slice(0, Math.max(0, max)).map((entry) => {
      entry.state = 'connecting';
      return {
        host: entry.host,
        port: entry.port,
        source: entry.source,
        plainRetry: entry.plainRetry,
        transport: entry.transport,
      };
    });
  }

  /** Connected; `transport`: what carried it, dialled there from now on (`--transport both`). */
  connected(key: string, transport?: PeerTransportKind): void {
    const entry = this.#entries.get(key);
    if (!entry) return;
    entry.state = 'connected';
    entry.failures = 0;
    entry.transportSwitched = false;
    if (transport) entry.transport = transport;
  }

  /**
   * A dial failed at its transport (refused, reset, unanswered) before any BitTorrent byte:
   * `other` is dialled next, at once the first time (a uTP-only or TCP-only peer is a good peer);
   * a failure after that backs off as usual.
   */
  transportFailed(key: string, other: PeerTransportKind, now: number): void {
    const entry = this.#entries.get(key);
    if (!entry) return;
    entry.transport = other;
    if (entry.transportSwitched) {
      this.disconnected(key, true, now);
      return;
    }
    entry.transportSwitched = true;
    entry.state = 'idle';
    entry.notBefore = now;
  }

  /**
   * The connection ended. `failed` means it never became useful (refused, timed out, dropped for
   * misbehaviour); it backs off exponentially. A clean disconnect retries after the base delay.
   */
  disconnected(key: string, failed: boolean, now: number): void {
    const entry = this.#entries.get(key);
    if (!entry) return;
    entry.state = 'idle';
    if (failed) entry.failures++;
    const delay = Math.min(this.#maxBackoffMs, this.#baseBackoffMs * 2 ** Math.max(0, entry.failures - 1));
    entry.notBefore = now + delay;
    if (entry.source !== 'manual' && entry.source !== 'incoming' && entry.failures >= this.#maxFailures)
      this.#entries.delete(key);
  }

  /**
   * An encrypted dial failed during its MSE handshake (the peer closed it, or answered garbage):
   * the address is dialled again at once, in plain BitTorrent, and plain while that works. Not a
   * failure: a client that does not speak MSE is a good peer.
   */
  encryptionFailed(key: string, now: number): void {
    const entry = this.#entries.get(key);
    if (!entry) return;
    entry.state = 'idle';
    entry.plainRetry = true;
    entry.notBefore = now;
  }

  /**
   * A plain dial (after a failed MSE handshake) was closed during its BitTorrent handshake: the
   * peer wants encryption after all (the MSE failure was passing: a torrent still starting, a
   * peer restarting), or it does not take this transport (libtorrent closes a connection over a
   * transport it has turned off). Encrypted next; with `other` (`--transport both`) over the other
   * transport as `transportFailed` says, else after the usual backoff. A failure either way, so
   * an address that refuses everything keeps backing off (a learnt one is dropped after
   * `maxFailures`).
   */
  plainFailed(key: string, now: number, other?: PeerTransportKind): void {
    const entry = this.#entries.get(key);
    if (!entry) return;
    entry.plainRetry = false;
    if (other) this.transportFailed(key, other, now);
    else this.disconnected(key, true, now);
  }

  /**
   * A live connection is this address's peer, though it was not dialled here (it dialled us from
   * another port and told its listen port; or a twin connection showed its peer id): the address
   * is not dialled while any such connection lasts. Adds the address if it is new.
   */
  alias(host: string, port: number, now: number): string {
    const key = peerKey(host, port);
    let entry = this.#entries.get(key);
    if (!entry) {
      this.add([{ host, port }], 'incoming', now);
      entry = this.#entries.get(key);
    }
    if (entry) entry.aliases++;
    return key;
  }

  /** An aliasing connection ended: the address may be dialled again, after the base delay. */
  unalias(key: string, now: number): void {
    const entry = this.#entries.get(key);
    if (!entry || entry.aliases === 0) return;
    entry.aliases--;
    if (entry.aliases === 0) entry.notBefore = Math.max(entry.notBefore, now + this.#baseBackoffMs);
  }

  /** What this address's last connection showed: the peer held every piece, or not. */
  lastSeenSeed(key: string, seed: boolean): void {
    const entry = this.#entries.get(key);
    if (entry) entry.seed = seed;
  }

  /** Never dial this address again for this torrent. */
  ban(key: string): void {
    const entry = this.#entries.get(key);
    if (entry) {
      entry.banned = true;
      entry.state = 'idle';
    }
  }

  isBanned(key: string): boolean {
    return this.#entries.get(key)?.banned ?? false;
  }

  /** How many addresses could be dialled at some point (not banned, not connected/connecting). */
  get candidates(): number {
    let count = 0;
    for (const entry of this.#entries.values())
      if (entry.state === 'idle' && !entry.banned && entry.aliases === 0) count++;
    return count;
  }

  /** Earliest time an idle address becomes ready, or undefined when none will. */
  nextReadyAt(): number | undefined {
    let next: number | undefined;
    for (const entry of this.#entries.values()) {
      if (
        entry.state === 'idle' &&
        !entry.banned &&
        entry.aliases === 0 &&
        (next === undefined || entry.notBefore < next)
      ) {
        next = entry.notBefore;
      }
    }
    return next;
  }

  #evictOne(): boolean {
    for (const entry of this.#entries.values()) {
      if (entry.state === 'idle' && entry.source !== 'manual' && !entry.banned && entry.aliases === 0) {
        this.#entries.delete(entry.key);
        return true;
      }
    }
    return false;
  }
}
