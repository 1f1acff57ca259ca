import { TorkError, TorkErrorCode } from '../errors.js';
import type { FileLayout } from '../metainfo/file-layout.js';

/**
 * A file's priority as the library API takes it: `'skip'` (not downloaded, not created), `'low'`,
 * `'normal'` (the default) or `'high'`. Pieces of higher-priority files are fetched first.
 */
export type FilePriority = 'skip' | 'low' | 'normal' | 'high';

/** The scheduler's number for each `FilePriority` (see scheduler/priority-tiers.ts). */
export const FILE_PRIORITY_VALUE: Readonly<Record<FilePriority, number>> = {
  skip: 0,
  low: 1,
  normal: 2,
  high: 3,
};

/** Parses a priority name (as `--priority` or the API takes it), else TORK_ERR_USAGE. */
export function parseFilePriority(text: string): FilePriority {
  if (text === 'skip' || text === 'low' || text === 'normal' || text === 'high') return text;
  throw new TorkError(
    TorkErrorCode.USAGE,
    `priority ${JSON.stringify(text)}: expected skip, low, normal or high`,
    {
      priority: text,
    },
  );
}

/**
 * Checks a per-file priority list against the torrent's file count: exactly one entry per file.
 * Throws TORK_ERR_USAGE otherwise.
 */
export function checkFilePriorities(priorities: readonly FilePriority[], fileCount: number): void {
  if (priorities.length !== fileCount) {
    throw new TorkError(TorkErrorCode.USAGE, `${priorities.length} file priorities for ${fileCount} files`, {
      given: priorities.length,
      fileCount,
    });
  }
  priorities.forEach((priority, index) => {
    if (!(priority in FILE_PRIORITY_VALUE)) {
      throw new TorkError(TorkErrorCode.USAGE, `file ${index}: unknown priority ${String(priority)}`, {
        index,
      });
    }
  });
}

/**
 * Piece priorities from file priorities: a piece gets the highest priority of the files it
 * overlaps, so a piece that straddles a selected and a skipped file is fetched whole. Pad files
 * (BEP 47) and zero-length files never raise a piece. A piece that lies only in pad files follows
 * its neighbours (it is all zeros: nothing to fetch that matters, but it must verify for "done";
 * such pieces do not occur in practice because pads end where a piece ends).
 */
export function piecePriorities(layout: FileLayout, priorities: readonly FilePriority[]): Uint8Array {
  checkFilePriorities(priorities, layout.fileCount);
  const out = new Uint8Array(layout.pieceCount);
  for (let index = 0; index < layout.fileCount; index++) {
    if (layout.isPad(index) || layout.fileLength(index) === 0) continue;
    const value = FILE_PRIORITY_VALUE[priorities[index]!];
    if (value === 0) continue;
    const { firstPiece, lastPiece } = layout.filePieces(index);
    for (let piece = firstPiece; piece <= lastPiece; piece++) if (out[piece]! < value) out[piece] = value;
  }
  return out;
}

/** Bytes of the files that are not skipped (pad files excluded) and of those that are. */
export function selectionBytes(
  layout: FileLayout,
  priorities: readonly FilePriority[],
): { selected: number; skipped: number } {
  let selected = 0;
  let skipped = 0;
  for (let index = 0; index < layout.fileCount; index++) {
    if (layout.isPad(index)) continue;
    if (priorities[index] === 'skip') skipped += layout.fileLength(index);
    else selected += layout.fileLength(index);
  }
  return { selected, skipped };
}

/**
 * File priorities that select exactly the files `indices` names (`normal`) and skip the rest;
 * indices at or above `fileCount` are ignored (BEP 53 `so` from a magnet may name them). Undefined
 * (every file) when `indices` is undefined, empty (as BEP 53 says of an empty `so`) or names no
 * file of this torrent.
 */
export function selectOnlyPriorities(
  indices: readonly number[] | undefined,
  fileCount: number,
): FilePriority[] | undefined {
  const chosen = new Set((indices ?? []).filter((index) => index < fileCount));
  // Nothing in range selects nothing useful: take it as no `so` at all, as an empty one is.
  if (chosen.size === 0) return undefined;
  return Array.from(
    { length: fileCount },
    (_, index): FilePriority => (chosen.has(index) ? 'normal' : 'skip'),
  );
}
