import type { DiskLayout } from '../disk/disk-layout.js';

/**
 * Bytes of each file (in `layout.files` order) that lie in pieces `has` reports: a file's share of a
 * piece it shares with its neighbours counts once that piece is had. One pass over pieces and files
 * together (files lie end to end in piece space), so O(pieces + files).
 */
export function fileCompletedBytes(
  layout: Pick<DiskLayout, 'files' | 'pieceLength' | 'length'>,
  has: (piece: number) => boolean,
): number[] {
  const { files, pieceLength, length } = layout;
  const done = files.map(() => 0);
  const pieceCount = Math.ceil(length / pieceLength);
  let file = 0;
  let fileStart = 0;
  for (let piece = 0; piece < pieceCount; piece++) {
    const start = piece * pieceLength;
    const end = Math.min(length, start + pieceLength);
    while (file < files.length && fileStart + files[file]!.length <= start) {
      fileStart += files[file]!.length;
      file++;
    }
    if (!has(piece)) continue;
    let offset = fileStart;
    for (let index = file; index < files.length && offset < end; index++) {
      const size = files[index]!.length;
      const overlap = Math.min(end, offset + size) - Math.max(start, offset);
      if (overlap > 0) done[index]! += overlap;
      offset += size;
    }
  }
  return done;
}
