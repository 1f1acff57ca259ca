/**
 * Crash-safe resume state for one torrent: a snapshot written atomically now and then, plus an
 * append-only journal of every piece written since. See docs/architecture.md ("Resume").
 *
 * Why two files: a snapshot is too big to rewrite after every piece, and an unsynced append of 4 bytes
 * costs nothing yet survives SIGKILL (it sits in the page cache). Power loss can lose journal entries
 * and even leave garbage, but then the run is unclean and every claimed piece is hashed again before
 * it counts, so a lost or bogus entry costs a download or a hash, never a wrong piece.
 */
import { join } from 'node:path';
import { Bitfield } from '../bitfield.js';
import { ioError, systemCode } from '../disk/io-error.js';
import { TorkError, TorkErrorCode } from '../errors.js';
import {
  JOURNAL_ENTRY_BYTES,
  MAX_RESUME_APPEND_PIECES,
  MAX_RESUME_JOURNAL_BYTES,
  MAX_RESUME_SNAPSHOT_BYTES,
  RESUME_FORMAT_VERSION,
} from './limits.js';
import { nodeResumeFs, type ResumeFileHandle, type ResumeFs, resumeFlags } from './resume-fs.js';
import { processAlive } from './resume-lock.js';
import {
  decodeSnapshot,
  encodeSnapshot,
  isInfoHashHex,
  type ResumeFileState,
  type ResumeSnapshot,
} from './snapshot.js';

/** Name of the state directory inside the output directory. */
export const RESUME_DIR_NAME = '.tork';

/** The default state directory for a download into `out`: `<out>/.tork`. */
export function defaultResumeDir(out: string): string {
  return join(out, RESUME_DIR_NAME);
}

export interface ResumeStoreOptions {
  /** State directory, usually `defaultResumeDir(out)` (`<out>/.tork`). Created on the first write. */
  readonly dir: string;
  /** The torrent's info-hash as 40 or 64 hex digits, any case (stored lower-case). Names the files. */
  readonly infoHashHex: string;
  /** File-system calls. Default: `nodeResumeFs` (node:fs/promises). */
  readonly fs?: ResumeFs;
}

/** What `save` and `markClean` record. */
export interface ResumeSaveInput {
  /**
   * Pieces verified and written to disk. Must include every piece passed to `appendPieces` before
   * this call (the snapshot's journal offset covers those entries); checked, TORK_ERR_USAGE if not.
   * Copied when the call is made: the caller may keep mutating its bitfield.
   */
  readonly verified: Bitfield;
  /** The torrent's piece length, recorded so that a snapshot of another layout is never applied. */
  readonly pieceLength: number;
  /** Every file of the torrent in metainfo order (pad files included), as stat'ed after the writes. */
  readonly files: readonly ResumeFileState[];
}

export interface ResumeSaveOptions extends ResumeSaveInput {
  /**
   * True only when no write is in flight and every written byte is in the files (files flushed and
   * closed). Prefer `markClean`, which also empties the journal. Default: false.
   */
  readonly clean?: boolean;
}

export interface LoadedResume {
  /** The snapshot, validated; null when there is none or it was refused (then `warning` says why). */
  readonly snapshot: ResumeSnapshot | null;
  /**
   * Journal entries newer than the snapshot (all entries when there is no usable snapshot), sorted and
   * unique. With a snapshot, indices ≥ its pieceCount are dropped (and reported in `warning`).
   */
  readonly journalPieces: readonly number[];
  /** Every claimed piece: the snapshot's bitfield ∪ `journalPieces`, sorted and unique. */
  readonly pieces: readonly number[];
  /** The snapshot says clean and no journal entry follows it: the only state that may be trusted. */
  readonly clean: boolean;
  /** Why part of the state was ignored (refused snapshot, out-of-range entries, capped journal). */
  readonly warning?: string;
}

type Task<T> = () => Promise<T>;

/** Numbers the stores of this process, so that no two of them share a temp file. */
let storeSerial = 0;

