/**
 * Builds .torrent files for tests: deterministic pseudo-random payloads with correct SHA-1 piece
 * hashes, and a small bencoder of its own that can write dictionary keys in any order (the real
 * encoder always sorts them, which would hide info-hash bugs).
 */
import { createHash } from 'node:crypto';

/** What `encodeBencodeOrdered` accepts. A Map keeps its insertion order; an object's keys are sorted. */
export type FixtureValue =
  | Uint8Array
  | string
  | number
  | readonly FixtureValue[]
  | ReadonlyMap<string, FixtureValue>
  | { readonly [key: string]: FixtureValue | undefined };

const encoder = new TextEncoder();

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(a, b);
}

/**
 * Bencodes `value`. Plain objects are written with keys sorted by their raw bytes (canonical) and
 * undefined values left out; a Map is written in its own order, sorted or not.
 */
export function encodeBencodeOrdered(value: FixtureValue): Uint8Array {
  const chunks: Uint8Array[] = [];
  const text = (s: string): void => {
    chunks.push(encoder.encode(s));
  };
  const bytes = (b: Uint8Array): void => {
    text(`${b.length}:`);
    chunks.push(b);
  };
  const walk = (v: FixtureValue): void => {
    if (typeof v === 'number') {
      if (!Number.isSafeInteger(v)) throw new Error(`cannot bencode ${v}`);
      text(`i${v}e`);
    } else if (typeof v === 'string') {
      bytes(encoder.encode(v));
    } else if (v instanceof Uint8Array) {
      bytes(v);
    } else if (Array.isArray(v)) {
      text('l');
      for (const item of v as readonly FixtureValue[]) walk(item);
      text('e');
    } else {
      text('d');
      const entries: [Uint8Array, FixtureValue][] =
        v instanceof Map
          ? [...(v as ReadonlyMap<string, FixtureValue>)].map(([k, item]) => [encoder.encode(k), item])
          : Object.entries(v as { [key: string]: FixtureValue | undefined })
              .filter((entry): entry is [string, FixtureValue] => entry[1] !== undefined)
              .map(([k, item]): [Uint8Array, FixtureValue] => [encoder.encode(k), item])
              .sort((a, b) => compareBytes(a[0], b[0]));
      for (const [key, item] of entries) {
        bytes(key);
        walk(item);
      }
      text('e');
    }
  };
  walk(value);
  return new Uint8Array(Buffer.concat(chunks));
}

/** Deterministic pseudo-random bytes (xorshift32); the same (length, seed) always gives the same bytes. */
export function fixtureBytes(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let state = (seed ^ 0x9e3779b9) >>> 0 || 1;
  for (let i = 0; i < length; i += 4) {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    out[i] = state & 0xff;
    if (i + 1 < length) out[i + 1] = (state >>> 8) & 0xff;
    if (i + 2 < length) out[i + 2] = (state >>> 16) & 0xff;
    if (i + 3 < length) out[i + 3] = state >>> 24;
  }
  return out;
}

export function sha1(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha1').update(bytes).digest());
}

/** One file of a multi-file fixture. */
export interface FixtureFile {
  readonly path: readonly string[];
  readonly length: number;
  /** A BEP 47 pad file: its content is zeros and `attr` gets a `p`. Default: false. */
  readonly pad?: boolean;
  /** BEP 47 `attr`. Default: 'p' for pad files, none otherwise. */
  readonly attr?: string;
}

export interface BuildTorrentOptions {
  /** `info.name`. Default: 'fixture'. */
  readonly name?: string;
  /** Makes a multi-file torrent with these files. Default: a single-file torrent. */
  readonly files?: readonly FixtureFile[];
  /** Length of a single-file torrent. Default: 100,000. */
  readonly length?: number;
  /** Default: 16,384. */
  readonly pieceLength?: number;
  /** Seeds the payload; file i uses seed + i. Default: 1. */
  readonly seed?: number;
  /** Default: none. */
  readonly announce?: string;
  /** Default: none. */
  readonly announceList?: readonly (readonly string[])[];
  /** Default: none. */
  readonly urlList?: string | readonly string[];
  /** Sets `info.private` to 1 or 0. Default: absent. */
  readonly private?: boolean;
  /** Default: none. */
  readonly comment?: string;
  /** Default: none. */
  readonly createdBy?: string;
  /** Default: none. */
  readonly creationDate?: number;
  /** Extra or replacement `info` keys; an undefined value removes a key. Default: none. */
  readonly info?: { readonly [key: string]: FixtureValue | undefined };
  /** Extra or replacement top-level keys; an undefined value removes a key. Default: none. */
  readonly root?: { readonly [key: string]: FixtureValue | undefined };
}

export interface BuiltTorrent {
  /** The .torrent file. */
  readonly bytes: Uint8Array;
  /** The whole payload, files concatenated in order (pad files as zeros). */
  readonly data: Uint8Array;
  /** Each file's content, views into `data`. */
  readonly fileData: readonly Uint8Array[];
  /** SHA-1 of the bencoded info dictionary. */
  readonly infoHash: Uint8Array;
  readonly infoHashHex: string;
  readonly pieceHashes: Uint8Array;
}

/** Builds a .torrent and the payload it describes. Keys are written sorted (canonical). */
export function buildTorrent(options: BuildTorrentOptions = {}): BuiltTorrent {
  const pieceLength = options.pieceLength ?? 16_384;
  const seed = options.seed ?? 1;
  const name = options.name ?? 'fixture';
  const layout = options.files ?? [{ path: [name], length: options.length ?? 100_000 }];
  const total = layout.reduce((sum, file) => sum + file.length, 0);
  const data = new Uint8Array(total);
  const fileData: Uint8Array[] = [];
  let offset = 0;
  layout.forEach((file, index) => {
    if (!file.pad) data.set(fixtureBytes(file.length, seed + index), offset);
    fileData.push(data.subarray(offset, offset + file.length));
    offset += file.length;
  });
  const pieceCount = Math.ceil(total / pieceLength);
  const pieceHashes = new Uint8Array(pieceCount * 20);
  for (let piece = 0; piece < pieceCount; piece++) {
    pieceHashes.set(sha1(data.subarray(piece * pieceLength, (piece + 1) * pieceLength)), piece * 20);
  }
  const info: { [key: string]: FixtureValue | undefined } = {
    name,
    'piece length': pieceLength,
    pieces: pieceHashes,
    private: options.private === undefined ? undefined : options.private ? 1 : 0,
  };
  if (options.files === undefined) {
    info.length = total;
  } else {
    info.files = options.files.map((file) => ({
      length: file.length,
      path: [...file.path],
      attr: file.attr ?? (file.pad ? 'p' : undefined),
    }));
  }
  Object.assign(info, options.info);
  const root: { [key: string]: FixtureValue | undefined } = {
    announce: options.announce,
    'announce-list': options.announceList?.map((tier) => [...tier]),
    'url-list': typeof options.urlList === 'string' ? options.urlList : options.urlList?.slice(),
    comment: options.comment,
    'created by': options.createdBy,
    'creation date': options.creationDate,
    info,
    ...options.root,
  };
  const infoHash = sha1(encodeBencodeOrdered(info));
  return {
    bytes: encodeBencodeOrdered(root),
    data,
    fileData,
    infoHash,
    infoHashHex: Buffer.from(infoHash).toString('hex'),
    pieceHashes,
  };
}
