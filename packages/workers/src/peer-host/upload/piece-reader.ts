/**
 * The read side of uploading, run inside a peer-host worker: whole verified pieces read from disk
 * and kept in a small LRU, so peer sessions can answer block requests without a disk read per block.
 *
 * A piece is read whole (not block by block) because peers ask for a piece's blocks one after the
 * other, and the SHA-1 can only be checked over the whole piece. It is checked on every read from
 * disk: the file may have been changed, truncated or replaced since it was verified, and serving
 * bytes that no longer match the hash would get us banned by the peer (and spread bad data).
 *
 * Everything is bounded: cached bytes (`cacheBytes`), open descriptors (`maxOpenFiles`), reads in
 * flight (`maxConcurrentReads`, so also the memory of pieces being read: at most
 * `maxConcurrentReads × pieceLength` beyond the cache). Waiting reads are queued FIFO; a queued
 * read holds no buffer, and reads of the same piece share one entry, so the queue holds at most one
 * entry per piece.
 */
import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { type DiskFs, nodeDiskFs } from '@tork/core/internal/disk/disk-fs.js';
import { HandleCache, type HandleLease } from '@tork/core/internal/disk/handle-cache.js';
import { readFully } from '@tork/core/internal/disk/piece-span.js';
import { TorkError, TorkErrorCode } from '@tork/core/internal/errors.js';
import { FileLayout, type FileSpan } from '@tork/core/internal/metainfo/file-layout.js';
import { verifyV2Piece } from '@tork/core/internal/metainfo/v2-piece-checks.js';

/** Default LRU byte budget for cached whole pieces: 32 MiB. */
export const DEFAULT_READER_CACHE_BYTES = 32 * 1024 * 1024;
/** Default bound on read-only file handles kept open: 32. */
export const DEFAULT_READER_MAX_OPEN_FILES = 32;
/** Default bound on whole-piece disk reads in flight: 4. */
export const DEFAULT_READER_MAX_CONCURRENT_READS = 4;

const SHA1_LENGTH = 20;

// Read-only, and never through a symlink planted at the last component after the path was resolved
// (O_NOFOLLOW does not exist on Windows; there it is 0).
const READ_FLAGS = constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0);

export interface ReaderFile {
  /** Absolute real path of the file; `null` for a BEP 47 pad file (read as zeros, never opened). */
  readonly path: string | null;
  readonly length: number;
  /** Where the file's byte 0 lies in `path` (not 0 for an unselected file held in the part file). Default 0. */
  readonly offset?: number;
}

export interface PieceReaderOptions {
  /**
   * BEP 52 piece checks (`v2PieceChecks`) pieces read back must pass too; with empty SHA-1 hashes
   * (a v2-only torrent) they are the only check. Default: none.
   */
  readonly v2PieceChecks?: Uint8Array;
  /**
   * LRU byte budget for cached whole pieces; the cache never holds more. A piece larger than the
   * budget is served but not cached; 0 disables the cache. Default 32 MiB
   * (`DEFAULT_READER_CACHE_BYTES`).
   */
  readonly cacheBytes?: number;
  /**
   * Most read-only file handles open at once (an LRU; handles being opened or closed count too).
   * Default 32 (`DEFAULT_READER_MAX_OPEN_FILES`).
   */
  readonly maxOpenFiles?: number;
  /**
   * Most whole-piece disk reads in flight; the rest wait, first come first served. libuv's thread
   * pool (4 threads by default) runs the reads, so more rarely helps and starves other fs calls.
   * Default 4 (`DEFAULT_READER_MAX_CONCURRENT_READS`).
   */
  readonly maxConcurrentReads?: number;
  /** File-system calls; tests count opens and inject delays here. Default: node:fs/promises. */
  readonly fs?: DiskFs;
  /**
   * Reuse the buffers of evicted pieces for the next reads (after one event-loop turn), instead
   * of allocating a new one per read: serving at hundreds of MB/s otherwise makes V8 run a full
   * GC every few dozen MiB. Then bytes from `read`/`readBlock` are valid only until the next
   * macrotask: copy them out at once (the session's wire writer does). Default: false.
   */
  readonly recycle?: boolean;
}

interface CachedPiece {
  readonly bytes: Uint8Array;
  /** The size when cached: `bytes.byteLength` drops to 0 if someone transfers its buffer. */
  readonly size: number;
}

