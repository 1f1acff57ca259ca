/**
 * `tork create`: walks a file or directory, hashes its pieces on the HashPool and writes a
 * .torrent atomically.
 *
 * Choices, with their reasons:
 * - Files are ordered by their path components compared as UTF-8 bytes, so the same tree always
 *   gives the same torrent, whatever the OS returns from readdir or the user's locale.
 * - Symlinks: a symlink whose target lies outside the directory (or that is broken) is refused, since
 *   sharing it would publish data the user did not point at. A symlink whose target lies inside
 *   is skipped with a warning: its target is already in the torrent, and following it would only
 *   duplicate data (or loop, for a link to a parent directory). The input itself may be a symlink:
 *   the user named it. Nothing else is skipped (hidden files included); a FIFO, socket or device is
 *   refused, and so is a file or directory name that is not valid UTF-8.
 * - Output: no timestamp unless `--date`, so two runs over the same data give the same bytes. The
 *   torrent is written to a temporary file beside the output, then linked (or with `--force`,
 *   renamed) into place, so a reader never sees half a torrent and an existing file is never
 *   overwritten by accident. An output inside the input directory is refused: it would hash itself.
 * - Every field is validated (a dry-run encode) before any byte is hashed, so a bad tracker URL or
 *   file name fails in milliseconds, not after hashing 100 GiB.
 */
import { randomBytes } from 'node:crypto';
import type { Stats } from 'node:fs';
import { link, lstat, open, readdir, realpath, rename, rm, stat } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { parseArgs } from 'node:util';
import {
  checkCreatePieceLength,
  choosePieceLength,
  DEFAULT_BENCODE_MAX_BYTES,
  type EncodeTorrentOptions,
  encodeTorrent,
  encodeTorrentV2,
  FileLayout,
  MAX_FILES,
  MAX_PATH_DEPTH,
  type PieceSpanOnDisk,
  parseMetainfo,
  TorkError,
  TorkErrorCode,
  toTorkError,
} from '@tork/core';
import { HashPool } from '@tork/workers';
import { oneLine } from '../args.js';
import { formatBytes, formatCount, parseSize } from '../format.js';
import { CORES, type CommandHelp, printedHelp } from '../help.js';
import { type CliIo, ExitCode, processIo } from '../io.js';
import { hashFilesV2 } from './create-v2.js';

export const createUsage =
  'usage: tork create <file-or-dir> --announce URL[,URL]... [--announce ...] -o out.torrent [--piece-size N|auto] [--private] [--comment TEXT] [--name NAME] [--created-by TEXT] [--date] [--v2|--hybrid] [--workers N] [--force] [--json]';

/** `created by` when `--created-by` is not given. No version: the bytes should not change with tork's. */
export const DEFAULT_CREATED_BY = 'tork';

/** Most hash worker threads `--workers` accepts: 256. */
export const MAX_CREATE_WORKERS = 256;

/**
 * Bytes a single hash job covers at most (pieces per job = this / piece length, 1 to 16): one job
 * is one thread hop, and a job much larger than this holds up the end of a batch. 16 MiB.
 */
const JOB_BYTES = 16 * 1024 * 1024;

/** Jobs per worker thread in one batch: enough that threads rarely idle at the end of a batch. */
const JOBS_PER_THREAD_PER_BATCH = 4;

const options = {
  announce: { type: 'string', multiple: true },
  'piece-size': { type: 'string' },
  private: { type: 'boolean', default: false },
  comment: { type: 'string' },
  name: { type: 'string' },
  'created-by': { type: 'string' },
  date: { type: 'boolean', default: false },
  v2: { type: 'boolean', default: false },
  hybrid: { type: 'boolean', default: false },
  out: { type: 'string', short: 'o' },
  workers: { type: 'string' },
  force: { type: 'boolean', default: false },
  json: { type: 'boolean', default: false },
} as const;

