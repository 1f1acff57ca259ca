import { Bitfield } from '../bitfield.js';
import { TorkError, TorkErrorCode } from '../errors.js';
import {
  findCommon,
  forEachSet,
  nonZeroUnits,
  unitCount,
  unitOf,
  unitPopulation,
  wordsOf,
} from './bit-scan.js';
import { PieceOrder } from './piece-order.js';
import type {
  AssignOptions,
  PieceSchedulerOptions,
  PieceSchedulerState,
  VerifiedResult,
} from './piece-scheduler-types.js';
import {
  type Bucket,
  checkPriorities,
  interestChanges,
  interestOf,
  PRIORITY_NORMAL,
  PriorityTiers,
  TOP_PRIORITY,
} from './priority-tiers.js';
import type { Rng } from './rng.js';

export type {
  AssignOptions,
  EndgameOptions,
  PieceSchedulerOptions,
  PieceSchedulerState,
  VerifiedResult,
} from './piece-scheduler-types.js';

export const DEFAULT_MAX_BYTES_IN_FLIGHT = 64 * 1024 * 1024;
/**
 * Default for `maxPiecesInFlight`: 2,048 pieces (32 MiB of 16 KiB pieces; no limit in practice
 * for pieces of 32 KiB and more, which the byte budget caps first). Every piece in flight is a
 * buffer in a host plus bookkeeping on both threads: with 16 KiB pieces the 64 MiB byte budget
 * alone allowed 4,096 of them, which pushed peak RSS past 300 MiB.
 */
export const DEFAULT_MAX_PIECES_IN_FLIGHT = 2_048;
export const DEFAULT_INITIAL_RANDOM_PIECES = 4;
export const DEFAULT_ENDGAME_COPIES = 2;
export const DEFAULT_BAN_AFTER_FAILURES = 3;
/**
 * A peer whose pieces lie in at most this fraction of the bitfield's words is scanned through a
 * list of its non-zero words instead of the whole field (a newcomer with a few pieces would
 * otherwise cost a full scan of every bucket per pick).
 */
const SPARSE_FRACTION = 1 / 16;
/**
 * Released pieces looked at per pick before falling back to rarest-first. Released pieces are
 * candidates like any other, so a bounded look only costs preference, never a piece.
 */
export const RETRY_SCAN_LIMIT = 256;
/**
 * Pieces of at most this size are assigned in runs (see `PieceSchedulerOptions.contiguous`): a
 * 16 KiB piece is one block, and what the coordinator pays per piece (a write, a journal entry, a
 * thread hop) is paid once per run when neighbours arrive together.
 */
export const SMALL_PIECE_BYTES = 64 * 1024;

const CANDIDATE = 0;
const ASSIGNED = 1;
const PENDING_WRITE = 2;
const WRITTEN = 3;
export const PieceState = { CANDIDATE, ASSIGNED, PENDING_WRITE, WRITTEN } as const;

interface PeerState {
  readonly bits: Bitfield;
  readonly words: Uint32Array;
  /** Pieces assigned to this peer. */
  readonly pieces: Set<number>;
  /** Pieces it has that we have not verified: interesting while > 0. */
  wanted: number;
  /** Distinct pieces it sent bad data for. */
  readonly failed: Set<number>;
  /** Scan units (`unitOf`) where it has pieces, while it is sparse; undefined once dense. */
  units: number[] | undefined;
  /** The piece after its last pick: tried first by the next pick (contiguous runs), -1 for none. */
  next: number;
}

/**
 * Decides which whole pieces each peer actor fetches. Pure and deterministic: no timers, no I/O,
 * randomness from the injected `rng`. Runs on the coordinator; see DESIGN.md "No round trip per
 * block".
 *
 * A piece is, at any time, exactly one of:
 * - a *candidate*: missing and assigned to nobody;
 * - *assigned* to 1..copies peers (more than one only in the endgame);
 * - *pending write*: verified, its bytes still counted in flight until `written`;
 * - *written*.
 *
 * Candidates live in one bitset per availability count (how many connected peers have the
 * piece). Picking the rarest piece a peer has is a scan of the lowest non-empty buckets ANDed with
 * the peer's bitfield, 32 pieces per step, from a random start: O(pieceCount / 32) per bucket
 * looked at in the worst case, usually a handful of words, never O(pieceCount × peers).
 * Availability changes move one bit between two buckets: O(1).
 */
