import { statfs, writeSync, writevSync } from 'node:fs';

/**
 * A call on the event loop that takes longer than this (ms) sends calls back to libuv's pool for
 * SYNC_IO_PAUSE_MS. A buffered write of 32 KiB into the page cache, or a read of 16 KiB from it,
 * takes 10–50 µs here; a write that waits 10 ms is being throttled (dirty pages over the kernel's
 * limit, a slow or failing device), a read that does is going to a spinning disk.
 */
export const SLOW_SYNC_IO_MS = 10;
/**
 * Most time (ms) calls on the event loop may take in one second, summed, before they go back to
 * the pool for SYNC_IO_PAUSE_MS: many calls each under SLOW_SYNC_IO_MS must not add up to a
 * thread that does nothing else.
 */
export const SYNC_IO_BUDGET_MS_PER_SECOND = 250;
/** How long (ms) calls go through libuv's pool after a slow one, before the event loop is tried again. */
export const SYNC_IO_PAUSE_MS = 30_000;

/**
 * `statfs` types of local file systems, whose page cache takes buffered writes and answers reads
 * without a round trip: ext2/3/4, XFS, Btrfs, tmpfs, F2FS, ZFS, overlayfs (containers), bcachefs.
 * Anything else (NFS, SMB, FUSE, 9p, unknown) is read and written through libuv's pool: a call
 * there may wait on a server.
 */
const LOCAL_FILE_SYSTEMS = new Set([
  0xef53, 0x58465342, 0x9123683e, 0x01021994, 0xf2f52010, 0x2fc12fc1, 0x794c7630, 0xca451a4e,
]);

/** Whether `path` lies on a local file system (LOCAL_FILE_SYSTEMS); false when it cannot be told. */
export function isLocalFileSystem(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    statfs(path, (error, stats) => resolve(error === null && LOCAL_FILE_SYSTEMS.has(stats.type)));
  });
}

export interface SyncIoStats {
  readonly allowed: boolean;
  readonly calls: number;
  readonly pauses: number;
}

export interface SyncIoGateOptions {
  /** Clock in ms (tests). Default: `performance.now`. */
  readonly now?: () => number;
}

/**
 * Whether small disk calls are made synchronously on the event loop now, and how they fared: the
 * disk writer's short segments (coordinator), the piece reader's small pieces (peer host). Why at
 * all: through `FileHandle` each call pays a hop to libuv's pool and back (a thread wake-up each
 * way, a promise, a completion turn), which for a 16 KiB piece costs more CPU than the copy itself
 * (docs/performance.md, "a floor for Node"). Why not always: a call that waits (dirty throttling,
 * a slow device, a cold spinning disk) would stall the thread with it, so a slow call, or too much
 * time spent in a second, sends calls back to the pool for a while.
 */
export class SyncIoGate {
  readonly #now: () => number;
  #allowed = false;
  #pausedUntil = Number.NEGATIVE_INFINITY;
  #windowStart = 0;
  #spent = 0;
  /** Calls made on the event loop. */
  calls = 0;
  /** Times calls went back to the pool after a slow call or a spent budget. */
  pauses = 0;

  constructor(options: SyncIoGateOptions = {}) {
    this.#now = options.now ?? (() => performance.now());
  }

  /** Calls may be made on the event loop at all (the files are on a local file system). */
  allow(allowed: boolean): void {
    this.#allowed = allowed;
  }

  get allowed(): boolean {
    return this.#allowed;
  }

  /** What its owner reports: whether calls may be made on the event loop at all, how many were, how often it paused. */
  get stats(): SyncIoStats {
    return { allowed: this.#allowed, calls: this.calls, pauses: this.pauses };
  }

  /** Whether the next call is made on the event loop. */
  get open(): boolean {
    return this.#allowed && this.#now() >= this.#pausedUntil;
  }

  /** Makes `call` (a synchronous read, write or fstat) and accounts for its time; returns what it returns. */
  run<T>(call: () => T): T {
    const started = this.#now();
    try {
      return call();
    } finally {
      const ended = this.#now();
      this.calls++;
      if (ended - this.#windowStart >= 1_000) {
        this.#windowStart = ended;
        this.#spent = 0;
      }
      const took = ended - started;
      this.#spent += took;
      if (took > SLOW_SYNC_IO_MS || this.#spent > SYNC_IO_BUDGET_MS_PER_SECOND) {
        this.#pausedUntil = ended + SYNC_IO_PAUSE_MS;
        this.#spent = 0;
        this.pauses++;
      }
    }
  }
}

/**
 * Writes `buffers` back to back from `position` on `fd` with `writeSync`/`writevSync`, going on
 * after a short write from where it stopped. Throws the system error (its `code` kept).
 */
export function writeFullySync(fd: number, buffers: readonly Uint8Array[], position: number): void {
  let rest = buffers;
  let at = position;
  while (rest.length > 0) {
    let written =
      rest.length === 1
        ? writeSync(fd, rest[0]!, 0, rest[0]!.length, at)
        : writevSync(fd, rest as Uint8Array[], at);
    if (written <= 0) throw Object.assign(new Error('write made no progress'), { code: 'EIO' });
    at += written;
    let done = 0;
    while (done < rest.length && written >= rest[done]!.length) written -= rest[done++]!.length;
    rest = rest.slice(done);
    if (written > 0) rest = [rest[0]!.subarray(written), ...rest.slice(1)];
  }
}