export const createHelp: CommandHelp<typeof options> = {
  usage: createUsage,
  summary: 'make a .torrent from a file or directory (pieces hashed on all cores; same input, same bytes)',
  options,
  help: {
    announce: {
      arg: 'URL[,URL]',
      text: 'tracker URLs: each --announce is a tier, commas separate URLs within it',
      required: true,
    },
    'piece-size': {
      arg: 'N|auto',
      text: 'piece length, e.g. 256KiB, or auto',
      default: 'auto, chosen by the total size',
    },
    private: { text: 'mark the torrent private (BEP 27: trackers only, no DHT or PEX)' },
    comment: { arg: 'TEXT', text: 'the comment field', default: 'none' },
    name: { arg: 'NAME', text: "the torrent's name", default: "the input's file or directory name" },
    'created-by': { arg: 'TEXT', text: 'the created-by field', default: DEFAULT_CREATED_BY },
    date: { text: 'record a creation date: $SOURCE_DATE_EPOCH if set, else now' },
    v2: { text: 'a BitTorrent v2-only torrent (BEP 52; clients that speak v1 only cannot read it)' },
    hybrid: { text: 'a v1 + v2 hybrid torrent (BEP 52), with v1 pad files as libtorrent writes them' },
    out: {
      arg: 'FILE',
      text: 'the .torrent to write (refused if it exists, unless --force)',
      required: true,
    },
    workers: {
      arg: 'N',
      text: `hashing threads, 1 to ${MAX_CREATE_WORKERS}`,
      default: CORES,
    },
    force: { text: 'replace an existing output file' },
    json: { text: 'print one JSON object (the CreateJson shape) instead of text' },
  },
};

/** The `--json` shape of `tork create`; stable for scripts. */
export interface CreateJson {
  output: string;
  name: string;
  infoHash: string;
  /** The v2 info-hash (64 hex) of a --v2 or --hybrid torrent. */
  infoHashV2?: string;
  version: 1 | 2 | 'hybrid';
  pieceLength: number;
  pieceCount: number;
  fileCount: number;
  length: number;
  private: boolean;
}

function usageError(message: string, details: Record<string, string | number> = {}): TorkError {
  return new TorkError(TorkErrorCode.USAGE, message, details);
}

