/**
 * `.torrent` parsing (BEP 3, with BEP 12 tiers, BEP 19 web seeds, BEP 27 private flag and BEP 47
 * pad files). The decoded bencode is validated and copied into our own frozen objects; nothing of
 * the decoder's output, nor a view of the caller's buffer, is handed out.
 */
import { createHash } from 'node:crypto';
import { type BencodeLimits, decodeBencodePrefix, findTopLevelSpan } from '../bencode/index.js';
import { TorkError, TorkErrorCode } from '../errors.js';
import { MAX_ANNOUNCE_URLS, MAX_METAINFO_TRAILING_BYTES, MAX_WEB_SEEDS } from './limits.js';
import { isDict, parseInfo, type RawFileEntry, type RawInfo } from './metainfo-schema.js';
import { type MetainfoV2Fields, v1OnlyFields, v2Fields, v2OnlyFields } from './metainfo-v2-model.js';
import { type MetainfoWarning, quoted, WarningList } from './metainfo-warnings.js';
import {
  checkPathComponent,
  checkPathConflicts,
  checkRelativePath,
  checkRelativePathBytes,
} from './safe-path.js';
import { renameDuplicatePaths, sanitizeComponent, sanitizePath } from './sanitize-path.js';
import { decodeUtf8Lenient, decodeUtf8Strict } from './utf8.js';

/** One file of the torrent, in torrent order (pad files included). */
export interface MetainfoFile {
  /**
   * Sanitised components below the torrent's directory (multi-file), or `[name]` for a single-file
   * torrent. Use `outputPath` to place it on disk.
   */
  readonly path: readonly string[];
  readonly length: number;
  /** Byte offset of the file's first byte in the torrent's concatenated payload. */
  readonly offset: number;
  /**
   * Nothing is written to disk for this entry: a BEP 47 pad file (zeros that count in the piece
   * layout), or a BEP 47 symlink (zero bytes of payload; tork does not create links, see `symlink`).
   */
  readonly pad: boolean;
  /**
   * For a BEP 47 symlink entry (`attr` contains `l` and `symlink path` is a list): the sanitised
   * target, relative to the torrent's directory. The entry has length 0 and `pad` set.
   */
  readonly symlink?: readonly string[];
  /** BEP 47 `attr` flags as given (`p` pad, `x` executable, `h` hidden, `l` symlink); '' if absent. */
  readonly attr: string;
}

export interface Metainfo extends MetainfoV2Fields {
  /**
   * SHA-1 of the exact bytes of the `info` value as found in the file; for a v2-only torrent, the
   * v2 info-hash truncated to 20 bytes (what BEP 52 peers use in the handshake and trackers).
   */
  readonly infoHash: Uint8Array;
  /** `infoHash` as 40 lowercase hex digits. */
  readonly infoHashHex: string;
  /** The raw bencoded `info` value (what BEP 9 serves as metadata). */
  readonly infoBytes: Uint8Array;
  /** Sanitised name: the directory of a multi-file torrent, the file name of a single-file one. */
  readonly name: string;
  readonly pieceLength: number;
  readonly pieceCount: number;
  /** `pieceCount` SHA-1 hashes of 20 bytes each, concatenated; empty for a v2-only torrent. */
  readonly pieceHashes: Uint8Array;
  /** Total payload length in bytes, pad files included; always > 0. */
  readonly length: number;
  readonly private: boolean;
  readonly files: readonly MetainfoFile[];
  readonly isMultiFile: boolean;
  /** Tracker tiers (BEP 12): `announce-list` first, then `announce` if it is not already listed. */
  readonly announce: readonly (readonly string[])[];
  /** Web seeds (BEP 19). */
  readonly urlList: readonly string[];
  readonly comment?: string;
  readonly createdBy?: string;
  /** Unix time in seconds, when present and a safe integer. */
  readonly creationDate?: number;
  /**
   * What parsing changed or ignored rather than refusing the torrent (trailing bytes, sanitised or
   * renamed paths, symlinks not created); at most MAX_METAINFO_WARNINGS + 1 entries. Empty for a
   * clean torrent.
   */
  readonly warnings: readonly MetainfoWarning[];
  /** The 20-byte SHA-1 of piece `index`, as a view into `pieceHashes` (do not mutate). */
  pieceHash(index: number): Uint8Array;
}

