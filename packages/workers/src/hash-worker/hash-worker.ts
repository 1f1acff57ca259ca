// Deep imports, not the @tork/core barrel: a hash thread needs these few modules, and loading the
// whole barrel cost each thread ~0.4 s of CPU at start (docs/architecture.md "Start-up").
import { hashPiecesOnDisk } from '@tork/core/internal/disk/hash-pieces-on-disk.js';
import { TorkErrorCode, toTorkError } from '@tork/core/internal/errors.js';
import type { HashJobResult } from '@tork/core/internal/messages/hash-job.js';
import { parseHashJob } from '@tork/core/internal/messages/validate.js';

/**
 * Piscina worker: SHA-1 of each piece (and its BEP 52 merkle check when the job carries
 * `v2Checks`: SHA-256 per 16 KiB leaf up to the piece-layer node), reading its spans from disk (core's `hashPiecesOnDisk`, the
 * same code the coordinator runs without a pool). A piece whose file is missing or short gets an
 * all-zero hash and is listed in `missing`: during a recheck that is an ordinary "not have".
 */
export default async function hashPieces(value: unknown): Promise<HashJobResult> {
  try {
    // Thread boundary: the job was structured-cloned from the coordinator; checked before any
    // file is opened.
    const job = parseHashJob(value);
    const { hashes, missing, v2Ok } = await hashPiecesOnDisk(job.pieces, {
      ...(job.v2Checks ? { v2Checks: job.v2Checks } : {}),
      ...(job.sha1 === false ? { sha1: false } : {}),
    });
    // 20 bytes a piece: cloning the result costs less than arranging a transfer.
    return {
      ok: true,
      hashes: hashes.buffer as ArrayBuffer,
      missing,
      ...(v2Ok ? { v2Ok: v2Ok.buffer as ArrayBuffer } : {}),
    };
  } catch (error) {
    // Errors cross the thread as plain data, or their class and code are lost.
    const failure = toTorkError(error, TorkErrorCode.IO);
    return {
      ok: false,
      error:
        failure.code === TorkErrorCode.IO
          ? { ...failure.toPlain(), message: `hashing failed: ${failure.message}` }
          : failure.toPlain(),
    };
  }
}
