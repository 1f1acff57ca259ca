import {
  compileGlob,
  type FilePriority,
  type Metainfo,
  parseSelectList,
  TorkError,
  TorkErrorCode,
  type TorrentProgress,
} from '@tork/core';
import { formatBytes } from '../format.js';

/** `tork download`'s file selection options (parsed by `parseArgs` with the others). */
export const selectOptions = {
  select: { type: 'string' },
  'select-glob': { type: 'string', multiple: true },
} as const;

export const selectHelp = {
  select: {
    arg: 'LIST',
    text: "download only these files: indices and ranges as tork info numbers them, e.g. 0,3-5 (the rest is not created; a magnet's so= is overridden)",
    default: 'every file',
  },
  'select-glob': {
    arg: 'PATTERN',
    text: "only the files whose path inside the torrent matches: * and ? within a name, ** across directories, e.g. 'Season 2/**' (adds to --select)",
    default: 'every file',
  },
} as const;

/** What the user asked for, checked before the torrent is known (globs compile; the list parses at once for a .torrent). */
export interface SelectionRequest {
  readonly list: string | undefined;
  readonly globs: ReadonlyArray<{ pattern: string; matches: (path: string) => boolean }>;
}

/** Undefined when neither option was given (every file, or a magnet's `so=`). Throws TORK_ERR_USAGE for a bad glob. */
export function selectionRequest(values: {
  select?: string | undefined;
  'select-glob'?: string[] | undefined;
}): SelectionRequest | undefined {
  const globs = (values['select-glob'] ?? []).map((pattern) => ({ pattern, matches: compileGlob(pattern) }));
  if (values.select === undefined && globs.length === 0) return undefined;
  return { list: values.select, globs };
}

/**
 * Per-file priorities for `meta` from a request: the files the list names or a glob matches are
 * `normal`, the others `skip`; pad files are never selected. Throws TORK_ERR_USAGE when an index is
 * out of range or nothing is selected.
 */
export function filePrioritiesFor(request: SelectionRequest, meta: Metainfo): FilePriority[] {
  const chosen = new Set(request.list === undefined ? [] : parseSelectList(request.list, meta.files.length));
  meta.files.forEach((file, index) => {
    const path = file.path.join('/');
    if (request.globs.some((glob) => glob.matches(path))) chosen.add(index);
  });
  const priorities = meta.files.map(
    (file, index): FilePriority => (chosen.has(index) && !file.pad ? 'normal' : 'skip'),
  );
  if (!priorities.includes('normal')) {
    const asked = [
      ...(request.list !== undefined ? [`--select ${request.list}`] : []),
      ...request.globs.map((glob) => `--select-glob ${glob.pattern}`),
    ].join(' ');
    throw new TorkError(TorkErrorCode.USAGE, `${asked} selects no file of ${meta.name} (see tork info)`);
  }
  return priorities;
}

/** The done line's note on a partial download: `, 20 MiB skipped (…)`, or '' when every file was selected. */
export function skippedSummary(final: Pick<TorrentProgress, 'skippedBytes' | 'selectedBytes'>): string {
  if (final.skippedBytes === 0) return '';
  return `, ${formatBytes(final.skippedBytes)} skipped (files not selected; ${formatBytes(final.selectedBytes)} selected)`;
}