/** Options of `parseMetainfo`. */
export interface ParseMetainfoOptions {
  /** Caps for the bencode decoder. Default: the decoder's defaults (16 MiB, depth 64). */
  readonly bencode?: BencodeLimits;
}

function invalid(message: string, details: Record<string, string | number> = {}): never {
  throw new TorkError(TorkErrorCode.METAINFO, message, details);
}

class ParsedMetainfo implements Metainfo {
  readonly infoHash: Uint8Array;
  readonly infoHashHex: string;
  readonly infoBytes: Uint8Array;
  readonly name: string;
  readonly pieceLength: number;
  readonly pieceCount: number;
  readonly pieceHashes: Uint8Array;
  readonly length: number;
  readonly private: boolean;
  readonly files: readonly MetainfoFile[];
  readonly isMultiFile: boolean;
  readonly announce: readonly (readonly string[])[];
  readonly urlList: readonly string[];
  readonly warnings: readonly MetainfoWarning[];
  // Declared, not defined: absent optional fields must not show up as own keys set to undefined.
  declare readonly comment?: string;
  declare readonly createdBy?: string;
  declare readonly creationDate?: number;
  readonly version: Metainfo['version'];
  declare readonly infoHashV2?: Uint8Array;
  declare readonly infoHashV2Hex?: string;
  declare readonly v2?: Metainfo['v2'];

  constructor(fields: Omit<Metainfo, 'pieceHash'>) {
    this.version = fields.version;
    if (fields.infoHashV2 !== undefined) this.infoHashV2 = fields.infoHashV2;
    if (fields.infoHashV2Hex !== undefined) this.infoHashV2Hex = fields.infoHashV2Hex;
    if (fields.v2 !== undefined) this.v2 = fields.v2;
    this.infoHash = fields.infoHash;
    this.infoHashHex = fields.infoHashHex;
    this.infoBytes = fields.infoBytes;
    this.name = fields.name;
    this.pieceLength = fields.pieceLength;
    this.pieceCount = fields.pieceCount;
    this.pieceHashes = fields.pieceHashes;
    this.length = fields.length;
    this.private = fields.private;
    this.files = fields.files;
    this.isMultiFile = fields.isMultiFile;
    this.announce = fields.announce;
    this.urlList = fields.urlList;
    this.warnings = fields.warnings;
    if (fields.comment !== undefined) this.comment = fields.comment;
    if (fields.createdBy !== undefined) this.createdBy = fields.createdBy;
    if (fields.creationDate !== undefined) this.creationDate = fields.creationDate;
    Object.freeze(this);
  }

  pieceHash(index: number): Uint8Array {
    if (this.version === 2) {
      throw new TorkError(TorkErrorCode.METAINFO, 'a v2-only torrent has no SHA-1 piece hashes');
    }
    if (!Number.isInteger(index) || index < 0 || index >= this.pieceCount) {
      throw new TorkError(TorkErrorCode.OUT_OF_RANGE, `piece ${index} is out of range`, {
        piece: index,
        pieceCount: this.pieceCount,
      });
    }
    return this.pieceHashes.subarray(index * 20, index * 20 + 20);
  }
}

/** A list of byte strings, all valid UTF-8, or undefined (then the plain field is used instead). */
function utf8List(value: unknown): Uint8Array[] | undefined {
  if (!Array.isArray(value) || value.length === 0) return undefined;
  for (const item of value) {
    if (!(item instanceof Uint8Array) || decodeUtf8Strict(item) === undefined) return undefined;
  }
  return value as Uint8Array[];
}

