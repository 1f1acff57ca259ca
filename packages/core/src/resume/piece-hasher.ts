import { type HashPiecesOptions, hashPiecesOnDisk } from '../disk/hash-pieces-on-disk.js';
import type { PieceSpanOnDisk } from '../disk/piece-span.js';

/** Hashes pieces from disk; `HashPool` from `@tork/workers` is one. */
export interface PieceHasher {
  /**
   * 20 bytes per piece in `hashes` (zeros for a piece whose data is missing or short, or with
   * `sha1: false`); with `options.v2Checks`, `v2Ok` (1 byte per piece: its merkle check passed).
   */
  hashPieces(
    pieces: ReadonlyArray<ReadonlyArray<PieceSpanOnDisk>>,
    options?: HashPiecesOptions,
  ): Promise<{ readonly hashes: Uint8Array; readonly v2Ok?: Uint8Array }>;
}

/** The fallback when no hash pool is given: on the calling thread; fine for small torrents and tests. */
export const inThreadHasher: PieceHasher = { hashPieces: hashPiecesOnDisk };
