/**
 * The resume snapshot's on-disk format: one header line, then a JSON body.
 *
 *     TORK-RESUME <version> <sha-256 of the body, hex>\n
 *     {"version":1,"infoHash":"…","pieceCount":…,"pieceLength":…,"verified":"<base64>",
 *      "files":[{"path":["name","a.bin"],"size":…,"mtimeMs":…}],"clean":true,"journalOffset":…}
 *
 * JSON rather than bencode because `mtimeMs` is a fractional double and must round-trip exactly
 * (JSON's shortest round-trip form does; bencode has only integers). The checksum matters more than
 * the syntax: a clean snapshot lets pieces count as verified without hashing, so a bit flipped on
 * disk must make the snapshot invalid, not silently claim a piece.
 */
import { createHash } from 'node:crypto';
import { Bitfield } from '../bitfield.js';
import { TorkError, TorkErrorCode } from '../errors.js';
import { MAX_FILES, MAX_PATH_COMPONENT_BYTES, MAX_PATH_DEPTH, MAX_PIECE_LENGTH } from '../metainfo/limits.js';
import {
  JOURNAL_ENTRY_BYTES,
  MAX_RESUME_PIECE_COUNT,
  MAX_RESUME_SNAPSHOT_BYTES,
  RESUME_FORMAT_VERSION,
} from './limits.js';

/** One payload file as it was on disk when the snapshot was taken. */
export interface ResumeFileState {
  /** Path relative to the output directory, as components (for a multi-file torrent: name first). */
  readonly path: readonly string[];
  readonly size: number;
  /** `stat().mtimeMs`, compared exactly on resume. */
  readonly mtimeMs: number;
}

export interface ResumeSnapshot {
  readonly version: number;
  /** Lower-case hex. */
  readonly infoHashHex: string;
  readonly pieceCount: number;
  readonly pieceLength: number;
  /** Pieces verified and written when the snapshot was taken (BEP 3 bit order). */
  readonly verified: Bitfield;
  /** One entry per file of the torrent, in metainfo order (pad files included). */
  readonly files: readonly ResumeFileState[];
  /** True only when every write had completed and the files were closed (see ResumeStore.markClean). */
  readonly clean: boolean;
  /** Journal byte length when `verified` was taken: entries from here on are newer than the bitfield. */
  readonly journalOffset: number;
}

const HEADER_PREFIX = 'TORK-RESUME ';
/** `TORK-RESUME ` + version digits + space + 64 hex + newline, with room to spare. */
const MAX_HEADER_BYTES = 128;
const HEADER_PATTERN = /^TORK-RESUME (0|[1-9][0-9]{0,8}) ([0-9a-f]{64})$/;
const INFO_HASH_PATTERN = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;
const BODY_KEYS = [
  'clean',
  'files',
  'infoHash',
  'journalOffset',
  'pieceCount',
  'pieceLength',
  'verified',
  'version',
];
const FILE_KEYS = ['mtimeMs', 'path', 'size'];

/** True for an info-hash in the form file names use: 40 (v1) or 64 (v2) lower-case hex digits. */
export function isInfoHashHex(value: string): boolean {
  return INFO_HASH_PATTERN.test(value);
}

/** Serializes a snapshot; throws TORK_ERR_USAGE for values load would refuse, LIMIT_EXCEEDED above the cap. */
export function encodeSnapshot(snapshot: ResumeSnapshot): Uint8Array {
  const body = {
    version: snapshot.version,
    infoHash: snapshot.infoHashHex,
    pieceCount: snapshot.pieceCount,
    pieceLength: snapshot.pieceLength,
    verified: Buffer.from(snapshot.verified.bytes).toString('base64'),
    files: snapshot.files.map((file) => ({ path: [...file.path], size: file.size, mtimeMs: file.mtimeMs })),
    clean: snapshot.clean,
    journalOffset: snapshot.journalOffset,
  };
  // The same checks as on load: never write a snapshot that the next run would throw away.
  const problem =
    checkBody(body) ??
    (snapshot.verified.length === snapshot.pieceCount
      ? undefined
      : 'bitfield length differs from pieceCount');
  if (problem !== undefined) {
    throw new TorkError(TorkErrorCode.USAGE, `invalid resume snapshot: ${problem}`, {
      infoHash: snapshot.infoHashHex,
    });
  }
  const json = Buffer.from(JSON.stringify(body), 'utf8');
  const digest = createHash('sha256').update(json).digest('hex');
  const header = Buffer.from(`${HEADER_PREFIX}${snapshot.version} ${digest}\n`, 'ascii');
  const size = header.length + json.length;
  if (size > MAX_RESUME_SNAPSHOT_BYTES) {
    throw new TorkError(TorkErrorCode.LIMIT_EXCEEDED, `resume snapshot of ${size} bytes exceeds the cap`, {
      size,
      max: MAX_RESUME_SNAPSHOT_BYTES,
    });
  }
  return Buffer.concat([header, json]);
}

export type DecodedSnapshot =
  | { readonly ok: true; readonly snapshot: ResumeSnapshot }
  | { readonly ok: false; readonly problem: string };

/**
 * Parses and validates snapshot bytes. Never throws for bad content: returns `{ ok: false, problem }`
 * so that a damaged snapshot is treated as absent and reported, not fatal.
 */
