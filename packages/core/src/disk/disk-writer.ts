import { TorkError, TorkErrorCode } from '../errors.js';
import { FileLayout } from '../metainfo/file-layout.js';
import { CountingFs } from './counting-fs.js';
import type { DiskFileHandle, DiskFs } from './disk-fs.js';
import { nodeDiskFs, openFlags } from './disk-fs.js';
import type { DiskLayout } from './disk-layout.js';
import { HandleCache } from './handle-cache.js';
import { ioError } from './io-error.js';
import { absentFiles, copyFromPart, openPartFile, type PartFile, partEntry } from './part-file.js';
import type { PieceSpanOnDisk } from './piece-span.js';
import { type PreparedFile, prepareFile, prepareFiles } from './prepare-files.js';
import { runBounded } from './run-bounded.js';
import { SafeTree } from './safe-tree.js';
import { isLocalFileSystem, SyncIoGate, type SyncIoStats, writeFullySync } from './sync-io-gate.js';

/** Default for `maxOpenFiles`. */
export const DEFAULT_MAX_OPEN_FILES = 64;
/** Default for `maxQueuedBytes`: 64 MiB. */
export const DEFAULT_MAX_QUEUED_BYTES = 64 * 1024 * 1024;
/**
 * Default for `maxConcurrentWrites`. Measured (512 MiB, 8 files, random piece order, ext4 on a
 * 2-core VM, page cache absorbing the writes): one write at a time ran at 0.4–2 GiB/s with
 * 64–256 KiB pieces, two at 1–4 GiB/s, four no better than two beyond the noise, eight worse or
 * equal. Two leave half of libuv's 4 threads to reads, opens and dns.lookup.
 */
export const DEFAULT_MAX_CONCURRENT_WRITES = 2;
/**
 * Most bytes and most pieces of one run of queued neighbours, written as one job: with 16 KiB
 * pieces, one write per piece cost the coordinator ≈ 0.1 ms of its own time each (the promise,
 * the thread-pool hop, the completion turn, the journal entry and the refill that follow it); a
 * run pays the turn, the journal entry and the refill once, and a thread-pool hop per
 * MAX_WRITE_CALL_BYTES. 1 MiB is as much as a large piece; a writev holds the buffers of at most
 * MAX_WRITE_CALL_BYTES, far below IOV_MAX (1024) whatever the piece size.
 */
export const MAX_COALESCED_WRITE_BYTES = 1024 * 1024;
export const MAX_COALESCED_PIECES = 256;
/**
 * Most bytes one write or writev system call carries; a run of neighbours is written in calls of
 * this size. Linux (6.x, ext4 with large folios) sizes the page-cache folios it allocates for a
 * buffered write by the call's length, and folios above 32 KiB (order 3, the largest the per-CPU
 * page lists keep) come from the buddy allocator's high-order blocks. On a VM whose freed memory
 * goes back to the host (free page reporting, as on this project's Firecracker machine) those
 * blocks are the reported ones, which the host must fault in again: writing 1 GiB of new data,
 * several calls at once, cost 2.5–7.6 s of kernel time in 64 KiB to 1 MiB calls and 0.5–0.8 s in
 * 32 KiB calls (2026-12-05; performance.md, "Write calls of 32 KiB"). 128 KiB, measured cheap on
 * an earlier day, was not on this one. The price is more thread-pool hops: WRITE_CALL_LANES keeps
 * it small.
 */
export const MAX_WRITE_CALL_BYTES = 32 * 1024;
/**
 * Calls of one segment in flight at once. One at a time, every call pays its own thread-pool
 * wake-up and completion turn (1 GiB in 32 KiB calls: 1.1–1.2 CPU s); two overlap those costs
 * (0.7 s); four gained little more (0.65 s) and would fill libuv's 4 threads with one writer's
 * calls while a second run writes too.
 */
export const WRITE_CALL_LANES = 2;
/**
 * Segments of at most this many write calls (256 KiB) are written with `writeSync` on the
 * coordinator while its `SyncIoGate` is open: for them a hop to libuv's pool and back costs more
 * than the write (256 MiB in 16 KiB pieces: 5.7 % less CPU, 6 pairs; every segment on the
 * coordinator: 8.7 %). Longer ones (a 1 MiB piece is 32 calls) keep the pool: there the kernel's
 * copy runs beside the coordinator's work instead of holding its event loop for half a millisecond
 * per MiB, and moving them was no better (1 GiB in 1 MiB pieces, 5 pairs: CPU within the noise,
 * wall time 3 % longer).
 */