/** The components as the torrent spells them, for a warning (invalid UTF-8 shown as U+FFFD). */
function spelled(components: readonly Uint8Array[]): string {
  return components.map((component) => decodeUtf8Lenient(component)).join('/');
}

/** What parsing needs to carry along: the info-hash (a name fallback) and the warnings. */
interface ParseState {
  readonly infoHashHex: string;
  readonly warnings: WarningList;
}

/**
 * `name.utf-8` when it is valid UTF-8, else `name`, sanitised (see sanitize-path.ts); the info-hash
 * in hex when nothing of it is left (`..`, `/`), as libtorrent does.
 */
function decodeName(info: RawInfo, state: ParseState): string {
  const preferred = info['name.utf-8'];
  const raw =
    preferred instanceof Uint8Array && decodeUtf8Strict(preferred) !== undefined ? preferred : info.name;
  const name = sanitizeComponent(raw) ?? state.infoHashHex;
  if (name !== decodeUtf8Strict(raw)) {
    state.warnings.add({
      kind: 'path-sanitized',
      message: `the torrent's name ${quoted(spelled([raw]))} is used as ${quoted(name)}`,
    });
  }
  checkPathComponent(name, { field: 'info.name' });
  return name;
}

function decodeFilePath(
  file: RawFileEntry,
  index: number,
  state: ParseState,
): { path: string[]; rawKey: string | undefined } {
  const raw = utf8List(file['path.utf-8']) ?? file.path!;
  const path = sanitizePath(raw);
  const original = spelled(raw);
  const sanitized =
    raw.some((component) => decodeUtf8Strict(component) === undefined) || path.join('/') !== original;
  // Only a path that was plain as given takes part in the duplicate rule (checkDuplicateEntries).
  const rawKey = sanitized ? undefined : original;
  if (sanitized) {
    state.warnings.add({
      kind: 'path-sanitized',
      fileIndex: index,
      message: `file ${index}: path ${quoted(original)} is used as ${quoted(path.join('/'))}`,
    });
  }
  // The sanitiser's output is plain by construction; this also enforces MAX_PATH_DEPTH.
  checkRelativePath(path, { fileIndex: index, field: `info.files[${index}].path` });
  return { path, rawKey };
}

/** BEP 47 `symlink path`: the sanitised target, or undefined when it is not a list of byte strings. */
function symlinkTarget(value: unknown): string[] | undefined {
  if (!Array.isArray(value) || value.length === 0) return undefined;
  if (!value.every((item) => item instanceof Uint8Array)) return undefined;
  return sanitizePath(value as Uint8Array[]);
}

function attrOf(value: unknown): string {
  return value instanceof Uint8Array ? decodeUtf8Lenient(value) : '';
}

function addLength(total: number, length: number): number {
  const sum = total + length;
  if (!Number.isSafeInteger(sum)) invalid('total length of all files exceeds 2^53 - 1 bytes');
  return sum;
}

interface DraftFile {
  path: readonly string[];
  /** The path as the torrent spells it when it needed no sanitising (the duplicate rule); else none. */
  readonly rawKey?: string;
  readonly length: number;
  readonly offset: number;
  readonly pad: boolean;
  readonly attr: string;
  readonly symlink?: readonly string[];
}

/** What BitComet names its pad files with (`_____padding_file_0_if you see this file, …`). */
export const BITCOMET_PAD_MARKER = '_____padding_file_';

/**
 * One `info.files` entry. BEP 47: a symlink (`attr` has `l`) is zero bytes of payload whatever its
 * `length` says, and may omit it; a pad file (`p`) may omit its path (it is never written). A
 * symlink without a usable `symlink path` is an empty regular file, as in libtorrent. A path
 * holding `BITCOMET_PAD_MARKER` is a pad file too (libtorrent's rule for BitComet's pads).
 */
