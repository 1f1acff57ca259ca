import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { TorkErrorCode as Codes, TorkError, type TorkErrorCode } from '../errors.js';
import { encodeTorrentV2, hybridLayout } from './create-torrent-v2.js';
import { MAX_PATH_DEPTH, MAX_PIECE_COUNT } from './limits.js';
import { fileMerkle } from './merkle-tree.js';
import { parseMetainfo } from './metainfo.js';
import { readFileTree } from './metainfo-v2.js';

const PL = 16384;
const text = (s: string): Uint8Array => new TextEncoder().encode(s);

/** A bencode value for hand-built torrents; a dict is a list of [key, value] written in the given order. */
type B = Uint8Array | string | number | B[] | { d: Array<[Uint8Array | string, B]> };

function benc(value: B, out: Uint8Array[] = []): Uint8Array[] {
  if (typeof value === 'number') out.push(text(`i${value}e`));
  else if (typeof value === 'string') benc(text(value), out);
  else if (value instanceof Uint8Array) out.push(text(`${value.length}:`), value);
  else if (Array.isArray(value)) {
    out.push(text('l'));
    for (const item of value) benc(item, out);
    out.push(text('e'));
  } else {
    out.push(text('d'));
    for (const [key, item] of value.d) {
      benc(typeof key === 'string' ? text(key) : key, out);
      benc(item, out);
    }
    out.push(text('e'));
  }
  return out;
}

/** A dict with keys sorted by their bytes, as bencode requires. */
function d(entries: Array<[Uint8Array | string, B]>): B {
  const key = (k: Uint8Array | string) => (typeof k === 'string' ? text(k) : k);
  return { d: [...entries].sort((a, b) => Buffer.compare(key(a[0]), key(b[0]))) };
}

const bytesOf = (value: B): Uint8Array => new Uint8Array(Buffer.concat(benc(value)));

function data(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = (i * seed + 3) % 253;
  return out;
}

interface Spec {
  path: string[];
  length: number;
}

/** A v2-only torrent over `files` (contents from `data`), with overrides for hostile variants. */
function v2Torrent(
  files: Spec[],
  options: {
    pieceLength?: number;
    layers?: Array<[Uint8Array, Uint8Array]> | null;
    leaf?: (spec: Spec, root: Uint8Array | undefined) => Array<[string, B]>;
    info?: Array<[string, B]>;
  } = {},
): { bytes: Uint8Array; roots: (Uint8Array | undefined)[]; layers: (Uint8Array | undefined)[] } {
  const pieceLength = options.pieceLength ?? PL;
  const roots: (Uint8Array | undefined)[] = [];
  const layers: (Uint8Array | undefined)[] = [];
  const tree = new Map<string, unknown>();
  files.forEach((spec, index) => {
    // Hostile lengths and piece lengths get a stand-in tree: the leaf override supplies the root.
    const valid =
      spec.length <= 1 << 20 && 2 ** Math.round(Math.log2(pieceLength)) === pieceLength && pieceLength >= PL;
    const merkle = fileMerkle(data(valid ? spec.length : 1, index + 1), valid ? pieceLength : PL);
    roots.push(merkle.root);
    layers.push(merkle.pieceLayer);
    let dir = tree;
    for (const part of spec.path.slice(0, -1)) {
      if (!dir.has(part)) dir.set(part, new Map());
      dir = dir.get(part) as Map<string, unknown>;
    }
    const leaf: Array<[string, B]> = options.leaf?.(spec, merkle.root) ?? [
      ['length', spec.length],
      ...(merkle.root ? ([['pieces root', merkle.root]] as Array<[string, B]>) : []),
    ];
    dir.set(spec.path[spec.path.length - 1]!, d([['', d(leaf)]]));
  });
  const toB = (dir: Map<string, unknown>): B =>
    d([...dir].map(([key, value]) => [key, value instanceof Map ? toB(value) : (value as B)]));
  const layerEntries =
    options.layers === null
      ? undefined
      : (options.layers ??
        roots.flatMap((root, i) =>
          root && layers[i] ? [[root, layers[i]!] as [Uint8Array, Uint8Array]] : [],
        ));
  const info = d([
    ['file tree', toB(tree)],
    ['meta version', 2],
    ['name', 'v2test'],
    ['piece length', pieceLength],
    ...(options.info ?? []),
  ]);
  const root = d([
    ['info', info],
    ...(layerEntries ? ([['piece layers', d(layerEntries)]] as Array<[string, B]>) : []),
  ]);
  return { bytes: bytesOf(root), roots, layers };
}

