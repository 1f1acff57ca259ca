/**
 * Turns the names a torrent gives (raw bytes, possibly hostile or just odd) into plain relative
 * paths, the way libtorrent does, instead of refusing the torrent: users can download such torrents
 * in every other client. The rules (see docs/architecture.md, "Sanitising names"):
 * - a component `.` is dropped; an empty component becomes `_`;
 * - `/`, `\` and the Unicode direction overrides are removed from inside a component, so a
 *   component can never add a level (`a/../b` becomes `a....b`);
 * - an invalid UTF-8 byte or a control character becomes `_`;
 * - what is left of a component is dropped if it is empty, `.` or `..`;
 * - a component longer than SANITIZED_COMPONENT_BYTES is cut there (after the character that
 *   reaches it), and a short extension not yet copied is put back; a leading Windows drive (`C:`)
 *   has its colon replaced;
 * - a path with nothing left becomes `_`; a torrent name with nothing left becomes the info-hash;
 * - duplicate paths, compared ignoring ASCII case (and a file in the way of another file's
 *   directory), are renamed `base.N.ext`.
 * Every result passes `unsafeComponentReason`, which `resolveInside` checks again before any write.
 */
import { TorkError, TorkErrorCode } from '../errors.js';
import { MAX_PATH_COMPONENT_BYTES, MAX_PATH_RENAMES } from './limits.js';
import { quoted, type WarningList } from './metainfo-warnings.js';
import { utf8SequenceLength } from './utf8.js';

/**
 * Where a long component is cut: 240 bytes, as libtorrent does, leaving room for a kept extension
 * (≤ 9 bytes) and a character of up to 4 within the 255-byte NAME_MAX.
 */
export const SANITIZED_COMPONENT_BYTES = 240;

/** Longest extension put back when a component is cut, in bytes including the dot: 9 (libtorrent: under 10). */
const MAX_KEPT_EXTENSION_BYTES = 9;

// U+202A..U+202E (embeddings, overrides) and U+200E/U+200F (marks) make `evil\u202Etxt.exe` show as
// `evilexe.txt`: dropped, as libtorrent does.
const DIRECTION_CONTROLS = new Set([0x202a, 0x202b, 0x202c, 0x202d, 0x202e, 0x200e, 0x200f]);

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Cuts `text` to at most `maxBytes` UTF-8 bytes without splitting a character. */
function cutToBytes(text: string, maxBytes: number): string {
  if (Buffer.byteLength(text, 'utf8') <= maxBytes) return text;
  let out = '';
  let bytes = 0;
  for (const char of text) {
    const size = Buffer.byteLength(char, 'utf8');
    if (bytes + size > maxBytes) break;
    out += char;
    bytes += size;
  }
  return out;
}

/** `[base, ext]` with `ext` the last `.xyz` of at most `maxExt` bytes (not a leading dot), else ''. */
function splitExtension(name: string, maxExt = Number.POSITIVE_INFINITY): [string, string] {
  const dot = name.lastIndexOf('.');
  if (dot <= 0) return [name, ''];
  const ext = name.slice(dot);
  if (Buffer.byteLength(ext, 'utf8') > maxExt) return [name, ''];
  return [name.slice(0, dot), ext];
}

/**
 * A component cut as libtorrent 2.0.8 cuts it (checked with python3-libtorrent): whole characters
 * are copied until SANITIZED_COMPONENT_BYTES or more are out; then the extension (from the last
 * dot, at most MAX_KEPT_EXTENSION_BYTES) is appended if the copy had not reached it. So
 * `x`×250 + `.txt` → `x`×240 + `.txt` (244 bytes), `x`×237 + `.txt` → `x`×237 + `.tx`.
 */
function shorten(name: string): string {
  let out = '';
  let bytes = 0;
  let copied = 0;
  for (const char of name) {
    out += char;
    copied += char.length;
    bytes += Buffer.byteLength(char, 'utf8');
    if (bytes >= SANITIZED_COMPONENT_BYTES) break;
  }
  const dot = name.lastIndexOf('.');
  if (dot >= copied && Buffer.byteLength(name.slice(dot), 'utf8') <= MAX_KEPT_EXTENSION_BYTES) {
    out += name.slice(dot);
  }
  return out;
}

/**
 * One component, sanitised: the plain name, or undefined when the component is to be dropped
 * (`.`, `..`, or nothing left once separators are removed).
 */
