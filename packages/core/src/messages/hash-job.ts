import * as z from 'zod';
import { MAX_HASH_JOB_PIECES } from './message-limits.js';
import { v2ChecksMatchPieces } from './message-predicates.js';
import { PlainTorkErrorSchema } from './plain-error.js';

export { MAX_HASH_JOB_PIECES };

/** Most spans of one piece: a piece may straddle many small files (one per file it touches). */
const MAX_SPANS_PER_PIECE = 1_000_000;

/** One contiguous read of a piece (see `PieceSpanOnDisk`). */
export const PieceSpanOnDiskSchema = z.object({
  path: z.string().min(1).max(4096).nullable(),
  offset: z.number().int().nonnegative(),
  length: z.number().int().nonnegative(),
});

/**
 * Coordinator → hash pool worker (piscina): pieces to hash, each as its spans on disk, in order.
 * Structured-cloned into the worker, parsed there before any file is opened.
 */
export const HashJob = z
  .object({
    pieces: z
      .array(z.array(PieceSpanOnDiskSchema).max(MAX_SPANS_PER_PIECE).readonly())
      .max(MAX_HASH_JOB_PIECES)
      .readonly(),
    /** BEP 52: one `v2PieceChecks` record per piece, in order (see `hashPiecesOnDisk`). */
    v2Checks: z.instanceof(Uint8Array).optional(),
    /** False for a v2-only torrent: no SHA-1 to compare with. Default true. */
    sha1: z.boolean().optional(),
  })
  .refine(v2ChecksMatchPieces, { message: 'v2Checks must hold one record per piece' });
export type HashJob = z.infer<typeof HashJob>;

/**
 * Hash pool worker → coordinator: 20 bytes per piece (zeros for a missing one) and the indices of
 * the missing ones, or an error as plain data (its class and code would not survive the clone).
 */
export const HashJobResult = z.discriminatedUnion('ok', [
  z.object({
    ok: z.literal(true),
    hashes: z.instanceof(ArrayBuffer),
    missing: z.array(z.number().int().nonnegative()),
    /** With `v2Checks`: one byte per piece, 1 when its merkle check passed. */
    v2Ok: z.instanceof(ArrayBuffer).optional(),
  }),
  z.object({ ok: z.literal(false), error: PlainTorkErrorSchema }),
]);
export type HashJobResult = z.infer<typeof HashJobResult>;
