/**
 * The read side of uploading, run inside a peer-host worker: whole verified pieces read from disk
 * and kept in a small LRU, so peer sessions can answer block requests without a disk read per block.
 *
 * A piece is read whole (not block by block) because peers ask for a piece's blocks one after the
 * other, and the SHA-1 can only be checked over the whole piece. The file may have been changed,
 * truncated or replaced since it was verified, and serving bytes that no longer match the hash
 * would get us banned by the peer (and spread bad data). So a piece read from disk is hashed
 * unless this reader verified it before and none of its files changed since: after every read the
 * file is fstat'ed (size, inode, device, mtime, ctime), and a piece verified at a file's current
 * stat is trusted again. A write moves ctime (which no one can set back); a verification is only
 * remembered when every file's ctime is older than `racyMarginMs` before the read began, so a
 * write in the same clock tick as the one before the verification cannot go unseen (git's "racily
 * clean" rule). Hashing every re-read was a third of a seeder's CPU (docs/performance.md).
 *
 * Everything is bounded: cached bytes (`cacheBytes`), open descriptors (`maxOpenFiles`), reads in
 * flight (`maxConcurrentReads`, so also the memory of pieces being read: at most
 * `maxConcurrentReads × pieceLength` beyond the cache). Waiting reads are queued FIFO; a queued
 * read holds no buffer, and reads of the same piece share one entry, so the queue holds at most one
 * entry per piece.
 */
import { createHash } from 'node:crypto';
import { constants, fstatSync } from 'node:fs';
import { dirname } from 'node:path';
import { type DiskFs, type DiskStats, nodeDiskFs } from '@tork/core/internal/disk/disk-fs.js';
import { HandleCache, type HandleLease } from '@tork/core/internal/disk/handle-cache.js';
import { readFully, readFullySync } from '@tork/core/internal/disk/piece-span.js';
import { isLocalFileSystem, SyncIoGate, type SyncIoStats } from '@tork/core/internal/disk/sync-io-gate.js';
import { TorkError, TorkErrorCode } from '@tork/core/internal/errors.js';
import { FileLayout, type FileSpan } from '@tork/core/internal/metainfo/file-layout.js';
import { verifyV2Piece } from '@tork/core/internal/metainfo/v2-piece-checks.js';

/** Default LRU byte budget for cached whole pieces: 32 MiB. */
export const DEFAULT_READER_CACHE_BYTES = 32 * 1024 * 1024;
/** Default bound on read-only file handles kept open: 32. */
export const DEFAULT_READER_MAX_OPEN_FILES = 32;
/** Default bound on whole-piece disk reads in flight: 4. */
export const DEFAULT_READER_MAX_CONCURRENT_READS = 4;
/**
 * A span of a piece of at most this many bytes is read (and its file fstat'ed) with `readSync` /
 * `fstatSync` on the host's event loop while the reader's `SyncIoGate` is open: for a small piece
 * the two hops to libuv's pool and back cost ten times the read (16,384 reads of 16 KiB: 500–660
 * ms of CPU with the fstat, against 33 ms with `readSync`). Larger reads keep the pool, where the
 * copy runs beside the host's work.
 */
