/**
 * Writing `.torrent` files (BEP 3, with BEP 12 tiers, BEP 19 web seeds and the BEP 27 private
 * flag). Pure functions: the caller walks the disk and hashes the pieces. Everything that
 * `parseMetainfo` would refuse, or would silently change (a dropped duplicate tracker, a name that
 * is not a plain file name), is refused here first, so a created torrent always reads back as given.
 */
import { DEFAULT_BENCODE_MAX_BYTES, encodeBencode } from '../bencode/index.js';
import { TorkError, TorkErrorCode, type TorkErrorDetails } from '../errors.js';
import { MAX_ANNOUNCE_URLS, MAX_FILES, MAX_PATH_DEPTH, MAX_PIECE_LENGTH, MAX_WEB_SEEDS } from './limits.js';
import {
  checkPathConflicts,
  checkRelativePath,
  checkRelativePathBytes,
  unsafeComponentReason,
} from './safe-path.js';
import { sanitizeComponent } from './sanitize-path.js';

/** Smallest piece length `encodeTorrent` writes and `choosePieceLength` picks: 16 KiB (one block). */
export const MIN_CREATE_PIECE_LENGTH = 16 * 1024;

/** Largest piece length `choosePieceLength` picks: 16 MiB. An explicit one may go up to MAX_PIECE_LENGTH. */
export const MAX_AUTO_PIECE_LENGTH = 16 * 1024 * 1024;

/** `choosePieceLength` picks the smallest power of two that keeps the piece count at or below this: 2,000. */
export const TARGET_MAX_PIECES = 2000;

/** Tracker URL schemes `encodeTorrent` accepts. */
const TRACKER_SCHEMES: ReadonlySet<string> = new Set(['http:', 'https:', 'udp:', 'ws:', 'wss:']);

/** Web seed (BEP 19) URL schemes `encodeTorrent` accepts. */
const WEB_SEED_SCHEMES: ReadonlySet<string> = new Set(['http:', 'https:', 'ftp:']);

/** One file of a multi-file torrent, in torrent order. */
export interface CreateTorrentFile {
  /** Components below the torrent's directory, e.g. `['docs', 'a.txt']`; each a plain name. */
  readonly path: readonly string[];
  /** Length in bytes; zero-length files are allowed. */
  readonly length: number;
}

/** What `encodeTorrent` writes. Give exactly one of `files` (multi-file) and `length` (single file). */
export interface EncodeTorrentOptions {
  /** The file name (single file) or directory name (multi-file): a plain name, no slashes. */
  readonly name: string;
  /** Multi-file torrent: the files in torrent order (at least one, total length > 0). */
  readonly files?: readonly CreateTorrentFile[];
  /** Single-file torrent: the file's length in bytes (> 0). */
  readonly length?: number;
  /** A power of two from 16 KiB to MAX_PIECE_LENGTH (512 MiB); see `choosePieceLength`. */
  readonly pieceLength: number;
  /** SHA-1 of every piece, concatenated: exactly 20 × ceil(total / pieceLength) bytes. */
  readonly pieceHashes: Uint8Array;
  /**
   * Tracker tiers (BEP 12). The first URL becomes `announce`; `announce-list` is written when there
   * is more than one URL in all. Default: `[]`, a trackerless torrent (no `announce` key).
   */
  readonly announce?: readonly (readonly string[])[];
  /** Sets `info.private = 1` (BEP 27); this changes the info-hash. Default: false (key omitted). */
  readonly private?: boolean;
  /** `comment`. Default: omitted. */
  readonly comment?: string;
  /** `created by`. Default: omitted. */
  readonly createdBy?: string;
  /** `creation date`, Unix time in seconds. Default: omitted, so that output is reproducible. */
  readonly creationDate?: number;
  /** Web seeds (BEP 19), written as `url-list`. Default: `[]` (key omitted). */
  readonly urlList?: readonly string[];
}

function usage(message: string, details: TorkErrorDetails = {}): never {
  throw new TorkError(TorkErrorCode.USAGE, message, details);
}

/** The safe-path checks throw TORK_ERR_UNSAFE_PATH (they were written for parsing); here it is a caller's mistake. */
function asUsage(check: () => void): void {
  try {
    check();
  } catch (error) {
    if (error instanceof TorkError) throw new TorkError(TorkErrorCode.USAGE, error.message, error.details);
    throw error;
  }
}

/** A JS string with a lone surrogate has no UTF-8 form: it would be written as U+FFFD and not read back. */
const encoder = new TextEncoder();

/**
 * Refuses a name parseMetainfo would read back changed (a control or direction character, which
 * it replaces or removes as libtorrent does): the torrent must read back as created.
 */
function checkReadsBack(component: string, field: string): void {
  const back = sanitizeComponent(encoder.encode(component));
  if (back !== component) {
    usage(
      `${field} ${JSON.stringify(component.slice(0, 80))} would be read back as ${JSON.stringify(back ?? '')}: it holds a control or direction character`,
      { field },
    );
  }
}

