/**
 * Every path that comes from a torrent is hostile until checked: nothing may ever be written
 * outside the output directory. Components are checked one by one when the metainfo is parsed, and
 * `resolveInside` checks the joined result again right before use.
 */
import path from 'node:path';
import { TorkError, TorkErrorCode } from '../errors.js';
import { MAX_PATH_COMPONENT_BYTES, MAX_PATH_DEPTH, MAX_RELATIVE_PATH_BYTES } from './limits.js';

/** Where a path came from, for the error message and details. */
export interface PathContext {
  /** Index of the file in `info.files`; absent for `info.name`. */
  readonly fileIndex?: number;
  /** The metainfo field, e.g. `info.name` or `info.files[3].path`. */
  readonly field?: string;
}

/** A component shown in a message: quoted, escaped and cut short, since it is attacker-controlled. */
function shown(component: string): string {
  return JSON.stringify(component.length > 80 ? `${component.slice(0, 80)}…` : component);
}

function describe(context: PathContext): string {
  const parts: string[] = [];
  if (context.fileIndex !== undefined) parts.push(`file ${context.fileIndex}`);
  if (context.field !== undefined) parts.push(context.field);
  return parts.length > 0 ? parts.join(', ') : 'path';
}

function unsafe(message: string, context: PathContext, component?: string): never {
  throw new TorkError(TorkErrorCode.UNSAFE_PATH, `${describe(context)}: ${message}`, {
    fileIndex: context.fileIndex,
    field: context.field,
    component: component === undefined ? undefined : component.slice(0, 256),
  });
}

/** Why a single component is unsafe, or undefined when it is a plain file or directory name. */
export function unsafeComponentReason(component: string): string | undefined {
  if (component === '') return 'is empty';
  if (component === '.' || component === '..') return 'is a relative directory reference';
  if (component.startsWith('/')) return 'is an absolute path';
  if (/^[A-Za-z]:/.test(component)) return 'starts with a Windows drive letter';
  if (component.includes('/')) return 'contains a slash';
  if (component.includes('\\')) return 'contains a backslash';
  if (component.includes('\0')) return 'contains a NUL character';
  const bytes = Buffer.byteLength(component, 'utf8');
  if (bytes > MAX_PATH_COMPONENT_BYTES) return `is ${bytes} bytes long (at most ${MAX_PATH_COMPONENT_BYTES})`;
  return undefined;
}

/** Throws TORK_ERR_UNSAFE_PATH naming the component unless it is a plain name. */
export function checkPathComponent(component: string, context: PathContext = {}): void {
  const reason = unsafeComponentReason(component);
  if (reason !== undefined) unsafe(`path component ${shown(component)} ${reason}`, context, component);
}

/**
 * Checks a whole relative path: 1 to MAX_PATH_DEPTH components, each a plain name.
 * `maxDepth` defaults to MAX_PATH_DEPTH (64).
 */
export function checkRelativePath(
  components: readonly string[],
  context: PathContext = {},
  maxDepth = MAX_PATH_DEPTH,
): void {
  if (components.length === 0) unsafe('path is empty', context);
  if (components.length > maxDepth) {
    unsafe(`path has ${components.length} components (at most ${maxDepth})`, context);
  }
  for (const component of components) checkPathComponent(component, context);
}

/** Checks that `name/path...` of one file stays within MAX_RELATIVE_PATH_BYTES. */
export function checkRelativePathBytes(components: readonly string[], context: PathContext = {}): void {
  let bytes = components.length - 1;
  for (const component of components) bytes += Buffer.byteLength(component, 'utf8');
  if (bytes > MAX_RELATIVE_PATH_BYTES) {
    unsafe(`path is ${bytes} bytes long (at most ${MAX_RELATIVE_PATH_BYTES})`, context);
  }
}

/**
 * Joins `components` under `root` and returns the absolute result, after checking every component
 * again and confirming with path.resolve/path.relative that the result lies strictly inside root.
 * Does not follow symlinks: a symlink already present under root is the disk layer's concern.
 */
export function resolveInside(root: string, components: readonly string[]): string {
  checkRelativePath(components, {}, Number.POSITIVE_INFINITY);
  const base = path.resolve(root);
  const full = path.resolve(base, ...components);
  const relative = path.relative(base, full);
  const prefix = base.endsWith(path.sep) ? base : base + path.sep;
  if (
    relative === '' ||
    relative === '..' ||
    relative.startsWith(`..${path.sep}`) ||
    path.isAbsolute(relative) ||
    !full.startsWith(prefix)
  ) {
    unsafe(`${shown(components.join('/'))} resolves outside ${shown(base)}`, {});
  }
  return full;
}

/** The parts of a metainfo that decide where its files go on disk. */
export interface OutputLayout {
  readonly name: string;
  readonly isMultiFile: boolean;
  readonly files: ReadonlyArray<{ readonly path: readonly string[] }>;
}

/** Components of a file relative to the output directory: `name/path...`, or `name` for a single file. */
export function outputComponents(torrent: OutputLayout, fileIndex: number): string[] {
  const file = torrent.files[fileIndex];
  if (file === undefined) {
    throw new TorkError(TorkErrorCode.OUT_OF_RANGE, `file index ${fileIndex} is out of range`, {
      fileIndex,
      fileCount: torrent.files.length,
    });
  }
  return torrent.isMultiFile ? [torrent.name, ...file.path] : [torrent.name];
}

/** Absolute path of a file under `root`: `<root>/<name>/<path...>` (multi-file) or `<root>/<name>`. */
export function outputPath(root: string, torrent: OutputLayout, fileIndex: number): string {
  return resolveInside(root, outputComponents(torrent, fileIndex));
}

/**
 * Refuses two files with the same path, and a file whose path is also a directory of another file
 * (one of them could not be created). Files with `skip` set (BEP 47 pad files, never written) are
 * left out: real torrents repeat pad paths such as `.pad/16384`. Names are compared exactly, as on
 * a case-sensitive file system.
 */
export function checkPathConflicts(
  files: ReadonlyArray<{ readonly path: readonly string[]; readonly skip?: boolean }>,
): void {
  // '/' cannot occur inside a checked component, so joining with it is unambiguous.
  const fileKeys = new Map<string, number>();
  files.forEach((file, index) => {
    if (file.skip) return;
    const key = file.path.join('/');
    const other = fileKeys.get(key);
    if (other !== undefined) {
      unsafe(`${shown(key)} is also the path of file ${other}`, { fileIndex: index }, key);
    }
    fileKeys.set(key, index);
  });
  const dirKeys = new Map<string, number>();
  files.forEach((file, index) => {
    if (file.skip) return;
    let key = '';
    for (let depth = 0; depth < file.path.length - 1; depth++) {
      key = depth === 0 ? file.path[0]! : `${key}/${file.path[depth]}`;
      if (dirKeys.has(key)) continue;
      const other = fileKeys.get(key);
      if (other !== undefined) {
        unsafe(
          `file ${other} ${shown(key)} is in the way of directory ${shown(key)} of file ${index}`,
          { fileIndex: index },
          key,
        );
      }
      dirKeys.set(key, index);
    }
  });
}
