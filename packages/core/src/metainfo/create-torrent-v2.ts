/**
 * Writing BEP 52 torrents: v2-only and hybrid (v1 + v2). Every field the v1 writer knows is
 * checked by `encodeTorrent` first (a dry run); this adds the `file tree`, `meta version`, the
 * `piece layers` and, for a hybrid, the v1 file list with pad files laid out as libtorrent 2.0 does
 * (`.pad/N`, attr `p`, after each file that does not end on a piece boundary, the last one
 * included). Deterministic: dictionary keys sorted by their bytes, nothing from the clock.
 */
import { DEFAULT_BENCODE_MAX_BYTES, decodeBencode } from '../bencode/index.js';
import { TorkError, TorkErrorCode } from '../errors.js';
import { type EncodeTorrentOptions, encodeTorrent } from './create-torrent.js';
import { MERKLE_HASH_SIZE, verifyPieceLayer } from './merkle-tree.js';

/** One file's v2 hashes (see `FileMerkleBuilder`). */
export interface V2FileHashes {
  /** The 32-byte pieces root; omitted for an empty file. */
  readonly piecesRoot?: Uint8Array;
  /** The piece layer, for a file longer than one piece. */
  readonly pieceLayer?: Uint8Array;
}

/** What `encodeTorrentV2` writes: the v1 options, without v1 hashes unless hybrid. */
export interface EncodeTorrentV2Options extends Omit<EncodeTorrentOptions, 'pieceHashes'> {
  /** 'v2': v2 only (no `pieces`); 'hybrid': v1 and v2 (the v1 half with pad files). */
  readonly version: 'v2' | 'hybrid';
  /** Hybrid only: SHA-1 of every piece of `hybridLayout` (20 bytes each). */
  readonly pieceHashes?: Uint8Array;
  /** One entry per file, in `files` order (one for a single-file torrent). */
  readonly fileHashes: readonly V2FileHashes[];
}

/** One entry of a hybrid's v1 file list. */
export interface HybridLayoutEntry {
  /** Index into the given lengths; undefined for a pad file. */
  readonly fileIndex: number | undefined;
  readonly length: number;
}

function usage(message: string, details: Record<string, string | number> = {}): never {
  throw new TorkError(TorkErrorCode.USAGE, message, details);
}

/**
 * A hybrid's v1 payload: each file followed by a pad file up to the next piece boundary when it
 * ends off one (libtorrent 2.0 pads after the last file too). A single file gets no pad (a
 * single-file v1 torrent has no file list to hold one).
 */
export function hybridLayout(
  lengths: readonly number[],
  pieceLength: number,
  single: boolean,
): HybridLayoutEntry[] {
  const out: HybridLayoutEntry[] = [];
  lengths.forEach((length, fileIndex) => {
    out.push({ fileIndex, length });
    const gap = (pieceLength - (length % pieceLength)) % pieceLength;
    if (!single && gap > 0) out.push({ fileIndex: undefined, length: gap });
  });
  return out;
}

/** A bencode dictionary whose keys are raw bytes (pieces roots are not text). */
type Dict = { readonly kind: 'dict'; readonly entries: Array<[Uint8Array, Value]> };
type Value = Uint8Array | number | Value[] | Dict;

const text = new TextEncoder();

function dict(entries: Array<[Uint8Array | string, Value]>): Dict {
  return {
    kind: 'dict',
    entries: entries.map(([key, value]): [Uint8Array, Value] => [
      typeof key === 'string' ? text.encode(key) : key,
      value,
    ]),
  };
}

function isDictValue(value: unknown): value is Dict {
  return typeof value === 'object' && value !== null && (value as Dict).kind === 'dict';
}

/** The decoder's output (plain objects, Uint8Array, numbers, arrays) as Values. */
function fromDecoded(value: unknown): Value {
  if (value instanceof Uint8Array || typeof value === 'number') return value;
  if (Array.isArray(value)) return value.map(fromDecoded);
  return dict(
    Object.entries(value as Record<string, unknown>).map(([key, item]) => [key, fromDecoded(item)]),
  );
}

