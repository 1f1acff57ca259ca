/**
 * Hashing for `tork create --v2/--hybrid`: each file read once, in order, feeding its BEP 52 merkle
 * tree (SHA-256 of 16 KiB blocks) and, for a hybrid, the SHA-1 of each v1 piece (a file's last
 * piece completed with the zeros of its pad file). This runs on the main thread: the HashPool
 * hashes SHA-1 piece spans only. Throughput is in docs/performance.md's terms a later concern;
 * memory stays at one read buffer plus 32 bytes per 16 KiB of the largest file.
 */
import { createHash, type Hash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { FileMerkleBuilder, TorkError, TorkErrorCode, type V2FileHashes } from '@tork/core';

/** Bytes read at a time: 1 MiB. */
const READ_BYTES = 1024 * 1024;

/** A file to hash: where it is and how long it was when walked. */
export interface V2InputFile {
  readonly absolute: string;
  readonly length: number;
}

export interface V2Hashes {
  readonly fileHashes: V2FileHashes[];
  /** Hybrid only: SHA-1 of every v1 piece of the padded layout. */
  readonly pieceHashes: Uint8Array | undefined;
}

/**
 * Hashes `files` for a v2 (`hybrid` false) or hybrid torrent. `single`: a single-file torrent (no
 * pad after the file). Throws TORK_ERR_IO when a file is shorter than walked.
 */
export async function hashFilesV2(
  files: readonly V2InputFile[],
  pieceLength: number,
  hybrid: boolean,
  single: boolean,
  onProgress: (done: number, total: number) => void,
): Promise<V2Hashes> {
  const total = files.reduce((sum, file) => sum + file.length, 0);
  const v1: Uint8Array[] = [];
  const fileHashes: V2FileHashes[] = [];
  const buffer = new Uint8Array(Math.min(READ_BYTES, Math.max(1, pieceLength)));
  let done = 0;
  for (const file of files) {
    const builder = new FileMerkleBuilder(pieceLength);
    let piece: Hash | undefined;
    let pieceFill = 0;
    const handle = file.length > 0 ? await open(file.absolute, 'r') : undefined;
    try {
      for (let position = 0; position < file.length; ) {
        const want = Math.min(buffer.length, file.length - position);
        const { bytesRead } = await handle!.read(buffer, 0, want, position);
        if (bytesRead !== want) {
          throw new TorkError(TorkErrorCode.IO, `${file.absolute} got shorter while hashing: try again`);
        }
        const chunk = buffer.subarray(0, want);
        builder.update(chunk);
        if (hybrid) {
          for (let offset = 0; offset < chunk.length; ) {
            const take = Math.min(pieceLength - pieceFill, chunk.length - offset);
            piece ??= createHash('sha1');
            piece.update(chunk.subarray(offset, offset + take));
            pieceFill += take;
            offset += take;
            if (pieceFill === pieceLength) {
              v1.push(new Uint8Array(piece.digest()));
              piece = undefined;
              pieceFill = 0;
            }
          }
        }
        position += want;
        done += want;
        onProgress(done, total);
      }
    } finally {
      await handle?.close();
    }
    if (piece !== undefined) {
      // The pad file after this one is zeros, and part of the same v1 piece.
      if (!single) piece.update(new Uint8Array(pieceLength - pieceFill));
      v1.push(new Uint8Array(piece.digest()));
    }
    const merkle = builder.digest();
    fileHashes.push({
      ...(merkle.root !== undefined ? { piecesRoot: merkle.root } : {}),
      ...(merkle.pieceLayer !== undefined ? { pieceLayer: merkle.pieceLayer } : {}),
    });
  }
  const pieceHashes = hybrid ? new Uint8Array(Buffer.concat(v1)) : undefined;
  return { fileHashes, pieceHashes };
}