function refused(bytes: Uint8Array, pattern: RegExp, code: TorkErrorCode = Codes.METAINFO): void {
  assert.throws(
    () => parseMetainfo(bytes),
    (error: unknown) => {
      assert.ok(error instanceof TorkError, String(error));
      assert.equal(error.code, code, error.message);
      assert.match(error.message, pattern);
      return true;
    },
  );
}

const FILES: Spec[] = [
  { path: ['a.bin'], length: 40_000 },
  { path: ['empty'], length: 0 },
  { path: ['sub', 'b.txt'], length: 100 },
  { path: ['z.bin'], length: 70_000 },
];

describe('parseMetainfo: v2-only (BEP 52)', () => {
  it('reads the file tree, roots, layers and both hashes', () => {
    const { bytes, roots, layers } = v2Torrent(FILES);
    const meta = parseMetainfo(bytes);
    assert.equal(meta.version, 2);
    const infoV2 = createHash('sha256').update(meta.infoBytes).digest();
    assert.equal(meta.infoHashV2Hex, infoV2.toString('hex'));
    assert.equal(meta.infoHashHex, infoV2.subarray(0, 20).toString('hex'));
    // Pads after each file that ends off a piece boundary, as libtorrent lays v2 files out.
    assert.deepEqual(
      meta.files.map((file) => [file.path.join('/'), file.length, file.pad]),
      [
        ['a.bin', 40_000, false],
        ['.pad/9152', 9152, true],
        ['empty', 0, false],
        ['sub/b.txt', 100, false],
        ['.pad/16284', 16284, true],
        ['z.bin', 70_000, false],
        ['.pad/11920', 11920, true],
      ],
    );
    assert.equal(meta.pieceCount, 3 + 1 + 5);
    assert.equal(meta.length, 9 * PL);
    assert.equal(meta.pieceHashes.length, 0);
    assert.throws(() => meta.pieceHash(0), /v2-only/);
    const v2 = meta.v2!;
    assert.deepEqual(v2.piecesRoots[0], roots[0]);
    assert.equal(v2.piecesRoots[2], undefined);
    assert.deepEqual(v2.piecesRoots[5], roots[3]);
    assert.deepEqual(v2.pieceLayers.get(Buffer.from(roots[3]!).toString('hex')), layers[3]);
    assert.equal(v2.pieceLayers.size, 2);
    assert.equal(v2.hasPieceLayers, true);
  });

  it('accepts a torrent without piece layers (BEP 9 metadata has none) and says so', () => {
    const meta = parseMetainfo(v2Torrent(FILES, { layers: null }).bytes);
    assert.equal(meta.v2!.hasPieceLayers, false);
    assert.equal(meta.v2!.pieceLayers.size, 0);
  });

  it('refuses a layer that does not hash to its root', () => {
    const { roots, layers } = v2Torrent(FILES);
    const bad = new Uint8Array(layers[3]!);
    bad[5]! ^= 1;
    const torrent = v2Torrent(FILES, {
      layers: [
        [roots[0]!, layers[0]!],
        [roots[3]!, bad],
      ],
    });
    refused(torrent.bytes, /does not hash to its pieces root/);
  });

  it('refuses a wrong pieces root (the layer no longer matches it)', () => {
    const torrent = v2Torrent(FILES, {
      leaf: (spec, root) => {
        const wrong = root && new Uint8Array(root);
        if (wrong && spec.path[0] === 'z.bin') wrong[0]! ^= 0xff;
        return [['length', spec.length], ...(wrong ? ([['pieces root', wrong]] as Array<[string, B]>) : [])];
      },
    });
    refused(torrent.bytes, /has no layer for file "z.bin"|belongs to no file/);
  });

  it('refuses a missing layer, a layer of the wrong length, and an entry for no file', () => {
    const { roots, layers } = v2Torrent(FILES);
    refused(v2Torrent(FILES, { layers: [[roots[0]!, layers[0]!]] }).bytes, /no layer for file "z.bin"/);
    refused(
      v2Torrent(FILES, {
        layers: [
          [roots[0]!, layers[0]!],
          [roots[3]!, layers[3]!.subarray(32)],
        ],
      }).bytes,
      /is 128 bytes, not 160/,
    );
    refused(
      v2Torrent(FILES, {
        layers: [
          [roots[0]!, layers[0]!],
          [roots[3]!, layers[3]!],
          [new Uint8Array(32).fill(7), layers[0]!],
        ],
      }).bytes,
      /belongs to no file/,
    );
  });

  it('refuses piece lengths that are not a power of two of at least 16 KiB', () => {
    refused(v2Torrent([{ path: ['a'], length: 10 }], { pieceLength: 3 * PL }).bytes, /power of two/);
    refused(v2Torrent([{ path: ['a'], length: 10 }], { pieceLength: 8192 }).bytes, /power of two/);
  });

  it('refuses a file with data but no root, a zero root, a pad file, an empty name', () => {
    refused(
      v2Torrent([{ path: ['a'], length: 10 }], { leaf: () => [['length', 10]] }).bytes,
      /no valid pieces root/,
    );
    refused(
      v2Torrent([{ path: ['a'], length: 10 }], {
        leaf: () => [
          ['length', 10],
          ['pieces root', new Uint8Array(32)],
        ],
      }).bytes,
      /no valid pieces root/,
    );
    refused(
      v2Torrent([{ path: ['a'], length: 10 }], {
        leaf: (_spec, root) => [
          ['attr', 'p'],
          ['length', 10],
          ['pieces root', root!],
        ],
      }).bytes,
      /pad file/,
    );
    refused(
      v2Torrent([
        { path: ['dir', ''], length: 10 },
        { path: ['dir', 'x'], length: 10 },
      ]).bytes,
      /name is empty/,
    );
  });

  it('refuses huge declared sizes before allocating anything per piece', () => {
    const huge = 2 ** 52; // 2^38 pieces of 16 KiB
    refused(
      v2Torrent([{ path: ['a'], length: huge }], {
        layers: null,
        leaf: () => [
          ['length', huge],
          ['pieces root', new Uint8Array(32).fill(1)],
        ],
      }).bytes,
      new RegExp(`more than ${MAX_PIECE_COUNT} pieces`),
    );
    refused(
      v2Torrent([{ path: ['a'], length: 1 }], {
        leaf: () => [
          ['length', 2 ** 60],
          ['pieces root', new Uint8Array(32).fill(1)],
        ],
      }).bytes,
      /length must be an integer/,
    );
  });

  it('refuses trees deeper than MAX_PATH_DEPTH and keys out of order', () => {
    let node: Record<string, unknown> = { '': { length: 1, 'pieces root': new Uint8Array(32).fill(1) } };
    for (let i = 0; i < MAX_PATH_DEPTH + 5; i++) node = { [`d${i}`]: node };
    assert.throws(() => readFileTree(node), /nested deeper than 64/);
    const wide: Record<string, unknown> = {};
    for (let i = 0; i < 11; i++) wide[`f${String(i).padStart(2, '0')}`] = { '': { length: 0 } };
    assert.equal(readFileTree(wide, 11).length, 11);
    assert.throws(() => readFileTree(wide, 10), /more than 10 files/);
    const unordered = bytesOf({
      d: [
        [
          'info',
          {
            d: [
              [
                'file tree',
                {
                  d: [
                    ['b', d([['', d([['length', 0]])]])],
                    ['a', d([['', d([['length', 0]])]])],
                  ],
                },
              ],
              ['meta version', 2],
              ['name', 'x'],
              ['piece length', PL],
            ],
          },
        ],
      ],
    });
    refused(unordered, /not in sorted order/);
  });

  it('refuses unknown meta versions and a file tree without meta version 2', () => {
    const base = v2Torrent([{ path: ['a'], length: 10 }]).bytes;
    const swapped = Buffer.from(base).toString('latin1').replace('12:meta versioni2e', '12:meta versioni3e');
    refused(new Uint8Array(Buffer.from(swapped, 'latin1')), /meta version 3 is not supported/);
    const without = Buffer.from(base).toString('latin1').replace('12:meta versioni2e', '12:meta versioni1e');
    refused(new Uint8Array(Buffer.from(without, 'latin1')), /file tree but no meta version 2/);
  });
});