function checkText(value: unknown, field: string): string {
  if (typeof value !== 'string') usage(`${field} must be a string`, { field });
  if (/\p{Surrogate}/u.test(value)) usage(`${field} is not valid Unicode (lone surrogate)`, { field });
  return value;
}

function checkLength(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    usage(`${field} must be a non-negative integer below 2^53, got ${String(value)}`, { field });
  }
  return value;
}

/** Powers of two up to 2^30: the bit test needs a value that fits a signed 32-bit integer. */
function isPowerOfTwo(value: number): boolean {
  return Number.isSafeInteger(value) && value > 0 && value <= 2 ** 30 && (value & (value - 1)) === 0;
}

/**
 * A piece length for `totalBytes` of payload: the smallest power of two that gives at most
 * TARGET_MAX_PIECES (2,000) pieces, so between 1,000 and 2,000 pieces unless clamped to
 * [MIN_CREATE_PIECE_LENGTH (16 KiB), MAX_AUTO_PIECE_LENGTH (16 MiB)]: small inputs get fewer
 * pieces, inputs above 32 GiB more (a 1 TiB input gets 65,536 pieces of 16 MiB, a 1.3 MB
 * `pieces` field). Throws TORK_ERR_USAGE unless `totalBytes` is a non-negative safe integer.
 */
export function choosePieceLength(totalBytes: number): number {
  checkLength(totalBytes, 'total size');
  let pieceLength = MIN_CREATE_PIECE_LENGTH;
  while (pieceLength < MAX_AUTO_PIECE_LENGTH && Math.ceil(totalBytes / pieceLength) > TARGET_MAX_PIECES) {
    pieceLength *= 2;
  }
  return pieceLength;
}

/** Throws TORK_ERR_USAGE unless `pieceLength` is a power of two in [16 KiB, MAX_PIECE_LENGTH]. */
export function checkCreatePieceLength(pieceLength: number): void {
  if (!isPowerOfTwo(pieceLength) || pieceLength < MIN_CREATE_PIECE_LENGTH || pieceLength > MAX_PIECE_LENGTH) {
    usage(
      `piece length ${String(pieceLength)} must be a power of two from ${MIN_CREATE_PIECE_LENGTH} (16 KiB) to ${MAX_PIECE_LENGTH} (512 MiB)`,
      { pieceLength: typeof pieceLength === 'number' ? pieceLength : null },
    );
  }
}

function checkUrl(value: unknown, field: string, schemes: ReadonlySet<string>): string {
  const text = checkText(value, field);
  // parseMetainfo trims URLs and drops empty ones; refuse what would not read back unchanged.
  if (text === '' || text !== text.trim() || /[\s\u0000-\u001f\u007f]/.test(text)) {
    usage(`${field} ${JSON.stringify(text.slice(0, 200))} is empty or contains whitespace`, { field });
  }
  let scheme: string;
  try {
    scheme = new URL(text).protocol;
  } catch {
    usage(`${field} ${JSON.stringify(text.slice(0, 200))} is not a URL`, { field });
  }
  if (!schemes.has(scheme)) {
    usage(`${field} ${JSON.stringify(text.slice(0, 200))} must use ${[...schemes].join(' ')}`, { field });
  }
  return text;
}

function checkTiers(tiers: readonly (readonly string[])[]): string[][] {
  if (!Array.isArray(tiers)) usage('announce must be a list of tiers (lists of URLs)', { field: 'announce' });
  const seen = new Set<string>();
  return tiers.map((tier, tierIndex) => {
    if (!Array.isArray(tier) || tier.length === 0) {
      usage(`announce tier ${tierIndex + 1} must be a non-empty list of URLs`, { field: 'announce' });
    }
    return tier.map((entry) => {
      const url = checkUrl(entry, 'tracker URL', TRACKER_SCHEMES);
      if (seen.has(url)) usage(`tracker URL ${JSON.stringify(url)} is given twice`, { field: 'announce' });
      seen.add(url);
      if (seen.size > MAX_ANNOUNCE_URLS) {
        usage(`more than ${MAX_ANNOUNCE_URLS} tracker URLs`, { field: 'announce', max: MAX_ANNOUNCE_URLS });
      }
      return url;
    });
  });
}

function checkUrlList(urls: readonly string[]): string[] {
  if (!Array.isArray(urls)) usage('urlList must be a list of URLs', { field: 'urlList' });
  if (urls.length > MAX_WEB_SEEDS) {
    usage(`more than ${MAX_WEB_SEEDS} web seeds`, { field: 'urlList', max: MAX_WEB_SEEDS });
  }
  const seen = new Set<string>();
  return urls.map((entry) => {
    const url = checkUrl(entry, 'web seed URL', WEB_SEED_SCHEMES);
    if (seen.has(url)) usage(`web seed URL ${JSON.stringify(url)} is given twice`, { field: 'urlList' });
    seen.add(url);
    return url;
  });
}