export const SYNC_WRITE_MAX_CALLS = 8;
/**
 * The same for a torrent of small pieces (`syncWriteMaxCalls`, set by the Torrent for pieces of at
 * most 64 KiB): every segment (a run of neighbours is at most MAX_COALESCED_WRITE_BYTES, 32 calls).
 * There the coordinator's turns are short and many, and the pool's hops are most of what a write
 * costs: 256 MiB in 16 KiB pieces from 8 libtorrent seeders, 14 interleaved pairs, median 2.05
 * against 2.135 CPU s (−4 %), wall −2 %. A 1 MiB run holds the event loop for 0.25–0.5 ms, within
 * the gate's budget at 200 MB/s.
 */
export const SMALL_PIECE_SYNC_WRITE_MAX_CALLS = MAX_COALESCED_WRITE_BYTES / MAX_WRITE_CALL_BYTES;

/** `syncWriteMaxCalls` for a torrent: SMALL_PIECE_SYNC_WRITE_MAX_CALLS for pieces ≤ `smallPieceBytes`. */
export function syncWriteMaxCallsFor(pieceLength: number, smallPieceBytes: number): number {
  return pieceLength <= smallPieceBytes ? SMALL_PIECE_SYNC_WRITE_MAX_CALLS : SYNC_WRITE_MAX_CALLS;
}
/** Files created or resized at once by `open` (bounded by `maxOpenFiles` too). */
const PREPARE_CONCURRENCY = 8;

export interface DiskWriterOptions {
  /** Output directory: created if missing. Multi-file torrents land in `<root>/<name>/…`, single-file ones at `<root>/<name>`. */
  readonly root: string;
  readonly layout: DiskLayout;
  /** Most file descriptors open at once (LRU of handles, creation included). Default 64. */
  readonly maxOpenFiles?: number;
  /**
   * Soft cap of the write queue, in bytes (pieces accepted and not yet on disk): at or above it
   * `needsDrain` is true and the coordinator stops assigning pieces until `whenBelow` resolves.
   * `write` never refuses a piece, so the queue may exceed the cap by the pieces already assigned
   * (bounded by the scheduler's in-flight budget). Default 64 MiB.
   */
  readonly maxQueuedBytes?: number;
  /**
   * Pieces written at once. Each in-flight write holds a libuv thread-pool thread (4 by
   * default, shared with every other fs call and dns.lookup), so more rarely helps. Default 2.
   */
  readonly maxConcurrentWrites?: number;
  /** File-system calls; tests inject faults here. Default: node:fs/promises (see `syncWrites`). */
  readonly fs?: DiskFs;
  /**
   * With the default `fs`, where the output directory is on a local file system: write segments of
   * at most SYNC_WRITE_MAX_CALLS calls (small pieces, a file's tail) with `writeSync` on this
   * thread while such calls are quick (`SyncIoGate`: a call over SLOW_SYNC_IO_MS, or more
   * than SYNC_IO_BUDGET_MS_PER_SECOND in a second, sends them to libuv's pool for
   * SYNC_IO_PAUSE_MS). Elsewhere, with a given `fs`, and for longer segments, every call goes
   * through the pool. Default: true.
   */
  readonly syncWrites?: boolean;
  /**
   * Longest segment, in write calls, written on this thread under `syncWrites`. The Torrent passes
   * SMALL_PIECE_SYNC_WRITE_MAX_CALLS for pieces of at most 64 KiB. Default: SYNC_WRITE_MAX_CALLS (8).
   */
  readonly syncWriteMaxCalls?: number;
  /**
   * Per file, false = not selected: such a file is not created (unless it is already on disk),
   * and the bytes of its pieces shared with selected files go to the part file
   * (`<root>/.tork/<partFileName>`, see part-file.ts). Default: every file selected.
   */
  readonly selected?: readonly boolean[];
  /** Name of the part file in `<root>/.tork/`. Default: `torrent.parts` (the Torrent passes `<info-hash>.parts`). */
  readonly partFileName?: string;
}

interface DrainWaiter {
  readonly below: number;
  readonly resolve: () => void;
}

interface WriteJob {
  readonly index: number;
  readonly data: Uint8Array;
  readonly resolve: () => void;
  readonly reject: (error: TorkError) => void;
  /** Resolves when the job has settled either way; never rejects (flush and close wait on it). */
  readonly settled: Promise<void>;
  readonly markSettled: () => void;
  /** Started, alone or as part of a run of neighbours: no longer waiting in the queue. */
  taken: boolean;
  /** Spans of it not yet written (pad spans never are). */
  spansLeft: number;
}