export class PieceScheduler {
  readonly pieceCount: number;
  readonly pieceLength: number;
  readonly length: number;
  readonly maxBytesInFlight: number;
  readonly maxPiecesInFlight: number;
  readonly initialRandomPieces: number;
  readonly endgameCopies: number;
  readonly endgameMaxBytes: number;
  readonly endgameIdleOnly: boolean;
  readonly banAfterFailures: number;
  /** Runs of neighbouring pieces per peer (see `PieceSchedulerOptions.contiguous`). */
  readonly contiguous: boolean;
  /** Urgent pieces and sequential mode, consulted before rarest-first (see `PieceOrder`). */
  readonly order: PieceOrder;

  readonly #rng: Rng;
  readonly #lastPieceSize: number;
  readonly #state: Uint8Array;
  readonly #availability: Uint32Array;
  /** Whatever sets a bit here calls `order.returned(index)` too (the order's cursor invariant). */
  readonly #candidates: Bitfield;
  readonly #candidateWords: Uint32Array;
  /** Candidates by priority tier, then availability (skipped pieces are in none). */
  readonly #tiers: PriorityTiers;
  /** Per piece: 0 skip, 1 low, 2 normal, 3 high (see priority-tiers.ts). */
  readonly #priority: Uint8Array;
  /** Pieces not verified whose priority is 0: not missing, as far as `missingCount` goes. */
  #skippedMissing = 0;
  /** Assigned pieces → their peers, in order of first assignment (oldest first for the endgame). */
  readonly #assignees = new Map<number, number[]>();
  /** Candidates that were released or failed, offered first (insertion order). */
  readonly #retry = new Set<number>();
  /** Missing pieces → connected peers that sent bad data for them. */
  readonly #failedBy = new Map<number, Set<number>>();
  readonly #peers = new Map<number, PeerState>();
  #verifiedCount = 0;
  #pendingWrites = 0;
  /** Bytes of assigned (counted once per piece) and pending-write pieces. */
  #primaryBytes = 0;
  /** Pieces counted in #primaryBytes (assigned once, or pending write). */
  #primaryPieces = 0;
  /** Bytes of endgame copies beyond the first. */
  #duplicateBytes = 0;
  /** Bytes of pending-write pieces (part of #primaryBytes). */
  #pendingWriteBytes = 0;

  constructor(options: PieceSchedulerOptions) {
    const { pieceCount, pieceLength, length } = options;
    if (
      !Number.isSafeInteger(pieceLength) ||
      pieceLength <= 0 ||
      !Number.isSafeInteger(length) ||
      length <= 0 ||
      pieceCount !== Math.ceil(length / pieceLength)
    ) {
      throw new TorkError(TorkErrorCode.USAGE, 'piece scheduler: inconsistent torrent geometry', {
        pieceCount,
        pieceLength,
        length,
      });
    }
    this.pieceCount = pieceCount;
    this.pieceLength = pieceLength;
    this.length = length;
    // A small integer, not a double: past 2^31 bytes `length` is a heap number, the difference
    // came out as one too, and adding it to the byte counters below turned them into doubles
    // mid-download (V8 then deprecated this class's hidden class and deoptimised its callers).
    const lastPieceSize = length - (pieceCount - 1) * pieceLength;
    this.#lastPieceSize = lastPieceSize <= 0x3fff_ffff ? lastPieceSize | 0 : lastPieceSize;
    this.#rng = options.rng;
    this.order = options.order ?? new PieceOrder();
    this.contiguous = options.contiguous ?? pieceLength <= SMALL_PIECE_BYTES;
    this.order.attach(pieceCount);
    this.maxBytesInFlight = positive(
      'maxBytesInFlight',
      options.maxBytesInFlight ?? DEFAULT_MAX_BYTES_IN_FLIGHT,
    );
    this.maxPiecesInFlight = nonNegativeInt(
      'maxPiecesInFlight',
      options.maxPiecesInFlight ?? DEFAULT_MAX_PIECES_IN_FLIGHT,
    );
    if (this.maxPiecesInFlight < 1)
      throw new TorkError(TorkErrorCode.USAGE, 'maxPiecesInFlight must be at least 1');
    this.initialRandomPieces = nonNegativeInt(
      'initialRandomPieces',
      options.initialRandomPieces ?? DEFAULT_INITIAL_RANDOM_PIECES,
    );
    this.endgameCopies = nonNegativeInt('endgame.copies', options.endgame?.copies ?? DEFAULT_ENDGAME_COPIES);
    if (this.endgameCopies < 1) throw new TorkError(TorkErrorCode.USAGE, 'endgame.copies must be at least 1');
    this.endgameMaxBytes = positive(
      'endgame.maxBytes',
      options.endgame?.maxBytes ?? this.maxBytesInFlight / 4,
    );
    this.endgameIdleOnly = options.endgame?.idleOnly ?? true;
    this.banAfterFailures = nonNegativeInt(
      'banAfterFailures',
      options.banAfterFailures ?? DEFAULT_BAN_AFTER_FAILURES,
    );
    if (this.banAfterFailures < 1) {
      throw new TorkError(TorkErrorCode.USAGE, 'banAfterFailures must be at least 1');
    }

    const have = options.have;
    if (have !== undefined && have.length !== pieceCount) {
      throw new TorkError(TorkErrorCode.USAGE, `have bitfield of ${have.length} pieces for ${pieceCount}`);
    }
    this.#state = new Uint8Array(pieceCount);
    this.#availability = new Uint32Array(pieceCount);
    const missing = new Uint8Array(Math.ceil(pieceCount / 8));
    for (let i = 0; i < missing.length; i++) missing[i] = ~(have?.bytes[i] ?? 0) & 0xff;
    const spare = missing.length * 8 - pieceCount;
    if (spare > 0) missing[missing.length - 1]! &= ~((1 << spare) - 1) & 0xff;
    this.#candidates = new Bitfield(pieceCount, missing);
    this.#candidateWords = wordsOf(this.#candidates);
    this.#tiers = new PriorityTiers(pieceCount);
    this.#priority = new Uint8Array(pieceCount).fill(PRIORITY_NORMAL);
    this.#tiers.seed(PRIORITY_NORMAL, new Bitfield(pieceCount, missing));
    if (have !== undefined) {
      forEachSet(have, (index) => {
        this.#state[index] = WRITTEN;
      });
      this.#verifiedCount = have.count;
    }
    if (options.priorities !== undefined) this.setPiecePriorities(options.priorities);
  }

