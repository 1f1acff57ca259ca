/**
 * Decides, from the saved resume state and the files as they are now, which pieces count as verified
 * without hashing, which must be hashed first and which are simply missing. Pure: no I/O.
 *
 * Trust is the dangerous direction (a trusted piece is never hashed), so it is granted only for a
 * piece that a clean snapshot claims, with no journal entry after it, in files whose size and mtime
 * are exactly as the snapshot recorded. Every other claim is at most rechecked.
 */
import { TorkError, TorkErrorCode } from '../errors.js';
import type { FileLayout } from '../metainfo/file-layout.js';
import type { LoadedResume } from './resume-store.js';

/** A payload file as it is on disk now. */
export interface CurrentFileStat {
  readonly size: number;
  readonly mtimeMs: number;
}

export interface PlanResumeInput {
  /** What `ResumeStore.load` returned (null: no state). */
  readonly loaded: LoadedResume | null;
  /**
   * Each file of the torrent in metainfo order: its current stat, or null when it does not exist.
   * Entries for pad files are ignored (pad files are never written).
   */
  readonly files: readonly (CurrentFileStat | null)[];
  /** Must equal `layout.pieceCount`. */
  readonly pieceCount: number;
  readonly layout: FileLayout;
  /**
   * Whether any payload data is on disk, used only when there is no usable snapshot. Default: some
   * non-pad file in `files` exists with a size above 0.
   */
  readonly anyDataOnDisk?: boolean;
}

export interface ResumePlan {
  /** Pieces that count as verified without hashing. Sorted. */
  readonly trusted: number[];
  /** Pieces to hash before they count; those that fail are simply downloaded. Sorted. */
  readonly recheck: number[];
  /** One line for logs and `--json`: which rule applied and the counts. */
  readonly reason: string;
}

/**
 * Rules:
 * - clean snapshot, no journal entry after it, every file's size and mtime unchanged: every claimed
 *   piece is trusted;
 * - clean snapshot but some files changed: claimed pieces touching a changed file are rechecked,
 *   the rest trusted;
 * - unclean snapshot, or journal entries after a clean one: every claimed piece is rechecked;
 * - no usable snapshot (none, refused, or for another piece count/length/file count): when data is
 *   on disk every piece is rechecked, else nothing.
 * Always: a piece that needs a missing file, or bytes past a file's current end, is dropped (it
 * cannot verify). Throws TORK_ERR_USAGE when `files` or `pieceCount` disagree with `layout`.
 */
export function planResume(input: PlanResumeInput): ResumePlan {
  const { loaded, files, pieceCount, layout } = input;
  if (pieceCount !== layout.pieceCount || files.length !== layout.fileCount) {
    throw new TorkError(TorkErrorCode.USAGE, 'planResume: pieceCount or files disagree with the layout', {
      pieceCount,
      layoutPieces: layout.pieceCount,
      files: files.length,
      layoutFiles: layout.fileCount,
    });
  }
  // 1 = the piece cannot verify with the files as they are (a missing file, or bytes past the end).
  const blocked = new Uint8Array(pieceCount);
  for (let index = 0; index < layout.fileCount; index++) {
    const length = layout.fileLength(index);
    if (layout.isPad(index) || length === 0) continue;
    const { firstPiece, lastPiece } = layout.filePieces(index);
    const current = files[index];
    if (current === null || current === undefined) {
      blocked.fill(1, firstPiece, lastPiece + 1);
    } else if (current.size < length) {
      const from = layout.filePosition(index, current.size).piece;
      blocked.fill(1, from, lastPiece + 1);
    }
  }

  const snapshot = loaded?.snapshot ?? null;
  const mismatch =
    snapshot === null
      ? undefined
      : snapshot.pieceCount !== pieceCount
        ? 'for another piece count'
        : snapshot.pieceLength !== layout.pieceLength
          ? 'for another piece length'
          : snapshot.files.length !== layout.fileCount
            ? 'for another file count'
            : undefined;

  if (snapshot === null || mismatch !== undefined || loaded === null) {
    const why =
      loaded === null ? 'no resume state' : snapshot === null ? 'no usable snapshot' : `snapshot ${mismatch}`;
    const anyData =
      input.anyDataOnDisk ??
      files.some((file, index) => file !== null && file.size > 0 && !layout.isPad(index));
    if (!anyData) return { trusted: [], recheck: [], reason: `${why}, no data on disk: nothing to check` };
    const recheck: number[] = [];
    for (let piece = 0; piece < pieceCount; piece++) if (blocked[piece] === 0) recheck.push(piece);
    return { trusted: [], recheck, reason: `${why}, data on disk: recheck ${recheck.length} pieces` };
  }

  const clean = loaded.clean && snapshot.clean && loaded.journalPieces.length === 0;
  // 1 = the piece touches a file whose size or mtime differs from the snapshot's.
  const changed = new Uint8Array(pieceCount);
  let changedFiles = 0;
  if (clean) {
    for (let index = 0; index < layout.fileCount; index++) {
      if (layout.isPad(index)) continue;
      const current = files[index];
      const saved = snapshot.files[index]!;
      // A missing file is handled by `blocked`; it still counts here for the reason line.
      if (
        current === null ||
        current === undefined ||
        current.size !== saved.size ||
        current.mtimeMs !== saved.mtimeMs
      ) {
        changedFiles++;
        const { firstPiece, lastPiece } = layout.filePieces(index);
        changed.fill(1, firstPiece, lastPiece + 1);
      }
    }
  }

  const trusted: number[] = [];
  const recheck: number[] = [];
  let dropped = 0;
  for (const piece of loaded.pieces) {
    // Defensive: `pieces` comes from a validated snapshot, but this is the trust boundary.
    if (!Number.isInteger(piece) || piece < 0 || piece >= pieceCount) continue;
    if (blocked[piece] === 1) dropped++;
    else if (clean && changed[piece] === 0) trusted.push(piece);
    else recheck.push(piece);
  }
  // `loaded.pieces` is sorted by contract; sorting again keeps the output sorted whatever was passed.
  trusted.sort((a, b) => a - b);
  recheck.sort((a, b) => a - b);
  const counts = `${trusted.length} trusted, ${recheck.length} to recheck, ${dropped} dropped`;
  const reason = !clean
    ? `unclean state (interrupted run or pieces written after the snapshot): ${counts}`
    : changedFiles > 0
      ? `clean snapshot, ${changedFiles} of ${layout.fileCount} files changed or missing: ${counts}`
      : `clean snapshot, files unchanged: ${counts}`;
  return { trusted, recheck, reason };
}
