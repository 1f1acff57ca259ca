/**
 * Names as libtorrent 2.0.8 reads them (issue 16): v2 file trees sanitised like v1 lists, duplicates
 * compared ignoring ASCII case, BitComet pad files. Every expected path here is what
 * python3-libtorrent 2.0.8 printed for the same torrent (`torrent_info(...).files().file_path(i)`).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { buildTorrent } from '@tork/testkit';
import { TorkErrorCode as Codes, TorkError } from '../errors.js';
import { MAX_PATH_RENAMES } from './limits.js';
import { fileMerkle } from './merkle-tree.js';
import { parseMetainfo } from './metainfo.js';
import { unsafeComponentReason } from './safe-path.js';

const enc = new TextEncoder();

/** Bencode with dictionary keys sorted by their bytes (keys are raw bytes given as latin1 strings or UTF-8). */
type B = number | Uint8Array | B[] | Map<Uint8Array, B>;
function benc(value: B): Buffer {
  if (typeof value === 'number') return Buffer.from(`i${value}e`);
  if (value instanceof Uint8Array) return Buffer.concat([Buffer.from(`${value.length}:`), value]);
  if (Array.isArray(value)) return Buffer.concat([Buffer.from('l'), ...value.map(benc), Buffer.from('e')]);
  const entries = [...value].sort((a, b) => Buffer.compare(a[0], b[0]));
  return Buffer.concat([
    Buffer.from('d'),
    ...entries.flatMap(([k, v]) => [benc(k), benc(v)]),
    Buffer.from('e'),
  ]);
}
const key = (s: string | Uint8Array) => (typeof s === 'string' ? enc.encode(s) : s);
const dict = (entries: Array<[string | Uint8Array, B]>) => new Map(entries.map(([k, v]) => [key(k), v]));

/** A v2-only torrent of small files (one piece each: no piece layers needed) at the given raw paths. */
function v2Only(files: Array<[Array<string | Uint8Array>, Uint8Array]>): Uint8Array {
  const tree = dict([]);
  for (const [path, data] of files) {
    let dir = tree;
    for (const part of path.slice(0, -1)) {
      const k = [...dir.keys()].find((existing) => Buffer.compare(existing, key(part)) === 0);
      if (k) dir = dir.get(k) as Map<Uint8Array, B>;
      else {
        const sub = dict([]);
        dir.set(key(part), sub);
        dir = sub;
      }
    }
    const leaf: Array<[string, B]> = [['length', data.length]];
    if (data.length > 0) leaf.push(['pieces root', fileMerkle(data, 16_384).root!]);
    dir.set(key(path[path.length - 1]!), dict([['', dict(leaf)]]));
  }
  const info = dict([
    ['file tree', tree],
    ['meta version', 2],
    ['name', enc.encode('set')],
    ['piece length', 16_384],
  ]);
  return new Uint8Array(benc(dict([['info', info]])));
}

const paths = (meta: ReturnType<typeof parseMetainfo>) =>
  meta.files.filter((file) => !file.pad).map((file) => file.path.join('/'));
const one = new Uint8Array([1]);

