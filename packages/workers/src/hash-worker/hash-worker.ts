import { createHash } from 'node:crypto';
import { type FileHandle, open } from 'node:fs/promises';
import type { HashJob, HashJobResult } from './hash-job.js';

/** Reads are issued in chunks of at most this many bytes so memory per job stays small. */
const READ_CHUNK = 1024 * 1024;

/**
 * Piscina worker: SHA-1 of each piece, reading its spans from disk. A piece whose file is missing
 * or short gets an all-zero hash and is listed in `missing`: during a recheck that is an ordinary
 * "not have", not an error.
 */
export default async function hashPieces(job: HashJob): Promise<HashJobResult> {
  const hashes = new Uint8Array(job.pieces.length * 20);
  const missing: number[] = [];
  const handles = new Map<string, FileHandle | null>();
  const chunk = Buffer.allocUnsafe(READ_CHUNK);
  try {
    for (let index = 0; index < job.pieces.length; index++) {
      const hash = createHash('sha1');
      let complete = true;
      for (const span of job.pieces[index]!) {
        if (span.path === null) {
          hash.update(Buffer.alloc(span.length));
          continue;
        }
        let handle = handles.get(span.path);
        if (handle === undefined) {
          handle = await open(span.path, 'r').catch(() => null);
          handles.set(span.path, handle);
        }
        if (handle === null) {
          complete = false;
          break;
        }
        let done = 0;
        while (done < span.length) {
          const want = Math.min(READ_CHUNK, span.length - done);
          const { bytesRead } = await handle.read(chunk, 0, want, span.offset + done);
          if (bytesRead === 0) break;
          hash.update(chunk.subarray(0, bytesRead));
          done += bytesRead;
        }
        if (done < span.length) {
          complete = false;
          break;
        }
      }
      if (complete) hashes.set(hash.digest(), index * 20);
      else missing.push(index);
    }
  } catch (error) {
    const err = error as NodeJS.ErrnoException;
    return {
      ok: false,
      error: {
        code: 'TORK_ERR_IO',
        message: `hashing failed: ${err.message}`,
        details: { cause: err.code ?? null },
      },
    };
  } finally {
    await Promise.all([...handles.values()].map((handle) => handle?.close()));
  }
  // 20 bytes a piece: cloning the result costs less than arranging a transfer.
  return { ok: true, hashes: hashes.buffer, missing };
}