export function sanitizeComponent(bytes: Uint8Array): string | undefined {
  if (bytes.length === 0) return '_';
  let out = '';
  let i = 0;
  while (i < bytes.length) {
    const length = utf8SequenceLength(bytes, i);
    if (length === 0) {
      out += '_';
      i++;
      continue;
    }
    const char = utf8.decode(bytes.subarray(i, i + length));
    i += length;
    const code = char.codePointAt(0)!;
    if (char === '/' || char === '\\' || DIRECTION_CONTROLS.has(code)) continue;
    out += code < 0x20 || code === 0x7f ? '_' : char;
  }
  if (out === '' || out === '.' || out === '..') return undefined;
  // 'C:' means a drive-relative path on Windows; harmless on POSIX, but never a plain name there.
  if (/^[A-Za-z]:/.test(out)) out = `${out[0]}_${out.slice(2)}`;
  return Buffer.byteLength(out, 'utf8') > SANITIZED_COMPONENT_BYTES ? shorten(out) : out;
}

/** A file's path, sanitised component by component; `['_']` when nothing is left. */
export function sanitizePath(components: readonly Uint8Array[]): string[] {
  const out: string[] = [];
  for (const component of components) {
    const name = sanitizeComponent(component);
    if (name !== undefined) out.push(name);
  }
  return out.length > 0 ? out : ['_'];
}

/**
 * ASCII letters lowered: how libtorrent compares paths for duplicates (`A.txt` and `a.txt` would be
 * one file on a case-insensitive file system; `Ä` and `ä` are not folded, as in libtorrent 2.0).
 */
function foldCase(key: string): string {
  return key.replace(/[A-Z]+/g, (letters) => letters.toLowerCase());
}

/**
 * Renames files whose path is taken, in torrent order: by an earlier file, or by a directory of any
 * file (directories win, as in libtorrent: a file cannot be created where a directory must be).
 * The last component becomes `base.N.ext` with the smallest free N. Entries with `skip` (pad files,
 * symlinks: nothing is written for them) neither take a name nor get renamed. Paths are compared
 * ignoring ASCII case, as libtorrent does (`A.txt` then `a.txt`: the second becomes `a.1.txt`), so
 * a download works on a case-insensitive file system too; directories that differ only in case
 * are left as they are (libtorrent does not rename directories). Returns the new paths (same array
 * entries where unchanged) and the indices renamed. O(files + renames): a counter per base name
 * remembers where the search stopped.
 */
export function renameDuplicates(
  files: ReadonlyArray<{ readonly path: readonly string[]; readonly skip?: boolean }>,
): { paths: (readonly string[])[]; renamed: number[] } {
  // '/' cannot occur inside a sanitised component, so joining with it is unambiguous.
  const taken = new Set<string>();
  for (const file of files) {
    if (file.skip) continue;
    let key = '';
    for (let depth = 0; depth < file.path.length - 1; depth++) {
      key = depth === 0 ? file.path[0]! : `${key}/${file.path[depth]}`;
      taken.add(foldCase(key));
    }
  }
  const nextSuffix = new Map<string, number>();
  const paths: (readonly string[])[] = [];
  const renamed: number[] = [];
  files.forEach((file, index) => {
    const key = foldCase(file.path.join('/'));
    if (file.skip || !taken.has(key)) {
      if (!file.skip) taken.add(key);
      paths.push(file.path);
      return;
    }
    const last = file.path[file.path.length - 1]!;
    const [base, ext] = splitExtension(last);
    const dir = file.path.slice(0, -1);
    let n = nextSuffix.get(key) ?? 1;
    let candidate: string[];
    for (;;) {
      const suffix = `.${n}${ext}`;
      const name = cutToBytes(base, MAX_PATH_COMPONENT_BYTES - Buffer.byteLength(suffix, 'utf8')) + suffix;
      candidate = [...dir, name];
      n++;
      if (!taken.has(foldCase(candidate.join('/')))) break;
    }
    nextSuffix.set(key, n);
    taken.add(foldCase(candidate.join('/')));
    paths.push(candidate);
    renamed.push(index);
  });
  return { paths, renamed };
}

/**
 * Renames in place the files whose path another file or directory already takes (`renameDuplicates`,
 * pads skipped), with a `path-renamed` warning each; more than MAX_PATH_RENAMES renames refuse the
 * torrent. Shared by the v1 file list and the v2 file tree.
 */
export function renameDuplicatePaths(
  files: Array<{ path: readonly string[]; readonly pad: boolean }>,
  warnings: WarningList,
): void {
  const { paths, renamed } = renameDuplicates(files.map((file) => ({ path: file.path, skip: file.pad })));
  if (renamed.length > MAX_PATH_RENAMES) {
    throw new TorkError(
      TorkErrorCode.UNSAFE_PATH,
      `${renamed.length} files share their path with another file (at most ${MAX_PATH_RENAMES} are renamed)`,
      { renamed: renamed.length },
    );
  }
  for (const index of renamed) {
    const before = files[index]!.path.join('/');
    files[index]!.path = [...paths[index]!];
    warnings.add({
      kind: 'path-renamed',
      fileIndex: index,
      message: `file ${index}: ${quoted(before)} is taken by another file or directory; renamed ${quoted(paths[index]!.join('/'))}`,
    });
  }
}
