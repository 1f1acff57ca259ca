import { hashPiecesOnDisk } from '../disk/hash-pieces-on-disk.js';
import type { PieceSpanOnDisk } from '../disk/piece-span.js';

/** Hashes pieces from disk; `HashPool` from `@tork/workers` is one. */
export interface PieceHasher {
  /** 20 bytes per piece in `hashes` (zeros for a piece whose data is missing or short). */
  hashPieces(pieces: ReadonlyArray<ReadonlyArray<PieceSpanOnDisk>>): Promise<{ readonly hashes: Uint8Array }>;
}

/** The fallback when no hash pool is given: on the calling thread; fine for small torrents and tests. */
export const inThreadHasher: PieceHasher = { hashPieces: hashPiecesOnDisk };
