import type { DiskFileHandle, DiskFs } from './disk-fs.js';

/**
 * Wraps a DiskFs to count the file descriptors really open (opened and not yet closed), so the
 * handle bound can be observed from outside: `open` counts from the moment the call is issued,
 * because the descriptor may exist before the promise settles.
 */
export class CountingFs implements DiskFs {
  #open = 0;
  #peak = 0;
  readonly #inner: DiskFs;

  constructor(inner: DiskFs) {
    this.#inner = inner;
  }

  /** Descriptors open right now (or being opened). */
  get openHandles(): number {
    return this.#open;
  }

  /** The most descriptors ever open at once. */
  get peakOpenHandles(): number {
    return this.#peak;
  }

  async open(path: string, flags: number, mode?: number): Promise<DiskFileHandle> {
    this.#open++;
    if (this.#open > this.#peak) this.#peak = this.#open;
    let handle: DiskFileHandle;
    try {
      handle = await this.#inner.open(path, flags, mode);
    } catch (error) {
      this.#open--;
      throw error;
    }
    let closed = false;
    const close = async (): Promise<void> => {
      if (closed) return;
      closed = true;
      try {
        await handle.close();
      } finally {
        // A failed close(2) still releases the descriptor.
        this.#open--;
      }
    };
    return {
      // A getter, not a copy: a closed FileHandle's fd reads -1, so a stale wrapper can never
      // write through a number the kernel has since given to another file.
      get fd() {
        return handle.fd;
      },
      read: (buffer, offset, length, position) => handle.read(buffer, offset, length, position),
      write: (buffer, offset, length, position) => handle.write(buffer, offset, length, position),
      ...(handle.writev ? { writev: (buffers, position) => handle.writev!(buffers, position) } : {}),
      stat: () => handle.stat(),
      truncate: (length) => handle.truncate(length),
      sync: () => handle.sync(),
      close,
    };
  }

  mkdir(path: string, options?: { recursive?: boolean }): Promise<unknown> {
    return this.#inner.mkdir(path, options);
  }

  lstat(path: string) {
    return this.#inner.lstat(path);
  }

  realpath(path: string): Promise<string> {
    return this.#inner.realpath(path);
  }
}
