import { TorkError, TorkErrorCode } from '../errors.js';

/** Most items (indices or ranges) one `--select` list may hold. */
export const MAX_SELECT_ITEMS = 10_000;

/**
 * Parses a file-index list as `tork download --select` takes it: comma-separated indices and
 * inclusive ranges (`0,3-5`), indices as `tork info` lists them (from 0). Every index must be
 * below `fileCount`. Returns the sorted, unique indices. Throws TORK_ERR_USAGE with the offending
 * item for anything else (empty items, backwards ranges, signs, out-of-range indices).
 */
export function parseSelectList(text: string, fileCount: number): number[] {
  const items = text.split(',');
  if (text.trim() === '' || items.length > MAX_SELECT_ITEMS) {
    throw usage(`--select ${JSON.stringify(text)}: expected indices and ranges such as 0,3-5`, text);
  }
  const chosen = new Set<number>();
  for (const raw of items) {
    const item = raw.trim();
    const match = /^(\d{1,9})(?:-(\d{1,9}))?$/.exec(item);
    if (match === null) throw usage(`--select: ${JSON.stringify(item)} is not a file index or range`, text);
    const first = Number(match[1]);
    const last = match[2] === undefined ? first : Number(match[2]);
    if (last < first) throw usage(`--select: range ${item} runs backwards`, text);
    if (last >= fileCount) {
      throw usage(
        `--select: file index ${last} is out of range (the torrent has ${fileCount} file${fileCount === 1 ? '' : 's'}, 0..${fileCount - 1}; see tork info)`,
        text,
      );
    }
    for (let index = first; index <= last; index++) chosen.add(index);
  }
  return [...chosen].sort((a, b) => a - b);
}

function usage(message: string, list: string): TorkError {
  return new TorkError(TorkErrorCode.USAGE, message, { select: list });
}
