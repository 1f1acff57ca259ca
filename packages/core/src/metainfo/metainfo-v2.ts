/**
 * BEP 52 (BitTorrent v2) metainfo: the `file tree`, `piece layers` and the v2 info-hash, and the
 * cross-check of a hybrid torrent's v1 file list against its v2 file tree. Called from
 * `parseMetainfo`; everything here throws TORK_ERR_METAINFO only (path safety stays in safe-path.ts).
 *
 * Every cap (tree depth, file count, piece count, sizes) is checked while walking, before anything
 * proportional to a declared size is allocated; the piece layers are copied out of the decoded
 * torrent only once their length has been checked against the file they belong to.
 */
import { createHash } from 'node:crypto';
import { TorkError, TorkErrorCode } from '../errors.js';
import { MAX_FILES, MAX_PATH_DEPTH, MAX_PIECE_COUNT, MAX_PIECE_LENGTH } from './limits.js';
import { MERKLE_BLOCK_SIZE, MERKLE_HASH_SIZE, verifyPieceLayer } from './merkle-tree.js';
import { isDict } from './metainfo-schema.js';
import { decodeUtf8Lenient, decodeUtf8Lossless, decodeUtf8Strict } from './utf8.js';

/** Which hashes a torrent carries. */
export type MetainfoVersion = 1 | 2 | 'hybrid';

/** One file of a v2 file tree, in tree order (keys sorted by their bytes, depth first). */
export interface V2TreeFile {
  /** Components as found in the tree (not yet checked for path safety). */
  readonly path: readonly string[];
  /** Payload length; 0 for a symlink. */
  readonly length: number;
  /** The 32-byte `pieces root`; undefined for an empty file or a symlink. */
  readonly piecesRoot: Uint8Array | undefined;
  /** BEP 47 `attr` as given; '' if absent. */
  readonly attr: string;
}

/** What the v2 half of a torrent contributes to its Metainfo. */
export interface V2Part {
  readonly infoHashV2: Uint8Array;
  readonly files: readonly V2TreeFile[];
  readonly pieceLength: number;
  /** Piece layers by hex pieces root, each checked against its root. */
  readonly pieceLayers: ReadonlyMap<string, Uint8Array>;
  /**
   * False when the torrent has no `piece layers` dictionary at all (metadata fetched with BEP 9
   * carries only the info dictionary): the layers must then come from peers (BEP 52 hash requests).
   */
  readonly hasPieceLayers: boolean;
  /** Pieces of the v2 layout: each file starts on a piece boundary. */
  readonly pieceCount: number;
}

function invalid(message: string, details: Record<string, string | number> = {}): never {
  throw new TorkError(TorkErrorCode.METAINFO, message, details);
}

function shown(text: string): string {
  return JSON.stringify(text.length > 80 ? `${text.slice(0, 80)}…` : text);
}

/**
 * Which BEP 52 kind `info` is: 'none' (v1), 'v2' (v2-only: no `pieces`) or 'hybrid'. A `meta
 * version` above 2, or a `file tree` without `meta version` 2, is refused as libtorrent does.
 */
export function v2Kind(info: Record<string, unknown>): 'none' | 'v2' | 'hybrid' {
  const version = info['meta version'];
  const tree = info['file tree'];
  if (typeof version === 'number' && version > 2) {
    invalid(`info.meta version ${version} is not supported (at most 2)`, { field: 'info.meta version' });
  }
  if (version === 2) {
    if (tree === undefined)
      invalid('info.file tree is missing (meta version 2)', { field: 'info.file tree' });
    return info.pieces === undefined ? 'v2' : 'hybrid';
  }
  if (tree !== undefined)
    invalid('info has a file tree but no meta version 2', { field: 'info.meta version' });
  return 'none';
}

/** Bencode dictionaries are sorted by raw key bytes; JS objects list integer-like keys first. */
function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

const ARRAY_INDEX = /^(0|[1-9]\d{0,9})$/;

/**
 * The keys of a decoded dictionary in bencode order. Refuses a dictionary whose keys were not
 * sorted in the file (as libtorrent does: the file order is the file tree's order, and an unsorted
 * one means two clients could disagree on it). Integer-like keys lose their position in a JS object,
 * so for those only the sorted order is used.
 */