export const SYNC_READ_MAX_BYTES = 256 * 1024;
/** Default age a file's last change must have before a verification against it is remembered: 2 s. */
export const DEFAULT_READER_RACY_MARGIN_MS = 2_000;

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
  /** File-system calls; tests count opens and inject delays here. Default: node:fs/promises (see `syncReads`). */
  readonly fs?: DiskFs;
  /**
   * With the default `fs`, where the files are on a local file system: read spans of at most
   * SYNC_READ_MAX_BYTES (and fstat their file) synchronously on this thread while such calls are
   * quick (`SyncIoGate`: a call over SLOW_SYNC_IO_MS, or more than SYNC_IO_BUDGET_MS_PER_SECOND in a
   * second, sends them to libuv's pool for SYNC_IO_PAUSE_MS). Elsewhere, with a given `fs`, and for
   * larger spans, every call goes through the pool. Default: true.
   */
  readonly syncReads?: boolean;
  /**
   * Reuse the buffers of evicted pieces for the next reads (after one event-loop turn), instead
   * of allocating a new one per read: serving at hundreds of MB/s otherwise makes V8 run a full
   * GC every few dozen MiB. Then bytes from `read`/`readBlock` are valid only until the next
   * macrotask: copy them out at once (the session's wire writer does). Default: false.
   */
  readonly recycle?: boolean;
  /**
   * Use `pieceHashes` as given instead of a copy: the caller promises the array stays as it is
   * (not a pooled view, never transferred) while the reader lives. A host's own add-torrent copy
   * qualifies, and at 200,000 pieces the copy would be 4 MB more per host. Default: false.
   */
  readonly keepHashes?: boolean;
  /**
   * A piece's verification is remembered (and the piece served again without hashing while its
   * files' stat stays the same) only when each file's last change (ctime) lies more than this many
   * ms before the read began. Default 2000 (`DEFAULT_READER_RACY_MARGIN_MS`); tests lower it.
   */
  readonly racyMarginMs?: number;
  /**
   * Pieces verified by someone else (the start-up check or resume state, BEP 3 bit order) at or
   * after `sinceMs` (wall clock): while each of a piece's files was last changed (mtime and ctime)
   * more than `racyMarginMs` before `sinceMs`, its bytes are those verified and it is served
   * without hashing. Default: none (each piece is hashed at its first read).
   */
  readonly trusted?: { readonly pieces: Uint8Array; readonly sinceMs: number };
}

/** What one fstat of a file told: its identity and times, and the epoch it was first seen at. */
interface FileVersion {
  key: string;
  /** Unchanged since before the `trusted` pieces were verified. */
  old: boolean;
  /** The epoch at which `key` was first observed (pieces verified after it may be trusted). */
  since: number;
}

