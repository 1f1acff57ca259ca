import type { Bitfield } from '../bitfield.js';
import type { PieceOrder } from './piece-order.js';
import type { Rng } from './rng.js';

/** The options and answers of `PieceScheduler` (its file holds the algorithm). */

/** Endgame: duplicate copies of the last pieces, first verified copy wins. */
export interface EndgameOptions {
  /**
   * Copies of one piece in flight at once during the endgame, the original included. 1 disables
   * duplicates. Default 2: one spare copy rescues a piece stuck on a slow or stalled peer, and at
   * most one copy's bytes are wasted per piece.
   */
  copies?: number;
  /**
   * Bytes of duplicate copies allowed in flight on top of `maxBytesInFlight`. Duplicates have their
   * own allowance so that an idle peer still gets endgame work when the main budget is full of
   * pieces held by a stalled peer. At least one piece is always allowed (when no duplicate is in
   * flight), whatever this says. Default `maxBytesInFlight / 4` (16 MiB with the default budget).
   */
  maxBytes?: number;
  /**
   * Duplicates go only to peers that hold no piece at the moment of the call: those are the ones
   * that finished their own work first, i.e. the fast ones. A busy peer gets nothing extra.
   * Default true.
   */
  idleOnly?: boolean;
}

export interface PieceSchedulerOptions {
  pieceCount: number;
  pieceLength: number;
  /** Total bytes of the torrent; the last piece is `length - (pieceCount - 1) × pieceLength`. */
  length: number;
  /** Pieces already verified and on disk (resume). Default: none. */
  have?: Bitfield;
  /** Random source for tie-breaks (see `createRng`); the scheduler never calls Math.random. */
  rng: Rng;
  /**
   * Global cap on bytes assigned but not yet written to disk: from `assign` until `written`
   * (or release, hash failure, peer removal). Bounds the memory held by actors' partial pieces and
   * by the disk writer's queue, whatever the piece size and peer count. A new piece is assigned only
   * while the assigned-or-unwritten bytes plus one piece fit; when nothing is in flight one piece is
   * always allowed, so the bound is `max(maxBytesInFlight, pieceLength)`, plus the endgame allowance
   * (`endgame.maxBytes`). Default 64 MiB.
   */
  maxBytesInFlight?: number;
  /**
   * The same budget counted in pieces (endgame copies aside): a new piece is assigned only while
   * fewer than this many are assigned or unwritten. What bounds memory with small pieces, where
   * each piece costs a buffer and bookkeeping whatever its size. Default 2,048.
   */
  maxPiecesInFlight?: number;
  /**
   * While fewer pieces than this are verified, picks are random instead of rarest-first: the
   * rarest pieces are the slowest to get, and we need a first few complete pieces to trade.
   * Default 4.
   */
  initialRandomPieces?: number;
  endgame?: EndgameOptions;
  /**
   * A peer that failed the hash check on this many distinct pieces is to be banned. A peer that
   * fails the same piece twice is banned at once (it keeps sending bad data for a piece; this also
   * covers the case where it is the only source and would otherwise be asked again and again).
   * Default 3.
   */
  banAfterFailures?: number;
  /**
   * Urgent pieces and sequential mode (streaming). The caller may keep it and change it at any
   * time; it may be handed to a later scheduler of the same torrent. Default: a new one (neither).
   */
  order?: PieceOrder;
  /**
   * Per-piece priority, one entry per piece: 0 = skip (never fetched, not counted as missing),
   * 1 = low, 2 = normal, 3 = high; higher tiers are fetched first, rarest-first within a tier.
   * Change later with `setPiecePriorities`. Default: every piece 2 (normal).
   */
  priorities?: Uint8Array;
  /**
   * Runs of neighbouring pieces: a peer's next pick is the piece after its last one while that
   * piece is as rare as any it has (rarest-first still decides between runs). The peer fetches,
   * and the coordinator receives, writes and journals, neighbours together: with small pieces one
   * write per run instead of one per piece. Default: true for pieces of at most
   * `SMALL_PIECE_BYTES` (64 KiB), false above (one piece is already a large write).
   */
  contiguous?: boolean;
}

/** Per-call options of `assign`. */
export interface AssignOptions {
  /**
   * Allow endgame-style copies outside the endgame when no new piece can be assigned to this peer
   * (the budget is full, or every piece it has is taken): copies of the oldest assignments, which
   * are the likeliest to sit on a slow or stalled peer. For a peer the caller knows to be fast and
   * idle; with large pieces the budget holds few pieces, and without this they can all sit on
   * slow peers while fast ones wait. Same per-piece copy limit and byte allowance as the endgame.
   * Default false.
   */
  duplicates?: boolean;
}

/** The answer to `verified`. */
export interface VerifiedResult {
  /**
   * False when the copy is not wanted: the piece was already verified (another endgame copy won),
   * or it is no longer assigned to that peer (released, peer removed). The caller drops the data.
   */
  accepted: boolean;
  /** Other peers still fetching the piece: send them `unassign` (wire cancels). */
  cancel: Array<{ peer: number; index: number }>;
  /** Peers that had this piece as the last one we lacked: send them `not interested`. */
  uninteresting: number[];
}

/** A piece's state in `PieceSchedulerState.states`. */

/** See `PieceScheduler.inspect`. */
export interface PieceSchedulerState {
  /** Per piece, a `PieceState`. */
  readonly states: Uint8Array;
  /** Per piece, how many connected peers have it. */
  readonly availability: Uint32Array;
  readonly candidates: Bitfield;
  /** Candidates by priority tier (index 1..3; 0 is always empty), then availability. */
  readonly buckets: ReadonlyArray<ReadonlyArray<Bitfield | undefined>>;
  /** Per piece: 0 skip, 1 low, 2 normal, 3 high. */
  readonly priorities: Uint8Array;
  /** Pieces of priority 0 not verified. */
  readonly skippedMissing: number;
  /** Assigned pieces → their peers, oldest assignment first. */
  readonly assignees: ReadonlyMap<number, readonly number[]>;
  readonly retry: ReadonlySet<number>;
  readonly failedBy: ReadonlyMap<number, ReadonlySet<number>>;
  readonly peers: ReadonlyMap<
    number,
    {
      readonly bits: Bitfield;
      readonly pieces: ReadonlySet<number>;
      readonly wanted: number;
      readonly failed: ReadonlySet<number>;
      readonly units: readonly number[] | undefined;
    }
  >;
  readonly verifiedCount: number;
  readonly pendingWrites: number;
  readonly primaryBytes: number;
  readonly duplicateBytes: number;
  readonly pendingWriteBytes: number;
}
