import { z } from 'zod';
import { PlainTorkError } from '../errors.js';

/** Most pieces one hash job carries (the pool batches far fewer: see `HashPoolOptions.piecesPerJob`). */
export const MAX_HASH_JOB_PIECES = 4_096;
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
export const HashJob = z.object({
  pieces: z
    .array(z.array(PieceSpanOnDiskSchema).max(MAX_SPANS_PER_PIECE).readonly())
    .max(MAX_HASH_JOB_PIECES)
    .readonly(),
});
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
  }),
  z.object({ ok: z.literal(false), error: PlainTorkError }),
]);
export type HashJobResult = z.infer<typeof HashJobResult>;
