import { open } from 'node:fs/promises';
import { type PieceSpanOnDisk, readFully } from '@tork/core';

/**
 * `length` bytes at `offset` of a piece given as its spans on disk (`DiskWriter.pieceSpans`), read
 * back from the files; pad spans read as zeros. Rejects if a file is shorter than the piece needs.
 */
export async function readBack(
  spans: readonly PieceSpanOnDisk[],
  offset = 0,
  length = spans.reduce((sum, span) => sum + span.length, 0) - offset,
): Promise<Uint8Array> {
  const piece = new Uint8Array(spans.reduce((sum, span) => sum + span.length, 0));
  let at = 0;
  for (const span of spans) {
    if (span.path !== null) {
      const handle = await open(span.path, 'r');
      try {
        const read = await readFully(handle, piece, at, span.length, span.offset);
        if (read < span.length) throw new Error(`${span.path} ends before ${span.offset + span.length}`);
      } finally {
        await handle.close();
      }
    }
    at += span.length;
  }
  return piece.slice(offset, offset + length);
}