function sortedKeys(dict: Record<string, unknown>, field: string): string[] {
  const keys = Object.keys(dict);
  const sorted = [...keys].sort(byteOrder);
  if (!keys.some((key) => ARRAY_INDEX.test(key)) && keys.some((key, i) => key !== sorted[i])) {
    invalid(`${field} keys are not in sorted order (invalid bencoding)`, { field });
  }
  return sorted;
}

function isLength(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function isZero(bytes: Uint8Array): boolean {
  return bytes.every((byte) => byte === 0);
}

/** One leaf (`"": {length, pieces root, attr, symlink path}`) of the file tree. */
function readLeaf(leaf: unknown, path: string[]): V2TreeFile {
  const field = `info.file tree ${shown(path.join('/'))}`;
  if (!isDict(leaf)) invalid(`${field} must be a dictionary`, { field });
  const attr = leaf.attr instanceof Uint8Array ? decodeUtf8Lenient(leaf.attr) : '';
  if (attr.includes('p')) invalid(`${field} is a pad file: v2 file trees have none`, { field });
  // A symlink without its target is read as a plain file, as libtorrent does.
  const symlink = attr.includes('l') && Array.isArray(leaf['symlink path']);
  const length = leaf.length;
  if (!isLength(length)) {
    invalid(
      `${field} length ${length === undefined ? 'is missing' : 'must be an integer from 0 to 2^53 - 1'}`,
      {
        field,
      },
    );
  }
  if (symlink) return Object.freeze({ path: Object.freeze(path), length: 0, piecesRoot: undefined, attr });
  if (length === 0) return Object.freeze({ path: Object.freeze(path), length, piecesRoot: undefined, attr });
  const root = leaf['pieces root'];
  if (!(root instanceof Uint8Array) || root.length !== MERKLE_HASH_SIZE || isZero(root)) {
    invalid(`${field} has no valid pieces root (32 bytes, not all zero)`, { field });
  }
  return Object.freeze({ path: Object.freeze(path), length, piecesRoot: new Uint8Array(root), attr });
}

/**
 * The files of a file tree, depth first in key order. Iterative (a hostile tree cannot overflow the
 * stack), at most MAX_PATH_DEPTH levels and `maxFiles` files (default MAX_FILES, 1,000,000; the
 * parameter lets a test prove the cap without building a million entries).
 */
export function readFileTree(tree: unknown, maxFiles: number = MAX_FILES): V2TreeFile[] {
  if (!isDict(tree)) invalid('info.file tree must be a dictionary', { field: 'info.file tree' });
  const files: V2TreeFile[] = [];
  // Each frame: a directory, its sorted keys, the next key to visit, and its path.
  const stack: Array<{ dir: Record<string, unknown>; keys: string[]; next: number; path: string[] }> = [
    { dir: tree, keys: sortedKeys(tree, 'info.file tree'), next: 0, path: [] },
  ];
  while (stack.length > 0) {
    const frame = stack[stack.length - 1]!;
    if (frame.next >= frame.keys.length) {
      stack.pop();
      continue;
    }
    const key = frame.keys[frame.next++]!;
    const path = [...frame.path, key];
    const field = `info.file tree ${shown(path.join('/'))}`;
    if (key === '') invalid(`${field}: a file or directory name is empty`, { field });
    const node = frame.dir[key];
    if (!isDict(node)) invalid(`${field} must be a dictionary`, { field });
    const keys = sortedKeys(node, field);
    if (keys.length === 1 && keys[0] === '') {
      if (files.length >= maxFiles) invalid(`info.file tree lists more than ${maxFiles} files`);
      files.push(readLeaf(node[''], path));
      continue;
    }
    if (path.length >= MAX_PATH_DEPTH) {
      invalid(`${field} is nested deeper than ${MAX_PATH_DEPTH} directories`, { field });
    }
    stack.push({ dir: node, keys, next: 0, path });
  }
  if (files.length === 0) invalid('info.file tree holds no files', { field: 'info.file tree' });
  return files;
}

function checkV2PieceLength(value: unknown): number {
  const ok =
    typeof value === 'number' &&
    Number.isSafeInteger(value) &&
    value >= MERKLE_BLOCK_SIZE &&
    value <= MAX_PIECE_LENGTH &&
    2 ** Math.round(Math.log2(value)) === value;
  if (!ok) {
    invalid(
      `info.piece length ${shown(String(value))} must be a power of two from 16 KiB to ${MAX_PIECE_LENGTH} (BEP 52)`,
      { field: 'info.piece length' },
    );
  }
  return value as number;
}

/** Pieces of the v2 layout (each file from a piece boundary), refusing more than MAX_PIECE_COUNT. */
function countPieces(files: readonly V2TreeFile[], pieceLength: number): number {
  let pieces = 0;
  for (const file of files) {
    pieces += Math.ceil(file.length / pieceLength);
    if (pieces > MAX_PIECE_COUNT) {
      invalid(`the torrent has more than ${MAX_PIECE_COUNT} pieces`, { maxPieces: MAX_PIECE_COUNT });
    }
  }
  if (pieces === 0) invalid('torrent has a total length of 0 bytes: there is nothing to download');
  return pieces;
}

/**
 * `piece layers`: one entry per file longer than a piece, keyed by its pieces root, as long as the
 * file has pieces, hashing up to the root. An entry that belongs to no file is refused.
 */
function readPieceLayers(
  value: unknown,
  files: readonly V2TreeFile[],
  pieceLength: number,
): Map<string, Uint8Array> {
  const field = 'piece layers';
  if (!isDict(value)) invalid('piece layers must be a dictionary', { field });
  const raw = new Map<string, Uint8Array>();
  for (const key of Object.keys(value)) {
    // bencode names a key that is not valid UTF-8 by its hex: a 32-byte root almost always is one.
    const entry = value[key];
    const hex = /^[0-9a-f]{64}$/.test(key) ? key : Buffer.from(key, 'utf8').toString('hex');
    if (hex.length !== 64) invalid('piece layers has a key that is not a 32-byte pieces root', { field });
    if (!(entry instanceof Uint8Array) || entry.length % MERKLE_HASH_SIZE !== 0) {
      invalid(`piece layers entry ${hex} must be a whole number of 32-byte hashes`, { field });
    }
    raw.set(hex, entry);
  }
  const known = new Set<string>();
  const layers = new Map<string, Uint8Array>();
  files.forEach((file, index) => {
    if (file.piecesRoot === undefined) return;
    const hex = Buffer.from(file.piecesRoot).toString('hex');
    known.add(hex);
    if (file.length <= pieceLength || layers.has(hex)) return;
    const layer = raw.get(hex);
    const where = `file ${shown(file.path.join('/'))}`;
    if (layer === undefined) invalid(`piece layers has no layer for ${where}`, { field, fileIndex: index });
    const expected = Math.ceil(file.length / pieceLength) * MERKLE_HASH_SIZE;
    if (layer.length !== expected) {
      invalid(`piece layer of ${where} is ${layer.length} bytes, not ${expected}`, {
        field,
        fileIndex: index,
      });
    }
    if (!verifyPieceLayer(file.piecesRoot, layer, pieceLength, file.length)) {
      invalid(`piece layer of ${where} does not hash to its pieces root`, { field, fileIndex: index });
    }
    layers.set(hex, new Uint8Array(layer));
  });
  for (const hex of raw.keys()) {
    if (!known.has(hex)) invalid(`piece layers entry ${hex} belongs to no file`, { field });
  }
  return layers;
}

/** Reads and checks the v2 half: file tree, piece length, piece layers, v2 info-hash. */
export function parseV2Part(
  root: Record<string, unknown>,
  info: Record<string, unknown>,
  infoBytes: Uint8Array,
): V2Part {
  if (!(info.name instanceof Uint8Array)) invalid('info.name must be a byte string', { field: 'info.name' });
  const pieceLength = checkV2PieceLength(info['piece length']);
  const files = readFileTree(info['file tree']);
  const pieceCount = countPieces(files, pieceLength);
  const hasPieceLayers = root['piece layers'] !== undefined;
  const pieceLayers = hasPieceLayers ? readPieceLayers(root['piece layers'], files, pieceLength) : new Map();
  return {
    infoHashV2: new Uint8Array(createHash('sha256').update(infoBytes).digest()),
    files,
    pieceLength,
    pieceLayers,
    hasPieceLayers,
    pieceCount,
  };
}

/** A v1 file as the hybrid check needs it. */
export interface V1FileView {
  readonly length: number;
  readonly pad: boolean;
  readonly attr: string;
}

function inconsistent(message: string, details: Record<string, string | number> = {}): never {
  invalid(`hybrid torrent's v1 and v2 file lists disagree: ${message}`, details);
}

/** The path of v1 file `index` as written, both `path.utf-8` and `path` forms (either may match). */
function rawV1Paths(info: Record<string, unknown>, index: number): string[][] {
  const files = info.files;
  if (!Array.isArray(files)) {
    const name = info.name instanceof Uint8Array ? [decodeUtf8Lossless(info.name)] : [];
    const utf8 = info['name.utf-8'] instanceof Uint8Array ? decodeUtf8Strict(info['name.utf-8']) : undefined;
    return utf8 === undefined ? [name] : [name, [utf8]];
  }
  const entry = files[index];
  const forms: string[][] = [];
  for (const key of ['path', 'path.utf-8']) {
    const path = isDict(entry) ? entry[key] : undefined;
    if (Array.isArray(path) && path.every((part) => part instanceof Uint8Array)) {
      forms.push(path.map((part: Uint8Array) => decodeUtf8Lossless(part)));
    }
  }
  return forms;
}

/**
 * A hybrid's v1 file list must describe the same files as its v2 tree: same paths, lengths and
 * order, with every file that has data starting on a piece boundary. Pad files may stand anywhere
 * (libtorrent 2.0 writes one after each file, older versions wrote one before the next file with
 * data), but each must end on a piece boundary. Refused otherwise (libtorrent:
 * torrent_inconsistent_files): the two halves would name different data for the same torrent.
 */
export function checkHybridFiles(
  info: Record<string, unknown>,
  v1Files: readonly V1FileView[],
  v2: V2Part,
): void {
  const singleV1 = !Array.isArray(info.files);
  const singleV2 = v2.files.length === 1 && v2.files[0]!.path.length === 1;
  // A one-file tree beside a v1 `files` list is a directory of one file (libtorrent reads it so).
  if (singleV1 && !singleV2) inconsistent('v1 is a single file, v2 is not');
  let offset = 0;
  let next = 0;
  v1Files.forEach((v1, v1Index) => {
    if (v1.pad) {
      offset += v1.length;
      if (offset % v2.pieceLength !== 0) {
        inconsistent(`pad file ${v1Index} does not end on a piece boundary`, { fileIndex: v1Index });
      }
      return;
    }
    const file = v2.files[next];
    if (file === undefined)
      inconsistent(`v1 file ${v1Index} is not in the v2 file tree`, { fileIndex: v1Index });
    next++;
    const v1Length = v1.attr.includes('l') ? 0 : v1.length;
    if (v1Length !== file.length) {
      inconsistent(`${shown(file.path.join('/'))} is ${v1.length} bytes in v1 and ${file.length} in v2`, {
        fileIndex: v1Index,
      });
    }
    const wanted = file.path.join('/');
    if (!rawV1Paths(info, v1Index).some((path) => path.join('/') === wanted)) {
      inconsistent(`v1 file ${v1Index} is not named ${shown(wanted)} as in the v2 file tree`, {
        fileIndex: v1Index,
      });
    }
    if (file.length > 0 && offset % v2.pieceLength !== 0) {
      inconsistent(`${shown(wanted)} does not start on a piece boundary in v1 (a pad file is missing)`, {
        fileIndex: v1Index,
      });
    }
    offset += v1Length;
  });
  if (next !== v2.files.length) {
    inconsistent(`the v2 file tree has ${v2.files.length - next} file(s) more than v1`);
  }
}

/**
 * The v1-style file list of a v2-only torrent: the tree's files with a pad file (`.pad/N`, attr `p`)
 * after each one that does not end on a piece boundary (the last one included), as libtorrent lays them out, so that
 * piece arithmetic (FileLayout) works unchanged and file indices match libtorrent's.
 */
export function v2LayoutFiles(
  v2: V2Part,
): Array<{ path: string[]; length: number; pad: boolean; attr: string; piecesRoot: Uint8Array | undefined }> {
  const out: Array<{
    path: string[];
    length: number;
    pad: boolean;
    attr: string;
    piecesRoot: Uint8Array | undefined;
  }> = [];
  let offset = 0;
  for (const file of v2.files) {
    out.push({
      path: [...file.path],
      length: file.length,
      pad: false,
      attr: file.attr,
      piecesRoot: file.piecesRoot,
    });
    offset += file.length;
    const gap = (v2.pieceLength - (offset % v2.pieceLength)) % v2.pieceLength;
    if (gap > 0) {
      out.push({ path: ['.pad', String(gap)], length: gap, pad: true, attr: 'p', piecesRoot: undefined });
      offset += gap;
    }
  }
  return out;
}
