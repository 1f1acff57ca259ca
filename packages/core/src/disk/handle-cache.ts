import { TorkError, TorkErrorCode } from '../errors.js';
import type { DiskFileHandle } from './disk-fs.js';

/** A handle lent out by the cache; it cannot be closed until released. */
export interface HandleLease {
  readonly handle: DiskFileHandle;
  release(): void;
}

interface Entry {
  handle: DiskFileHandle | undefined;
  readonly ready: Promise<DiskFileHandle>;
  pins: number;
}

/**
 * An LRU of open file handles, opened lazily and bounded by `maxOpen`, counting handles being
 * opened and being closed too, so the number of descriptors never exceeds the bound. A handle in
 * use (leased) is never evicted; when every slot is leased, `acquire` waits for a release.
 */
export class HandleCache {
  readonly #maxOpen: number;
  readonly #open: (fileIndex: number) => Promise<DiskFileHandle>;
  readonly #close: (fileIndex: number, handle: DiskFileHandle) => Promise<void>;
  readonly #closedError: () => TorkError;
  /** Insertion order is recency: the first entry is the least recently used. */
  readonly #entries = new Map<number, Entry>();
  #closing = 0;
  #waiters: Array<() => void> = [];
  #closed = false;

  constructor(options: {
    maxOpen: number;
    open: (fileIndex: number) => Promise<DiskFileHandle>;
    close: (fileIndex: number, handle: DiskFileHandle) => Promise<void>;
    /** The error `acquire` throws once the cache is closed. Default: TORK_ERR_IO "the disk writer is closed". */
    closedError?: () => TorkError;
  }) {
    this.#maxOpen = options.maxOpen;
    this.#open = options.open;
    this.#close = options.close;
    this.#closedError =
      options.closedError ?? (() => new TorkError(TorkErrorCode.IO, 'the disk writer is closed'));
  }

  /** Handles open, being opened or being closed. */
  get size(): number {
    return this.#entries.size + this.#closing;
  }

  async acquire(fileIndex: number): Promise<HandleLease> {
    for (;;) {
      if (this.#closed) throw this.#closedError();
      const entry = this.#entries.get(fileIndex);
      if (entry !== undefined) {
        entry.pins++;
        this.#entries.delete(fileIndex);
        this.#entries.set(fileIndex, entry);
        try {
          await entry.ready;
        } catch (error) {
          this.#unpin(entry);
          throw error;
        }
        return this.#lease(entry);
      }
      if (this.size < this.#maxOpen) return this.#openEntry(fileIndex);
      const victim = this.#leastRecentlyUsedIdle();
      if (victim !== undefined) {
        await this.#evict(victim[0], victim[1]);
      } else {
        await new Promise<void>((resolve) => this.#waiters.push(resolve));
      }
    }
  }

  /**
   * Closes the file's handle if it is open and idle, so the next acquisition opens the file
   * afresh (a reader that found the file changed must not keep reading the old inode).
   */
  discard(fileIndex: number): void {
    const entry = this.#entries.get(fileIndex);
    if (entry !== undefined && entry.pins === 0 && entry.handle !== undefined) {
      this.#evict(fileIndex, entry).catch(() => {});
    }
  }

  /** Closes every handle (none may be leased); the cache refuses new acquisitions after. */
  async closeAll(): Promise<void> {
    this.#closed = true;
    let firstError: unknown;
    for (const [fileIndex, entry] of [...this.#entries]) {
      this.#entries.delete(fileIndex);
      let handle: DiskFileHandle;
      try {
        handle = await entry.ready;
      } catch {
        continue;
      }
      try {
        await this.#close(fileIndex, handle);
      } catch (error) {
        firstError ??= error;
      }
    }
    this.#wake();
    // Evictions already under way (by `acquire` or `discard`) finish before the cache is closed.
    while (this.#closing > 0) await new Promise<void>((resolve) => this.#waiters.push(resolve));
    if (firstError !== undefined) throw firstError;
  }

  async #openEntry(fileIndex: number): Promise<HandleLease> {
    const ready = this.#open(fileIndex);
    const entry: Entry = { handle: undefined, ready, pins: 1 };
    this.#entries.set(fileIndex, entry);
    try {
      entry.handle = await ready;
    } catch (error) {
      // Later acquirers of this entry see the same rejection through `ready`.
      if (this.#entries.get(fileIndex) === entry) this.#entries.delete(fileIndex);
      entry.pins--;
      this.#wake();
      throw error;
    }
    return this.#lease(entry);
  }

  #lease(entry: Entry): HandleLease {
    let released = false;
    return {
      handle: entry.handle!,
      release: () => {
        if (released) return;
        released = true;
        this.#unpin(entry);
      },
    };
  }

  #unpin(entry: Entry): void {
    entry.pins--;
    if (entry.pins === 0) this.#wake();
  }

  #leastRecentlyUsedIdle(): [number, Entry] | undefined {
    for (const item of this.#entries) {
      if (item[1].pins === 0 && item[1].handle !== undefined) return item;
    }
    return undefined;
  }

  async #evict(fileIndex: number, entry: Entry): Promise<void> {
    // Already evicted (or replaced) by a concurrent call: nothing to close twice.
    if (this.#entries.get(fileIndex) !== entry) return;
    this.#entries.delete(fileIndex);
    this.#closing++;
    try {
      await this.#close(fileIndex, entry.handle!);
    } finally {
      this.#closing--;
      this.#wake();
    }
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }
}