export function decodeSnapshot(bytes: Uint8Array, expectedInfoHashHex: string): DecodedSnapshot {
  if (bytes.length > MAX_RESUME_SNAPSHOT_BYTES) {
    return { ok: false, problem: `${bytes.length} bytes exceeds the ${MAX_RESUME_SNAPSHOT_BYTES}-byte cap` };
  }
  const newline = bytes.subarray(0, MAX_HEADER_BYTES).indexOf(0x0a);
  if (newline < 0) return { ok: false, problem: 'no header line' };
  const header = Buffer.from(bytes.subarray(0, newline)).toString('latin1');
  if (!header.startsWith(HEADER_PREFIX)) return { ok: false, problem: 'not a tork resume snapshot' };
  const match = HEADER_PATTERN.exec(header);
  if (match === null) return { ok: false, problem: 'malformed header line' };
  const version = Number(match[1]);
  if (version !== RESUME_FORMAT_VERSION) {
    return {
      ok: false,
      problem: `unsupported version ${version} (this tork reads ${RESUME_FORMAT_VERSION})`,
    };
  }
  const json = bytes.subarray(newline + 1);
  if (createHash('sha256').update(json).digest('hex') !== match[2]) {
    return { ok: false, problem: 'checksum mismatch (truncated or damaged)' };
  }
  let body: unknown;
  try {
    // fatal: invalid UTF-8 is damage, not something to paper over with U+FFFD.
    body = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(json));
  } catch (error) {
    return { ok: false, problem: `body is not JSON: ${(error as Error).message}` };
  }
  const problem = checkBody(body);
  if (problem !== undefined) return { ok: false, problem };
  const valid = body as Body;
  if (valid.version !== version) return { ok: false, problem: 'header and body versions differ' };
  if (valid.infoHash !== expectedInfoHashHex) {
    return { ok: false, problem: `snapshot is for info-hash ${valid.infoHash}` };
  }
  const raw = Buffer.from(valid.verified, 'base64');
  // Node's base64 decoder skips junk silently; re-encoding proves the text was canonical.
  if (raw.toString('base64') !== valid.verified)
    return { ok: false, problem: 'verified is not canonical base64' };
  let verified: Bitfield;
  try {
    verified = new Bitfield(valid.pieceCount, raw);
  } catch (error) {
    return { ok: false, problem: `verified bitfield: ${(error as Error).message}` };
  }
  return {
    ok: true,
    snapshot: {
      version,
      infoHashHex: valid.infoHash,
      pieceCount: valid.pieceCount,
      pieceLength: valid.pieceLength,
      verified,
      files: valid.files,
      clean: valid.clean,
      journalOffset: valid.journalOffset,
    },
  };
}

interface Body {
  version: number;
  infoHash: string;
  pieceCount: number;
  pieceLength: number;
  verified: string;
  files: ResumeFileState[];
  clean: boolean;
  journalOffset: number;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function hasExactKeys(value: Record<string, unknown>, keys: readonly string[]): boolean {
  const own = Object.keys(value).sort();
  return own.length === keys.length && own.every((key, index) => key === keys[index]);
}

function isCount(value: unknown, max = Number.MAX_SAFE_INTEGER): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 && value <= max;
}

/** The first thing wrong with a parsed body, or undefined when it is a valid version-1 body. */
function checkBody(body: unknown): string | undefined {
  if (!isPlainObject(body)) return 'body is not an object';
  if (!hasExactKeys(body, BODY_KEYS)) return `body keys are not exactly ${BODY_KEYS.join(', ')}`;
  if (!isCount(body.version)) return 'version is not a count';
  if (typeof body.infoHash !== 'string' || !isInfoHashHex(body.infoHash))
    return 'infoHash is not lower-case hex';
  if (!isCount(body.pieceCount, MAX_RESUME_PIECE_COUNT)) return 'pieceCount is not a count within the cap';
  if (!isCount(body.pieceLength, MAX_PIECE_LENGTH) || body.pieceLength === 0) {
    return 'pieceLength is not a positive count within the cap';
  }
  if (typeof body.verified !== 'string') return 'verified is not a string';
  if (typeof body.clean !== 'boolean') return 'clean is not a boolean';
  if (!isCount(body.journalOffset) || body.journalOffset % JOURNAL_ENTRY_BYTES !== 0) {
    return 'journalOffset is not a multiple of 4';
  }
  if (!Array.isArray(body.files) || body.files.length > MAX_FILES)
    return 'files is not a list within the cap';
  for (const [index, file] of body.files.entries()) {
    const problem = checkFile(file);
    if (problem !== undefined) return `files[${index}]: ${problem}`;
  }
  return undefined;
}

function checkFile(file: unknown): string | undefined {
  if (!isPlainObject(file) || !hasExactKeys(file, FILE_KEYS)) return 'not {path, size, mtimeMs}';
  if (!isCount(file.size)) return 'size is not a count';
  if (typeof file.mtimeMs !== 'number' || !Number.isFinite(file.mtimeMs))
    return 'mtimeMs is not a finite number';
  const path = file.path;
  // +1: the torrent's name comes first for a multi-file torrent.
  if (!Array.isArray(path) || path.length === 0 || path.length > MAX_PATH_DEPTH + 1) {
    return 'path is not a non-empty list of components';
  }
  for (const component of path) {
    if (
      typeof component !== 'string' ||
      component.length === 0 ||
      Buffer.byteLength(component, 'utf8') > MAX_PATH_COMPONENT_BYTES
    ) {
      return 'path has an empty, oversized or non-string component';
    }
  }
  return undefined;
}
