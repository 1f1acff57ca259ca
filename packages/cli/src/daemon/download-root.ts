import { realpath } from 'node:fs/promises';
import { dirname, isAbsolute, relative, resolve } from 'node:path';
import { TorkError, TorkErrorCode } from '@tork/core';

/** `path` resolved through its nearest existing ancestor's real path (symbolic links followed). */
async function realResolve(path: string): Promise<string> {
  const absolute = resolve(path);
  let existing = absolute;
  const rest: string[] = [];
  for (;;) {
    try {
      const real = await realpath(existing);
      return resolve(real, ...rest.reverse());
    } catch {
      const parent = dirname(existing);
      if (parent === existing) return absolute;
      rest.push(relative(parent, existing));
      existing = parent;
    }
  }
}

function within(root: string, path: string): boolean {
  const inside = relative(root, path);
  return inside === '' || (!inside.startsWith('..') && !isAbsolute(inside));
}

/**
 * `--download-root`: the only tree the API may name (download directories, .torrent paths). A path
 * is checked as given (resolved) and as it really is (symbolic links followed), so neither `..` nor
 * a link out of the root escapes it. No root: any path goes.
 */
export class DownloadRoot {
  readonly #root: string | undefined;
  #realRoot: string | undefined;

  constructor(root: string | undefined) {
    this.#root = root === undefined ? undefined : resolve(root);
  }

  get root(): string | undefined {
    return this.#root;
  }

  /** The path, absolute, when it lies inside the root; TORK_ERR_API_FORBIDDEN when it does not. */
  async check(path: string, what: string): Promise<string> {
    if (path.includes('\0')) throw new TorkError(TorkErrorCode.API_BAD_REQUEST, `${what} has a NUL byte`);
    const absolute = resolve(path);
    if (this.#root === undefined) return absolute;
    this.#realRoot ??= await realResolve(this.#root);
    if (!within(this.#root, absolute) || !within(this.#realRoot, await realResolve(absolute)))
      throw new TorkError(
        TorkErrorCode.API_FORBIDDEN,
        `${what} ${absolute} is outside --download-root ${this.#root}`,
      );
    return absolute;
  }
}
