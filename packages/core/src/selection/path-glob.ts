import { TorkError, TorkErrorCode } from '../errors.js';

/** Longest `--select-glob` pattern, in characters. */
export const MAX_GLOB_LENGTH = 1_024;

/**
 * Compiles a path glob as `--select-glob` takes it, matched against a file's path inside the
 * torrent (components joined by `/`, without the torrent's name): `*` matches any run of
 * characters within one component, `?` one character, `**` as a whole component any number of
 * components (none included), `\` escapes the next character. Everything else is literal.
 * Node 20's `path.matchesGlob` exists but is experimental (it prints a warning), hence this.
 * Throws TORK_ERR_USAGE for an empty or overlong pattern.
 */
export function compileGlob(pattern: string): (path: string) => boolean {
  if (pattern.length === 0 || pattern.length > MAX_GLOB_LENGTH) {
    throw new TorkError(
      TorkErrorCode.USAGE,
      `--select-glob: pattern must have 1..${MAX_GLOB_LENGTH} characters`,
      {
        length: pattern.length,
      },
    );
  }
  let source = '';
  const parts = pattern.split('/');
  parts.forEach((part, i) => {
    const last = i === parts.length - 1;
    if (part === '**') {
      // Any number of whole components, the separator included.
      source += last ? '.*' : '(?:[^/]*/)*';
      return;
    }
    for (let c = 0; c < part.length; c++) {
      const ch = part[c]!;
      if (ch === '\\' && c + 1 < part.length) source += escapeRegex(part[++c]!);
      else if (ch === '*') source += '[^/]*';
      else if (ch === '?') source += '[^/]';
      else source += escapeRegex(ch);
    }
    if (!last) source += '/';
  });
  const regex = new RegExp(`^${source}$`, 'su');
  return (path) => regex.test(path);
}

function escapeRegex(ch: string): string {
  return ch.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}
