import { stat } from 'node:fs/promises';
import { Bitfield } from '../bitfield.js';
import type { DiskLayout } from '../disk/disk-layout.js';
import type { DiskWriter } from '../disk/disk-writer.js';
import { toTorkError } from '../errors.js';
import { V2_PIECE_CHECK_SIZE } from '../metainfo/v2-piece-checks.js';
import { inThreadHasher, type PieceHasher } from './piece-hasher.js';
import { planResume } from './plan-resume.js';
import { lockResumeState, type ResumeLock } from './resume-lock.js';
import { defaultResumeDir, ResumeStore } from './resume-store.js';
import type { ResumeFileState } from './snapshot.js';

/** How often the resume snapshot is rewritten while running, ms. */
export const DEFAULT_RESUME_SAVE_INTERVAL_MS = 5_000;
/** Pieces hashed per call to the hasher at start: 200,000 pieces' spans at once would be a large allocation for no gain. */
const VERIFY_BATCH_PIECES = 4_096;

/** What resume needs of a torrent (`TorrentMeta` and `Metainfo` satisfy it). */
export interface ResumeMeta extends DiskLayout {
  readonly infoHashHex: string;
  readonly pieceCount: number;
  /** 20 bytes per piece; empty for a v2-only torrent (see `TorrentResumeOptions.v2Checks`). */
  readonly pieceHashes: Uint8Array;
}

/** What resume reports while it works (the Torrent turns these into its events). */
export interface ResumeReporter {
  /** Resume state was read: `trusted` pieces counted without hashing, `rechecked` hashed, `verified` had now. */
  resumed(info: { trusted: number; rechecked: number; verified: number; reason: string }): void;
  /** Existing data was hashed: `verified` of `checked` pieces matched. */
  checked(info: { checked: number; verified: number }): void;
  /** State could not be used or written; the torrent goes on (a later start rechecks). */
  warning(message: string): void;
}

export interface TorrentResumeOptions {
  readonly meta: ResumeMeta;
  /** The torrent's files, created (or found) by the writer: sizes before this run, real paths. */
  readonly disk: DiskWriter;
  readonly outDir: string;
  /** Where state lives, or `false` for none (every start hashes what is on disk). Default: `<outDir>/.tork`. */
  readonly dir?: string | false;
  /** Hashes pieces from disk. Default: on this thread. */
  readonly hasher?: PieceHasher;
  /**
   * BEP 52 checks (`v2PieceChecks`) of a v2 or hybrid torrent: a rechecked piece must also pass its
   * merkle check (a v2-only torrent has no SHA-1, so this is its only check). Default: none.
   */
  readonly v2Checks?: Uint8Array;
  /** How often the snapshot is rewritten while running, ms. Default: 5,000. */
  readonly saveIntervalMs?: number;
  readonly report: ResumeReporter;
}

/**
 * A torrent's resume state over one run: at start, which pieces on disk count (trusted from a
 * clean snapshot, or hashed again); while running, every written piece into the journal (batched
 * per turn, so a kill loses nothing written) and a fresh snapshot every few seconds; at a clean
 * stop, the snapshot with the files' sizes and mtimes that lets the next start trust it.
 * See docs/architecture.md "Resume".
 */
export class TorrentResume {
  readonly #meta: ResumeMeta;
  readonly #disk: DiskWriter;
  readonly #store: ResumeStore | undefined;
  readonly #lock: ResumeLock | undefined;
  readonly #report: ResumeReporter;
  readonly #saveIntervalMs: number;
  /** Written pieces not yet appended to the journal (appended once per turn). */
  #journalBatch: number[] = [];
  #savedCount = -1;
  #lastSaveAt = 0;
  #saving: Promise<void> | undefined;

  private constructor(options: TorrentResumeOptions, store?: ResumeStore, lock?: ResumeLock) {
    this.#meta = options.meta;
    this.#disk = options.disk;
    this.#store = store;
    this.#lock = lock;
    this.#report = options.report;
    this.#saveIntervalMs = options.saveIntervalMs ?? DEFAULT_RESUME_SAVE_INTERVAL_MS;
  }