function draftFile(entry: RawFileEntry, index: number, offset: number, state: ParseState): DraftFile {
  const attr = attrOf(entry.attr);
  const pad = attr.includes('p');
  const target = attr.includes('l') ? symlinkTarget(entry['symlink path']) : undefined;
  let length: number;
  if (attr.includes('l')) length = 0;
  else if (entry.length !== undefined) length = entry.length;
  else
    invalid(`info.files[${index}].length is missing`, {
      field: `info.files[${index}].length`,
      fileIndex: index,
    });
  let path: readonly string[];
  let rawKey: string | undefined;
  if (entry.path !== undefined && entry.path.length > 0)
    ({ path, rawKey } = decodeFilePath(entry, index, state));
  else if (pad) path = ['.pad', String(length)];
  else
    invalid(`info.files[${index}].path is missing`, { field: `info.files[${index}].path`, fileIndex: index });
  // BitComet's pad files predate BEP 47's `attr`: zeros named `_____padding_file_N_…`. libtorrent
  // treats any path holding that marker as a pad file (nothing written); so does tork.
  const bitCometPad = !pad && target === undefined && path.join('/').includes(BITCOMET_PAD_MARKER);
  if (target !== undefined) {
    state.warnings.add({
      kind: 'symlink-skipped',
      fileIndex: index,
      message: `file ${index}: ${quoted(path.join('/'))} is a symlink to ${quoted(target.join('/'))}; tork does not create links`,
    });
    return { path, length, offset, pad: true, attr, symlink: Object.freeze(target) };
  }
  return { path, rawKey, length, offset, pad: pad || bitCometPad, attr };
}

/**
 * Two entries that spell the very same path with different lengths cannot both be that file: the
 * file list is inconsistent, and the torrent is refused (transmission refuses every duplicate).
 * Identical entries (a creator listing a file twice) and paths that only meet once sanitised (two
 * empty names, `/foo` and `\foo`) are renamed instead, as libtorrent does.
 */
function checkDuplicateEntries(drafts: readonly DraftFile[]): void {
  const seen = new Map<string, number>();
  drafts.forEach((draft, index) => {
    if (draft.pad || draft.rawKey === undefined) return;
    const other = seen.get(draft.rawKey);
    if (other === undefined) {
      seen.set(draft.rawKey, index);
      return;
    }
    if (drafts[other]!.length !== draft.length) {
      throw new TorkError(
        TorkErrorCode.UNSAFE_PATH,
        `file ${index}: ${quoted(draft.path.join('/'))} is also the path of file ${other}, with a different length`,
        { fileIndex: index, field: `info.files[${index}].path` },
      );
    }
  });
}

function buildFiles(
  info: RawInfo,
  name: string,
  state: ParseState,
): { files: MetainfoFile[]; length: number } {
  if (info.files === undefined) {
    // Single-file: BEP 47 allows `attr` on the info dict; a pad flag there would leave nothing to write.
    const length = info.length ?? invalid('info must have either length (single file) or files');
    const file: MetainfoFile = {
      path: Object.freeze([name]),
      length,
      offset: 0,
      pad: false,
      attr: attrOf(info.attr),
    };
    return { files: [Object.freeze(file)], length };
  }
  if (info.length !== undefined) invalid('info must not have both length and files');
  const drafts: DraftFile[] = [];
  let offset = 0;
  info.files.forEach((entry, index) => {
    const draft = draftFile(entry, index, offset, state);
    drafts.push(draft);
    offset = addLength(offset, draft.length);
  });
  checkDuplicateEntries(drafts);
  renameDuplicatePaths(drafts, state.warnings);
  const files = drafts.map((draft, index) => {
    checkRelativePathBytes([name, ...draft.path], { fileIndex: index, field: `info.files[${index}].path` });
    const file: MetainfoFile = {
      path: Object.freeze([...draft.path]),
      length: draft.length,
      offset: draft.offset,
      pad: draft.pad,
      attr: draft.attr,
      ...(draft.symlink !== undefined ? { symlink: draft.symlink } : {}),
    };
    return Object.freeze(file);
  });
  // Second line of defence: renaming left no two files on one path.
  checkPathConflicts(files.map((file) => ({ path: file.path, skip: file.pad })));
  return { files, length: offset };
}

