import { type DiskFileHandle, type DiskFs, nodeDiskFs } from '@tork/core';

/** A Node-style system error, as fs would throw it. */
export function systemError(code: string, syscall: string, path?: string): NodeJS.ErrnoException {
  const error: NodeJS.ErrnoException = new Error(
    `${code}: injected failure, ${syscall}${path ? ` '${path}'` : ''}`,
  );
  error.code = code;
  error.syscall = syscall;
  if (path !== undefined) error.path = path;
  return error;
}

type Hook<T> = (info: T) => void | Promise<void>;

export interface FaultHooks {
  /** Runs before each write reaches the disk; throw to fail it, await to delay it. */
  write?: Hook<{ path: string; position: number; length: number }>;
  open?: Hook<{ path: string; flags: number }>;
  mkdir?: Hook<{ path: string }>;
  sync?: Hook<{ path: string }>;
  /** Most bytes one write call really writes (short writes); default: all. */
  maxWriteChunk?: number;
}

/**
 * The real file system with hooks in front of its calls, and its own count of open descriptors
 * (independent of the writer's counter).
 */
export class FaultyFs implements DiskFs {
  /** Descriptors open now, the most ever open at once, and opens in total. */
  openNow = 0;
  peakOpen = 0;
  opens = 0;
  readonly hooks: FaultHooks;

  constructor(hooks: FaultHooks = {}) {
    this.hooks = hooks;
  }

  async open(path: string, flags: number, mode?: number): Promise<DiskFileHandle> {
    await this.hooks.open?.({ path, flags });
    const handle = await nodeDiskFs.open(path, flags, mode);
    this.opens++;
    this.openNow++;
    this.peakOpen = Math.max(this.peakOpen, this.openNow);
    const hooks = this.hooks;
    return {
      read: (buffer, offset, length, position) => handle.read(buffer, offset, length, position),
      write: async (buffer, offset, length, position) => {
        await hooks.write?.({ path, position, length });
        return handle.write(buffer, offset, Math.min(length, hooks.maxWriteChunk ?? length), position);
      },
      stat: () => handle.stat(),
      truncate: (length) => handle.truncate(length),
      sync: async () => {
        await hooks.sync?.({ path });
        return handle.sync();
      },
      close: async () => {
        this.openNow--;
        return handle.close();
      },
    };
  }

  mkdir = async (path: string, options?: { recursive?: boolean }): Promise<unknown> => {
    await this.hooks.mkdir?.({ path });
    return nodeDiskFs.mkdir(path, options);
  };

  lstat = (path: string) => nodeDiskFs.lstat(path);
  realpath = (path: string) => nodeDiskFs.realpath(path);
}

/** Holds callers at `wait()` while shut; `open()` lets everyone through. */
export class Gate {
  #shut = false;
  #waiters: Array<() => void> = [];
  waiting = 0;

  shut(): void {
    this.#shut = true;
  }

  open(): void {
    this.#shut = false;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }

  async wait(): Promise<void> {
    if (!this.#shut) return;
    this.waiting++;
    await new Promise<void>((resolve) => this.#waiters.push(resolve));
    this.waiting--;
  }
}
