import type { DiskLayout } from '../disk/disk-layout.js';
import { MAX_WEB_SEED_URL_LENGTH } from './web-seed-limits.js';

/**
 * Why `url` cannot be a web seed (not http: or https:, not a URL, too long), or undefined when it
 * can. Other schemes (ftp:, magnet:, …) are ignored with this reason, never fetched.
 */
export function webSeedUrlProblem(url: string): string | undefined {
  if (url.length > MAX_WEB_SEED_URL_LENGTH) return `longer than ${MAX_WEB_SEED_URL_LENGTH} characters`;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return 'not a URL';
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
    return `${parsed.protocol} is not http: or https:`;
  if (parsed.hostname === '') return 'no host';
  return undefined;
}

/** A URL whose host is this machine's loopback (127.0.0.0/8, ::1, localhost): what hermetic runs may fetch. */
export function isLoopbackUrl(url: string): boolean {
  let host: string;
  try {
    host = new URL(url).hostname;
  } catch {
    return false;
  }
  return host === 'localhost' || host === '[::1]' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/**
 * Each file's URL at web seed `url`, as BEP 19 builds it; `null` for a BEP 47 pad file (zeros,
 * never fetched). Single-file torrent: `url` itself, or `url` + name when it ends in `/`.
 * Multi-file: `url` (a `/` added when missing, as libtorrent does) + name + `/` + path, each
 * component percent-encoded (UTF-8) so that spaces, `#`, `?` and `%` in names reach the server as
 * part of the path.
 */
export function webSeedFileUrls(
  url: string,
  layout: Pick<DiskLayout, 'name' | 'isMultiFile' | 'files'>,
): Array<string | null> {
  if (!layout.isMultiFile) {
    const file = url.endsWith('/') ? `${url}${encodeURIComponent(layout.name)}` : url;
    return layout.files.map((entry) => (entry.pad ? null : file));
  }
  const base = url.endsWith('/') ? url : `${url}/`;
  return layout.files.map((file) =>
    file.pad ? null : base + [layout.name, ...file.path].map((part) => encodeURIComponent(part)).join('/'),
  );
}