/** Canonical bencode: dictionary keys sorted by their bytes (BEP 3), which v2 file order relies on. */
function encode(value: Value, out: Uint8Array[]): void {
  if (value instanceof Uint8Array) {
    out.push(text.encode(`${value.length}:`), value);
  } else if (typeof value === 'number') {
    out.push(text.encode(`i${value}e`));
  } else if (Array.isArray(value)) {
    out.push(text.encode('l'));
    for (const item of value) encode(item, out);
    out.push(text.encode('e'));
  } else {
    out.push(text.encode('d'));
    const sorted = [...value.entries].sort((a, b) => Buffer.compare(a[0], b[0]));
    for (let i = 1; i < sorted.length; i++) {
      if (Buffer.compare(sorted[i - 1]![0], sorted[i]![0]) === 0) usage('two dictionary keys are the same');
    }
    for (const [key, item] of sorted) {
      encode(key, out);
      encode(item, out);
    }
    out.push(text.encode('e'));
  }
}

interface TreeDir {
  readonly children: Map<string, TreeDir | Dict>;
}

function treeValue(dir: TreeDir): Dict {
  return dict([...dir.children].map(([key, child]) => [key, isDictValue(child) ? child : treeValue(child)]));
}

function checkFileHashes(
  length: number,
  hashes: V2FileHashes | undefined,
  pieceLength: number,
  where: string,
): void {
  if (hashes === undefined || typeof hashes !== 'object') usage(`fileHashes has no entry for ${where}`);
  if (length === 0) {
    if (hashes.piecesRoot !== undefined) usage(`${where} is empty: it has no pieces root`);
    return;
  }
  if (!(hashes.piecesRoot instanceof Uint8Array) || hashes.piecesRoot.length !== MERKLE_HASH_SIZE) {
    usage(`${where} needs a 32-byte pieces root`);
  }
  if (length <= pieceLength) {
    if (hashes.pieceLayer !== undefined) usage(`${where} fits one piece: it has no piece layer`);
    return;
  }
  if (
    !(hashes.pieceLayer instanceof Uint8Array) ||
    !verifyPieceLayer(hashes.piecesRoot, hashes.pieceLayer, pieceLength, length)
  ) {
    usage(`the piece layer of ${where} does not match its length and pieces root`);
  }
}

/**
 * Bencodes a v2-only or hybrid torrent. Same input, same bytes. The result parses with
 * `parseMetainfo` to version 2 or 'hybrid' with these roots and layers. Throws TORK_ERR_USAGE.
 */
