/**
 * `.torrent` parsing (BEP 3, with BEP 12 tiers, BEP 19 web seeds, BEP 27 private flag and BEP 47
 * pad files). The decoded bencode is validated and copied into our own frozen objects; nothing of
 * the decoder's output, nor a view of the caller's buffer, is handed out.
 */
import { createHash } from 'node:crypto';
import { type BencodeLimits, decodeBencode, findTopLevelSpan } from '../bencode/index.js';
import { TorkError, TorkErrorCode } from '../errors.js';
import { MAX_ANNOUNCE_URLS, MAX_WEB_SEEDS } from './limits.js';
import { isDict, parseInfo, type RawFileEntry, type RawInfo } from './metainfo-schema.js';
import { type MetainfoV2Fields, v1OnlyFields, v2Fields, v2OnlyFields } from './metainfo-v2-model.js';
import {
  checkPathComponent,
  checkPathConflicts,
  checkRelativePath,
  checkRelativePathBytes,
} from './safe-path.js';
import { decodeUtf8Lenient, decodeUtf8Lossless, decodeUtf8Strict } from './utf8.js';

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
  /** A BEP 47 pad file: zeros that count in piece layout but are never written to disk. */
  readonly pad: boolean;
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

/** A list of valid-UTF-8 byte strings, or undefined (then the plain field is used instead). */
function utf8List(value: unknown): string[] | undefined {
  if (!Array.isArray(value) || value.length === 0) return undefined;
  const out: string[] = [];
  for (const item of value) {
    if (!(item instanceof Uint8Array)) return undefined;
    const text = decodeUtf8Strict(item);
    if (text === undefined) return undefined;
    out.push(text);
  }
  return out;
}

/** `name.utf-8` when it is valid UTF-8, else `name`, decoded losslessly (see decodeUtf8Lossless). */
function decodeName(info: RawInfo): string {
  const preferred = info['name.utf-8'];
  const utf8 = preferred instanceof Uint8Array ? decodeUtf8Strict(preferred) : undefined;
  const name = utf8 ?? decodeUtf8Lossless(info.name);
  checkPathComponent(name, { field: utf8 !== undefined ? 'info.name.utf-8' : 'info.name' });
  return name;
}

function decodeFilePath(file: RawFileEntry, index: number): string[] {
  const preferred = utf8List(file['path.utf-8']);
  const components = preferred ?? file.path.map(decodeUtf8Lossless);
  checkRelativePath(components, {
    fileIndex: index,
    field: `info.files[${index}].${preferred ? 'path.utf-8' : 'path'}`,
  });
  return components;
}

function attrOf(value: unknown): string {
  return value instanceof Uint8Array ? decodeUtf8Lenient(value) : '';
}

function addLength(total: number, length: number): number {
  const sum = total + length;
  if (!Number.isSafeInteger(sum)) invalid('total length of all files exceeds 2^53 - 1 bytes');
  return sum;
}

function buildFiles(info: RawInfo, name: string): { files: MetainfoFile[]; length: number } {
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
  const files: MetainfoFile[] = [];
  let offset = 0;
  info.files.forEach((entry, index) => {
    const path = decodeFilePath(entry, index);
    checkRelativePathBytes([name, ...path], { fileIndex: index, field: `info.files[${index}].path` });
    const attr = attrOf(entry.attr);
    files.push(
      Object.freeze({
        path: Object.freeze(path),
        length: entry.length,
        offset,
        pad: attr.includes('p'),
        attr,
      }),
    );
    offset = addLength(offset, entry.length);
  });
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
 * Parses a .torrent file. Throws only TorkError: TORK_ERR_BENCODE (not bencode), TORK_ERR_METAINFO
 * (not a valid v1 or hybrid metainfo; v2-only torrents are refused) or TORK_ERR_UNSAFE_PATH (a name or
 * path that is not a plain relative path, or two files that would collide on disk).
 */
export function parseMetainfo(bytes: Uint8Array, options: ParseMetainfoOptions = {}): Metainfo {
  if (!(bytes instanceof Uint8Array)) invalid('metainfo must be given as bytes');
  const root = decodeBencode(bytes, options.bencode);
  if (!isDict(root)) invalid('metainfo must be a dictionary');
  if (root.info === undefined) invalid('info is missing', { field: 'info' });
  if (!isDict(root.info)) invalid('info must be a dictionary', { field: 'info' });
  const span = findTopLevelSpan(bytes, 'info', options.bencode);
  if (span === undefined) invalid('info is missing', { field: 'info' });
  // BEP 52: v2-only torrents have no v1 fields; hybrids get their v1 half checked against the v2 one.
  const v2Only = v2OnlyFields(root, root.info, bytes.subarray(span.start, span.end));
  if (v2Only !== undefined) {
    const name = decodeName(root.info as RawInfo);
    return new ParsedMetainfo({ ...commonFields(root), ...v2Only.fields(name) });
  }
  const info = parseInfo(root.info);
  const name = decodeName(info);
  const { files, length } = buildFiles(info, name);
  const pieceCount = checkPieceCount(info, length);
  const infoBytes = new Uint8Array(bytes.subarray(span.start, span.end));
  const infoHash = new Uint8Array(createHash('sha1').update(infoBytes).digest());
  return new ParsedMetainfo({
    ...commonFields(root),
    ...(v2Fields(root, root.info, infoBytes, files) ?? v1OnlyFields()),
    infoHash,
    infoHashHex: Buffer.from(infoHash).toString('hex'),
    infoBytes,
    name,
    pieceLength: info['piece length'],
    pieceCount,
    pieceHashes: new Uint8Array(info.pieces),
    length,
    private: info.private === 1,
    files: Object.freeze(files),
    isMultiFile: info.files !== undefined,
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