  /**
   * Finds the pieces already verified on disk. Without resume state (none, `dir: false`, or kept by
   * another process): every piece of the files that held data before this run is hashed, so data
   * from an earlier run or another client is reused.
   */
  static async open(options: TorrentResumeOptions): Promise<{ resume: TorrentResume; have: Bitfield }> {
    const { meta, disk, report } = options;
    const checker: PieceChecker = { hasher: options.hasher ?? inThreadHasher, v2Checks: options.v2Checks };
    const dir = options.dir ?? defaultResumeDir(options.outDir);
    if (dir === false)
      return { resume: new TorrentResume(options), have: await checkAll(meta, disk, checker, report) };
    const locked = await lockResumeState(dir, meta.infoHashHex);
    if ('heldBy' in locked) {
      // Another tork (say a second seeder of the same directory) keeps this state: we only read data.
      report.warning(
        `resume state in ${dir} is kept by ${locked.heldBy === null ? 'another process' : `process ${locked.heldBy}`}; this run keeps none and checks the data`,
      );
      return { resume: new TorrentResume(options), have: await checkAll(meta, disk, checker, report) };
    }
    const store = ResumeStore.open({ dir, infoHashHex: meta.infoHashHex });
    const resume = new TorrentResume(options, store, locked.lock);
    const loaded = await store.load();
    if (loaded?.warning) report.warning(loaded.warning);
    // Files selected now that an earlier run left unselected: the part file may hold bytes of their
    // claimed pieces. They are moved in, and those pieces are rechecked (the file is new).
    const adopted = await adoptFromPart(meta, disk, loaded?.pieces ?? []);
    // Sizes as found before the writer extended anything; mtimes are untouched unless it did,
    // in which case the size already tells the file changed.
    const files = await Promise.all(
      meta.files.map(async (file, index) => {
        const info = disk.file(index);
        if (file.pad || !info) return null;
        // An adopted file: its size is right and its mtime new, so its pieces are rechecked.
        if (adopted.has(index)) return { size: file.length, mtimeMs: (await stat(info.path)).mtimeMs };
        if (info.previousSize === null) return null;
        const { mtimeMs } = await stat(info.path);
        return { size: info.previousSize, mtimeMs };
      }),
    );
    const plan = planResume({
      loaded,
      files,
      pieceCount: meta.pieceCount,
      layout: disk.layout,
      anyDataOnDisk: files.some((file) => file !== null && file.size > 0),
    });
    const have = new Bitfield(meta.pieceCount);
    for (const piece of plan.trusted) have.set(piece);
    // A piece wholly in unselected files held in the part file is not hashed: it is not wanted,
    // and without a snapshot the whole (sparse) part file would be read.
    const recheck = plan.recheck.filter((piece) => !whollyInPart(disk, piece));
    const rechecked = recheck.length > 0 ? await verifyOnDisk(meta, disk, recheck, checker, report) : [];
    for (const piece of rechecked) have.set(piece);
    report.resumed({
      trusted: plan.trusted.length,
      rechecked: recheck.length,
      verified: have.count,
      reason: plan.reason,
    });
    // From here the run is unclean until `close` marks it clean again.
    await store.save({ verified: have, pieceLength: meta.pieceLength, files: resume.#fileStates() });
    resume.#savedCount = have.count;
    resume.#lastSaveAt = Date.now();
    return { resume, have };
  }

  /** A piece reached the disk: into the journal (batched per turn), so a kill cannot lose it. */
  pieceWritten(index: number): void {
    const store = this.#store;
    if (!store) return;
    if (this.#journalBatch.length === 0) {
      setImmediate(() => {
        const batch = this.#journalBatch;
        this.#journalBatch = [];
        store
          .appendPieces(batch)
          .catch((error: unknown) => this.#report.warning(`resume journal: ${toTorkError(error).message}`));
      });
    }
    this.#journalBatch.push(index);
  }

  /** Rewrites the snapshot now and then, so the journal stays short; never two at once. */
  maybeSave(now: number, written: Bitfield): void {
    const store = this.#store;
    if (!store || this.#saving || now - this.#lastSaveAt < this.#saveIntervalMs) return;
    // Only what the journal already holds: the snapshot must cover every appended piece, and
    // pieces still in this turn's batch are not appended yet.
    if (this.#journalBatch.length > 0 || written.count === this.#savedCount) return;
    this.#lastSaveAt = now;
    const count = written.count;
    this.#saving = store
      .save({ verified: written, pieceLength: this.#meta.pieceLength, files: this.#fileStates() })
      .then(
        () => {
          this.#savedCount = count;
        },
        (error: unknown) => this.#report.warning(`resume snapshot: ${toTorkError(error).message}`),
      )
      .finally(() => {
        this.#saving = undefined;
      });
  }

  /**
   * The run ends. `clean`: every write reached the disk and the files are closed, so the snapshot
   * is marked clean with the files' sizes and mtimes and the next start trusts it; otherwise the
   * next start rechecks. Then the state is closed and its lock released. Never throws.
   */
  async close(written: Bitfield, clean: boolean): Promise<void> {
    if (clean) {
      await this.#saveClean(written).catch((error: unknown) =>
        this.#report.warning(`resume state: ${toTorkError(error).message}`),
      );
    }
    await this.#store?.close().catch(() => {});
    await this.#lock?.release().catch(() => {});
  }

  async #saveClean(written: Bitfield): Promise<void> {
    const store = this.#store;
    if (!store) return;
    await this.#saving;
    // The last batch of journal entries: markClean needs a bitfield that covers them.
    if (this.#journalBatch.length > 0) {
      const batch = this.#journalBatch;
      this.#journalBatch = [];
      await store.appendPieces(batch).catch(() => {});
    }
    const stats = await Promise.all(
      this.#meta.files.map(async (file, index) => {
        const info = this.#disk.file(index);
        if (file.pad || !info) return null;
        const { size, mtimeMs } = await stat(info.path);
        return { size, mtimeMs };
      }),
    );
    await store.markClean({
      verified: written,
      pieceLength: this.#meta.pieceLength,
      files: this.#fileStates(stats),
    });
  }

  /** Every file as recorded in an unclean snapshot (sizes and mtimes matter only in a clean one). */
  #fileStates(stats?: readonly ({ size: number; mtimeMs: number } | null)[]): ResumeFileState[] {
    const meta = this.#meta;
    return meta.files.map((file, index) => ({
      path: meta.isMultiFile ? [meta.name, ...file.path] : [meta.name],
      size: stats?.[index]?.size ?? file.length,
      mtimeMs: stats?.[index]?.mtimeMs ?? 0,
    }));
  }
}

/**
 * Moves, for each file `disk.adoptable()` names, the bytes of its `claimed` pieces from the part
 * file into it. Returns the files that received bytes.
 */
async function adoptFromPart(
  meta: ResumeMeta,
  disk: DiskWriter,
  claimed: readonly number[],
): Promise<Set<number>> {
  const adopted = new Set<number>();
  const layout = disk.layout;
  for (const index of disk.adoptable()) {
    if (meta.files[index]!.pad) continue;
    const { firstPiece, lastPiece } = layout.filePieces(index);
    const pieces = claimed.filter((piece) => piece >= firstPiece && piece <= lastPiece);
    if (pieces.length > 0 && (await disk.adoptFromPart(index, pieces)) > 0) adopted.add(index);
  }
  return adopted;
}

/** The piece lies only in pad files and unselected files held in the part file. */
function whollyInPart(disk: DiskWriter, piece: number): boolean {
  const spans = disk.layout.spans(piece);
  const inPart = (fileIndex: number) => disk.file(fileIndex)?.inPart === true;
  return (
    spans.some((span) => !span.pad && inPart(span.fileIndex)) &&
    spans.every((span) => span.pad || inPart(span.fileIndex))
  );
}

/** No resume state: hash every piece of the files that held data before this run. */
async function checkAll(
  meta: ResumeMeta,
  disk: DiskWriter,
  checker: PieceChecker,
  report: ResumeReporter,
): Promise<Bitfield> {
  const have = new Bitfield(meta.pieceCount);
  const layout = disk.layout;
  const candidates: number[] = [];
  const seen = new Uint8Array(meta.pieceCount);
  meta.files.forEach((file, index) => {
    const previous = disk.file(index)?.previousSize ?? null;
    // Unselected files in the part file: their pieces are checked through the selected files they share.
    if (file.pad || previous === null || previous === 0 || disk.file(index)?.inPart) return;
    const { firstPiece, lastPiece } = layout.filePieces(index);
    for (let piece = firstPiece; piece <= lastPiece; piece++) {
      if (seen[piece]) continue;
      seen[piece] = 1;
      candidates.push(piece);
    }
  });
  if (candidates.length === 0) return have;
  candidates.sort((a, b) => a - b);
  for (const piece of await verifyOnDisk(meta, disk, candidates, checker, report)) have.set(piece);
  return have;
}

/** How pieces on disk are checked: the hasher, and a v2/hybrid torrent's merkle checks. */
interface PieceChecker {
  readonly hasher: PieceHasher;
  readonly v2Checks: Uint8Array | undefined;
}

/**
 * Hashes pieces from disk and returns those that pass every check the torrent has: SHA-1 when it
 * has piece hashes (v1, hybrid), the merkle check when it has v2 checks (v2, hybrid: both must
 * pass). A torrent with neither (a v2-only one whose layers are unknown) verifies nothing.
 */
async function verifyOnDisk(
  meta: ResumeMeta,
  disk: DiskWriter,
  pieces: readonly number[],
  checker: PieceChecker,
  report: ResumeReporter,
): Promise<number[]> {
  const good: number[] = [];
  const { hasher, v2Checks } = checker;
  const sha1 = meta.pieceHashes.length > 0;
  if (!sha1 && v2Checks === undefined) {
    report.checked({ checked: pieces.length, verified: 0 });
    return good;
  }
  for (let first = 0; first < pieces.length; first += VERIFY_BATCH_PIECES) {
    const batch = pieces.slice(first, first + VERIFY_BATCH_PIECES);
    let records: Uint8Array | undefined;
    if (v2Checks !== undefined) {
      records = new Uint8Array(batch.length * V2_PIECE_CHECK_SIZE);
      for (const [i, piece] of batch.entries()) {
        const at = piece * V2_PIECE_CHECK_SIZE;
        records.set(v2Checks.subarray(at, at + V2_PIECE_CHECK_SIZE), i * V2_PIECE_CHECK_SIZE);
      }
    }
    const { hashes, v2Ok } = await hasher.hashPieces(
      batch.map((piece) => disk.pieceSpans(piece)),
      { ...(records ? { v2Checks: records } : {}), sha1 },
    );
    batch.forEach((piece, i) => {
      if (sha1) {
        const expected = meta.pieceHashes.subarray(piece * 20, piece * 20 + 20);
        const actual = hashes.subarray(i * 20, i * 20 + 20);
        if (Buffer.compare(expected, actual) !== 0) return;
      }
      if (records !== undefined && v2Ok?.[i] !== 1) return;
      good.push(piece);
    });
  }
  report.checked({ checked: pieces.length, verified: good.length });
  return good;
}
