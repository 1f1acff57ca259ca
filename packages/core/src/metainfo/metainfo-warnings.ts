/**
 * What parsing a torrent changed or ignored instead of refusing it: the torrent is usable, but the
 * user should know (the names on disk differ from the torrent's, a symlink is not created, ...).
 */
import { MAX_METAINFO_WARNINGS } from './limits.js';

export type MetainfoWarningKind =
  /** Bytes after the root dictionary were ignored. */
  | 'trailing-data'
  /** A file's path (or the torrent's name) was changed to a safe plain name. */
  | 'path-sanitized'
  /** Two files had the same path (or a file was in a directory's way): this one was renamed. */
  | 'path-renamed'
  /** A BEP 47 symlink entry: zero bytes of payload, and tork does not create the link. */
  | 'symlink-skipped'
  /** More warnings than MAX_METAINFO_WARNINGS: the rest were counted, not listed. */
  | 'more-warnings';

export interface MetainfoWarning {
  readonly kind: MetainfoWarningKind;
  /** One line for a person; names in it are JSON-quoted and cut short. */
  readonly message: string;
  /** Index in `Metainfo.files`, when the warning is about one file. */
  readonly fileIndex?: number;
}

/** Text from a torrent shown in a warning: JSON-quoted (control characters escaped), cut to 120. */
export function quoted(text: string): string {
  return JSON.stringify(text.length > 120 ? `${text.slice(0, 120)}…` : text);
}

/** Collects at most MAX_METAINFO_WARNINGS warnings, then counts the rest in one last entry. */
export class WarningList {
  readonly #items: MetainfoWarning[] = [];
  #dropped = 0;

  constructor(private readonly max = MAX_METAINFO_WARNINGS) {}

  add(warning: MetainfoWarning): void {
    if (this.#items.length < this.max) this.#items.push(Object.freeze({ ...warning }));
    else this.#dropped++;
  }

  /** The warnings, frozen; a final `more-warnings` entry when some were dropped. */
  toArray(): readonly MetainfoWarning[] {
    const out = [...this.#items];
    if (this.#dropped > 0) {
      out.push(
        Object.freeze({
          kind: 'more-warnings' as const,
          message: `${this.#dropped} more warnings not listed (at most ${this.max} are kept)`,
        }),
      );
    }
    return Object.freeze(out);
  }
}