/** Bytes of a run that lie back to back in one file: one write (or writev) call. */
interface Segment {
  readonly fileIndex: number;
  readonly fileOffset: number;
  length: number;
  readonly parts: Array<{ readonly job: WriteJob; readonly data: Uint8Array }>;
}

/**
 * Writes verified pieces to disk off the coordinator's critical path, and reads them back.
 *
 * `write` queues a piece and returns at once; its promise resolves when the piece is on disk
 * (not necessarily durable: `flush` fsyncs). Up to `maxConcurrentWrites` pieces are written at
 * once with positional writes, split across file boundaries, pad spans skipped. The first I/O
 * failure breaks the writer: that write and every queued one reject with the same TorkError IO,
 * and later writes fail fast with it until a new DiskWriter is opened.
 */
export class DiskWriter {
  readonly maxQueuedBytes: number;
  /** Piece ↔ file mapping of the torrent. */
  readonly layout: FileLayout;
  readonly #fs: CountingFs;
  readonly #files: Array<PreparedFile | null>;
  /** Where files go: the checked tree, the torrent's paths, the part file (null: none). */
  readonly #where: { readonly tree: SafeTree; readonly layout: DiskLayout };
  readonly #part: PartFile | null;
  /** Whether write calls are made on this thread now (see `syncWrites`). */
  readonly #gate: SyncIoGate;
  /** `syncWriteMaxCalls`. */
  readonly #syncMaxCalls: number;
  /** While > 0 no queued write starts (a file is being moved out of the part file). */
  #paused = 0;
  readonly #cache: HandleCache;
  readonly #maxConcurrent: number;
  /** FIFO of jobs not yet started; consumed slots before `#queueHead` are cleared. */
  readonly #queue: Array<WriteJob | undefined> = [];
  #queueHead = 0;
  /** Jobs of the runs being written. */
  readonly #running = new Set<WriteJob>();
  /** Runs being written (at most `maxConcurrentWrites`). */
  #runs = 0;
  #pumpScheduled = false;
  /** Write and writev calls made (each at most MAX_WRITE_CALL_BYTES): with neighbouring small pieces, fewer than pieces written. */
  #writeCalls = 0;
  #piecesWritten = 0;
  /** The newest unfinished write of each piece, so a read never sees older bytes than a write. */
  readonly #pending = new Map<number, WriteJob>();
  /** Reads and flushes under way: `close` waits for them before closing handles. */
  readonly #ops = new Set<Promise<unknown>>();
  /** Files written since the last flush (their handles may have been evicted since). */
  readonly #dirty = new Set<number>();
  #queuedBytes = 0;
  #drainWaiters: DrainWaiter[] = [];
  #broken: TorkError | undefined;
  #closing: Promise<void> | undefined;