/** One file found on disk. */
interface InputFile {
  /** Components below the input directory; `[]` for a single-file input. */
  readonly components: readonly string[];
  readonly absolute: string;
  readonly length: number;
  readonly mtimeMs: number;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function shown(components: readonly string[]): string {
  return JSON.stringify(components.join('/'));
}

function isInside(root: string, target: string): boolean {
  return target.startsWith(root.endsWith(sep) ? root : root + sep);
}

/** A file-system error as a TorkError: a missing input is the user's mistake (exit 2), the rest is IO. */
function fsError(error: unknown, what: string): TorkError {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' || code === 'ENOTDIR') return usageError(`${what} does not exist`);
  return toTorkError(error, TorkErrorCode.IO, what);
}

/** Files under `root` (a real path), depth first, children sorted by their UTF-8 bytes. */
async function walk(root: string, warn: (text: string) => void): Promise<InputFile[]> {
  const files: InputFile[] = [];
  const visit = async (dir: string, components: readonly string[]): Promise<void> => {
    const raw = await readdir(dir, { encoding: 'buffer' }).catch((error: unknown) => {
      throw fsError(error, `cannot read directory ${shown(components)}`);
    });
    raw.sort(Buffer.compare);
    for (const bytes of raw) {
      let name: string;
      try {
        name = utf8.decode(bytes);
      } catch {
        throw usageError(
          `a name in ${shown(components)} is not valid UTF-8 (${JSON.stringify(bytes.toString('latin1'))}): rename it`,
        );
      }
      const path = [...components, name];
      if (path.length > MAX_PATH_DEPTH) {
        throw usageError(`${shown(path)} is more than ${MAX_PATH_DEPTH} directories deep`);
      }
      const absolute = join(dir, name);
      const info = await lstat(absolute).catch((error: unknown) => {
        throw fsError(error, `cannot stat ${shown(path)}`);
      });
      if (info.isSymbolicLink()) {
        const target = await realpath(absolute).catch(() => undefined);
        if (target === undefined) throw usageError(`symlink ${shown(path)} is broken`);
        if (target !== root && !isInside(root, target)) {
          throw usageError(
            `symlink ${shown(path)} points outside the directory, to ${JSON.stringify(target)}`,
          );
        }
        warn(`skipped symlink ${shown(path)}: its target is inside the directory and already included`);
      } else if (info.isDirectory()) {
        await visit(absolute, path);
      } else if (info.isFile()) {
        files.push({ components: path, absolute, length: info.size, mtimeMs: info.mtimeMs });
        if (files.length > MAX_FILES) throw usageError(`more than ${MAX_FILES} files`);
      } else {
        throw usageError(`${shown(path)} is not a regular file, directory or symlink`);
      }
    }
  };
  await visit(root, []);
  return files;
}

/** `--announce` values as BEP 12 tiers: each option is a tier, commas separate URLs within one. */
function parseTiers(values: readonly string[]): string[][] {
  return values.map((value) => value.split(',').map((url) => url.trim()));
}

function parseWorkers(value: string | undefined): number {
  if (value === undefined) return availableParallelism();
  const number = Number(value);
  if (!Number.isInteger(number) || number < 1 || number > MAX_CREATE_WORKERS) {
    throw usageError(`--workers must be an integer from 1 to ${MAX_CREATE_WORKERS}, got '${value}'`);
  }
  return number;
}

function parsePieceSize(value: string | undefined, total: number): number {
  if (value === undefined || value === 'auto') return choosePieceLength(total);
  const size = parseSize(value);
  if (size === undefined)
    throw usageError(`--piece-size must be a size such as 256KiB or 'auto', got '${value}'`);
  checkCreatePieceLength(size);
  return size;
}

/** `--date`: SOURCE_DATE_EPOCH when set (reproducible builds), else now. */
function creationDate(): number {
  const epoch = process.env.SOURCE_DATE_EPOCH;
  if (epoch !== undefined && /^\d+$/.test(epoch) && Number.isSafeInteger(Number(epoch))) return Number(epoch);
  return Math.floor(Date.now() / 1000);
}

/** SHA-1 of every piece, in batches so that span lists (and pool queues) stay bounded. */
async function hashAll(
  files: readonly InputFile[],
  pieceLength: number,
  threads: number,
  onProgress: (done: number, total: number) => void,
): Promise<Uint8Array> {
  const layout = new FileLayout(files, pieceLength);
  const piecesPerJob = Math.max(1, Math.min(16, Math.floor(JOB_BYTES / pieceLength)));
  const batch = threads * piecesPerJob * JOBS_PER_THREAD_PER_BATCH;
  const hashes = new Uint8Array(layout.pieceCount * 20);
  const pool = new HashPool({ threads, piecesPerJob });
  const spansOf = (piece: number): PieceSpanOnDisk[] =>
    layout.spans(piece).map((span) => ({
      path: files[span.fileIndex]!.absolute,
      offset: span.fileOffset,
      length: span.length,
    }));
  try {
    for (let first = 0; first < layout.pieceCount; first += batch) {
      const pieces: PieceSpanOnDisk[][] = [];
      for (let piece = first; piece < Math.min(layout.pieceCount, first + batch); piece++) {
        pieces.push(spansOf(piece));
      }
      const result = await pool.hashPieces(pieces);
      const missing = result.missing[0];
      if (missing !== undefined) {
        const piece = first + missing;
        const culprits = layout.spans(piece).map((span) => files[span.fileIndex]!);
        throw await changedError(culprits, `while hashing piece ${piece}`);
      }
      hashes.set(result.hashes, first * 20);
      onProgress(Math.min(layout.pieceCount, first + batch), layout.pieceCount);
    }
  } finally {
    await pool.close();
  }
  return hashes;
}

/** Names the first of `candidates` whose size or modification time differs from when it was walked. */
async function changedError(candidates: readonly InputFile[], when: string): Promise<TorkError> {
  for (const file of candidates) {
    const now: Stats | undefined = await stat(file.absolute).catch(() => undefined);
    if (now === undefined || now.size !== file.length || now.mtimeMs !== file.mtimeMs) {
      const what =
        now === undefined ? 'disappeared' : now.size !== file.length ? 'changed size' : 'was modified';
      return new TorkError(
        TorkErrorCode.IO,
        `${shown(file.components.length > 0 ? file.components : [basename(file.absolute)])} ${what} ${when}: the torrent would not match the data; try again`,
        { expectedLength: file.length, length: now?.size ?? null },
      );
    }
  }
  return new TorkError(TorkErrorCode.IO, `data could not be read back ${when}: a file changed; try again`);
}

/** Writes `bytes` to `output` via a temporary file in the same directory; never a partial file. */
async function writeAtomically(output: string, bytes: Uint8Array, force: boolean): Promise<void> {
  const temp = join(
    dirname(output),
    `.${basename(output)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`,
  );
  try {
    const handle = await open(temp, 'wx', 0o644);
    try {
      await handle.writeFile(bytes);
      await handle.sync();
    } finally {
      await handle.close();
    }
    if (force) {
      await rename(temp, output);
    } else {
      // link() fails with EEXIST instead of replacing: no window in which another file is clobbered.
      try {
        await link(temp, output);
        await rm(temp, { force: true });
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP') throw error;
        // No hard links on this file system (some FUSE and SMB mounts): check, then rename.
        if (
          await stat(output).then(
            () => true,
            () => false,
          )
        ) {
          throw Object.assign(new Error('exists'), { code: 'EEXIST' });
        }
        await rename(temp, output);
      }
    }
  } catch (error) {
    await rm(temp, { force: true });
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
      throw usageError(`${output} already exists: pass --force to replace it`);
    }
    throw toTorkError(error, TorkErrorCode.IO, `cannot write ${output}`);
  }
}