describe('v2 file trees: names sanitised as v1 names are (libtorrent 2.0.8)', () => {
  it('drops `..` and `.`, removes separators and direction controls, replaces control characters; warns', () => {
    const cases: Array<[Array<[Array<string | Uint8Array>, Uint8Array]>, string[]]> = [
      [
        [
          [['..', 'x.txt'], one],
          [['y.txt'], one],
        ],
        ['x.txt', 'y.txt'],
      ],
      [
        [
          [['a/b.txt'], one],
          [['c\\d.txt'], one],
        ],
        ['ab.txt', 'cd.txt'],
      ],
      [[[['.', 'x.txt'], one]], ['x.txt']],
      [
        [
          [['a\u0001b.txt'], one],
          [['e\u202etxt.exe'], one],
        ],
        ['a_b.txt', 'etxt.exe'],
      ],
    ];
    for (const [files, expected] of cases) {
      const bytes = v2Only(files);
      const meta = parseMetainfo(bytes);
      assert.equal(meta.version, 2);
      assert.deepEqual(paths(meta), expected);
      assert.ok(meta.warnings.some((warning) => warning.kind === 'path-sanitized'));
      for (const file of meta.files)
        for (const part of file.path) assert.equal(unsafeComponentReason(part), undefined, part);
      // The v2 info-hash is over the info bytes as they are: sanitising never changes it.
      const info = createHash('sha256').update(meta.infoBytes).digest('hex');
      assert.equal(meta.infoHashV2Hex, info);
    }
  });

  it('renames duplicates compared ignoring ASCII case: A.txt, a.txt → A.txt, a.1.txt', () => {
    const meta = parseMetainfo(
      v2Only([
        [['A.txt'], one],
        [['a.txt'], new Uint8Array([2])],
      ]),
    );
    assert.deepEqual(paths(meta), ['A.txt', 'a.1.txt']);
    assert.deepEqual(
      meta.warnings.map((warning) => [warning.kind, warning.fileIndex]),
      [['path-renamed', 2]],
    );
    // Two names that sanitise to the same one.
    const merged = parseMetainfo(
      v2Only([
        [['a/b'], one],
        [['ab'], one],
      ]),
    );
    assert.deepEqual(paths(merged).sort(), ['ab', 'ab.1']);
  });

  it('still refuses an empty name (libtorrent: failed to parse files)', () => {
    assert.throws(
      () => parseMetainfo(v2Only([[['', 'x.txt'], one]])),
      (error: unknown) =>
        error instanceof TorkError && error.code === Codes.METAINFO && /empty/.test(error.message),
    );
  });

  it(`refuses more than MAX_PATH_RENAMES (${MAX_PATH_RENAMES}) renames`, () => {
    // Names that differ only in ASCII case all fold to one.
    const names = (count: number) =>
      Array.from({ length: count }, (_, i) => [
        [
          Array.from(i.toString(2).padStart(8, '0'))
            .map((bit) => (bit === '1' ? 'A' : 'a'))
            .join(''),
        ],
        one,
      ]) as Array<[string[], Uint8Array]>;
    assert.equal(parseMetainfo(v2Only(names(MAX_PATH_RENAMES + 1))).warnings.length, MAX_PATH_RENAMES);
    assert.throws(
      () => parseMetainfo(v2Only(names(MAX_PATH_RENAMES + 2))),
      (error: unknown) => error instanceof TorkError && error.code === Codes.UNSAFE_PATH,
    );
  });

  it('a `_____padding_file_` name in a v2 tree is an ordinary file (libtorrent: no pad flag there)', () => {
    const meta = parseMetainfo(v2Only([[['_____padding_file_0'], one]]));
    assert.equal(meta.files[0]!.pad, false);
  });
});

describe('v1 lists: duplicates ignoring ASCII case, BitComet pads (libtorrent 2.0.8)', () => {
  const v1 = (files: Array<{ path: string[]; length: number }>) =>
    parseMetainfo(buildTorrent({ files }).bytes);

  it('renames files whose paths differ only in ASCII case; directories are not renamed', () => {
    assert.deepEqual(
      paths(
        v1([
          { path: ['A.txt'], length: 1 },
          { path: ['a.txt'], length: 1 },
          { path: ['a.1.txt'], length: 1 },
          { path: ['A.1.TXT'], length: 1 },
        ]),
      ),
      ['A.txt', 'a.1.txt', 'a.1.1.txt', 'A.1.2.TXT'],
    );
    assert.deepEqual(
      paths(
        v1([
          { path: ['Dir', 'x'], length: 1 },
          { path: ['dir', 'y'], length: 1 },
        ]),
      ),
      ['Dir/x', 'dir/y'],
    );
    assert.deepEqual(
      paths(
        v1([
          { path: ['Dir', 'x'], length: 1 },
          { path: ['dir', 'x'], length: 1 },
        ]),
      ),
      ['Dir/x', 'dir/x.1'],
    );
    assert.deepEqual(
      paths(
        v1([
          { path: ['Dir'], length: 1 },
          { path: ['dir', 'y'], length: 1 },
        ]),
      ),
      ['Dir.1', 'dir/y'],
    );
    // Only ASCII is folded, as in libtorrent.
    assert.deepEqual(
      paths(
        v1([
          { path: ['Ä.txt'], length: 1 },
          { path: ['ä.txt'], length: 1 },
        ]),
      ),
      ['Ä.txt', 'ä.txt'],
    );
  });

  it('a path holding `_____padding_file_` is a pad file: never written, still in the piece layout', () => {
    const bitComet = '_____padding_file_0_if you see this file, please update to BitComet 0.85 or above____';
    for (const padPath of [
      [bitComet],
      ['sub', bitComet],
      ['_____padding_file_0', 'x'],
      ['foo_____padding_file_bar'],
    ]) {
      const meta = v1([
        { path: ['a.bin'], length: 5_000 },
        { path: padPath, length: 11_384 },
        { path: ['b.bin'], length: 1 },
      ]);
      assert.deepEqual(
        meta.files.map((file) => [file.path.join('/'), file.length, file.pad]),
        [
          ['a.bin', 5_000, false],
          [padPath.join('/'), 11_384, true],
          ['b.bin', 1, false],
        ],
      );
      assert.equal(meta.length, 16_385);
    }
  });
});