function trackerUrl(value: unknown): string | undefined {
  if (!(value instanceof Uint8Array)) return undefined;
  const url = decodeUtf8Strict(value)?.trim();
  return url ? url : undefined;
}

/**
 * BEP 12: `announce-list` tiers take precedence; `announce` is kept as a last tier unless already
 * listed. Malformed entries are skipped rather than fatal (a bad tracker must not make a torrent
 * unusable), a bare string where a tier belongs counts as a one-URL tier, empty tiers are dropped,
 * a URL is kept only where it first appears, and at most MAX_ANNOUNCE_URLS are kept.
 */
function buildTiers(root: Record<string, unknown>): string[][] {
  const seen = new Set<string>();
  const tiers: string[][] = [];
  const addTier = (entries: readonly unknown[]): void => {
    const tier: string[] = [];
    for (const entry of entries) {
      const url = trackerUrl(entry);
      if (url === undefined || seen.has(url) || seen.size >= MAX_ANNOUNCE_URLS) continue;
      seen.add(url);
      tier.push(url);
    }
    if (tier.length > 0) tiers.push(Object.freeze(tier) as string[]);
  };
  const list = root['announce-list'];
  if (Array.isArray(list)) {
    for (const tier of list) addTier(Array.isArray(tier) ? tier : [tier]);
  }
  addTier([root.announce]);
  return tiers;
}

/** BEP 19 `url-list`: a single string or a list of strings; malformed entries are skipped. */
function buildUrlList(value: unknown): string[] {
  const entries = Array.isArray(value) ? value : [value];
  const urls = new Set<string>();
  for (const entry of entries) {
    const url = trackerUrl(entry);
    if (url !== undefined && urls.size < MAX_WEB_SEEDS) urls.add(url);
  }
  return [...urls];
}

/** Display text: `<key>.utf-8` when valid, else `<key>` with invalid sequences replaced. */
function displayText(root: Record<string, unknown>, key: string): string | undefined {
  const preferred = root[`${key}.utf-8`];
  const utf8 = preferred instanceof Uint8Array ? decodeUtf8Strict(preferred) : undefined;
  if (utf8 !== undefined) return utf8;
  const plain = root[key];
  return plain instanceof Uint8Array ? decodeUtf8Lenient(plain) : undefined;
}

function checkPieceCount(info: RawInfo, length: number): number {
  if (length === 0) invalid('torrent has a total length of 0 bytes: there is nothing to download');
  const pieceLength = info['piece length'];
  const expectedCount = Math.ceil(length / pieceLength);
  const count = info.pieces.length / 20;
  if (count !== expectedCount) {
    invalid(
      `info.pieces holds ${count} hashes but a length of ${length} bytes in pieces of ${pieceLength} needs ${expectedCount}`,
      { field: 'info.pieces', pieceCount: count, expectedPieceCount: expectedCount },
    );
  }
  return count;
}

/**
 * The root value, and a warning for the bytes after it: libtorrent and transmission ignore them
 * (one newline is common); up to MAX_METAINFO_TRAILING_BYTES are ignored here too.
 */
function decodeRoot(bytes: Uint8Array, options: ParseMetainfoOptions, warnings: WarningList) {
  const { value, end } = decodeBencodePrefix(bytes, options.bencode);
  const trailing = bytes.length - end;
  if (trailing > MAX_METAINFO_TRAILING_BYTES) {
    throw new TorkError(
      TorkErrorCode.BENCODE,
      `invalid bencode at byte ${end}: ${trailing} bytes of trailing data (at most ${MAX_METAINFO_TRAILING_BYTES} are ignored)`,
      { offset: end, trailing },
    );
  }
  if (trailing > 0) {
    warnings.add({
      kind: 'trailing-data',
      message: `${trailing} byte${trailing === 1 ? '' : 's'} after the end of the torrent ignored`,
    });
  }
  return { root: value, rootBytes: bytes.subarray(0, end) };
}