/** A hybrid from encodeTorrentV2 over FILES, or with its v1 list replaced. */
function hybrid(v1Files?: B[]): Uint8Array {
  const pieceLength = PL;
  const fileHashes = FILES.map((spec, index) => {
    const merkle = fileMerkle(data(spec.length, index + 1), pieceLength);
    return {
      ...(merkle.root && { piecesRoot: merkle.root }),
      ...(merkle.pieceLayer && { pieceLayer: merkle.pieceLayer }),
    };
  });
  const layout = hybridLayout(
    FILES.map((file) => file.length),
    pieceLength,
    false,
  );
  const payload = Buffer.concat(
    layout.map((entry) =>
      entry.fileIndex === undefined ? new Uint8Array(entry.length) : data(entry.length, entry.fileIndex + 1),
    ),
  );
  const hashes: Buffer[] = [];
  for (let offset = 0; offset < payload.length; offset += pieceLength) {
    hashes.push(
      createHash('sha1')
        .update(payload.subarray(offset, offset + pieceLength))
        .digest(),
    );
  }
  const bytes = encodeTorrentV2({
    version: 'hybrid',
    name: 'hy',
    pieceLength,
    files: FILES,
    fileHashes,
    pieceHashes: new Uint8Array(Buffer.concat(hashes)),
  });
  if (v1Files === undefined) return bytes;
  // Swap the v1 file list for `v1Files` (the v1 piece count stays right as long as the total does).
  const latin = Buffer.from(bytes).toString('latin1');
  const start = latin.indexOf('5:filesl') + 7;
  let depth = 0;
  let end = start;
  // Find the end of the list by scanning bencode tokens (strings may contain 'e').
  for (let i = start; i < latin.length; ) {
    const c = latin[i]!;
    if (c === 'l' || c === 'd') {
      depth++;
      i++;
    } else if (c === 'e') {
      depth--;
      i++;
      if (depth === 0) {
        end = i;
        break;
      }
    } else if (c === 'i') i = latin.indexOf('e', i) + 1;
    else {
      const colon = latin.indexOf(':', i);
      i = colon + 1 + Number(latin.slice(i, colon));
    }
  }
  return new Uint8Array(
    Buffer.concat(
      [bytes.subarray(0, start), bytesOf(v1Files), bytes.subarray(end)].map((part) => Buffer.from(part)),
    ),
  );
}

