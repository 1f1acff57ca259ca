import { readSync } from 'node:fs';

/**
 * One contiguous read that is part of a piece: `length` bytes at `offset` of the file at `path`;
 * `path: null` is a BEP 47 pad file (zeros, never opened). A piece is its spans in order. The one
 * shape every reader of pieces on disk uses: the resume check, the hash pool's jobs (it crosses a
 * thread: see `HashJob` in ../messages), and the peer hosts' upload reader.
 */
export interface PieceSpanOnDisk {
  readonly path: string | null;
  readonly offset: number;
  readonly length: number;
}

/** What `readFully` needs of a file handle (node's `FileHandle` and `DiskFileHandle` fit). */
export interface ReadableHandle {
  read(buffer: Uint8Array, offset: number, length: number, position: number): Promise<{ bytesRead: number }>;
}

/**
 * Reads `length` bytes at `position` into `out` at `offset`, looping over short reads. Returns the
 * bytes read: fewer than `length` only at end of file. The one read loop of tork (with its twin on
 * a descriptor below): the disk writer, the upload reader and the hashers all read pieces through it.
 */
export async function readFully(
  handle: ReadableHandle,
  out: Uint8Array,
  offset: number,
  length: number,
  position: number,
): Promise<number> {
  let done = 0;
  while (done < length) {
    const { bytesRead } = await handle.read(out, offset + done, length - done, position + done);
    if (bytesRead <= 0) break;
    done += bytesRead;
  }
  return done;
}

/**
 * `readFully` made with `readSync` on a descriptor, on this thread (the upload reader's small
 * pieces, see `SyncIoGate`): the same loop, the same result.
 */
export function readFullySync(
  fd: number,
  out: Uint8Array,
  offset: number,
  length: number,
  position: number,
): number {
  let done = 0;
  while (done < length) {
    const read = readSync(fd, out, offset + done, length - done, position + done);
    if (read <= 0) break;
    done += read;
  }
  return done;
}