  private constructor(
    options: Required<
      Pick<DiskWriterOptions, 'maxQueuedBytes' | 'maxOpenFiles' | 'maxConcurrentWrites' | 'syncWriteMaxCalls'>
    >,
    fs: CountingFs,
    layout: FileLayout,
    files: Array<PreparedFile | null>,
    where: { tree: SafeTree; layout: DiskLayout; part: PartFile | null; gate: SyncIoGate },
  ) {
    this.#where = where;
    this.#part = where.part;
    this.#gate = where.gate;
    this.#syncMaxCalls = options.syncWriteMaxCalls;
    this.maxQueuedBytes = options.maxQueuedBytes;
    this.#maxConcurrent = options.maxConcurrentWrites;
    this.#fs = fs;
    this.layout = layout;
    this.#files = files;
    this.#cache = new HandleCache({
      maxOpen: options.maxOpenFiles,
      open: (fileIndex) => this.#openFile(fileIndex),
      close: async (fileIndex, handle) => {
        try {
          await handle.close();
        } catch (error) {
          // close(2) can report a write that failed late (NFS, some FUSE file systems).
          const failure = ioError(error, 'close', this.#file(fileIndex).path, { fileIndex });
          this.#break(failure);
          throw failure;
        }
      },
    });
  }

  /**
   * Creates the directory tree and every non-pad file (sparse, at its final size) and returns a
   * writer. Existing files keep their bytes for resume: a shorter one is extended, a longer one is
   * truncated to its final size (`file(i).previousSize` tells what was there). Rejects with UNSAFE_PATH if any path would leave `root` (hostile names, symlinks that
   * lead outside), with IO if something stands in the way or the file system refuses.
   */
  static async open(options: DiskWriterOptions): Promise<DiskWriter> {
    const maxOpenFiles = positiveInteger('maxOpenFiles', options.maxOpenFiles, DEFAULT_MAX_OPEN_FILES);
    const maxQueuedBytes = positiveInteger(
      'maxQueuedBytes',
      options.maxQueuedBytes,
      DEFAULT_MAX_QUEUED_BYTES,
    );
    const maxConcurrentWrites = positiveInteger(
      'maxConcurrentWrites',
      options.maxConcurrentWrites,
      DEFAULT_MAX_CONCURRENT_WRITES,
    );
    const syncWriteMaxCalls = positiveInteger(
      'syncWriteMaxCalls',
      options.syncWriteMaxCalls,
      SYNC_WRITE_MAX_CALLS,
    );
    const layout = FileLayout.fromMetainfo(options.layout);
    // A single-file v2 torrent has a pad after its file (libtorrent's layout too): never written.
    const realFiles = options.layout.files.filter((file) => !file.pad).length;
    if (!options.layout.isMultiFile && realFiles !== 1) {
      throw new TorkError(TorkErrorCode.USAGE, `a single-file torrent has ${realFiles} files`);
    }
    const gate = new SyncIoGate();
    const fs = new CountingFs(options.fs ?? nodeDiskFs);
    const tree = await SafeTree.open(fs, options.root);
    if (options.fs === undefined && options.syncWrites !== false)
      gate.allow(await isLocalFileSystem(tree.root));
    const absent = options.selected
      ? await absentFiles(fs, tree, options.layout, options.selected)
      : new Set<number>();
    const concurrency = Math.min(PREPARE_CONCURRENCY, maxOpenFiles);
    const files = await prepareFiles(fs, tree, options.layout, concurrency, absent);
    const partName = options.partFileName ?? 'torrent.parts';
    const part = await openPartFile(fs, tree, partName, options.layout.length, absent.size > 0);
    if (part !== null) for (const index of absent) files[index] = partEntry(part, layout, index);
    const limits = { maxOpenFiles, maxQueuedBytes, maxConcurrentWrites, syncWriteMaxCalls };
    return new DiskWriter(limits, fs, layout, files, {
      tree,
      layout: options.layout,
      part,
      gate,
    });
  }

  /** Bytes accepted by `write` and not yet on disk (queued and in flight). */
  get queuedBytes(): number {
    return this.#queuedBytes;
  }

  /** True while `queuedBytes` is at or above `maxQueuedBytes`: stop assigning new pieces. */
  get needsDrain(): boolean {
    return this.#queuedBytes >= this.maxQueuedBytes;
  }

  /** Write (or writev) calls made, and pieces written, since `open`: how well neighbours coalesce. */
  get writeCalls(): number {
    return this.#writeCalls;
  }

  get piecesWritten(): number {
    return this.#piecesWritten;
  }

  /** The error that broke the writer, if one did. */
  get error(): TorkError | undefined {
    return this.#broken;
  }

  /** File descriptors open now (cache, creation and flush included). */
  get openHandles(): number {
    return this.#fs.openHandles;
  }

  /** The most file descriptors ever open at once by this writer. */
  get peakOpenHandles(): number {
    return this.#fs.peakOpenHandles;
  }

  /**
   * Write calls made on this thread (`syncWrites`), whether they may be at all (`allowed`: the
   * default fs on a local file system), and how often a slow call sent them back to the pool.
   */
  get syncWrites(): SyncIoStats {
    return this.#gate.stats;
  }

  /**
   * Real absolute path of file `fileIndex`, the size it had before `open` (null: created now),
   * where its byte 0 lies in that path (`offset`: not 0 when `inPart`, i.e. the file is not
   * selected and its bytes are in the part file); undefined for pad files.
   */
  file(
    fileIndex: number,
  ): { path: string; previousSize: number | null; offset: number; inPart: boolean } | undefined {
    const file = this.#files[fileIndex];
    return file
      ? { path: file.path, previousSize: file.previousSize, offset: file.base, inPart: file.inPart }
      : undefined;
  }

  /**
   * Selected files created by this `open` while a part file from an earlier run exists: bytes of
   * theirs may be waiting there (`adoptFromPart`).
   */
  adoptable(): number[] {
    if (this.#part === null || this.#part.previousSize === null) return [];
    return this.#files.flatMap((file) =>
      file && !file.inPart && file.previousSize === null ? [file.fileIndex] : [],
    );
  }

  /** Copies the part file's bytes of `pieces` (verified earlier) into file `fileIndex`. Returns the bytes copied. */
  adoptFromPart(fileIndex: number, pieces: Iterable<number>): Promise<number> {
    const part = this.#part;
    const file = this.#files[fileIndex];
    if (part === null || !file || file.inPart) return Promise.resolve(0);
    return this.#track(copyFromPart(this.#fs, part, file, this.layout, pieces));
  }

  /**
   * A file held in the part file is selected now: creates it, moves in what the part file holds of
   * its `written` pieces, and writes its bytes there from now on. Writes wait meanwhile. Resolves
   * true when the file was moved (false: it already had a file of its own).
   */
  async place(fileIndex: number, written: { has(index: number): boolean }): Promise<boolean> {
    const current = this.#files[fileIndex];
    if (!current?.inPart) return false;
    this.#paused++;
    try {
      // No write, read or flush may hold the file's handle on the part file when it is dropped.
      await Promise.all([...[...this.#running].map((job) => job.settled), ...this.#ops]);
      if (this.#broken) throw this.#broken;
      const file = await prepareFile(this.#fs, this.#where.tree, this.#where.layout, fileIndex);
      const { firstPiece, lastPiece } = this.layout.filePieces(fileIndex);
      const pieces: number[] = [];
      for (let piece = firstPiece; piece <= lastPiece; piece++) if (written.has(piece)) pieces.push(piece);
      await copyFromPart(this.#fs, this.#part!, file, this.layout, pieces);
      this.#cache.discard(fileIndex);
      this.#files[fileIndex] = file;
      return true;
    } finally {
      this.#paused--;
      this.#pump();
    }
  }

  /**
   * Piece `index` as the spans of the real files it lies in (pad spans: `path: null`): what the
   * resume check hashes and peer hosts read to serve uploads.
   */
  pieceSpans(index: number): PieceSpanOnDisk[] {
    return this.layout.spans(index).map((span) => ({
      path: span.pad ? null : (this.#files[span.fileIndex]?.path ?? null),
      offset: span.fileOffset + (this.#files[span.fileIndex]?.base ?? 0),
      length: span.length,
    }));
  }

  /** Resolves once `queuedBytes` is below `bytes` (default: `maxQueuedBytes`), at once if it already is. */
  whenBelow(bytes: number = this.maxQueuedBytes): Promise<void> {
    if (!(bytes > 0)) {
      return Promise.reject(
        new TorkError(TorkErrorCode.USAGE, `whenBelow needs a positive byte count, got ${bytes}`),
      );
    }
    if (this.#queuedBytes < bytes) return Promise.resolve();
    return new Promise((resolve) => this.#drainWaiters.push({ below: bytes, resolve }));
  }

  /**
   * Queues verified piece `index` (exactly the piece's size) and resolves once it is on disk.
   * The writer keeps a reference to `data` until then: do not reuse it.
   */
  write(index: number, data: Uint8Array): Promise<void> {
    if (this.#broken) return Promise.reject(this.#broken);
    if (this.#closing) return Promise.reject(closedError());
    let size: number;
    try {
      size = this.layout.pieceSize(index);
    } catch (error) {
      return Promise.reject(error);
    }
    if (data.length !== size) {
      return Promise.reject(
        new TorkError(TorkErrorCode.OUT_OF_RANGE, `piece ${index} has ${size} bytes, got ${data.length}`, {
          index,
          expected: size,
          actual: data.length,
        }),
      );
    }
    return new Promise<void>((resolve, reject) => {
      let markSettled!: () => void;
      const settled = new Promise<void>((done) => {
        markSettled = done;
      });
      const job: WriteJob = {
        index,
        data,
        resolve,
        reject,
        settled,
        markSettled,
        taken: false,
        spansLeft: 0,
      };
      this.#queue.push(job);
      this.#pending.set(index, job);
      this.#queuedBytes += data.length;
      this.#schedulePump();
    });
  }

  /**
   * Writes start at the end of the current task: the pieces of one event batch are all queued by
   * then, so neighbours among them go out in one call.
   */
  #schedulePump(): void {
    if (this.#pumpScheduled) return;
    this.#pumpScheduled = true;
    queueMicrotask(() => {
      this.#pumpScheduled = false;
      this.#pump();
    });
  }

  #track<T>(operation: Promise<T>): Promise<T> {
    const tracked: Promise<void> = operation.then(
      () => {
        this.#ops.delete(tracked);
      },
      () => {
        this.#ops.delete(tracked);
      },
    );
    this.#ops.add(tracked);
    return operation;
  }

  /**
   * Waits for the writes queued before the call, then fsyncs every file written since the last
   * flush (once each, reopening evicted ones: fsync covers the file, whichever descriptor wrote).
   * A failed fsync breaks the writer: after one, the kernel may have dropped the dirty pages.
   */
  flush(): Promise<void> {
    if (this.#closing) return Promise.reject(closedError());
    return this.#track(this.#flush());
  }

  async #flush(): Promise<void> {
    await Promise.all(this.#unsettledJobs().map((job) => job.settled));
    if (this.#broken) throw this.#broken;
    const dirty = [...this.#dirty];
    this.#dirty.clear();
    try {
      await runBounded(dirty, this.#maxConcurrent, async (fileIndex) => {
        const lease = await this.#cache.acquire(fileIndex);
        try {
          await lease.handle.sync();
        } catch (error) {
          throw ioError(error, 'sync', this.#file(fileIndex).path, { fileIndex });
        } finally {
          lease.release();
        }
      });
    } catch (error) {
      const failure = ioError(error, 'sync', '(unknown)');
      this.#break(failure);
      throw failure;
    }
  }

  /**
   * Stops accepting writes, waits for every queued write and read to finish, then closes every
   * handle. Does not fsync: call `flush` first when the data must be durable. Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      await Promise.all([...this.#unsettledJobs().map((job) => job.settled), ...this.#ops]);
      await this.#cache.closeAll();
    })();
    return this.#closing;
  }

  #unsettledJobs(): WriteJob[] {
    return [...this.#running, ...this.#waitingJobs()];
  }

  /** Jobs queued and not started (slots from the head on hold a job, maybe taken by a run). */
  #waitingJobs(): WriteJob[] {
    return (this.#queue.slice(this.#queueHead) as Array<WriteJob | undefined>).filter(
      (job): job is WriteJob => job !== undefined && !job.taken,
    );
  }

  #pump(): void {
    while (this.#paused === 0 && this.#runs < this.#maxConcurrent) {
      // Jobs already written as part of an earlier run are skipped.
      while (this.#queueHead < this.#queue.length && (this.#queue[this.#queueHead]?.taken ?? true)) {
        this.#queue[this.#queueHead] = undefined;
        this.#queueHead++;
      }
      if (this.#queueHead >= this.#queue.length) break;
      const job = this.#queue[this.#queueHead]!;
      this.#queue[this.#queueHead] = undefined;
      this.#queueHead++;
      this.#runs++;
      void this.#run(this.#gather(job));
    }
    if (this.#queueHead === this.#queue.length) {
      this.#queue.length = 0;
      this.#queueHead = 0;
    } else if (this.#queueHead > 1024 && this.#queueHead * 2 > this.#queue.length) {
      // Drop consumed slots now and then so a long-lived queue does not grow without bound.
      this.#queue.splice(0, this.#queueHead);
      this.#queueHead = 0;
    }
  }

  /**
   * `first` and the queued pieces next to it (below, then above), up to MAX_COALESCED_PIECES and
   * MAX_COALESCED_WRITE_BYTES, in piece order: one run, written together.
   */
  #gather(first: WriteJob): WriteJob[] {
    const run = [first];
    first.taken = true;
    let bytes = first.data.length;
    const join = (index: number): WriteJob | undefined => {
      const job = this.#pending.get(index);
      if (job === undefined || job.taken || run.length >= MAX_COALESCED_PIECES) return undefined;
      if (bytes + job.data.length > MAX_COALESCED_WRITE_BYTES) return undefined;
      job.taken = true;
      bytes += job.data.length;
      return job;
    };
    const below: WriteJob[] = [];
    for (let index = first.index - 1; ; index--) {
      const job = join(index);
      if (job === undefined) break;
      below.push(job);
    }
    if (below.length > 0) run.unshift(...below.reverse());
    for (let index = first.index + 1; ; index++) {
      const job = join(index);
      if (job === undefined) break;
      run.push(job);
    }
    for (const job of run) this.#running.add(job);
    return run;
  }

  /** A run's spans, pad spans left out, merged where they lie back to back in one file. */
  #segments(run: readonly WriteJob[]): Segment[] {
    const segments: Segment[] = [];
    let last: Segment | undefined;
    for (const job of run) {
      for (const span of this.layout.spans(job.index)) {
        if (span.pad) {
          last = undefined;
          continue;
        }
        job.spansLeft++;
        const data = job.data.subarray(span.pieceOffset, span.pieceOffset + span.length);
        if (
          last !== undefined &&
          last.fileIndex === span.fileIndex &&
          last.fileOffset + last.length === span.fileOffset
        ) {
          last.parts.push({ job, data });
          last.length += span.length;
          continue;
        }
        last = {
          fileIndex: span.fileIndex,
          fileOffset: span.fileOffset,
          length: span.length,
          parts: [{ job, data }],
        };
        segments.push(last);
      }
    }
    return segments;
  }

  async #run(run: WriteJob[]): Promise<void> {
    let failure: TorkError | undefined;
    try {
      for (const segment of this.#segments(run)) {
        const lease = await this.#cache.acquire(segment.fileIndex);
        const file = this.#file(segment.fileIndex);
        try {
          // Not `+= await`: that would read the counter before the wait and lose a concurrent run's calls.
          const calls = await writeSegment(
            lease.handle,
            segment,
            file.base + segment.fileOffset,
            this.#gate,
            this.#syncMaxCalls,
          );
          this.#writeCalls += calls;
        } catch (error) {
          throw ioError(error, 'write', file.path, {
            fileIndex: segment.fileIndex,
            piece: (error as { piece?: number }).piece ?? segment.parts[0]!.job.index,
          });
        } finally {
          lease.release();
        }
        this.#dirty.add(segment.fileIndex);
        for (const part of segment.parts) part.job.spansLeft--;
      }
    } catch (error) {
      failure = ioError(error, 'write', '(unknown)', { piece: run[0]!.index });
    }
    this.#runs--;
    for (const job of run) this.#running.delete(job);
    if (failure !== undefined) this.#break(failure);
    // Pieces wholly written before a failure are on disk: they resolve.
    for (const job of run) {
      const ok = job.spansLeft === 0;
      if (ok) this.#piecesWritten++;
      this.#finish(
        job,
        ok ? undefined : (failure ?? ioError(new Error('not written'), 'write', '(unknown)')),
      );
    }
    this.#pump();
  }

  #finish(job: WriteJob, failure: TorkError | undefined): void {
    if (this.#pending.get(job.index) === job) this.#pending.delete(job.index);
    this.#queuedBytes -= job.data.length;
    if (failure === undefined) job.resolve();
    else job.reject(failure);
    job.markSettled();
    if (this.#drainWaiters.length > 0) {
      const still: DrainWaiter[] = [];
      for (const waiter of this.#drainWaiters) {
        if (this.#queuedBytes < waiter.below) waiter.resolve();
        else still.push(waiter);
      }
      this.#drainWaiters = still;
    }
  }

  /** Records the first failure and rejects every write not yet started with it. */
  #break(failure: TorkError): void {
    if (this.#broken) return;
    this.#broken = failure;
    const waiting = this.#waitingJobs();
    this.#queue.length = 0;
    this.#queueHead = 0;
    for (const job of waiting) this.#finish(job, failure);
  }

  /**
   * Reopens a prepared file, checking it is still the very file `open` created or checked: its
   * path must still resolve to itself (no symlink planted on the way since) and the descriptor
   * must have the same device and inode. The path check is needed too: an inode number freed by
   * a deletion is soon reused, possibly by a file outside the root. (Birth time would tell such
   * files apart, but where statx is unavailable libuv reports ctime as birth time, and ctime
   * moves on every write.)
   */
  async #openFile(fileIndex: number): Promise<DiskFileHandle> {
    const file = this.#file(fileIndex);
    let real: string;
    try {
      real = await this.#fs.realpath(file.path);
    } catch (error) {
      throw ioError(error, 'resolve', file.path, { fileIndex });
    }
    if (real !== file.path) throw replaced(file);
    let handle: DiskFileHandle;
    try {
      handle = await this.#fs.open(file.path, openFlags.existing);
    } catch (error) {
      throw ioError(error, 'open', file.path, { fileIndex });
    }
    let same: boolean;
    try {
      const stats = await handle.stat();
      same = stats.isFile() && stats.dev === file.dev && stats.ino === file.ino;
    } catch (error) {
      await handle.close().catch(() => {});
      throw ioError(error, 'inspect', file.path, { fileIndex });
    }
    if (!same) {
      await handle.close().catch(() => {});
      throw replaced(file);
    }
    return handle;
  }

  #file(fileIndex: number): PreparedFile {
    const file = this.#files[fileIndex];
    if (!file) throw new TorkError(TorkErrorCode.INTERNAL, `file ${fileIndex} is a pad file or missing`);
    return file;
  }
}

/** One write or writev call of a segment: its buffers, their pieces, where it starts. */
interface WriteCall {
  readonly buffers: Uint8Array[];
  readonly pieces: number[];
  readonly position: number;
}

/**
 * Writes a segment's parts back to back from `position`, in calls of at most MAX_WRITE_CALL_BYTES
 * (one `writev` per call when the handle has it and the call spans several parts, else one write
 * per part), WRITE_CALL_LANES of them in flight; a segment of at most `syncMaxCalls` calls is
 * written with `writeSync` on this thread instead while `gate` is open (the first failure thrown
 * as it happens). Returns the calls made (first attempts). Settles
 * only once no call is in flight: on a failure the calls started go on to their end and no new
 * one starts, then the first failure is thrown, with its piece on it (`piece`), for the report.
 */
async function writeSegment(
  handle: DiskFileHandle,
  segment: Segment,
  position: number,
  gate: SyncIoGate,
  syncMaxCalls: number,
): Promise<number> {
  const plan = planCalls(segment, position);
  const fd = handle.fd;
  if (plan.length <= syncMaxCalls && fd !== undefined && gate.open) {
    for (const call of plan) {
      try {
        gate.run(() => writeFullySync(fd, call.buffers, call.position));
      } catch (error) {
        throw withPiece(error, call.pieces[0]!);
      }
    }
    return plan.length;
  }
  // runBounded: no call starts after a failure, and the ones in flight end before it is thrown.
  // The task is writeCall itself: each async layer more is a promise and a turn per call.
  await runBounded(plan, WRITE_CALL_LANES, (call) => writeCall(handle, call));
  let calls = 0;
  for (const call of plan)
    calls += call.buffers.length > 1 && handle.writev !== undefined ? 1 : call.buffers.length;
  return calls;
}

/** A segment cut into calls of at most MAX_WRITE_CALL_BYTES, parts split where a call ends. */
function planCalls(segment: Segment, position: number): WriteCall[] {
  const plan: WriteCall[] = [];
  let buffers: Uint8Array[] = [];
  let pieces: number[] = [];
  let callBytes = 0;
  let at = position;
  for (const part of segment.parts) {
    for (let offset = 0; offset < part.data.length; ) {
      const take = Math.min(part.data.length - offset, MAX_WRITE_CALL_BYTES - callBytes);
      buffers.push(
        offset === 0 && take === part.data.length ? part.data : part.data.subarray(offset, offset + take),
      );
      pieces.push(part.job.index);
      callBytes += take;
      offset += take;
      if (callBytes === MAX_WRITE_CALL_BYTES) {
        plan.push({ buffers, pieces, position: at });
        at += callBytes;
        buffers = [];
        pieces = [];
        callBytes = 0;
      }
    }
  }
  if (callBytes > 0) plan.push({ buffers, pieces, position: at });
  return plan;
}

/** One planned call (a writev, or a write per buffer); a short writev is finished buffer by buffer. */
async function writeCall(handle: DiskFileHandle, call: WriteCall): Promise<void> {
  const { buffers, pieces, position } = call;
  let written = 0;
  if (buffers.length > 1 && handle.writev !== undefined) {
    try {
      const { bytesWritten } = await handle.writev(buffers, position);
      // Short: the rest buffer by buffer (below), from where it stopped.
      written = Math.max(0, bytesWritten);
    } catch (error) {
      throw withPiece(error, pieces[0]!);
    }
  }
  let offset = 0;
  for (let i = 0; i < buffers.length; i++) {
    const data = buffers[i]!;
    try {
      for (let done = Math.min(data.length, Math.max(0, written - offset)); done < data.length; ) {
        const { bytesWritten } = await handle.write(data, done, data.length - done, position + offset + done);
        if (bytesWritten <= 0) throw systemError('EIO', 'write made no progress');
        done += bytesWritten;
      }
    } catch (error) {
      throw withPiece(error, pieces[i]!);
    }
    offset += data.length;
  }
}

function withPiece(error: unknown, piece: number): Error {
  return Object.assign(error instanceof Error ? error : new Error(String(error)), { piece });
}

/** Something replaced the file, or a directory on its path, since open: never write where it now leads. */
function replaced(file: PreparedFile): TorkError {
  return new TorkError(TorkErrorCode.UNSAFE_PATH, `${file.path} was replaced since the torrent was opened`, {
    path: file.path,
    fileIndex: file.fileIndex,
  });
}

function systemError(code: string, message: string): Error {
  return Object.assign(new Error(`${code}: ${message}`), { code });
}

function closedError(): TorkError {
  return new TorkError(TorkErrorCode.IO, 'the disk writer is closed', { cause: 'CLOSED' });
}

function positiveInteger(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new TorkError(TorkErrorCode.USAGE, `${name} must be a positive integer, got ${value}`);
  }
  return value;
}