/** The `info.files` entries, checked as parseMetainfo checks them, and the total length. */
function checkFiles(
  name: string,
  files: readonly CreateTorrentFile[],
): { entries: Array<{ length: number; path: string[] }>; total: number } {
  if (!Array.isArray(files) || files.length === 0)
    usage('files must be a non-empty list', { field: 'files' });
  if (files.length > MAX_FILES) usage(`more than ${MAX_FILES} files`, { field: 'files', max: MAX_FILES });
  let total = 0;
  const entries = files.map((file, index) => {
    const field = `files[${index}]`;
    if (file === null || typeof file !== 'object' || !Array.isArray(file.path)) {
      usage(`${field} must be {path: string[], length}`, { field, fileIndex: index });
    }
    const path = file.path.map((component: unknown) => checkText(component, `${field}.path`));
    asUsage(() => {
      checkRelativePath(path, { fileIndex: index, field: `${field}.path` }, MAX_PATH_DEPTH);
      checkRelativePathBytes([name, ...path], { fileIndex: index, field: `${field}.path` });
    });
    for (const component of path) checkReadsBack(component, `${field}.path`);
    const length = checkLength(file.length, `${field}.length`);
    total += length;
    if (!Number.isSafeInteger(total)) usage('total length of all files exceeds 2^53 - 1 bytes');
    return { length, path };
  });
  asUsage(() => checkPathConflicts(entries));
  return { entries, total };
}

/**
 * Bencodes a torrent. Deterministic: dictionary keys are sorted and nothing depends on the clock,
 * so the same options always give the same bytes (`creationDate` only when given). The result
 * parses with `parseMetainfo` back to the same name, files, piece length, hashes, trackers and
 * flags. Throws only TorkError TORK_ERR_USAGE, naming the bad field.
 */
export function encodeTorrent(options: EncodeTorrentOptions): Uint8Array {
  if (options === null || typeof options !== 'object') usage('torrent options must be an object');
  const name = checkText(options.name, 'name');
  const nameReason = unsafeComponentReason(name);
  if (nameReason !== undefined) {
    usage(`name ${JSON.stringify(name.slice(0, 80))} ${nameReason}`, { field: 'name' });
  }
  checkReadsBack(name, 'name');
  checkCreatePieceLength(options.pieceLength);
  const pieceLength = options.pieceLength;

  const info: Record<string, unknown> = { name, 'piece length': pieceLength };
  let total: number;
  if (options.files !== undefined) {
    if (options.length !== undefined)
      usage('give either files (multi-file) or length (single file), not both');
    const checked = checkFiles(name, options.files);
    info.files = checked.entries;
    total = checked.total;
  } else {
    if (options.length === undefined) usage('give either files (multi-file) or length (single file)');
    total = checkLength(options.length, 'length');
    info.length = total;
  }
  // parseMetainfo refuses an empty payload: there would be nothing to download.
  if (total === 0) usage('the torrent has a total length of 0 bytes: there is nothing to share');

  const pieceCount = Math.ceil(total / pieceLength);
  if (!(options.pieceHashes instanceof Uint8Array)) usage('pieceHashes must be a Uint8Array');
  if (options.pieceHashes.length !== pieceCount * 20) {
    usage(
      `pieceHashes holds ${options.pieceHashes.length} bytes but ${pieceCount} pieces need ${pieceCount * 20}`,
      { field: 'pieceHashes', length: options.pieceHashes.length, expected: pieceCount * 20 },
    );
  }
  // A copy: the bytes must not change under us between check and encode.
  info.pieces = new Uint8Array(options.pieceHashes);
  if (options.private !== undefined && typeof options.private !== 'boolean') {
    usage('private must be a boolean', { field: 'private' });
  }
  if (options.private) info.private = 1;

  const root: Record<string, unknown> = { info };
  const tiers = checkTiers(options.announce ?? []);
  const urls = tiers.flat();
  if (urls.length > 0) root.announce = urls[0];
  if (urls.length > 1) root['announce-list'] = tiers;
  const urlList = checkUrlList(options.urlList ?? []);
  if (urlList.length > 0) root['url-list'] = urlList;
  if (options.comment !== undefined) root.comment = checkText(options.comment, 'comment');
  if (options.createdBy !== undefined) root['created by'] = checkText(options.createdBy, 'createdBy');
  if (options.creationDate !== undefined) {
    root['creation date'] = checkLength(options.creationDate, 'creationDate');
  }

  // encodeBencode sorts dictionary keys (UTF-16 order, which is byte order for our ASCII keys).
  const bytes = encodeBencode(root);
  // A torrent tork itself could not read back is useless: refuse it with the way out.
  if (bytes.length > DEFAULT_BENCODE_MAX_BYTES) {
    usage(
      `the torrent would be ${bytes.length} bytes, above the ${DEFAULT_BENCODE_MAX_BYTES}-byte limit for .torrent files: use a larger piece length or fewer files`,
      { length: bytes.length, max: DEFAULT_BENCODE_MAX_BYTES },
    );
  }
  return bytes;
}