export class PieceReader {
  readonly #files: readonly ReaderFile[];
  readonly #layout: FileLayout;
  readonly #hashes: Uint8Array;
  readonly #cacheBytes: number;
  readonly #slots: ReadSlots;
  readonly #handles: HandleCache;
  /** Insertion order is recency: the first entry is the least recently used. */
  readonly #cache = new Map<number, CachedPiece>();
  readonly #inFlight = new Map<number, Promise<Uint8Array>>();
  #cachedBytes = 0;
  readonly #recycle: boolean;
  /** Evicted buffers: reusable once a turn has passed (views handed out this turn are copied by then). */
  #quarantine: ArrayBuffer[] = [];
  readonly #free = new Map<number, ArrayBuffer[]>();
  #freeBytes = 0;
  #hits = 0;
  #misses = 0;
  #closing: Promise<void> | undefined;
  /** BEP 52 piece checks (v2 and hybrid), or null. */
  readonly #v2: Uint8Array | null;

  constructor(
    files: readonly ReaderFile[],
    pieceLength: number,
    pieceHashes: Uint8Array,
    options: PieceReaderOptions = {},
  ) {
    this.#layout = new FileLayout(
      files.map((file) => ({ length: file.length, pad: file.path === null })),
      pieceLength,
    );
    this.#v2 = options.v2PieceChecks === undefined ? null : Uint8Array.from(options.v2PieceChecks);
    const v2Only = pieceHashes.length === 0 && this.#v2 !== null;
    if (pieceHashes.length !== this.#layout.pieceCount * SHA1_LENGTH && !v2Only) {
      throw new TorkError(
        TorkErrorCode.USAGE,
        `${pieceHashes.length} bytes of piece hashes for ${this.#layout.pieceCount} pieces`,
        { hashBytes: pieceHashes.length, pieceCount: this.#layout.pieceCount },
      );
    }
    this.#cacheBytes = count('cacheBytes', options.cacheBytes ?? DEFAULT_READER_CACHE_BYTES, 0);
    this.#recycle = options.recycle === true;
    const maxOpenFiles = count('maxOpenFiles', options.maxOpenFiles ?? DEFAULT_READER_MAX_OPEN_FILES, 1);
    const maxReads = count(
      'maxConcurrentReads',
      options.maxConcurrentReads ?? DEFAULT_READER_MAX_CONCURRENT_READS,
      1,
    );
    this.#files = files.map((file) => ({ path: file.path, length: file.length, offset: file.offset ?? 0 }));
    // A copy: the caller's array may be a view of a pooled Buffer, or be transferred later.
    this.#hashes = Uint8Array.from(pieceHashes);
    this.#slots = new ReadSlots(maxReads);
    const fs = options.fs ?? nodeDiskFs;
    this.#handles = new HandleCache({
      maxOpen: maxOpenFiles,
      open: (fileIndex) => fs.open(this.#files[fileIndex]!.path!, READ_FLAGS),
      close: async (_fileIndex, handle) => {
        try {
          await handle.close();
        } catch {
          // A read-only descriptor has nothing to flush, and a failed close(2) still releases it.
        }
      },
      closedError,
    });
  }

  /** Bytes of whole pieces held in the cache (never more than `cacheBytes`). */
  get cachedBytes(): number {
    return this.#cachedBytes;
  }

  /** `read`/`readBlock` calls answered from the cache. */
  get hits(): number {
    return this.#hits;
  }

  /** `read`/`readBlock` calls that had to wait for the disk (a call joining a read in flight counts). */
  get misses(): number {
    return this.#misses;
  }

  /**
   * Whole piece `index`, read from disk across file boundaries and SHA-1 verified before it is
   * cached or returned; concurrent calls for the same piece share one read. The bytes are shared
   * with the cache and with other callers: do not modify them, and do not transfer their buffer
   * (copy first). Rejects with TORK_ERR_OUT_OF_RANGE for a piece that does not exist, TORK_ERR_IO
   * (missing or short file, read error; `details.cause` is the system code or `'short'`), TORK_ERR_IO
   * with `details.cause === 'corrupt'` when the bytes on disk no longer match the hash (never served,
   * never cached), or TORK_ERR_ABORTED once `close` was called.
   */
  async read(index: number): Promise<Uint8Array> {
    this.#checkOpen();
    const size = this.#layout.pieceSize(index);
    const cached = this.#lookup(index);
    if (cached !== undefined) {
      this.#hits++;
      return cached;
    }
    this.#misses++;
    let pending = this.#inFlight.get(index);
    if (pending === undefined) {
      pending = this.#load(index, size);
      this.#inFlight.set(index, pending);
      const settle = () => this.#inFlight.delete(index);
      pending.then(settle, settle);
    }
    return pending;
  }

  /**
   * `length` bytes at `begin` of piece `index`, as a view of the (cached) piece, not a copy; the
   * same rules as `read` apply to it. Rejects with TORK_ERR_OUT_OF_RANGE, before any disk read,
   * unless `begin` and `length` are integers with `begin >= 0`, `length >= 1` and the block inside
   * the piece.
   */
  async readBlock(index: number, begin: number, length: number): Promise<Uint8Array> {
    this.#checkOpen();
    const size = this.#layout.pieceSize(index);
    if (
      !Number.isInteger(begin) ||
      !Number.isInteger(length) ||
      begin < 0 ||
      length < 1 ||
      begin + length > size
    ) {
      throw new TorkError(
        TorkErrorCode.OUT_OF_RANGE,
        `block ${begin}+${length} lies outside piece ${index} of ${size} bytes`,
        { piece: index, begin, length, pieceSize: size },
      );
    }
    const piece = await this.read(index);
    return piece.subarray(begin, begin + length);
  }

  /**
   * Refuses new reads, fails the queued ones with TORK_ERR_ABORTED, waits for the reads in flight,
   * then closes every handle and empties the cache. Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#slots.rejectAll(closedError());
    await Promise.allSettled([...this.#inFlight.values()]);
    await this.#handles.closeAll();
    this.#cache.clear();
    this.#cachedBytes = 0;
  }

  #checkOpen(): void {
    if (this.#closing !== undefined) throw closedError();
  }

  #lookup(index: number): Uint8Array | undefined {
    const entry = this.#cache.get(index);
    if (entry === undefined) return undefined;
    this.#cache.delete(index);
    // A caller that transferred the piece's buffer detached it (byteLength 0): read it again.
    if (entry.bytes.byteLength !== entry.size) {
      this.#cachedBytes -= entry.size;
      return undefined;
    }
    this.#cache.set(index, entry);
    return entry.bytes;
  }

  async #load(index: number, size: number): Promise<Uint8Array> {
    // The buffer is allocated only once a slot is held, so queued reads cost no piece memory.
    await this.#slots.acquire();
    const spans = this.#layout.spans(index);
    try {
      this.#checkOpen();
      // Its own ArrayBuffer, never a slice of Node's shared pool: the piece may stay cached for long
      // and its buffer must not pin (or expose) unrelated bytes.
      const piece = this.#allocate(size);
      for (const span of spans) {
        if (span.pad) piece.fill(0, span.pieceOffset, span.pieceOffset + span.length);
        else await this.#readSpan(index, span, piece);
      }
      const expected = this.#hashes.subarray(index * SHA1_LENGTH, (index + 1) * SHA1_LENGTH);
      const v1Ok = this.#hashes.length === 0 || createHash('sha1').update(piece).digest().equals(expected);
      if (!v1Ok || (this.#v2 !== null && !verifyV2Piece(this.#v2, index, piece))) {
        throw new TorkError(TorkErrorCode.IO, `piece ${index} on disk no longer matches its hash`, {
          piece: index,
          cause: 'corrupt',
        });
      }
      if (this.#closing === undefined) this.#store(index, piece);
      return piece;
    } catch (error) {
      // The file may have been replaced or truncated: a later read must open it afresh rather than
      // keep reading the old inode through a cached handle.
      for (const span of spans) if (!span.pad) this.#handles.discard(span.fileIndex);
      throw error;
    } finally {
      this.#slots.release();
    }
  }

  async #readSpan(index: number, span: FileSpan, piece: Uint8Array): Promise<void> {
    const path = this.#files[span.fileIndex]!.path!;
    const details = { piece: index, fileIndex: span.fileIndex, path };
    let lease: HandleLease;
    try {
      lease = await this.#handles.acquire(span.fileIndex);
    } catch (error) {
      throw ioError(error, 'open', details);
    }
    try {
      let read: number;
      try {
        const base = this.#files[span.fileIndex]!.offset ?? 0;
        read = await readFully(lease.handle, piece, span.pieceOffset, span.length, base + span.fileOffset);
      } catch (error) {
        throw ioError(error, 'read', details);
      }
      if (read < span.length) {
        throw new TorkError(
          TorkErrorCode.IO,
          `${path} ends at ${span.fileOffset + read}, before the ${span.fileOffset + span.length} bytes piece ${index} needs`,
          { ...details, operation: 'read', cause: 'short' },
        );
      }
    } finally {
      lease.release();
    }
  }

  /** A buffer for a piece of `size` bytes: a retired one of that size if any, else a new one. */
  #allocate(size: number): Uint8Array {
    const reusable = this.#free.get(size)?.pop();
    if (reusable !== undefined) {
      this.#freeBytes -= size;
      return new Uint8Array(reusable, 0, size);
    }
    // Its own ArrayBuffer, never a slice of Node's shared pool: the piece may stay cached for long
    // and its buffer must not pin (or expose) unrelated bytes.
    return new Uint8Array(Buffer.allocUnsafeSlow(size).buffer, 0, size);
  }

  /** An evicted piece's buffer: reusable after this turn, when nobody still reads the old bytes. */
  #retire(buffer: ArrayBuffer): void {
    if (this.#quarantine.length === 0) {
      setImmediate(() => {
        const retired = this.#quarantine;
        this.#quarantine = [];
        if (this.#closing !== undefined) return;
        for (const old of retired) {
          // A quarter of the cache's budget (at least two pieces, at most the budget) is kept.
          const keep = Math.min(
            this.#cacheBytes,
            Math.max(this.#cacheBytes / 4, 2 * this.#layout.pieceLength),
          );
          if (old.byteLength === 0 || this.#freeBytes + old.byteLength > keep) continue;
          let list = this.#free.get(old.byteLength);
          if (!list) {
            list = [];
            this.#free.set(old.byteLength, list);
          }
          list.push(old);
          this.#freeBytes += old.byteLength;
        }
      });
    }
    this.#quarantine.push(buffer);
  }

  #store(index: number, piece: Uint8Array): void {
    // Larger than the whole budget: served, not cached (evicting everything would not make room).
    if (piece.byteLength > this.#cacheBytes) return;
    for (const [victim, entry] of this.#cache) {
      if (this.#cachedBytes + piece.byteLength <= this.#cacheBytes) break;
      this.#cache.delete(victim);
      this.#cachedBytes -= entry.size;
      if (this.#recycle) this.#retire(entry.bytes.buffer as ArrayBuffer);
    }
    this.#cache.set(index, { bytes: piece, size: piece.byteLength });
    this.#cachedBytes += piece.byteLength;
  }
}

function count(name: string, value: number, min: number): number {
  if (!Number.isSafeInteger(value) || value < min) {
    throw new TorkError(TorkErrorCode.USAGE, `${name} must be an integer >= ${min}, not ${value}`, {
      option: name,
      value,
    });
  }
  return value;
}

function closedError(): TorkError {
  return new TorkError(TorkErrorCode.ABORTED, 'the piece reader is closed');
}

function ioError(
  error: unknown,
  operation: string,
  details: { piece: number; fileIndex: number; path: string },
): TorkError {
  if (error instanceof TorkError) return error;
  const sysCode =
    error !== null && typeof error === 'object' && 'code' in error && typeof error.code === 'string'
      ? error.code
      : 'UNKNOWN';
  const message = error instanceof Error ? error.message : String(error);
  return new TorkError(
    TorkErrorCode.IO,
    `cannot ${operation} ${details.path}: ${message}`,
    { ...details, operation, cause: sysCode },
    { cause: error },
  );
}

/** A FIFO counting semaphore: `release` hands the slot straight to the oldest waiter. */
class ReadSlots {
  readonly #max: number;
  #active = 0;
  #queue: Array<{ resolve: () => void; reject: (error: unknown) => void }> = [];

  constructor(max: number) {
    this.#max = max;
  }

  acquire(): Promise<void> {
    if (this.#active < this.#max) {
      this.#active++;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => this.#queue.push({ resolve, reject }));
  }

  release(): void {
    const next = this.#queue.shift();
    if (next === undefined) this.#active--;
    else next.resolve();
  }

  rejectAll(error: unknown): void {
    const queue = this.#queue;
    this.#queue = [];
    for (const waiter of queue) waiter.reject(error);
  }
}
