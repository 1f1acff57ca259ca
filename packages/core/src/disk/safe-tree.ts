import { isAbsolute, join, relative, sep } from 'node:path';
import { TorkError, TorkErrorCode } from '../errors.js';
import { checkPathComponent } from '../metainfo/safe-path.js';
import type { DiskFs, DiskStats } from './disk-fs.js';
import { ioError, systemCode } from './io-error.js';

/**
 * Creates directories and resolves paths below an output root so that nothing is ever reached
 * outside it:
 * - every component is checked again (`checkPathComponent`: no `..`, `.`, empty, separator, NUL);
 * - directories are created one level at a time, and whatever already stands at each level is
 *   checked with `lstat`: a symlink is allowed only when its real target lies inside the root (a
 *   planted `<out>/<name>` → `/etc` is refused with UNSAFE_PATH); a non-directory is an IO error;
 * - the root itself is the user's choice: it may be (or sit under) a symlink.
 *
 * This is defence in depth: metainfo sanitises names first; here anything still unsafe is refused,
 * not repaired.
 */
export class SafeTree {
  readonly root: string;
  readonly #fs: DiskFs;
  /** Relative directory key (components joined by '/') → its real absolute path, once checked. */
  readonly #dirs = new Map<string, Promise<string>>();

  private constructor(fs: DiskFs, realRoot: string) {
    this.#fs = fs;
    this.root = realRoot;
    this.#dirs.set('', Promise.resolve(realRoot));
  }

  /** Creates the root if needed (recursively: it is the user's path) and resolves it. */
  static async open(fs: DiskFs, root: string): Promise<SafeTree> {
    try {
      await fs.mkdir(root, { recursive: true });
    } catch (error) {
      if (systemCode(error) === 'EEXIST' || systemCode(error) === 'ENOTDIR') {
        throw new TorkError(TorkErrorCode.IO, `output path ${root} exists and is not a directory`, {
          path: root,
          cause: systemCode(error),
        });
      }
      throw ioError(error, 'create output directory', root);
    }
    let real: string;
    try {
      real = await fs.realpath(root);
    } catch (error) {
      throw ioError(error, 'resolve output directory', root);
    }
    return new SafeTree(fs, real);
  }

  /**
   * Ensures the directory made of `components` exists below the root, and returns its real path.
   * Concurrent calls for the same directory share one check.
   */
  directory(components: readonly string[]): Promise<string> {
    try {
      for (const component of components) checkPathComponent(component);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#directory(components);
  }

  #directory(components: readonly string[]): Promise<string> {
    const key = components.join('/');
    let pending = this.#dirs.get(key);
    if (pending === undefined) {
      pending = this.#directory(components.slice(0, -1)).then((parent) =>
        this.#makeDirectory(parent, components[components.length - 1]!),
      );
      this.#dirs.set(key, pending);
      // Failures reach the caller through the returned promise; avoid an unhandled rejection
      // for the cached copy.
      pending.catch(() => {});
    }
    return pending;
  }

  async #makeDirectory(parent: string, component: string): Promise<string> {
    const path = join(parent, component);
    try {
      await this.#fs.mkdir(path);
    } catch (error) {
      // EEXIST is expected on resume; whatever stands there is checked below.
      if (systemCode(error) !== 'EEXIST') throw ioError(error, 'create directory', path);
    }
    const { path: real, stats } = await this.resolveExisting(path);
    if (!stats.isDirectory()) {
      throw new TorkError(TorkErrorCode.IO, `${real} exists and is not a directory`, {
        path: real,
        cause: 'ENOTDIR',
      });
    }
    return real;
  }

  /**
   * `lstat`s an existing path below the root. A symlink is followed only if its real target lies
   * inside the root (UNSAFE_PATH otherwise, dangling ones included); returns the real path and
   * the stats of what it designates. Rejects with ENOENT (as IO) when nothing is there.
   */
  async resolveExisting(path: string): Promise<{ path: string; stats: DiskStats }> {
    let stats: DiskStats;
    try {
      stats = await this.#fs.lstat(path);
    } catch (error) {
      throw ioError(error, 'inspect', path);
    }
    if (!stats.isSymbolicLink()) return { path, stats };
    let real: string;
    try {
      real = await this.#fs.realpath(path);
    } catch (error) {
      throw new TorkError(
        TorkErrorCode.UNSAFE_PATH,
        `${path} is a symlink that cannot be resolved; refusing to follow it`,
        { path, cause: systemCode(error) },
      );
    }
    if (!isInside(this.root, real)) {
      throw new TorkError(
        TorkErrorCode.UNSAFE_PATH,
        `${path} is a symlink to ${real}, outside the output directory ${this.root}`,
        { path, target: real, root: this.root },
      );
    }
    try {
      // `real` has no symlink left in it (realpath), so lstat describes the target itself.
      return { path: real, stats: await this.#fs.lstat(real) };
    } catch (error) {
      throw ioError(error, 'inspect', real);
    }
  }
}

/** True when `path` is `root` or below it (both absolute and already resolved). */
export function isInside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel));
}