export function encodeTorrentV2(options: EncodeTorrentV2Options): Uint8Array {
  if (options === null || typeof options !== 'object') usage('torrent options must be an object');
  if (options.version !== 'v2' && options.version !== 'hybrid') usage("version must be 'v2' or 'hybrid'");
  const single = options.files === undefined;
  const lengths = single ? [options.length ?? 0] : (options.files ?? []).map((file) => file.length);
  const total = lengths.reduce((sum, length) => sum + (typeof length === 'number' ? length : 0), 0);
  const v1Pieces = Math.ceil(total / options.pieceLength) || 0;
  // The v1 writer checks name, files, lengths, piece length, trackers and texts.
  const { version: _version, fileHashes, pieceHashes, ...v1Options } = options;
  const v1 = encodeTorrent({ ...v1Options, pieceHashes: new Uint8Array(v1Pieces * 20) });
  const root = fromDecoded(decodeBencode(v1)) as Dict;
  const info = fromDecoded((decodeBencode(v1) as Record<string, unknown>).info) as Dict;
  const pieceLength = options.pieceLength;

  if (!Array.isArray(fileHashes) || fileHashes.length !== lengths.length) {
    usage(`fileHashes must have one entry per file (${lengths.length})`);
  }
  const tree: TreeDir = { children: new Map() };
  const layers = new Map<string, Uint8Array>();
  lengths.forEach((length, index) => {
    const path = single ? [options.name] : [...options.files![index]!.path];
    const where = JSON.stringify(path.join('/'));
    const hashes = fileHashes[index];
    checkFileHashes(length, hashes, pieceLength, where);
    let dir = tree;
    for (const component of path.slice(0, -1)) {
      let child = dir.children.get(component);
      if (child === undefined) {
        child = { children: new Map() };
        dir.children.set(component, child);
      }
      if (isDictValue(child)) usage(`${where}: a file and a directory share a name`);
      dir = child;
    }
    const leafEntries: Array<[string, Value]> = [['length', length]];
    if (hashes!.piecesRoot !== undefined)
      leafEntries.push(['pieces root', new Uint8Array(hashes!.piecesRoot)]);
    dir.children.set(path[path.length - 1]!, dict([['', dict(leafEntries)]]));
    if (hashes!.pieceLayer !== undefined) {
      layers.set(Buffer.from(hashes!.piecesRoot!).toString('hex'), new Uint8Array(hashes!.pieceLayer));
    }
  });

  const keep = (key: string): boolean => {
    if (key === 'pieces' || key === 'files' || key === 'length') return options.version === 'hybrid';
    return true;
  };
  const infoEntries: Array<[Uint8Array, Value]> = info.entries.filter(([key]) =>
    keep(Buffer.from(key).toString()),
  );
  infoEntries.push([text.encode('meta version'), 2], [text.encode('file tree'), treeValue(tree)]);
  if (options.version === 'hybrid') {
    const layout = hybridLayout(lengths, pieceLength, single);
    const paddedTotal = layout.reduce((sum, entry) => sum + entry.length, 0);
    const expected = Math.ceil(paddedTotal / pieceLength) * 20;
    if (!(pieceHashes instanceof Uint8Array) || pieceHashes.length !== expected) {
      usage(`a hybrid needs pieceHashes of ${expected} bytes (the SHA-1 of each piece of hybridLayout)`);
    }
    const replace = (key: string, value: Value): void => {
      const at = infoEntries.findIndex(([name]) => Buffer.from(name).toString() === key);
      infoEntries[at] = [text.encode(key), value];
    };
    replace('pieces', new Uint8Array(pieceHashes));
    if (!single) {
      replace(
        'files',
        layout.map((entry) =>
          entry.fileIndex === undefined
            ? dict([
                ['attr', text.encode('p')],
                ['length', entry.length],
                ['path', [text.encode('.pad'), text.encode(String(entry.length))]],
              ])
            : dict([
                ['length', entry.length],
                ['path', options.files![entry.fileIndex]!.path.map((part) => text.encode(part))],
              ]),
        ),
      );
    }
  }
  const rootEntries = root.entries.filter(([key]) => Buffer.from(key).toString() !== 'info');
  rootEntries.push([text.encode('info'), { kind: 'dict', entries: infoEntries }]);
  rootEntries.push([
    text.encode('piece layers'),
    dict(
      [...layers].map(([hex, layer]): [Uint8Array, Value] => [
        new Uint8Array(Buffer.from(hex, 'hex')),
        layer,
      ]),
    ),
  ]);
  const chunks: Uint8Array[] = [];
  encode({ kind: 'dict', entries: rootEntries }, chunks);
  const bytes = new Uint8Array(Buffer.concat(chunks));
  if (bytes.length > DEFAULT_BENCODE_MAX_BYTES) {
    usage(
      `the torrent would be ${bytes.length} bytes, above the ${DEFAULT_BENCODE_MAX_BYTES}-byte limit for .torrent files: use a larger piece length or fewer files`,
    );
  }
  return bytes;
}
