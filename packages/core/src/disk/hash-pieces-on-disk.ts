import { createHash } from 'node:crypto';
import { type FileHandle, open } from 'node:fs/promises';
import { TorkError, TorkErrorCode } from '../errors.js';
import { V2_PIECE_CHECK_SIZE } from '../metainfo/v2-piece-checks.js';
import { type PieceSpanOnDisk, readFully } from './piece-span.js';
import { V2LeafHasher } from './v2-leaf-hasher.js';

/** Reads are issued in chunks of at most this many bytes, so memory per call stays small. */
export const HASH_READ_CHUNK_BYTES = 1024 * 1024;

export interface PiecesOnDiskHashes {
  /** 20 bytes per piece, in the order given; all zeros for a piece whose data is missing or short. */
  readonly hashes: Uint8Array;
  /** Indices (into the given list) of pieces whose data is missing or short on disk. */
  readonly missing: number[];
  /** With `v2Checks`: one byte per piece, 1 when it passed its BEP 52 merkle check. */
  readonly v2Ok?: Uint8Array;
}

export interface HashPiecesOptions {
  /**
   * BEP 52 checks, one `v2PieceChecks` record (`V2_PIECE_CHECK_SIZE` bytes) per given piece in
   * order: each piece is also hashed SHA-256 per 16 KiB leaf up to its piece-layer node, and
   * `v2Ok` says which passed. Default: none.
   */
  readonly v2Checks?: Uint8Array;
  /** Compute SHA-1 (a v2-only torrent has none to compare with: `hashes` stays zeros). Default: true. */
  readonly sha1?: boolean;
}

/**
 * SHA-1 of each piece (and, with `v2Checks`, its BEP 52 merkle check), read span by span from disk in chunks of at most 1 MiB. A piece whose file
 * is missing or ends early is reported `missing` (during a recheck an ordinary "not have", not an
 * error); any other read error rejects. Used on the coordinator for small checks and by the hash
 * pool's worker for everything else: one implementation, whichever thread runs it.
 */
export async function hashPiecesOnDisk(
  pieces: ReadonlyArray<ReadonlyArray<PieceSpanOnDisk>>,
  options: HashPiecesOptions = {},
): Promise<PiecesOnDiskHashes> {
  const { v2Checks } = options;
  const sha1 = options.sha1 ?? true;
  if (v2Checks !== undefined && v2Checks.length !== pieces.length * V2_PIECE_CHECK_SIZE) {
    throw new TorkError(
      TorkErrorCode.INTERNAL,
      `v2 check table of ${v2Checks.length} bytes for ${pieces.length} pieces`,
    );
  }
  const v2Ok = v2Checks === undefined ? undefined : new Uint8Array(pieces.length);
  const hashes = new Uint8Array(pieces.length * 20);
  const missing: number[] = [];
  const handles = new Map<string, FileHandle | null>();
  // No larger than the longest span read: a job of 16 KiB pieces needs 16 KiB, not 1 MiB, and a
  // daemon rechecking hundreds of small torrents otherwise churned a zeroed MiB per job (RSS that
  // glibc kept after the collector had freed them).
  let longest = 0;
  for (const piece of pieces)
    for (const span of piece) if (span.path !== null) longest = Math.max(longest, span.length);
  const chunk = new Uint8Array(Math.min(HASH_READ_CHUNK_BYTES, Math.max(1, longest)));
  try {
    for (let index = 0; index < pieces.length; index++) {
      const hash = sha1 ? createHash('sha1') : undefined;
      const leaves =
        v2Checks === undefined
          ? undefined
          : new V2LeafHasher(
              v2Checks.subarray(index * V2_PIECE_CHECK_SIZE, (index + 1) * V2_PIECE_CHECK_SIZE),
            );
      let complete = true;
      for (const span of pieces[index]!) {
        if (span.path === null) {
          const zeros = new Uint8Array(span.length);
          hash?.update(zeros);
          leaves?.update(zeros);
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
          hash?.update(chunk.subarray(0, read));
          leaves?.update(chunk.subarray(0, read));
          done += read;
          if (read < want) complete = false;
        }
        if (!complete) break;
      }
      if (!complete) {
        missing.push(index);
        continue;
      }
      if (hash) hashes.set(hash.digest(), index * 20);
      if (v2Ok && leaves?.verify()) v2Ok[index] = 1;
    }
  } finally {
    await Promise.all([...handles.values()].map((handle) => handle?.close()));
  }
  return v2Ok === undefined ? { hashes, missing } : { hashes, missing, v2Ok };
}