/**
 * Parses a .torrent file. Throws only TorkError: TORK_ERR_BENCODE (not bencode, or more than
 * MAX_METAINFO_TRAILING_BYTES after it), TORK_ERR_METAINFO (not a valid v1 or hybrid metainfo;
 * v2-only torrents are refused) or TORK_ERR_UNSAFE_PATH (a path deeper than MAX_PATH_DEPTH or
 * longer than MAX_RELATIVE_PATH_BYTES). Odd or hostile names are sanitised rather than refused
 * (see sanitize-path.ts), each change listed in `warnings`.
 */
export function parseMetainfo(bytes: Uint8Array, options: ParseMetainfoOptions = {}): Metainfo {
  if (!(bytes instanceof Uint8Array)) invalid('metainfo must be given as bytes');
  const warnings = new WarningList();
  const { root, rootBytes } = decodeRoot(bytes, options, warnings);
  if (!isDict(root)) invalid('metainfo must be a dictionary');
  if (root.info === undefined) invalid('info is missing', { field: 'info' });
  if (!isDict(root.info)) invalid('info must be a dictionary', { field: 'info' });
  const span = findTopLevelSpan(rootBytes, 'info', options.bencode);
  if (span === undefined) invalid('info is missing', { field: 'info' });
  // BEP 52: v2-only torrents have no v1 fields; hybrids get their v1 half checked against the v2 one.
  const v2Only = v2OnlyFields(root, root.info, rootBytes.subarray(span.start, span.end));
  if (v2Only !== undefined) {
    // libtorrent names a v2-only torrent with nothing left of its name after its v2 info-hash.
    const v2Hex = createHash('sha256').update(rootBytes.subarray(span.start, span.end)).digest('hex');
    const name = decodeName(root.info as RawInfo, { infoHashHex: v2Hex, warnings });
    return new ParsedMetainfo({
      ...commonFields(root),
      ...v2Only.fields(name, warnings),
      warnings: warnings.toArray(),
    });
  }
  const info = parseInfo(root.info);
  const infoBytes = new Uint8Array(rootBytes.subarray(span.start, span.end));
  const infoHash = new Uint8Array(createHash('sha1').update(infoBytes).digest());
  const infoHashHex = Buffer.from(infoHash).toString('hex');
  const state: ParseState = { infoHashHex, warnings };
  const name = decodeName(info, state);
  const { files, length } = buildFiles(info, name, state);
  const pieceCount = checkPieceCount(info, length);
  return new ParsedMetainfo({
    ...commonFields(root),
    ...(v2Fields(root, root.info, infoBytes, files) ?? v1OnlyFields()),
    infoHash,
    infoHashHex,
    infoBytes,
    name,
    pieceLength: info['piece length'],
    pieceCount,
    pieceHashes: new Uint8Array(info.pieces),
    length,
    private: info.private === 1,
    files: Object.freeze(files),
    isMultiFile: info.files !== undefined,
    warnings: warnings.toArray(),
  });
}

/** The fields read from outside the info dictionary's file and hash parts. */
function commonFields(root: Record<string, unknown>) {
  const creationDate = root['creation date'];
  return {
    announce: Object.freeze(buildTiers(root)),
    urlList: Object.freeze(buildUrlList(root['url-list'])),
    comment: displayText(root, 'comment'),
    createdBy: displayText(root, 'created by'),
    creationDate: Number.isSafeInteger(creationDate) ? (creationDate as number) : undefined,
  };
}

/**
 * `meta` with its BEP 52 fields replaced by `v2` (e.g. piece layers fetched from peers: no field
 * is re-parsed or re-hashed, the caller vouches for them).
 */
export function metainfoWithV2(meta: Metainfo, v2: NonNullable<Metainfo['v2']>): Metainfo {
  return new ParsedMetainfo({ ...meta, v2 });
}