async function create(args: readonly string[], io: CliIo): Promise<ExitCode> {
  let parsed: ReturnType<
    typeof parseArgs<{ args: string[]; options: typeof options; allowPositionals: true }>
  >;
  try {
    parsed = parseArgs({ args: [...args], options, allowPositionals: true, strict: true });
  } catch (error) {
    throw usageError((error as Error).message);
  }
  const values = parsed.values;
  const [input, ...extra] = parsed.positionals;
  if (input === undefined || extra.length > 0) throw usageError('expected exactly one file or directory');
  if (values.out === undefined) throw usageError('-o out.torrent is required');
  if (values.announce === undefined || values.announce.length === 0) {
    throw usageError('--announce URL is required (at least one tracker)');
  }
  if (values.v2 && values.hybrid) throw usageError('give --v2 or --hybrid, not both');
  const threads = parseWorkers(values.workers);
  const tiers = parseTiers(values.announce);
  const warn = (text: string): void => io.stderr(`tork create: warning: ${text}\n`);

  // The input and its real path: the walk compares symlink targets against the real root.
  const inputPath = resolve(input);
  const root = await realpath(inputPath).catch((error: unknown) => {
    throw fsError(error, JSON.stringify(input));
  });
  const rootStat = await stat(root).catch((error: unknown) => {
    throw fsError(error, JSON.stringify(input));
  });
  const isDir = rootStat.isDirectory();
  if (!isDir && !rootStat.isFile())
    throw usageError(`${JSON.stringify(input)} is not a regular file or directory`);

  const output = resolve(values.out);
  const outputDir = await realpath(dirname(output)).catch((error: unknown) => {
    throw fsError(error, `the directory of ${JSON.stringify(values.out)}`);
  });
  const outputReal = join(outputDir, basename(output));
  if (outputReal === root || (isDir && isInside(root, outputReal))) {
    throw usageError(`the output ${JSON.stringify(values.out)} must not be the input or inside it`);
  }

  const name = values.name ?? basename(inputPath);
  if (name === '') throw usageError(`cannot take a name from ${JSON.stringify(input)}: pass --name`);
  const files: InputFile[] = isDir
    ? await walk(root, warn)
    : [{ components: [], absolute: root, length: rootStat.size, mtimeMs: rootStat.mtimeMs }];
  if (files.length === 0) throw usageError(`${JSON.stringify(input)} holds no files`);
  const total = files.reduce((sum, file) => sum + file.length, 0);
  if (total === 0)
    throw usageError(`${JSON.stringify(input)} holds only empty files: there is nothing to share`);
  const pieceLength = parsePieceSize(values['piece-size'], total);
  const pieceCount = Math.ceil(total / pieceLength);
  if (pieceCount * 20 > DEFAULT_BENCODE_MAX_BYTES) {
    throw usageError(
      `${formatCount(pieceCount)} pieces of ${formatBytes(pieceLength)} would not fit in a .torrent tork can read: use a larger --piece-size`,
    );
  }

  const base: Omit<EncodeTorrentOptions, 'pieceHashes'> = {
    name,
    pieceLength,
    announce: tiers,
    private: values.private,
    createdBy: values['created-by'] ?? DEFAULT_CREATED_BY,
    ...(isDir
      ? { files: files.map((file) => ({ path: file.components, length: file.length })) }
      : { length: total }),
    ...(values.comment !== undefined ? { comment: values.comment } : {}),
    ...(values.date ? { creationDate: creationDate() } : {}),
  };
  // Dry run: every field checked before the (possibly long) hashing.
  encodeTorrent({ ...base, pieceHashes: new Uint8Array(pieceCount * 20) });

  const showProgress = io === processIo && process.stderr.isTTY === true && !values.json;
  const progress = (unit: string) => (done: number, all: number) => {
    if (showProgress)
      io.stderr(`\rhashing: ${Math.floor((done / all) * 100)}% (${done}/${all} ${unit})\x1b[K`);
  };
  let encode: () => Uint8Array;
  if (values.v2 || values.hybrid) {
    const hashes = await hashFilesV2(files, pieceLength, values.hybrid, !isDir, progress('bytes'));
    encode = () =>
      encodeTorrentV2({
        ...base,
        version: values.hybrid ? 'hybrid' : 'v2',
        fileHashes: hashes.fileHashes,
        ...(hashes.pieceHashes !== undefined ? { pieceHashes: hashes.pieceHashes } : {}),
      });
  } else {
    const pieceHashes = await hashAll(files, pieceLength, threads, progress('pieces'));
    encode = () => encodeTorrent({ ...base, pieceHashes });
  }
  if (showProgress) io.stderr('\r\x1b[K');
  // A file that grew or was rewritten in place still reads fine: compare with the walk's view.
  for (const file of files) {
    const now = await stat(file.absolute).catch(() => undefined);
    if (now === undefined || now.size !== file.length || now.mtimeMs !== file.mtimeMs) {
      throw await changedError([file], 'during hashing');
    }
  }

  const bytes = encode();
  const meta = parseMetainfo(bytes);
  await writeAtomically(output, bytes, values.force);

  const summary: CreateJson = {
    output: values.out,
    name: meta.name,
    infoHash: meta.infoHashHex,
    ...(meta.infoHashV2Hex !== undefined ? { infoHashV2: meta.infoHashV2Hex } : {}),
    version: meta.version,
    pieceLength,
    pieceCount: meta.pieceCount,
    fileCount: meta.files.length,
    length: meta.length,
    private: meta.private,
  };
  if (values.json) {
    io.stdout(`${JSON.stringify(summary)}\n`);
  } else {
    io.stdout(
      [
        `name:          ${summary.name}`,
        `info-hash:     ${summary.infoHash}${summary.version === 2 ? ' (v2 truncated)' : ''}`,
        ...(summary.infoHashV2 !== undefined ? [`info-hash v2:  ${summary.infoHashV2}`] : []),
        `piece length:  ${formatBytes(summary.pieceLength)}`,
        `pieces:        ${formatCount(summary.pieceCount)}`,
        `files:         ${formatCount(summary.fileCount)}`,
        `total size:    ${formatBytes(summary.length)} (${formatCount(summary.length)} bytes)`,
        `private:       ${summary.private ? 'yes' : 'no'}`,
        `written to:    ${summary.output}`,
        '',
      ].join('\n'),
    );
  }
  return ExitCode.OK;
}

/**
 * Runs `tork create`. Exit status: 0 written; 2 bad usage or bad input (nothing written, one line on
 * stderr); 1 a failure while running (read or write error, a file that changed during hashing).
 */
export async function runCreate(args: readonly string[], io: CliIo): Promise<ExitCode> {
  if (printedHelp(args, io, createHelp)) return ExitCode.OK;
  try {
    return await create(args, io);
  } catch (error) {
    const torkError = toTorkError(error);
    io.stderr(`tork create: ${oneLine(torkError)}\n`);
    const badInput: readonly string[] = [TorkErrorCode.USAGE, TorkErrorCode.UNSAFE_PATH];
    return badInput.includes(torkError.code) ? ExitCode.BAD_INPUT : ExitCode.FAILURE;
  }
}