const noop = (): void => {};

/**
 * Reads and writes one torrent's resume state. One process at a time: `lockResumeState` keeps a
 * second one away, as two journals would interleave. Should two stores still meet (two processes
 * taking over one stale lock at once), each writes its own temp file, so neither's save fails.
 * All writes are serialized internally: journal appends in call order, snapshots in call order,
 * and a snapshot's journal offset is taken at its place in the append order.
 */
export class ResumeStore {
  readonly dir: string;
  readonly infoHashHex: string;
  readonly snapshotPath: string;
  readonly journalPath: string;
  /**
   * The snapshot's temp file: `<hex>.resume.<pid>-<serial>.tmp`, one per store. Why not one name per
   * torrent: two stores on one directory (the lock let two `tork seed` in at once until 2026-12)
   * truncated and renamed each other's temp file, and the loser's rename failed ENOENT. With one temp
   * file each, every rename is atomic and the last one wins; both snapshots are whole.
   */
  readonly tempPath: string;
  readonly #fs: ResumeFs;
  #journal: ResumeFileHandle | undefined;
  /** Bytes of whole entries in the journal, known good. */
  #journalLength = 0;
  /** Set when a failed append could not be rolled back: the journal's tail is unknown. */
  #broken: TorkError | undefined;
  /** Appends, journal-offset markers, markClean, load, remove, close: one at a time, in call order. */
  #chain: Promise<void> = Promise.resolve();
  /** The last snapshot write: snapshots are written in call order. */
  #saveTail: Promise<void> = Promise.resolve();
  /** Pieces appended since the last save call, to check the next bitfield covers them. */
  #unsaved: number[] = [];

  private constructor(options: ResumeStoreOptions) {
    const hex = options.infoHashHex.toLowerCase();
    if (!isInfoHashHex(hex)) {
      throw new TorkError(TorkErrorCode.USAGE, `info-hash ${options.infoHashHex} is not 40 or 64 hex digits`);
    }
    this.dir = options.dir;
    this.infoHashHex = hex;
    this.snapshotPath = join(options.dir, `${hex}.resume`);
    this.journalPath = join(options.dir, `${hex}.journal`);
    this.tempPath = join(options.dir, `${hex}.resume.${process.pid}-${++storeSerial}.tmp`);
    this.#fs = options.fs ?? nodeResumeFs;
  }

  /** Does no I/O: files are read by `load` and created by the first write. */
  static open(options: ResumeStoreOptions): ResumeStore {
    return new ResumeStore(options);
  }

