import { createHash } from 'node:crypto';
import { type FileHandle, open } from 'node:fs/promises';
import { type PieceSpanOnDisk, readFully } from './piece-span.js';

/** Reads are issued in chunks of at most this many bytes, so memory per call stays small. */
export const HASH_READ_CHUNK_BYTES = 1024 * 1024;

export interface PiecesOnDiskHashes {
  /** 20 bytes per piece, in the order given; all zeros for a piece whose data is missing or short. */
  readonly hashes: Uint8Array;
  /** Indices (into the given list) of pieces whose data is missing or short on disk. */
  readonly missing: number[];
}

/**
 * SHA-1 of each piece, read span by span from disk in chunks of at most 1 MiB. A piece whose file
 * is missing or ends early is reported `missing` (during a recheck an ordinary "not have", not an
 * error); any other read error rejects. Used on the coordinator for small checks and by the hash
 * pool's worker for everything else: one implementation, whichever thread runs it.
 */
export async function hashPiecesOnDisk(
  pieces: ReadonlyArray<ReadonlyArray<PieceSpanOnDisk>>,
): Promise<PiecesOnDiskHashes> {
  const hashes = new Uint8Array(pieces.length * 20);
  const missing: number[] = [];
  const handles = new Map<string, FileHandle | null>();
  const chunk = new Uint8Array(HASH_READ_CHUNK_BYTES);
  try {
    for (let index = 0; index < pieces.length; index++) {
      const hash = createHash('sha1');
      let complete = true;
      for (const span of pieces[index]!) {
        if (span.path === null) {
          hash.update(new Uint8Array(span.length));
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
        for (let done = 0; done < span.length && complete; ) {
          const want = Math.min(chunk.length, span.length - done);
          const read = await readFully(handle, chunk, 0, want, span.offset + done);
          hash.update(chunk.subarray(0, read));
          done += read;
          if (read < want) complete = false;
        }
        if (!complete) break;
      }
      if (complete) hashes.set(hash.digest(), index * 20);
      else missing.push(index);
    }
  } finally {
    await Promise.all([...handles.values()].map((handle) => handle?.close()));
  }
  return { hashes, missing };
}
