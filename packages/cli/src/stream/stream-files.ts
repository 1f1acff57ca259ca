import type { DiskLayout } from '@tork/core';

/** One file `tork stream` serves: what `tork info` lists (pad files left out), in its order. */
export interface StreamFile {
  /**
   * The file's number (`/N`): its index in the metainfo, pad files counted, as `tork info` lists
   * it and `--select` takes it.
   */
  readonly index: number;
  /** Its index among the torrent's files, pad files included (what the disk layout uses). */
  readonly layoutIndex: number;
  /** `a/b/c.mkv`, as `tork info` shows it. */
  readonly path: string;
  readonly length: number;
  /** Offset of its first byte in the torrent's payload. */
  readonly offset: number;
}

/** The files of a torrent as `tork stream` serves them: every file but BEP 47 pad files. */
export function streamFiles(layout: DiskLayout): StreamFile[] {
  const files: StreamFile[] = [];
  let offset = 0;
  layout.files.forEach((file, layoutIndex) => {
    if (!file.pad)
      files.push({
        index: layoutIndex,
        layoutIndex,
        path: file.path.join('/'),
        length: file.length,
        offset,
      });
    offset += file.length;
  });
  return files;
}

/** Why a request path names no file: `bad` (400: undecodable, NUL) or `missing` (404). */
export type FileLookup = { file: StreamFile } | { error: 'bad' | 'missing' };

/**
 * The file a request path names: `/N` (its number) or `/<path as tork info lists it>`,
 * percent-decoded. Only an exact match against the torrent's own file list counts: the path is
 * never joined to a directory, so `..`, encoded slashes or absolute paths cannot reach anything
 * else (they simply match no file). The query string is ignored.
 */
export function findFile(
  files: readonly StreamFile[],
  byPath: ReadonlyMap<string, StreamFile>,
  url: string,
): FileLookup {
  const raw = url.split('?', 1)[0]!.split('#', 1)[0]!;
  if (!raw.startsWith('/')) return { error: 'bad' };
  let path: string;
  try {
    path = decodeURIComponent(raw.slice(1));
  } catch {
    return { error: 'bad' };
  }
  if (path.includes('\0')) return { error: 'bad' };
  if (/^(0|[1-9]\d{0,8})$/.test(path)) {
    const index = Number(path);
    const file = files.find((candidate) => candidate.index === index);
    return file ? { file } : { error: 'missing' };
  }
  const file = byPath.get(path);
  return file ? { file } : { error: 'missing' };
}

/**
 * Content types by extension, for players that look at them. Deliberately no HTML, SVG or script
 * types: a torrent's page served from 127.0.0.1 must not run in the browser (it gets
 * `application/octet-stream`, and every answer says `nosniff`).
 */
const CONTENT_TYPES: Readonly<Record<string, string>> = {
  mp4: 'video/mp4',
  m4v: 'video/mp4',
  mkv: 'video/x-matroska',
  webm: 'video/webm',
  avi: 'video/x-msvideo',
  mov: 'video/quicktime',
  ts: 'video/mp2t',
  mpg: 'video/mpeg',
  mpeg: 'video/mpeg',
  ogv: 'video/ogg',
  mp3: 'audio/mpeg',
  m4a: 'audio/mp4',
  aac: 'audio/aac',
  flac: 'audio/flac',
  ogg: 'audio/ogg',
  opus: 'audio/opus',
  wav: 'audio/wav',
  srt: 'application/x-subrip',
  vtt: 'text/vtt; charset=utf-8',
  txt: 'text/plain; charset=utf-8',
  nfo: 'text/plain; charset=utf-8',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  png: 'image/png',
  gif: 'image/gif',
  pdf: 'application/pdf',
};

export function contentType(path: string): string {
  const dot = path.lastIndexOf('.');
  const extension = dot < 0 || dot < path.lastIndexOf('/') ? '' : path.slice(dot + 1).toLowerCase();
  return CONTENT_TYPES[extension] ?? 'application/octet-stream';
}

/** `/<path>` with every component percent-encoded (the listing's links). */
export function fileUrlPath(file: StreamFile): string {
  return `/${file.path.split('/').map(encodeURIComponent).join('/')}`;
}