/** A file as seen by the fstat after a read (`#observe`). */
interface SeenFile {
  readonly since: number;
  /** Last changed more than the racy margin before the read began. */
  readonly settled: boolean;
  /** Last changed before the `trusted` pieces were verified. */
  readonly old: boolean;
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
  #prefetchBytes = 0;
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
  #hashed = 0;
  /** Per piece: the epoch it was verified at (0: never, or forgotten). One number per piece. */
  #verifiedAt: Uint32Array;
  /** Per file: its stat when last read; grows to the file count at most. */
  readonly #versions = new Map<number, FileVersion>();
  /** Files whose stat changed (or could not be read) since this reader first saw them. */
  readonly #changedFiles = new Set<number>();
  #epoch = 0;
  readonly #racyMarginMs: number;
  /** `trusted.pieces` (a copy) and the time before which their files must have last changed. */
  readonly #trusted: Uint8Array | null;
  readonly #trustedBeforeMs: number;
  #closing: Promise<void> | undefined;
  /** BEP 52 piece checks (v2 and hybrid), or null. */
  readonly #v2: Uint8Array | null;
  /** Whether small reads are made on this thread now (see `syncReads`). */
  readonly #gate = new SyncIoGate();

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
    this.#racyMarginMs = count('racyMarginMs', options.racyMarginMs ?? DEFAULT_READER_RACY_MARGIN_MS, 0);
    this.#verifiedAt = new Uint32Array(this.#layout.pieceCount);
    this.#trusted = options.trusted ? Uint8Array.from(options.trusted.pieces) : null;
    this.#trustedBeforeMs = (options.trusted?.sinceMs ?? 0) - this.#racyMarginMs;
    const maxOpenFiles = count('maxOpenFiles', options.maxOpenFiles ?? DEFAULT_READER_MAX_OPEN_FILES, 1);
    const maxReads = count(
      'maxConcurrentReads',
      options.maxConcurrentReads ?? DEFAULT_READER_MAX_CONCURRENT_READS,
      1,
    );
    this.#files = files.map((file) => ({ path: file.path, length: file.length, offset: file.offset ?? 0 }));
    // A copy unless told otherwise: the caller's array may be a view of a pooled Buffer, or be
    // transferred later.
    this.#hashes = options.keepHashes ? pieceHashes : Uint8Array.from(pieceHashes);
    this.#slots = new ReadSlots(maxReads);
    const fs = options.fs ?? nodeDiskFs;
    // Shut until statfs answers: the first reads go through the pool.
    const first = this.#files.find((file) => file.path !== null)?.path ?? null;
    if (options.fs === undefined && options.syncReads !== false && first !== null)
      void isLocalFileSystem(dirname(first)).then((local) => this.#gate.allow(local));
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
   * Reads made on this thread (`syncReads`; a span's read and its file's fstat count as two),
   * whether they may be at all, and how often a slow call sent them back to the pool.
   */
  get syncReads(): SyncIoStats {
    return this.#gate.stats;
  }

  /** Pieces read from disk and hashed (the rest were trusted: verified before, files unchanged). */
  get hashed(): number {
    return this.#hashed;
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
    if (!blockFits(begin, length, size)) {
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
   * `readBlock`'s bytes at once when piece `index` is cached (a hit, counted as one), without a
   * promise: a seeder serves most blocks from the cache, and two awaits per 16 KiB block were a
   * measurable part of its CPU. `undefined` when the piece is not cached, the block does not fit
   * it, or the reader is closed: then `readBlock` reads it, or gives the error. Same rules for the
   * view as `read`.
   */
  cachedBlock(index: number, begin: number, length: number): Uint8Array | undefined {
    if (!this.#openPiece(index)) return undefined;
    if (!blockFits(begin, length, this.#layout.pieceSize(index))) return undefined;
    const piece = this.#lookup(index);
    if (piece === undefined) return undefined;
    this.#hits++;
    return piece.subarray(begin, begin + length);
  }

  /**
   * Starts reading piece `index` into the cache (as `read` does, queued behind the reads in
   * flight), unless it is cached or being read already, or a quarter of `cacheBytes` is being read
   * ahead already; a piece out of range, or a closed reader, is ignored. What the read finds wrong
   * is left to the `read` that needs the piece: it reads again.
   */
  prefetch(index: number): void {
    if (!this.#openPiece(index)) return;
    if (this.#cache.has(index) || this.#inFlight.has(index)) return;
    // Bounded for the whole reader, whatever the peers ask: a quarter of the cache queued or being
    // read ahead. More would evict read-ahead pieces before they are served, and queue other
    // peers' reads behind one peer's read-ahead.
    const size = this.#layout.pieceSize(index);
    if (this.#prefetchBytes + size > this.#cacheBytes / 4) return;
    this.#prefetchBytes += size;
    const settle = () => {
      this.#prefetchBytes -= size;
    };
    this.read(index).then(settle, settle);
  }

  /** Bytes of pieces read ahead (`prefetch`) not yet read: at most a quarter of `cacheBytes`. */
  get prefetchBytes(): number {
    return this.#prefetchBytes;
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

  /** The reader is open and `index` names one of its pieces (the quiet checks of `cachedBlock` and `prefetch`). */
  #openPiece(index: number): boolean {
    return (
      this.#closing === undefined && Number.isInteger(index) && index >= 0 && index < this.#layout.pieceCount
    );
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
      const readStart = Date.now();
      // Its own ArrayBuffer, never a slice of Node's shared pool: the piece may stay cached for long
      // and its buffer must not pin (or expose) unrelated bytes.
      const piece = this.#allocate(size);
      // The newest epoch at which one of the piece's files was seen changed, and whether each file's
      // last change is old enough for a verification against it to be remembered.
      let changedSince = 0;
      let settled = true;
      let old = true;
      /** A span was read on this thread. */
      let here = false;
      for (const span of spans) {
        if (span.pad) {
          piece.fill(0, span.pieceOffset, span.pieceOffset + span.length);
          continue;
        }
        const seen = await this.#readSpan(index, span, piece, readStart);
        changedSince = Math.max(changedSince, seen.since);
        settled &&= seen.settled;
        old &&= seen.old;
        here ||= seen.here;
      }
      // A piece read on this thread still arrives in a later turn, as one through the pool did: a
      // serving loop that never ends its turn holds back the turn's writes and reads, and
      // Transmission fetched 256 KiB pieces at 2.4 MB/s instead of 3.7 (test/clients/transmission.test.ts).
      // Before the piece is cached: what it evicts is evicted in the turn it is handed out.
      if (here) await nextTurn();
      const verifiedAt = this.#verifiedAt[index]!;
      const trusted =
        (verifiedAt !== 0 && verifiedAt > changedSince) ||
        (old && this.#trusted !== null && ((this.#trusted[index >> 3]! >> (7 - (index & 7))) & 1) === 1);
      if (!trusted) {
        this.#hashed++;
        const expected = this.#hashes.subarray(index * SHA1_LENGTH, (index + 1) * SHA1_LENGTH);
        const v1Ok = this.#hashes.length === 0 || createHash('sha1').update(piece).digest().equals(expected);
        if (!v1Ok || (this.#v2 !== null && !verifyV2Piece(this.#v2, index, piece))) {
          this.#verifiedAt[index] = 0;
          throw new TorkError(TorkErrorCode.IO, `piece ${index} on disk no longer matches its hash`, {
            piece: index,
            cause: 'corrupt',
          });
        }
        this.#verifiedAt[index] = settled ? this.#nextEpoch() : 0;
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

  /** The next epoch; at 2³²−1 every memory is dropped and counting starts again. */
  #nextEpoch(): number {
    if (this.#epoch >= 0xffff_fffe) {
      this.#verifiedAt.fill(0);
      for (const version of this.#versions.values()) version.since = 0;
      this.#epoch = 0;
    }
    return ++this.#epoch;
  }

  /**
   * Records what an fstat after a read told about file `fileIndex`: the epoch its current state was
   * first seen at (a new state: now), and whether its last change is older than the racy margin.
   * A stat without times (a test fake) or a failed one trusts nothing.
   */
  #observe(fileIndex: number, stats: DiskStats | undefined, readStart: number): SeenFile {
    if (stats?.mtimeMs === undefined || stats.ctimeMs === undefined) {
      this.#versions.delete(fileIndex);
      this.#changedFiles.add(fileIndex);
      return { since: this.#nextEpoch(), settled: false, old: false };
    }
    const key = `${stats.size}:${stats.dev}:${stats.ino}:${stats.mtimeMs}:${stats.ctimeMs}`;
    const changed = Math.max(stats.ctimeMs, stats.mtimeMs);
    let version = this.#versions.get(fileIndex);
    if (version === undefined || version.key !== key) {
      // A file seen to change while we read it (another inode renamed into place keeps its old
      // times on some file systems) is never trusted from `trusted` again.
      if (version !== undefined) this.#changedFiles.add(fileIndex);
      const old = changed < this.#trustedBeforeMs && !this.#changedFiles.has(fileIndex);
      version = { key, since: this.#nextEpoch(), old };
      this.#versions.set(fileIndex, version);
    }
    return { since: version.since, settled: changed < readStart - this.#racyMarginMs, old: version.old };
  }

  /** Reads a span into `piece` and fstats its file; `here`: on this thread (see `syncReads`). */
  async #readSpan(
    index: number,
    span: FileSpan,
    piece: Uint8Array,
    readStart: number,
  ): Promise<SeenFile & { readonly here: boolean }> {
    const path = this.#files[span.fileIndex]!.path!;
    const details = { piece: index, fileIndex: span.fileIndex, path };
    let lease: HandleLease;
    try {
      lease = await this.#handles.acquire(span.fileIndex);
    } catch (error) {
      throw ioError(error, 'open', details);
    }
    try {
      const fd = lease.handle.fd;
      const now = fd !== undefined && span.length <= SYNC_READ_MAX_BYTES && this.#gate.open;
      let read: number;
      try {
        const base = this.#files[span.fileIndex]!.offset ?? 0;
        const at = base + span.fileOffset;
        read = now
          ? this.#gate.run(() => readFullySync(fd, piece, span.pieceOffset, span.length, at))
          : await readFully(lease.handle, piece, span.pieceOffset, span.length, at);
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
      // After the read: a write that began before this returns shows in ctime (written first).
      const stats = now ? this.#statNow(fd) : await lease.handle.stat().catch(() => undefined);
      return { ...this.#observe(span.fileIndex, stats, readStart), here: now };
    } finally {
      lease.release();
    }
  }

  /** fstat of `fd` on this thread (undefined when it fails, as the pool's would be). */
  #statNow(fd: number): DiskStats | undefined {
    try {
      return this.#gate.run(() => fstatSync(fd));
    } catch {
      return undefined;
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

/** `begin` and `length` are integers, `begin >= 0`, `length >= 1`, and the block lies inside a piece of `size` bytes. */
function blockFits(begin: number, length: number, size: number): boolean {
  return (
    Number.isInteger(begin) && Number.isInteger(length) && begin >= 0 && length >= 1 && begin + length <= size
  );
}

/** Resolves in the event loop's next turn (after its I/O), not among this turn's microtasks. */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