  /**
   * The state on disk, or null when there is neither a snapshot nor a journal entry. Bad content
   * (damaged, foreign, oversized snapshot) is never thrown: the snapshot counts as absent and
   * `warning` says why. Throws TORK_ERR_IO only when the file system fails.
   */
  load(): Promise<LoadedResume | null> {
    // Captured now: awaiting whatever the tail is when the task runs could be a later task queued
    // behind this one, a deadlock.
    const saves = this.#saveTail;
    return this.#enqueue(async () => {
      await saves;
      return this.#load();
    });
  }

  /**
   * Appends piece indices (uint32 each) to the journal in one write, after every earlier append.
   * Call after the pieces' bytes were written to the files. No fsync (see the module comment).
   * Rejects with TORK_ERR_IO when the write fails; the journal is rolled back to its last whole
   * entry, and if even that fails every later append rejects too.
   */
  appendPieces(indices: readonly number[]): Promise<void> {
    if (indices.length > MAX_RESUME_APPEND_PIECES) {
      return Promise.reject(
        new TorkError(TorkErrorCode.LIMIT_EXCEEDED, `${indices.length} pieces in one append`, {
          count: indices.length,
          max: MAX_RESUME_APPEND_PIECES,
        }),
      );
    }
    const bytes = new Uint8Array(indices.length * JOURNAL_ENTRY_BYTES);
    const view = new DataView(bytes.buffer);
    for (const [position, index] of indices.entries()) {
      if (!Number.isInteger(index) || index < 0 || index > 0xffffffff) {
        return Promise.reject(
          new TorkError(TorkErrorCode.OUT_OF_RANGE, `piece index ${index} is not a uint32`, { index }),
        );
      }
      view.setUint32(position * JOURNAL_ENTRY_BYTES, index, false);
    }
    if (bytes.length === 0) return Promise.resolve();
    for (const index of indices) this.#unsaved.push(index);
    return this.#enqueue(() => this.#append(bytes));
  }

  /**
   * Writes a snapshot atomically (temp file, fsync, rename, fsync of the directory). Its journal
   * offset is the journal's length after every `appendPieces` made before this call, so the entries
   * the snapshot covers are exactly those its bitfield must include.
   */
  save(options: ResumeSaveOptions): Promise<void> {
    let frozen: Frozen;
    try {
      frozen = this.#freeze(options);
    } catch (error) {
      return Promise.reject(error);
    }
    const offset = this.#enqueue(async () => {
      await this.#openJournal();
      return this.#journalLength;
    });
    const previous = this.#saveTail;
    const task = (async () => {
      const journalOffset = await offset;
      await previous;
      await this.#writeSnapshot({ ...frozen, clean: options.clean ?? false, journalOffset });
    })();
    this.#saveTail = task.catch(noop);
    return task;
  }

  /**
   * Records a clean state and empties the journal. Order, each step crash-safe: (1) clean snapshot at
   * the current offset, (2) journal truncated to 0 (a snapshot whose offset is past the journal's end
   * means "no newer entries"), (3) clean snapshot at offset 0. Appends wait until it is done.
   */
  markClean(input: ResumeSaveInput): Promise<void> {
    let frozen: Frozen;
    try {
      frozen = this.#freeze(input);
    } catch (error) {
      return Promise.reject(error);
    }
    const previous = this.#saveTail;
    const task = this.#enqueue(async () => {
      await previous;
      const journal = await this.#openJournal();
      await this.#writeSnapshot({ ...frozen, clean: true, journalOffset: this.#journalLength });
      if (this.#journalLength === 0) return;
      try {
        await journal.truncate(0);
      } catch (error) {
        throw ioError(error, 'truncate', this.journalPath);
      }
      this.#journalLength = 0;
      // An empty journal has no unknown tail: appends may resume after an earlier failed rollback.
      this.#broken = undefined;
      await this.#writeSnapshot({ ...frozen, clean: true, journalOffset: 0 });
    });
    this.#saveTail = task.catch(noop);
    return task;
  }

  /** Deletes the snapshot, journal and any temp file (after pending writes); the store stays usable. */
  remove(): Promise<void> {
    const saves = this.#saveTail;
    const task = this.#enqueue(async () => {
      await saves;
      await this.#closeJournal();
      this.#broken = undefined;
      this.#unsaved = [];
      // Snapshot first: a journal left alone by a crash here only causes a recheck.
      for (const path of [this.snapshotPath, this.journalPath, this.tempPath]) {
        try {
          await this.#fs.unlink(path);
        } catch (error) {
          if (systemCode(error) !== 'ENOENT') throw ioError(error, 'remove', path);
        }
      }
      await this.#sweepTemps(() => true);
    });
    this.#saveTail = task.catch(noop);
    return task;
  }

  /** Closes the journal after pending writes. A later append reopens it. */
  close(): Promise<void> {
    const saves = this.#saveTail;
    return this.#enqueue(async () => {
      await saves;
      await this.#closeJournal();
    });
  }

  #enqueue<T>(task: Task<T>): Promise<T> {
    const run = this.#chain.then(task);
    this.#chain = run.then(noop, noop);
    return run;
  }

  #freeze(input: ResumeSaveInput): Frozen {
    const { verified } = input;
    for (const index of this.#unsaved) {
      if (!verified.has(index)) {
        throw new TorkError(
          TorkErrorCode.USAGE,
          `piece ${index} was appended to the journal but is not in the bitfield being saved`,
          { index },
        );
      }
    }
    this.#unsaved = [];
    return {
      version: RESUME_FORMAT_VERSION,
      infoHashHex: this.infoHashHex,
      pieceCount: verified.length,
      pieceLength: input.pieceLength,
      verified: new Bitfield(verified.length, verified.bytes),
      files: input.files.map((file) => ({ path: [...file.path], size: file.size, mtimeMs: file.mtimeMs })),
    };
  }

  async #append(bytes: Uint8Array): Promise<void> {
    if (this.#broken) throw this.#broken;
    const journal = await this.#openJournal();
    try {
      await writeAll(journal, bytes, null);
      this.#journalLength += bytes.length;
    } catch (error) {
      const failure = ioError(error, 'append to', this.journalPath);
      try {
        // A partial entry left in place would misalign every later one.
        await journal.truncate(this.#journalLength);
      } catch {
        this.#broken = failure;
      }
      throw failure;
    }
  }

  /**
   * Opens the journal for appending, once. Drops a torn tail (a partial entry would shift every later
   * entry), and if the snapshot's offset lies past the journal's end (a crash inside markClean, or a
   * deleted journal) empties the journal and rewrites the snapshot at offset 0: otherwise new entries
   * below the old offset would be ignored by the next load.
   */
  async #openJournal(): Promise<ResumeFileHandle> {
    if (this.#journal) return this.#journal;
    try {
      await this.#fs.mkdir(this.dir, { recursive: true });
    } catch (error) {
      throw ioError(error, 'create', this.dir);
    }
    // Once per store: temp files of crashed processes. A live process's file may be mid-save.
    await this.#sweepTemps((pid) => pid === undefined || !processAlive(pid));
    let journal: ResumeFileHandle;
    try {
      journal = await this.#fs.open(this.journalPath, resumeFlags.journal, 0o644);
    } catch (error) {
      throw ioError(error, 'open', this.journalPath);
    }
    try {
      let length = (await journal.stat()).size;
      const whole = length - (length % JOURNAL_ENTRY_BYTES);
      if (whole !== length) {
        await journal.truncate(whole);
        length = whole;
      }
      const snapshot = await this.#readSnapshot();
      if (snapshot.snapshot && snapshot.snapshot.journalOffset > length) {
        await journal.truncate(0);
        length = 0;
        await this.#writeSnapshot({ ...snapshot.snapshot, journalOffset: 0 });
      }
      this.#journalLength = length;
    } catch (error) {
      await journal.close().catch(noop);
      throw ioError(error, 'prepare', this.journalPath);
    }
    this.#journal = journal;
    return journal;
  }

  /**
   * Best effort: deletes this torrent's snapshot temp files whose writer `stale` condemns (`pid`
   * undefined for the name older versions used). A failure only leaves a file that is never read.
   */
  async #sweepTemps(stale: (pid: number | undefined) => boolean): Promise<void> {
    let names: string[];
    try {
      names = (await this.#fs.readdir?.(this.dir)) ?? [];
    } catch {
      return;
    }
    const legacy = `${this.infoHashHex}.resume.tmp`;
    const ours = new RegExp(`^${this.infoHashHex}\\.resume\\.(\\d+)-\\d+\\.tmp$`);
    for (const name of names) {
      const writer = ours.exec(name);
      if (name !== legacy && !writer) continue;
      if (!stale(writer ? Number(writer[1]) : undefined)) continue;
      await this.#fs.unlink(join(this.dir, name)).catch(noop);
    }
  }

  async #closeJournal(): Promise<void> {
    const journal = this.#journal;
    this.#journal = undefined;
    this.#journalLength = 0;
    if (journal) {
      try {
        await journal.close();
      } catch (error) {
        throw ioError(error, 'close', this.journalPath);
      }
    }
  }

  async #load(): Promise<LoadedResume | null> {
    const warnings: string[] = [];
    const read = await this.#readSnapshot();
    if (read.warning) warnings.push(read.warning);
    const snapshot = read.snapshot;
    const journal = await this.#readJournal(snapshot?.journalOffset ?? 0);
    if (journal.warning) warnings.push(journal.warning);
    let journalPieces: number[];
    let pieces: number[];
    if (snapshot) {
      const union = new Bitfield(snapshot.pieceCount, snapshot.verified.bytes);
      const fresh = new Bitfield(snapshot.pieceCount);
      let outside = 0;
      for (const index of journal.entries) {
        if (index < snapshot.pieceCount) {
          union.set(index);
          fresh.set(index);
        } else {
          outside++;
        }
      }
      if (outside > 0) {
        warnings.push(`${outside} journal entries name pieces beyond ${snapshot.pieceCount - 1}; ignored`);
      }
      journalPieces = [...fresh.indices()];
      pieces = [...union.indices()];
    } else {
      // A typed copy sorts numerically and costs 4 bytes an entry, whatever the journal holds.
      const sorted = Uint32Array.from(journal.entries).sort();
      journalPieces = [];
      for (const [position, index] of sorted.entries()) {
        if (position === 0 || sorted[position - 1] !== index) journalPieces.push(index);
      }
      pieces = journalPieces;
    }
    if (!read.present && journal.entries.length === 0 && warnings.length === 0) return null;
    const loaded: LoadedResume = {
      snapshot,
      journalPieces,
      pieces,
      // Any entry after the offset, even one out of range, means writes happened after the snapshot.
      clean: snapshot?.clean === true && journal.entries.length === 0,
    };
    return warnings.length > 0 ? { ...loaded, warning: warnings.join('; ') } : loaded;
  }

  async #readSnapshot(): Promise<{ present: boolean; snapshot: ResumeSnapshot | null; warning?: string }> {
    const bytes = await this.#readFile(this.snapshotPath, MAX_RESUME_SNAPSHOT_BYTES);
    if (bytes === undefined) return { present: false, snapshot: null };
    if (bytes === 'too large') {
      return {
        present: true,
        snapshot: null,
        warning: `resume snapshot ${this.snapshotPath} ignored: too large`,
      };
    }
    const decoded = decodeSnapshot(bytes, this.infoHashHex);
    if (!decoded.ok) {
      return {
        present: true,
        snapshot: null,
        warning: `resume snapshot ${this.snapshotPath} ignored: ${decoded.problem}`,
      };
    }
    return { present: true, snapshot: decoded.snapshot };
  }

  /** Whole entries from `from` on; a torn tail is ignored, more than the cap is cut with a warning. */
  async #readJournal(from: number): Promise<{ entries: Uint32Array; warning?: string }> {
    let handle: ResumeFileHandle;
    try {
      handle = await this.#fs.open(this.journalPath, resumeFlags.read);
    } catch (error) {
      if (systemCode(error) === 'ENOENT') return { entries: new Uint32Array(0) };
      throw ioError(error, 'open', this.journalPath);
    }
    try {
      const size = (await handle.stat()).size;
      // Shorter than the offset: emptied by markClean (or by hand) after the snapshot; nothing newer.
      if (size <= from) return { entries: new Uint32Array(0) };
      const available = size - from;
      const whole = available - (available % JOURNAL_ENTRY_BYTES);
      const length = Math.min(whole, MAX_RESUME_JOURNAL_BYTES);
      const bytes = new Uint8Array(length);
      const got = await readAll(handle, bytes, from);
      const view = new DataView(bytes.buffer, 0, got - (got % JOURNAL_ENTRY_BYTES));
      const entries = new Uint32Array(view.byteLength / JOURNAL_ENTRY_BYTES);
      for (let entry = 0; entry < entries.length; entry++) {
        entries[entry] = view.getUint32(entry * JOURNAL_ENTRY_BYTES, false);
      }
      return length < whole
        ? {
            entries,
            warning: `journal ${this.journalPath} has more than ${length} bytes of entries; the rest ignored`,
          }
        : { entries };
    } catch (error) {
      throw ioError(error, 'read', this.journalPath);
    } finally {
      await handle.close().catch(noop);
    }
  }

  /** The file's bytes; undefined when it does not exist; 'too large' above `max` (not read). */
  async #readFile(path: string, max: number): Promise<Uint8Array | undefined | 'too large'> {
    let handle: ResumeFileHandle;
    try {
      handle = await this.#fs.open(path, resumeFlags.read);
    } catch (error) {
      if (systemCode(error) === 'ENOENT') return undefined;
      throw ioError(error, 'open', path);
    }
    try {
      const size = (await handle.stat()).size;
      if (size > max) return 'too large';
      const bytes = new Uint8Array(size);
      const got = await readAll(handle, bytes, 0);
      return got === size ? bytes : bytes.subarray(0, got);
    } catch (error) {
      throw ioError(error, 'read', path);
    } finally {
      await handle.close().catch(noop);
    }
  }

  async #writeSnapshot(snapshot: ResumeSnapshot): Promise<void> {
    const bytes = encodeSnapshot(snapshot);
    try {
      await this.#fs.mkdir(this.dir, { recursive: true });
    } catch (error) {
      throw ioError(error, 'create', this.dir);
    }
    let handle: ResumeFileHandle | undefined;
    try {
      handle = await this.#fs.open(this.tempPath, resumeFlags.temp, 0o644);
      await writeAll(handle, bytes, 0);
      // The data must be durable before the rename makes it the snapshot: otherwise a power cut
      // could leave the new name pointing at an empty or partial file.
      await handle.sync();
      const closing = handle;
      handle = undefined;
      await closing.close();
      await this.#fs.rename(this.tempPath, this.snapshotPath);
    } catch (error) {
      await handle?.close().catch(noop);
      await this.#fs.unlink(this.tempPath).catch(noop);
      throw ioError(error, 'write', this.snapshotPath);
    }
    await this.#syncDir();
  }

  /** Makes the rename durable. Some platforms cannot fsync a directory; there the rename is as durable as it gets. */
  async #syncDir(): Promise<void> {
    let handle: ResumeFileHandle;
    try {
      handle = await this.#fs.open(this.dir, resumeFlags.directory);
    } catch (error) {
      if (UNSYNCABLE_DIR.has(systemCode(error) ?? '')) return;
      throw ioError(error, 'open', this.dir);
    }
    try {
      await handle.sync();
    } catch (error) {
      if (!UNSYNCABLE_DIR.has(systemCode(error) ?? '')) throw ioError(error, 'sync', this.dir);
    } finally {
      await handle.close().catch(noop);
    }
  }
}

type Frozen = Omit<ResumeSnapshot, 'clean' | 'journalOffset'>;

/** Windows cannot open a directory (EISDIR/EPERM); some file systems refuse fsync on one (EINVAL). */
const UNSYNCABLE_DIR = new Set(['EISDIR', 'EPERM', 'EINVAL', 'ENOTSUP', 'EACCES']);

async function writeAll(handle: ResumeFileHandle, bytes: Uint8Array, position: number | null): Promise<void> {
  let done = 0;
  while (done < bytes.length) {
    const { bytesWritten } = await handle.write(
      bytes,
      done,
      bytes.length - done,
      position === null ? null : position + done,
    );
    if (bytesWritten <= 0) throw new TorkError(TorkErrorCode.IO, 'write made no progress');
    done += bytesWritten;
  }
}

/** Reads until `bytes` is full or the file ends; returns the bytes read. */
async function readAll(handle: ResumeFileHandle, bytes: Uint8Array, position: number): Promise<number> {
  let done = 0;
  while (done < bytes.length) {
    const { bytesRead } = await handle.read(bytes, done, bytes.length - done, position + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return done;
}