  // ---- peers ----

  /** A connected peer, with its bitfield if known (else it has nothing until `peerHave`/`peerBitfield`). */
  addPeer(peer: number, bitfield?: Bitfield): void {
    if (this.#peers.has(peer)) {
      throw new TorkError(TorkErrorCode.INTERNAL, `peer ${peer} added twice`, { peer });
    }
    const bits = new Bitfield(this.pieceCount);
    const state: PeerState = {
      bits,
      words: wordsOf(bits),
      pieces: new Set(),
      wanted: 0,
      failed: new Set(),
      units: [],
      next: -1,
    };
    this.#peers.set(peer, state);
    if (bitfield !== undefined) this.peerBitfield(peer, bitfield);
  }

  /** The peer holds every piece (its bitfield and `have`s so far); false for an unknown peer. */
  peerIsSeed(peer: number): boolean {
    return this.#peers.get(peer)?.bits.complete ?? false;
  }

  /** The peer announced a piece (`have`). Ignored for unknown (already removed) peers. */
  peerHave(peer: number, index: number): void {
    this.#checkIndex(index);
    const p = this.#peers.get(peer);
    if (p === undefined || !p.bits.set(index)) return;
    this.#gain(p, index);
    if (p.units !== undefined) {
      const unit = unitOf(index, p.bits.bytes.length);
      // The unit is new when this is its only set bit: the list stays free of repeats.
      if (unitPopulation(p.bits.bytes, unit) === 1) p.units.push(unit);
      if (p.units.length > this.#sparseLimit) p.units = undefined;
    }
  }

  /**
   * Replaces the peer's bitfield (normally its first message; have-all / have-none too). Pieces it
   * no longer claims are unassigned from it and returned (normally none): tell the actor.
   */
  peerBitfield(peer: number, bitfield: Bitfield): number[] {
    if (bitfield.length !== this.pieceCount) {
      throw new TorkError(
        TorkErrorCode.INTERNAL,
        `bitfield of ${bitfield.length} pieces for ${this.pieceCount}`,
      );
    }
    const p = this.#peers.get(peer);
    if (p === undefined) return [];
    const unassigned: number[] = [];
    const old = p.bits.bytes;
    const next = bitfield.bytes;
    for (let i = 0; i < old.length; i++) {
      const before = old[i]!;
      const after = next[i]!;
      if (before === after) continue;
      let added = after & ~before & 0xff;
      let removed = before & ~after & 0xff;
      while (added !== 0) {
        const offset = Math.clz32(added) - 24;
        added ^= 0x80 >> offset;
        const index = i * 8 + offset;
        p.bits.set(index);
        this.#gain(p, index);
      }
      while (removed !== 0) {
        const offset = Math.clz32(removed) - 24;
        removed ^= 0x80 >> offset;
        const index = i * 8 + offset;
        if (p.pieces.has(index)) {
          this.#unassignOne(index, peer, p);
          unassigned.push(index);
        }
        p.bits.clear(index);
        const failers = this.#failedBy.get(index);
        if (failers?.delete(peer) && failers.size === 0) this.#failedBy.delete(index);
        this.#lose(p, index);
      }
    }
    p.units = nonZeroUnits(p.bits.bytes, this.#sparseLimit);
    return unassigned;
  }

  /** The peer is gone (closed, banned). Returns the pieces that became unassigned. */
  removePeer(peer: number): number[] {
    const p = this.#peers.get(peer);
    if (p === undefined) return [];
    const freed: number[] = [];
    for (const index of [...p.pieces]) {
      if (this.#unassignOne(index, peer, p)) freed.push(index);
    }
    forEachSet(p.bits, (index) => this.#decAvailability(index));
    for (const [index, failers] of this.#failedBy) {
      failers.delete(peer);
      if (failers.size === 0) this.#failedBy.delete(index);
    }
    this.#peers.delete(peer);
    return freed;
  }

  /** The peer has a piece we have not verified yet. O(1). */
  interesting(peer: number): boolean {
    return (this.#peers.get(peer)?.wanted ?? 0) > 0;
  }

  // ---- assignment ----

  /**
   * Up to `maxPieces` new pieces for `peer`, only pieces it has, never one it already holds:
   * 1. pieces that were released or failed (they were picked once already; finishing them keeps
   *    the working set small), a bounded look; then `order`'s urgent pieces, and in sequential
   *    mode the lowest missing piece the peer has;
   * 2. while fewer than `initialRandomPieces` are verified, a random piece; else the rarest
   *    (fewest connected peers have it), ties broken at random;
   * 3. in the endgame (no assignable piece left), or when `options.duplicates` says so and step 2
   *    found nothing, copies of pieces other peers are fetching, oldest assignment first, up to
   *    `endgame.copies` per piece, from the endgame allowance (to idle peers only, by default).
   * Returns [] when the byte budget is full or nothing fits.
   */
  assign(peer: number, maxPieces: number, options: AssignOptions = {}): number[] {
    const p = this.#peers.get(peer);
    if (p === undefined) {
      throw new TorkError(TorkErrorCode.INTERNAL, `assign to unknown peer ${peer}`, { peer });
    }
    const picked: number[] = [];
    if (!(maxPieces >= 1) || p.wanted === 0) return picked;
    const accept = this.#failedBy.size === 0 ? undefined : (index: number) => this.#acceptable(peer, index);
    let tier = TOP_PRIORITY;
    let fromBucket = 1;
    while (picked.length < maxPieces && this.#primaryFits()) {
      let index = this.#pickRetry(peer, p);
      if (index < 0) index = this.order.pick(this.#candidates, this.#candidateWords, p.bits, p.words, accept);
      if (index < 0 && this.contiguous) index = this.#pickNext(p, accept);
      if (index < 0) {
        // Random start only where it cannot jump a tier (candidates of one priority).
        if (this.#verifiedCount < this.initialRandomPieces && this.#tiers.singleTier) {
          index = findCommon(
            this.#candidates,
            this.#candidateWords,
            p.bits,
            p.words,
            this.#rng,
            accept,
            p.units,
          );
        } else {
          // Highest tier first, rarest first within it; where the last pick stopped, the next resumes.
          for (; tier > 0 && index < 0; tier--, fromBucket = 1) {
            const buckets = this.#tiers.tier(tier);
            for (; fromBucket < buckets.length; fromBucket++) {
              const bucket = buckets[fromBucket];
              if (bucket === undefined || bucket.bits.count === 0) continue;
              index = findCommon(bucket.bits, bucket.words, p.bits, p.words, this.#rng, accept, p.units);
              if (index >= 0) break;
            }
            if (index >= 0) break;
          }
        }
      }
      if (index < 0) break;
      this.#take(index, peer, p);
      p.next = index + 1;
      picked.push(index);
    }
    if (
      picked.length === 0 &&
      (this.inEndgame || options.duplicates === true) &&
      !(this.endgameIdleOnly && p.pieces.size > 0)
    ) {
      this.#assignDuplicates(peer, p, maxPieces, picked);
    }
    return picked;
  }

  /**
   * Assigned pieces the actor gave back (choked, stalled, peer lacks them). Pieces not assigned to
   * the peer are ignored (a release can cross an unassign). Returns those that became unassigned.
   * With `peerLacks` (the peer rejected the requests: it does not have the pieces after all), the
   * pieces are also struck from the peer's known pieces, so they are not offered to it again
   * until it announces them.
   */
  released(peer: number, pieces: readonly number[], options: { peerLacks?: boolean } = {}): number[] {
    const p = this.#peers.get(peer);
    const freed: number[] = [];
    if (p === undefined) return freed;
    for (const index of pieces) {
      this.#checkIndex(index);
      if (p.pieces.has(index) && this.#unassignOne(index, peer, p)) freed.push(index);
      if (options.peerLacks === true && p.bits.clear(index)) {
        // Its sparse scan list may keep the unit: a superset only costs a look.
        const failers = this.#failedBy.get(index);
        if (failers?.delete(peer) && failers.size === 0) this.#failedBy.delete(index);
        this.#lose(p, index);
      }
    }
    return freed;
  }

  /**
   * The actor verified the piece (SHA-1 passed in the worker). The first copy wins: the piece is
   * pending write (its bytes stay in flight until `written`) and the other peers fetching it are
   * returned to cancel.
   */
  verified(index: number, byPeer: number): VerifiedResult {
    this.#checkIndex(index);
    const result: VerifiedResult = { accepted: false, cancel: [], uninteresting: [] };
    const p = this.#peers.get(byPeer);
    const holders = this.#assignees.get(index);
    if (p === undefined || holders === undefined || !holders.includes(byPeer)) return result;
    result.accepted = true;
    for (const other of holders) {
      this.#peers.get(other)?.pieces.delete(index);
      if (other !== byPeer) result.cancel.push({ peer: other, index });
    }
    this.#duplicateBytes -= (holders.length - 1) * this.pieceSize(index);
    this.#assignees.delete(index);
    this.#state[index] = PENDING_WRITE;
    this.#verifiedCount++;
    this.#pendingWrites++;
    this.#pendingWriteBytes += this.pieceSize(index);
    this.#failedBy.delete(index);
    // A piece skipped while assigned may still arrive: it was no longer wanted of anyone.
    if (this.#priority[index] === 0) this.#skippedMissing--;
    else {
      for (const [id, q] of this.#peers) {
        if (q.bits.has(index) && --q.wanted === 0) result.uninteresting.push(id);
      }
    }
    return result;
  }

  /**
   * The piece failed SHA-1 at `peer`: it is fetched again (elsewhere when another source exists).
   * `ban` says the peer has now failed `banAfterFailures` distinct pieces, or this piece twice.
   */
  hashFailed(index: number, peer: number): { ban: boolean } {
    this.#checkIndex(index);
    const p = this.#peers.get(peer);
    if (p === undefined) return { ban: false };
    const repeat = p.failed.has(index);
    p.failed.add(index);
    if (p.pieces.has(index)) this.#unassignOne(index, peer, p);
    if (this.#state[index]! < PENDING_WRITE && p.bits.has(index)) {
      let failers = this.#failedBy.get(index);
      if (failers === undefined) {
        failers = new Set();
        this.#failedBy.set(index, failers);
      }
      failers.add(peer);
    }
    return { ban: repeat || p.failed.size >= this.banAfterFailures };
  }

  /** The disk writer wrote a verified piece: its bytes leave the budget. */
  written(index: number): void {
    this.#checkIndex(index);
    if (this.#state[index] !== PENDING_WRITE) {
      throw new TorkError(TorkErrorCode.INTERNAL, `piece ${index} written but not pending write`, { index });
    }
    this.#state[index] = WRITTEN;
    this.#pendingWrites--;
    this.#pendingWriteBytes -= this.pieceSize(index);
    this.#primaryBytes -= this.pieceSize(index);
    this.#primaryPieces--;
  }

  /**
   * Writing a verified piece failed: the piece is missing again and will be fetched again.
   * Returns the peers it made interesting again (it was the only piece we lacked of theirs).
   */
  writeFailed(index: number): number[] {
    this.#checkIndex(index);
    if (this.#state[index] !== PENDING_WRITE) {
      throw new TorkError(TorkErrorCode.INTERNAL, `piece ${index} write failed but not pending write`, {
        index,
      });
    }
    this.#pendingWrites--;
    this.#pendingWriteBytes -= this.pieceSize(index);
    this.#verifiedCount--;
    this.#primaryBytes -= this.pieceSize(index);
    this.#primaryPieces--;
    this.#makeCandidate(index);
    const interesting: number[] = [];
    if (this.#priority[index] === 0) {
      this.#skippedMissing++;
      return interesting;
    }
    for (const [id, q] of this.#peers) {
      if (q.bits.has(index) && q.wanted++ === 0) interesting.push(id);
    }
    return interesting;
  }

  // ---- queries ----

  pieceSize(index: number): number {
    // Both sizes read on every call: a branch only the last piece takes has no type feedback
    // when V8 optimises, and the last piece then deoptimised every function that inlined this.
    const last = this.#lastPieceSize;
    return index === this.pieceCount - 1 ? last : this.pieceLength;
  }

  /** Wanted pieces (priority above 0) not verified yet. */
  get missingCount(): number {
    return this.pieceCount - this.#verifiedCount - this.#skippedMissing;
  }

  /** Verified pieces (written or waiting for the disk). */
  get verifiedCount(): number {
    return this.#verifiedCount;
  }

  get pendingWriteCount(): number {
    return this.#pendingWrites;
  }

  /** Every wanted piece verified and written (skipped pieces do not count). */
  get isComplete(): boolean {
    return this.missingCount === 0 && this.#pendingWrites === 0;
  }

  /**
   * New per-piece priorities (0 skip … 3 high), at any time. A piece newly skipped stops being a
   * candidate (if assigned it may still finish); a newly wanted missing piece becomes one. Returns
   * the peers whose interest changed, to tell their actors. O(changed pieces × peers).
   */
  setPiecePriorities(priorities: Uint8Array): { interesting: number[]; uninteresting: number[] } {
    checkPriorities(priorities, this.pieceCount);
    const interest = interestOf(this.#peers);
    for (let index = 0; index < this.pieceCount; index++) {
      const before = this.#priority[index]!;
      const after = priorities[index]!;
      if (before === after) continue;
      const state = this.#state[index]!;
      // A re-tiered candidate keeps its place in the retry list; a new one is not a retry.
      const retry = this.#retry.has(index);
      if (state === CANDIDATE && before > 0) this.#dropCandidate(index);
      this.#priority[index] = after;
      if (state === CANDIDATE && after > 0) this.#makeCandidate(index, retry);
      if (state >= PENDING_WRITE || before > 0 === after > 0) continue;
      this.#skippedMissing += after === 0 ? 1 : -1;
      for (const q of this.#peers.values()) if (q.bits.has(index)) q.wanted += after === 0 ? -1 : 1;
    }
    return interestChanges(interest, this.#peers);
  }

  /**
   * Every missing piece that any connected peer has is assigned, and some are: new work can only
   * be duplicates. Pieces no connected peer has do not hold the endgame off.
   */
  get inEndgame(): boolean {
    const unavailable = this.#tiers.unavailable;
    return this.#assignees.size > 0 && this.#candidates.count === unavailable;
  }

  /** Pieces assigned or verified but not yet written, endgame copies not counted. */
  get piecesInFlight(): number {
    return this.#primaryPieces;
  }

  /** Bytes assigned or verified but not yet written, endgame copies included. */
  get bytesInFlight(): number {
    return this.#primaryBytes + this.#duplicateBytes;
  }

  /**
   * The part of `bytesInFlight` verified and waiting for the disk. When it is most of the budget
   * the disk is the bottleneck, and duplicates (`AssignOptions.duplicates`) cannot help.
   */
  get bytesPendingWrite(): number {
    return this.#pendingWriteBytes;
  }

  /** The part of `bytesInFlight` that is endgame copies beyond the first. */
  get duplicateBytesInFlight(): number {
    return this.#duplicateBytes;
  }

  /** The documented bound on `bytesInFlight`. */
  get bytesInFlightBound(): number {
    return (
      Math.max(this.maxBytesInFlight, this.pieceLength) + Math.max(this.endgameMaxBytes, this.pieceLength)
    );
  }

  /** Peers fetching the piece (a copy). */
  assignedTo(index: number): number[] {
    this.#checkIndex(index);
    return [...(this.#assignees.get(index) ?? [])];
  }

  /** Pieces assigned to the peer (a copy). */
  piecesOf(peer: number): number[] {
    return [...(this.#peers.get(peer)?.pieces ?? [])];
  }

  /** How many pieces are assigned to the peer. */
  heldBy(peer: number): number {
    return this.#peers.get(peer)?.pieces.size ?? 0;
  }

  /** Pieces the peer has (bitfield and haves); 0 for an unknown peer. */
  peerPieceCount(peer: number): number {
    return this.#peers.get(peer)?.bits.count ?? 0;
  }

  /** Connected peers that have the piece. */
  availability(index: number): number {
    this.#checkIndex(index);
    return this.#availability[index]!;
  }

  isVerified(index: number): boolean {
    this.#checkIndex(index);
    return this.#state[index]! >= PENDING_WRITE;
  }

  get peerCount(): number {
    return this.#peers.size;
  }

  hasPeer(peer: number): boolean {
    return this.#peers.has(peer);
  }

  /**
   * A read-only view of the live internal state, for invariant checks (the test kit's
   * `checkSchedulerInvariants` recomputes everything from it). Not copied: do not modify, and do
   * not keep across calls that change the scheduler.
   */
  inspect(): PieceSchedulerState {
    return {
      states: this.#state,
      availability: this.#availability,
      candidates: this.#candidates,
      buckets: this.#tiers.view(),
      priorities: this.#priority,
      skippedMissing: this.#skippedMissing,
      assignees: this.#assignees,
      retry: this.#retry,
      failedBy: this.#failedBy,
      peers: this.#peers,
      verifiedCount: this.#verifiedCount,
      pendingWrites: this.#pendingWrites,
      primaryBytes: this.#primaryBytes,
      duplicateBytes: this.#duplicateBytes,
      pendingWriteBytes: this.#pendingWriteBytes,
    };
  }

  // ---- internals ----

  #primaryFits(): boolean {
    // Checked with a full piece length before the pick: conservative by at most the last piece's
    // shortfall, and it keeps `primary ≤ max(maxBytesInFlight, pieceLength)`.
    return (
      this.#primaryBytes === 0 ||
      (this.#primaryBytes + this.pieceLength <= this.maxBytesInFlight &&
        this.#primaryPieces < this.maxPiecesInFlight)
    );
  }

  /**
   * A peer that sent bad data for the piece is not asked again while another connected source
   * exists (every failer has the piece, so "another source" is availability > failers).
   */
  #acceptable(peer: number, index: number): boolean {
    const failers = this.#failedBy.get(index);
    return failers === undefined || !failers.has(peer) || this.#availability[index]! <= failers.size;
  }

  #pickRetry(peer: number, p: PeerState): number {
    if (this.#retry.size === 0) return -1;
    let looked = 0;
    for (const index of this.#retry) {
      if (looked++ >= RETRY_SCAN_LIMIT) break;
      if (p.bits.has(index) && this.#acceptable(peer, index)) return index;
    }
    return -1;
  }

  /**
   * The piece after the peer's last pick, when it is as good a pick as rarest-first would make: a
   * candidate it has, in the lowest tier-and-availability bucket holding any piece it has (equally
   * rare). So a peer fetches runs of neighbours, which arrive, are written and are journalled
   * together; pieces that rarest-first would rank higher break the run. -1 when it is not.
   */
  #pickNext(p: PeerState, accept: ((index: number) => boolean) | undefined): number {
    const index = p.next;
    if (index < 0 || index >= this.pieceCount) return -1;
    if (!this.#candidates.has(index) || !p.bits.has(index)) return -1;
    if (accept !== undefined && !accept(index)) return -1;
    const priority = this.#priority[index]!;
    const availability = this.#availability[index]!;
    // No piece of a higher tier, or rarer in this tier, that the peer has.
    for (let tier = TOP_PRIORITY; tier >= priority; tier--) {
      const buckets = this.#tiers.tier(tier);
      const end = tier === priority ? availability : buckets.length;
      for (let level = 1; level < end; level++) {
        const bucket = buckets[level];
        if (bucket !== undefined && bucket.bits.count > 0 && this.#anyCommon(bucket, p)) return -1;
      }
    }
    return index;
  }

  /** The peer has some piece of `bucket`: a word-at-a-time AND, stopping at the first hit. */
  #anyCommon(bucket: Bucket, p: PeerState): boolean {
    return findCommon(bucket.bits, bucket.words, p.bits, p.words, () => 0, undefined, p.units) >= 0;
  }

  #assignDuplicates(peer: number, p: PeerState, maxPieces: number, picked: number[]): void {
    // Fewest copies first, and among equals the oldest assignment (most likely stuck).
    for (let level = 1; level < this.endgameCopies; level++) {
      for (const [index, holders] of this.#assignees) {
        if (picked.length >= maxPieces) return;
        if (holders.length !== level || !p.bits.has(index) || holders.includes(peer)) continue;
        if (this.#priority[index] === 0) continue; // skipped while assigned: no copy
        if (this.#failedBy.get(index)?.has(peer)) continue;
        const size = this.pieceSize(index);
        if (this.#duplicateBytes > 0 && this.#duplicateBytes + size > this.endgameMaxBytes) return;
        holders.push(peer);
        p.pieces.add(index);
        this.#duplicateBytes += size;
        picked.push(index);
      }
    }
  }

  #take(index: number, peer: number, p: PeerState): void {
    this.#dropCandidate(index);
    this.#state[index] = ASSIGNED;
    this.#assignees.set(index, [peer]);
    p.pieces.add(index);
    this.#primaryBytes += this.pieceSize(index);
    this.#primaryPieces++;
  }

  /** Removes one holder; returns true when the piece became a candidate again. */
  #unassignOne(index: number, peer: number, p: PeerState): boolean {
    p.pieces.delete(index);
    const holders = this.#assignees.get(index);
    if (holders === undefined) return false;
    const at = holders.indexOf(peer);
    if (at < 0) return false;
    holders.splice(at, 1);
    if (holders.length > 0) {
      this.#duplicateBytes -= this.pieceSize(index);
      return false;
    }
    this.#assignees.delete(index);
    this.#primaryBytes -= this.pieceSize(index);
    this.#primaryPieces--;
    this.#makeCandidate(index);
    return true;
  }

  /** The piece is missing and unassigned; it is offered only while its priority is above 0. */
  #makeCandidate(index: number, retry = true): void {
    this.#state[index] = CANDIDATE;
    if (this.#priority[index] === 0) return;
    this.#candidates.set(index);
    this.#bucket(index, this.#availability[index]!).bits.set(index);
    if (retry) this.#retry.add(index);
    this.order.returned(index);
  }

  /** Out of the candidate sets (taken, or skipped); the state is the caller's to set. */
  #dropCandidate(index: number): void {
    this.#candidates.clear(index);
    this.#bucket(index, this.#availability[index]!).bits.clear(index);
    this.#retry.delete(index);
  }

  #gain(p: PeerState, index: number): void {
    const a = this.#availability[index]!;
    this.#availability[index] = a + 1;
    if (this.#state[index] === CANDIDATE && this.#priority[index]! > 0) {
      this.#bucket(index, a).bits.clear(index);
      this.#bucket(index, a + 1).bits.set(index);
    }
    if (this.#state[index]! < PENDING_WRITE && this.#priority[index]! > 0) p.wanted++;
  }

  #lose(p: PeerState, index: number): void {
    this.#decAvailability(index);
    if (this.#state[index]! < PENDING_WRITE && this.#priority[index]! > 0) p.wanted--;
  }

  #decAvailability(index: number): void {
    const a = this.#availability[index]!;
    this.#availability[index] = a - 1;
    if (this.#state[index] === CANDIDATE && this.#priority[index]! > 0) {
      this.#bucket(index, a).bits.clear(index);
      this.#bucket(index, a - 1).bits.set(index);
    }
  }

  get #sparseLimit(): number {
    return unitCount(Math.ceil(this.pieceCount / 8)) * SPARSE_FRACTION;
  }

  /** The bucket a candidate `index` with `availability` belongs in (its priority's tier). */
  #bucket(index: number, availability: number): Bucket {
    return this.#tiers.bucket(this.#priority[index]!, availability);
  }

  #checkIndex(index: number): void {
    if (!Number.isInteger(index) || index < 0 || index >= this.pieceCount) {
      throw new TorkError(TorkErrorCode.OUT_OF_RANGE, `piece ${index} outside 0..${this.pieceCount - 1}`, {
        index,
        pieceCount: this.pieceCount,
      });
    }
  }
}

function positive(name: string, value: number): number {
  if (!(value > 0) || !Number.isFinite(value)) {
    throw new TorkError(TorkErrorCode.USAGE, `${name} must be a positive number`, { [name]: value });
  }
  return value;
}

function nonNegativeInt(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new TorkError(TorkErrorCode.USAGE, `${name} must be a non-negative integer`, { [name]: value });
  }
  return value;
}
