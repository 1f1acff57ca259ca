import type { PieceScheduler } from './piece-scheduler.js';
import { DEFAULT_MAX_PIECES_PER_PEER, piecesForRate } from './pieces-for-rate.js';

/** In the endgame, copies of pieces in flight are made only after this long without a verified piece, ms. */
export const DEFAULT_ENDGAME_QUIET_MS = 1_000;
/** No piece verified for this long: idle peers may fetch copies of pieces stuck on slow ones, ms. */
export const DEFAULT_STALL_COPY_MS = 10_000;

export interface AssignmentPolicyOptions {
  /**
   * Endgame copies (and an idle peer's early duplicates) are made only once no piece has been
   * verified for this long, ms. Default 1,000 (`DEFAULT_ENDGAME_QUIET_MS`).
   */
  readonly endgameQuietMs?: number;
  /**
   * Once no piece has been verified for this long, unmeasured peers may take endgame copies too,
   * ms. Default 10,000 (`DEFAULT_STALL_COPY_MS`).
   */
  readonly stallCopyMs?: number;
}

/** What the policy needs to know of one peer. */
export interface PolicyPeer {
  readonly actorId: number;
  /**
   * Its download rate when it last had work, bytes/s; 0 until measured. (An idle peer's stats
   * window reads 0, and an idle fast peer must still count as fast.)
   */
  readonly knownRate: number;
  /** It can take work now: connected, not closing, not choking us, and we are interested in it. */
  readonly canFetch: boolean;
  /** It gave pieces back as snubbed (or its actor says it is snubbed) and has delivered none since. */
  readonly snubbed: boolean;
  /** Pieces verified from it on this connection (what slow start grows on). */
  readonly piecesReceived: number;
}

/**
 * Which peer fetches how many pieces, and when copies of pieces in flight are made: the fill and
 * endgame rules of the coordinator, in one place that the engine's `Torrent` and the test kit's
 * scheduler simulation both run, so the simulation measures the policy that ships. The pieces
 * themselves are picked by the `PieceScheduler` (rarest first, the byte budget, endgame copies).
 * Pure: the caller passes the time.
 *
 * The rules, and the figures behind them (docs/architecture.md):
 * - a peer holds `piecesForRate(knownRate)` pieces: about 3 s of data at its rate; until it is
 *   measured, the minimum plus one per piece it has delivered (slow start);
 * - peers not yet measured are filled first (they can only be measured by working), then the
 *   fastest;
 * - a snubbed peer gets nothing until it delivers again;
 * - endgame copies go only to measured peers while pieces keep verifying: an unproven peer holding
 *   the last copy of a piece is how a download stalls at 99 %. Once nothing has verified for
 *   `stallCopyMs`, any idle peer may fetch a copy (the scheduler picks the oldest assignments);
 * - copies (in the endgame every assignment is one; before it, an idle peer's when the budget is
 *   full) are made only once verification has gone quiet for `endgameQuietMs`: while pieces keep
 *   verifying the holders are doing fine and a copy arrives second (on a fast loopback swarm
 *   nearly every one did, 5–8 % of a 2 GiB download fetched twice). A fast peer merely idle beside
 *   slower ones does not copy their pieces; it gets work once the budget frees;
 * - a copy that wins over a peer that has never delivered a byte, `stallCopyMs` after it
 *   connected, marks that peer snubbed (see `snubsLoser`).
 */
export class AssignmentPolicy {
  readonly #pieceLength: number;
  readonly #endgameQuietMs: number;
  readonly #stallCopyMs: number;
  #lastVerifiedAt: number;

  constructor(pieceLength: number, now: number, options: AssignmentPolicyOptions = {}) {
    this.#pieceLength = pieceLength;
    this.#endgameQuietMs = options.endgameQuietMs ?? DEFAULT_ENDGAME_QUIET_MS;
    this.#stallCopyMs = options.stallCopyMs ?? DEFAULT_STALL_COPY_MS;
    this.#lastVerifiedAt = now;
  }

  get stallCopyMs(): number {
    return this.#stallCopyMs;
  }

  /** The download (re)starts: quiet time counts from now. */
  restart(now: number): void {
    this.#lastVerifiedAt = now;
  }

  /** A piece was verified: copies wait for the next quiet spell. */
  pieceVerified(now: number): void {
    this.#lastVerifiedAt = now;
  }

  /**
   * Tops the peer up: asks the scheduler for the pieces it should fetch now and returns them
   * (already assigned in the scheduler; the caller tells the actor). `diskBusy`: the disk writer
   * is behind, so nothing is assigned until writes complete.
   */
  fill(scheduler: PieceScheduler, peer: PolicyPeer, now: number, diskBusy = false): number[] {
    if (!peer.canFetch || peer.snubbed || diskBusy) return [];
    const held = scheduler.heldBy(peer.actorId);
    const want = this.#target(peer) - held;
    if (want <= 0) return [];
    const quietMs = now - this.#lastVerifiedAt;
    const measured = peer.knownRate > 0;
    if (scheduler.inEndgame && !measured && quietMs <= this.#stallCopyMs) return [];
    const copies = quietMs >= this.#endgameQuietMs;
    if (scheduler.inEndgame && !copies) return [];
    const duplicates = copies && held === 0 && scheduler.bytesPendingWrite < scheduler.bytesInFlightBound / 2;
    return scheduler.assign(peer.actorId, want, { duplicates });
  }

  /**
   * Pieces the peer should hold. Measured: `piecesForRate(knownRate)`. Not yet measured (its first
   * stats come after a second): slow start, as TCP's, the minimum plus one piece per piece it has
   * delivered, so a peer's share doubles with every round trip it answers, up to the most a
   * measured peer may hold. Why: with 16 KiB pieces the minimum is 4 pieces, and a peer held 4
   * requests for its whole first second; a 256 MiB download from 8 loopback seeders spent 0.7 s of
   * its 1.6 s with 512 KiB in flight (a trace: `bytes in flight`, `requests`), at half the rate of
   * what followed. A peer that delivers nothing gets nothing more.
   */
  #target(peer: PolicyPeer): number {
    const rated = piecesForRate(peer.knownRate, this.#pieceLength);
    if (peer.knownRate > 0) return rated;
    return Math.min(rated + peer.piecesReceived, DEFAULT_MAX_PIECES_PER_PEER);
  }

  /** The order in which to top peers up: unmeasured first (in the given order), then the fastest. */
  fillOrder<T extends PolicyPeer>(peers: Iterable<T>): T[] {
    const ready: T[] = [];
    for (const peer of peers) if (peer.canFetch) ready.push(peer);
    ready.sort((a, b) => a.knownRate - b.knownRate);
    const firstMeasured = ready.findIndex((peer) => peer.knownRate > 0);
    if (firstMeasured < 0) return ready;
    // Slowest-first sorted, so the measured part reversed is fastest first.
    return ready.slice(0, firstMeasured).concat(ready.slice(firstMeasured).reverse());
  }

  /**
   * A copy of a piece won over `loser`'s. A peer that has never delivered a byte in all the time
   * since its connection opened (`openedAt`) (`stallCopyMs` and more) is treated as snubbed now, rather than handed the
   * next piece to sit on.
   */
  snubsLoser(loser: { readonly knownRate: number; readonly openedAt: number }, now: number): boolean {
    return loser.knownRate === 0 && now - loser.openedAt > this.#stallCopyMs;
  }
}