const v1 = (path: string[], length: number, pad = false): B =>
  d([['length', length], ['path', path], ...(pad ? ([['attr', 'p']] as Array<[string, B]>) : [])]);

describe('parseMetainfo: hybrid (BEP 52)', () => {
  it('reads both halves; encodeTorrentV2 is deterministic', () => {
    const bytes = hybrid();
    assert.deepEqual(hybrid(), bytes);
    const meta = parseMetainfo(bytes);
    assert.equal(meta.version, 'hybrid');
    assert.equal(meta.infoHashHex, createHash('sha1').update(meta.infoBytes).digest('hex'));
    assert.equal(meta.infoHashV2Hex, createHash('sha256').update(meta.infoBytes).digest('hex'));
    assert.equal(meta.pieceCount, 9);
    assert.deepEqual(
      meta.files.map((file) => file.pad),
      [false, true, false, false, true, false, true],
    );
    assert.equal(meta.v2!.piecesRoots.filter(Boolean).length, 3);
  });

  it('accepts the older layout too: a pad before the next file with data, none at the end', () => {
    const meta = parseMetainfo(
      hybrid([
        v1(['a.bin'], 40_000),
        v1(['empty'], 0),
        v1(['.pad', '9152'], 9152, true),
        v1(['sub', 'b.txt'], 100),
        v1(['.pad', '16284'], 16284, true),
        v1(['z.bin'], 70_000),
        v1(['.pad', 'x'], 11920, true),
      ]),
    );
    assert.equal(meta.version, 'hybrid');
  });

  it('refuses v1 lists that disagree with the tree: length, name, order, missing pad, extra file', () => {
    const cases: Array<[B[], RegExp]> = [
      [
        [
          v1(['a.bin'], 40_001),
          v1(['.pad', '9151'], 9151, true),
          v1(['empty'], 0),
          v1(['sub', 'b.txt'], 100),
          v1(['.pad', '16284'], 16284, true),
          v1(['z.bin'], 70_000),
          v1(['.pad', '11920'], 11920, true),
        ],
        /is 40001 bytes in v1 and 40000 in v2/,
      ],
      [
        [
          v1(['A.bin'], 40_000),
          v1(['.pad', '9152'], 9152, true),
          v1(['empty'], 0),
          v1(['sub', 'b.txt'], 100),
          v1(['.pad', '16284'], 16284, true),
          v1(['z.bin'], 70_000),
          v1(['.pad', '11920'], 11920, true),
        ],
        /not named "a.bin"/,
      ],
      [
        [
          v1(['a.bin'], 40_000),
          v1(['.pad', '9152'], 9152, true),
          v1(['empty'], 0),
          v1(['sub', 'b.txt'], 100),
          v1(['z.bin'], 70_000),
          v1(['.pad', '11920'], 11920, true),
          v1(['.pad', '16284'], 16284, true),
        ],
        /does not start on a piece boundary/,
      ],
      [
        [
          v1(['a.bin'], 40_000),
          v1(['.pad', '9152'], 9152, true),
          v1(['empty'], 0),
          v1(['sub', 'b.txt'], 100),
          v1(['.pad', '16284'], 16284, true),
          v1(['z.bin'], 70_000),
          v1(['.pad', '11920'], 11920, true),
          v1(['extra'], 0),
        ],
        /is not in the v2 file tree/,
      ],
      [
        [
          v1(['a.bin'], 40_000),
          v1(['.pad', '9152'], 9152, true),
          v1(['empty'], 0),
          v1(['sub', 'b.txt'], 100),
          v1(['.pad', '16284'], 16284, true),
        ],
        /v2 file tree has 1 file\(s\) more/,
      ],
    ];
    for (const [files, pattern] of cases) {
      assert.throws(
        () => parseMetainfo(hybrid(files)),
        (error: unknown) => {
          assert.ok(error instanceof TorkError);
          // A wrong total also breaks the v1 piece count, checked first: either way one clear line.
          assert.match(error.message, new RegExp(`${pattern.source}|info\\.pieces holds`));
          return true;
        },
        pattern.source,
      );
    }
  });
});
