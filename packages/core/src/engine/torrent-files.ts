import { TorkError, TorkErrorCode } from '../errors.js';
import { FileLayout } from '../metainfo/file-layout.js';
import {
  checkFilePriorities,
  type FilePriority,
  parseFilePriority,
  piecePriorities,
  selectionBytes,
} from '../selection/file-priorities.js';
import type { TorrentMeta } from './torrent-options.js';

/** What `TorrentFiles` asks of its torrent when priorities change after construction. */
export interface FilePriorityHook {
  /** Whether changes can apply now (the torrent downloads or seeds). */
  running(): boolean;
  /**
   * Apply new piece priorities; `placed` are files that were skipped and are selected now (their
   * file is created and the part file's bytes moved in). Resolves once done.
   */
  apply(pieces: Uint8Array, placed: readonly number[]): Promise<void>;
}

/**
 * A torrent's file selection and priorities (`torrent.files`): which files are downloaded and in
 * what order of preference. Pieces take the highest priority of the files they overlap; `skip`
 * files are not created (their bytes in shared pieces go to the part file: see disk/part-file.ts).
 */
export class TorrentFiles {
  readonly #layout: FileLayout;
  #priorities: FilePriority[];
  #hook: FilePriorityHook | undefined;
  /** Bytes of the pieces to fetch (priority above 0), kept with the priorities. */
  #wantedBytes = 0;
  /** Changes run one at a time, in call order. */
  #queue: Promise<void> = Promise.resolve();

  constructor(
    meta: Pick<TorrentMeta, 'files' | 'pieceLength' | 'length'>,
    initial?: readonly FilePriority[],
  ) {
    this.#layout = FileLayout.fromMetainfo(meta);
    const priorities = initial ? [...initial] : meta.files.map((): FilePriority => 'normal');
    checkFilePriorities(priorities, this.#layout.fileCount);
    this.#priorities = priorities;
    this.#wantedBytes = this.#countWanted();
  }

  /** Bytes of the pieces a complete download of the selection fetches (shared pieces whole). */
  get wantedBytes(): number {
    return this.#wantedBytes;
  }

  #countWanted(): number {
    const pieces = this.piecePriorities();
    let bytes = 0;
    for (let i = 0; i < pieces.length; i++) if (pieces[i]! > 0) bytes += this.#layout.pieceSize(i);
    return bytes;
  }

  /** @internal The torrent connects itself once it can apply changes (files open, scheduler up). */
  attach(hook: FilePriorityHook): void {
    this.#hook = hook;
  }

  /** Each file's priority, in metainfo order (a copy). */
  get priorities(): FilePriority[] {
    return [...this.#priorities];
  }

  /** Per file: not skipped. */
  get selected(): boolean[] {
    return this.#priorities.map((priority) => priority !== 'skip');
  }

  /** Per-piece priorities for the scheduler (0 skip … 3 high). */
  piecePriorities(): Uint8Array {
    return piecePriorities(this.#layout, this.#priorities);
  }

  /** Bytes of selected files and of skipped ones (pad files in neither). */
  bytes(): { selectedBytes: number; skippedBytes: number; wantedBytes: number } {
    const { selected, skipped } = selectionBytes(this.#layout, this.#priorities);
    return { selectedBytes: selected, skippedBytes: skipped, wantedBytes: this.#wantedBytes };
  }

  /** Sets one file's priority (`skip`, `low`, `normal`, `high`). */
  setPriority(index: number, priority: FilePriority): Promise<void> {
    if (!Number.isInteger(index) || index < 0 || index >= this.#priorities.length) {
      return Promise.reject(
        new TorkError(TorkErrorCode.USAGE, `file ${index} outside 0..${this.#priorities.length - 1}`, {
          index,
        }),
      );
    }
    const next = [...this.#priorities];
    next[index] = parseFilePriority(priority);
    return this.setPriorities(next);
  }

  /**
   * Sets every file's priority at once (one entry per file). Newly selected files are created and
   * take what the part file holds for them; newly skipped ones stop being fetched (a piece on its
   * way may still land). Resolves once the change applies.
   */
  setPriorities(priorities: readonly FilePriority[]): Promise<void> {
    try {
      checkFilePriorities(priorities, this.#priorities.length);
    } catch (error) {
      return Promise.reject(error);
    }
    const run = async () => {
      if (this.#hook && !this.#hook.running()) {
        throw new TorkError(
          TorkErrorCode.USAGE,
          'file priorities change only while the torrent downloads or seeds',
        );
      }
      const before = this.#priorities;
      const placed = priorities.flatMap((priority, index) =>
        before[index] === 'skip' && priority !== 'skip' ? [index] : [],
      );
      this.#priorities = [...priorities];
      this.#wantedBytes = this.#countWanted();
      await this.#hook?.apply(this.piecePriorities(), placed);
    };
    const result = this.#queue.then(run);
    this.#queue = result.catch(() => {});
    return result;
  }
}
