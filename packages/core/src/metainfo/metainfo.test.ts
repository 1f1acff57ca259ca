import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { buildTorrent, encodeBencodeOrdered, type FixtureValue, sha1 } from '@tork/testkit';
import { findTopLevelSpan } from '../bencode/index.js';
import { TorkErrorCode as Codes, TorkError, type TorkErrorCode } from '../errors.js';
import { FileLayout } from './file-layout.js';
import {
  MAX_ANNOUNCE_URLS,
  MAX_FILES,
  MAX_METAINFO_TRAILING_BYTES,
  MAX_METAINFO_WARNINGS,
  MAX_PATH_DEPTH,
  MAX_PATH_RENAMES,
  MAX_PIECE_LENGTH,
  MAX_WEB_SEEDS,
} from './limits.js';
import { parseMetainfo } from './metainfo.js';
import { outputPath, unsafeComponentReason } from './safe-path.js';

const text = (s: string): Uint8Array => new TextEncoder().encode(s);

function assertTorkError(fn: () => unknown, code: TorkErrorCode, pattern?: RegExp): TorkError {
  let caught: TorkError | undefined;
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof TorkError, `expected TorkError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    if (pattern) assert.match(error.message, pattern);
    caught = error;
    return true;
  });
  return caught!;
}

/** A torrent whose info dict is replaced wholesale (pieces recomputed by the caller if needed). */
function withInfo(info: FixtureValue, root: Record<string, FixtureValue> = {}): Uint8Array {
  return encodeBencodeOrdered({ ...root, info });
}

const twentyZeros = new Uint8Array(20);

describe('parseMetainfo: single-file', () => {
  it('reads every field of a single-file torrent', () => {
    const built = buildTorrent({
      name: 'hello.bin',
      length: 40_000,
      pieceLength: 16_384,
      announce: 'http://tracker.example/announce',
      comment: 'a comment',
      createdBy: 'tork tests',
      creationDate: 1_700_000_000,
      private: true,
    });
    const meta = parseMetainfo(built.bytes);
    assert.equal(meta.name, 'hello.bin');
    assert.equal(meta.length, 40_000);
    assert.equal(meta.pieceLength, 16_384);
    assert.equal(meta.pieceCount, 3);
    assert.equal(meta.isMultiFile, false);
    assert.equal(meta.private, true);
    assert.deepEqual(meta.files, [{ path: ['hello.bin'], length: 40_000, offset: 0, pad: false, attr: '' }]);
    assert.deepEqual(meta.announce, [['http://tracker.example/announce']]);
    assert.deepEqual(meta.urlList, []);
    assert.equal(meta.comment, 'a comment');
    assert.equal(meta.createdBy, 'tork tests');
    assert.equal(meta.creationDate, 1_700_000_000);
    assert.deepEqual(meta.infoHash, built.infoHash);
    assert.equal(meta.infoHashHex, built.infoHashHex);
    assert.deepEqual(meta.pieceHashes, built.pieceHashes);
    assert.deepEqual(meta.pieceHash(2), sha1(built.data.subarray(32_768)));
  });

  it('hands out copies, not views of the input or of the decoder output', () => {
    const built = buildTorrent({ length: 100 });
    const input = new Uint8Array(built.bytes);
    const meta = parseMetainfo(input);
    const span = findTopLevelSpan(input, 'info')!;
    assert.deepEqual(meta.infoBytes, input.subarray(span.start, span.end));
    input.fill(0);
    assert.deepEqual(meta.infoHash, built.infoHash);
    assert.deepEqual(meta.pieceHashes, built.pieceHashes);
    assert.deepEqual(sha1(meta.infoBytes), built.infoHash);
    assert.equal(Object.getPrototypeOf(meta.infoHash), Uint8Array.prototype);
    assert.ok(Object.isFrozen(meta));
    assert.ok(Object.isFrozen(meta.files));
    assert.ok(Object.isFrozen(meta.files[0]));
  });

  it('accepts a Buffer', () => {
    const built = buildTorrent({ length: 10 });
    assert.equal(parseMetainfo(Buffer.from(built.bytes)).infoHashHex, built.infoHashHex);
  });

  it('leaves optional fields out when absent, and ignores a creation date that is not an integer', () => {
    const meta = parseMetainfo(buildTorrent({ length: 10, root: { 'creation date': 'yesterday' } }).bytes);
    assert.equal(meta.comment, undefined);
    assert.equal(meta.createdBy, undefined);
    assert.equal(meta.creationDate, undefined);
    assert.equal(meta.private, false);
    assert.deepEqual(meta.announce, []);
    assert.equal('comment' in meta, false);
  });

  it('pieceHash refuses an index outside the torrent', () => {
    const meta = parseMetainfo(buildTorrent({ length: 10 }).bytes);
    assertTorkError(() => meta.pieceHash(1), Codes.OUT_OF_RANGE);
    assertTorkError(() => meta.pieceHash(-1), Codes.OUT_OF_RANGE);
    assertTorkError(() => meta.pieceHash(0.5), Codes.OUT_OF_RANGE);
  });
});

describe('parseMetainfo: multi-file', () => {
  it('computes offsets, total length and piece count across files', () => {
    const built = buildTorrent({
      name: 'album',
      pieceLength: 1024,
      files: [
        { path: ['cd1', 'track1.flac'], length: 3000 },
        { path: ['empty.txt'], length: 0 },
        { path: ['cd1', 'track2.flac'], length: 1500 },
        { path: ['cover.jpg'], length: 10 },
      ],
    });
    const meta = parseMetainfo(built.bytes);
    assert.equal(meta.isMultiFile, true);
    assert.equal(meta.name, 'album');
    assert.equal(meta.length, 4510);
    assert.equal(meta.pieceCount, 5);
    assert.deepEqual(
      meta.files.map((file) => [file.path.join('/'), file.length, file.offset]),
      [
        ['cd1/track1.flac', 3000, 0],
        ['empty.txt', 0, 3000],
        ['cd1/track2.flac', 1500, 3000],
        ['cover.jpg', 10, 4500],
      ],
    );
    const layout = FileLayout.fromMetainfo(meta);
    assert.equal(layout.pieceCount, meta.pieceCount);
    assert.equal(layout.pieceSize(4), 4510 - 4096);
  });

  it('keeps BEP 47 pad files and their attr flags', () => {
    const built = buildTorrent({
      pieceLength: 1024,
      files: [
        { path: ['a.bin'], length: 1000, attr: 'x' },
        { path: ['.pad', '24'], length: 24, pad: true },
        { path: ['b.bin'], length: 1000, attr: 'h' },
        { path: ['.pad', '24'], length: 24, pad: true },
        { path: ['c'], length: 5 },
      ],
    });
    const meta = parseMetainfo(built.bytes);
    assert.deepEqual(
      meta.files.map((file) => [file.pad, file.attr]),
      [
        [false, 'x'],
        [true, 'p'],
        [false, 'h'],
        [true, 'p'],
        [false, ''],
      ],
    );
    assert.equal(meta.length, 2053);
    // Pad files are hashed as zeros like any payload bytes.
    assert.deepEqual(meta.pieceHash(0), sha1(built.data.subarray(0, 1024)));
    assert.deepEqual(built.data.subarray(1000, 1024), new Uint8Array(24));
  });

  it('counts a BEP 47 symlink as zero bytes (declared length ignored, or absent), not written', () => {
    // The payload is the 100-byte file alone: pieces hashed over it, as libtorrent lays it out.
    for (const link of [
      { attr: 'l', length: 999, path: ['b', 'link'], 'symlink path': ['a'] },
      { attr: 'l', path: ['b', 'link'], 'symlink path': ['..', 'a'] },
    ]) {
      const meta = parseMetainfo(
        buildTorrent({
          pieceLength: 64,
          files: [{ path: ['a'], length: 100 }],
          info: { files: [{ length: 100, path: ['a'] }, link] },
        }).bytes,
      );
      assert.equal(meta.length, 100);
      assert.equal(meta.pieceCount, 2);
      const entry = meta.files[1]!;
      assert.deepEqual(
        { length: entry.length, offset: entry.offset, pad: entry.pad, symlink: entry.symlink },
        { length: 0, offset: 100, pad: true, symlink: ['a'] },
      );
      assert.deepEqual(
        meta.warnings.map((warning) => [warning.kind, warning.fileIndex]),
        [['symlink-skipped', 1]],
      );
      assert.match(meta.warnings[0]!.message, /"b\/link" is a symlink to "a"; tork does not create links/);
      assert.equal(new FileLayout(meta.files, meta.pieceLength, meta.length).pieceCount, 2);
    }
  });

  it('reads a symlink without a symlink path as an empty file, as libtorrent does', () => {
    const meta = parseMetainfo(
      buildTorrent({
        files: [{ path: ['a'], length: 10 }],
        info: {
          files: [
            { length: 10, path: ['a'] },
            { attr: 'l', length: 5, path: ['b'] },
          ],
        },
      }).bytes,
    );
    assert.deepEqual(
      { length: meta.files[1]!.length, pad: meta.files[1]!.pad, symlink: meta.files[1]!.symlink },
      { length: 0, pad: false, symlink: undefined },
    );
    assert.equal(meta.length, 10);
  });

  it('accepts a pad file without a path (placed at .pad/<length>), and refuses other entries without one', () => {
    const meta = parseMetainfo(
      buildTorrent({
        files: [
          { path: ['a'], length: 45 },
          { path: ['.pad', 'x'], length: 19, pad: true },
          { path: ['b'], length: 4 },
        ],
        info: {
          files: [
            { length: 45, path: ['a'] },
            { length: 19, attr: 'p' },
            { length: 4, path: ['b'] },
          ],
        },
      }).bytes,
    );
    assert.deepEqual(meta.files[1]!.path, ['.pad', '19']);
    assert.equal(meta.files[1]!.pad, true);
    assert.equal(meta.files[2]!.offset, 64);
    assertTorkError(
      () =>
        parseMetainfo(
          buildTorrent({ files: [{ path: ['a'], length: 4 }], info: { files: [{ length: 4 }] } }).bytes,
        ),
      Codes.METAINFO,
      /info\.files\[0\]\.path is missing/,
    );
    assertTorkError(
      () =>
        parseMetainfo(
          buildTorrent({ files: [{ path: ['a'], length: 4 }], info: { files: [{ path: ['a'] }] } }).bytes,
        ),
      Codes.METAINFO,
      /info\.files\[0\]\.length is missing/,
    );
  });

  it('renames a repeated entry and a file in the way of a directory (base.N.ext), with warnings', () => {
    const same = parseMetainfo(
      buildTorrent({
        files: [
          { path: ['a', 'b.txt'], length: 1 },
          { path: ['a', 'b.txt'], length: 1 },
          { path: ['a', 'b.txt'], length: 1 },
        ],
      }).bytes,
    );
    assert.deepEqual(
      same.files.map((file) => file.path.join('/')),
      ['a/b.txt', 'a/b.1.txt', 'a/b.2.txt'],
    );
    assert.deepEqual(
      same.warnings.map((warning) => [warning.kind, warning.fileIndex]),
      [
        ['path-renamed', 1],
        ['path-renamed', 2],
      ],
    );
    // Directories win: the file named like a directory is the one renamed, wherever it is listed.
    const inTheWay = parseMetainfo(
      buildTorrent({
        files: [
          { path: ['a'], length: 1 },
          { path: ['a', 'b'], length: 1 },
        ],
      }).bytes,
    );
    assert.deepEqual(
      inTheWay.files.map((file) => file.path.join('/')),
      ['a.1', 'a/b'],
    );
    const inTheWayLater = parseMetainfo(
      buildTorrent({
        files: [
          { path: ['x', 'y', 'z'], length: 1 },
          { path: ['x', 'y'], length: 1 },
        ],
      }).bytes,
    );
    assert.deepEqual(
      inTheWayLater.files.map((file) => file.path.join('/')),
      ['x/y/z', 'x/y.1'],
    );
  });

  it('refuses two entries with the same plain path and different lengths (an inconsistent file list)', () => {
    const bytes = buildTorrent({
      files: [
        { path: ['f.txt'], length: 1 },
        { path: ['g'], length: 2 },
        { path: ['f.txt'], length: 3 },
      ],
    }).bytes;
    assertTorkError(
      () => parseMetainfo(bytes),
      Codes.UNSAFE_PATH,
      /file 2: "f\.txt" is also the path of file 0/,
    );
    // Paths that only meet once sanitised are renamed whatever their lengths.
    const sanitised = parseMetainfo(
      buildTorrent({
        files: [
          { path: ['f'], length: 1 },
          { path: ['x'], length: 3 },
        ],
        info: {
          files: [
            { length: 1, path: ['/', 'f'] },
            { length: 3, path: ['\\', 'f'] },
          ],
        },
      }).bytes,
    );
    assert.deepEqual(
      sanitised.files.map((file) => file.path.join('/')),
      ['f', 'f.1'],
    );
  });

  it(`refuses more than MAX_PATH_RENAMES (${MAX_PATH_RENAMES}) renamed files`, () => {
    const files = (count: number) => Array.from({ length: count }, () => ({ path: ['same'], length: 1 }));
    const ok = parseMetainfo(buildTorrent({ files: files(MAX_PATH_RENAMES + 1) }).bytes);
    assert.equal(ok.files.at(-1)!.path[0], `same.${MAX_PATH_RENAMES}`);
    assertTorkError(
      () => parseMetainfo(buildTorrent({ files: files(MAX_PATH_RENAMES + 2) }).bytes),
      Codes.UNSAFE_PATH,
      /101 files share their path/,
    );
  });

  it('refuses an empty files list, an empty path, and both length and files', () => {
    const base = buildTorrent({ files: [{ path: ['a'], length: 10 }] });
    assertTorkError(
      () => parseMetainfo(buildTorrent({ files: [{ path: ['a'], length: 10 }], info: { files: [] } }).bytes),
      Codes.METAINFO,
      /info\.files must not be empty/,
    );
    assertTorkError(
      () =>
        parseMetainfo(buildTorrent({ info: { files: [{ length: 10, path: [] }], length: undefined } }).bytes),
      Codes.METAINFO,
      /info\.files\[0\]\.path is missing/,
    );
    assertTorkError(
      () => parseMetainfo(buildTorrent({ files: [{ path: ['a'], length: 10 }], info: { length: 10 } }).bytes),
      Codes.METAINFO,
      /must not have both length and files/,
    );
    assertTorkError(
      () => parseMetainfo(buildTorrent({ length: 10, info: { length: undefined } }).bytes),
      Codes.METAINFO,
      /either length .* or files/,
    );
    assert.ok(parseMetainfo(base.bytes));
  });
});

describe('parseMetainfo: info-hash over the raw bytes', () => {
  it('hashes an info dict whose keys are out of order exactly as found', () => {
    const pieces = sha1(new Uint8Array(5));
    // Unsorted on purpose: a re-encoding would sort the keys and change the hash.
    const info = new Map<string, FixtureValue>([
      ['pieces', pieces],
      ['name', 'unsorted.bin'],
      ['piece length', 16_384],
      ['length', 5],
      ['x-custom', ['kept', 1]],
    ]);
    const bytes = encodeBencodeOrdered(
      new Map<string, FixtureValue>([
        ['info', info],
        ['announce', 'udp://t:1'],
      ]),
    );
    const span = findTopLevelSpan(bytes, 'info')!;
    const expected = createHash('sha1').update(bytes.subarray(span.start, span.end)).digest('hex');
    const meta = parseMetainfo(bytes);
    assert.equal(meta.infoHashHex, expected);
    const sorted = encodeBencodeOrdered({ info: Object.fromEntries(info) });
    assert.notEqual(parseMetainfo(sorted).infoHashHex, expected);
    assert.deepEqual(meta.infoBytes, bytes.subarray(span.start, span.end));
  });
});

describe('parseMetainfo: trackers and web seeds', () => {
  it('reads announce-list tiers, drops empty tiers and duplicates, and keeps announce as a last tier', () => {
    const meta = parseMetainfo(
      buildTorrent({
        announce: 'http://solo/announce',
        announceList: [['udp://a:1', 'udp://b:2'], [], ['udp://a:1', 'http://c/'], ['  http://d/  ', '']],
      }).bytes,
    );
    assert.deepEqual(meta.announce, [
      ['udp://a:1', 'udp://b:2'],
      ['http://c/'],
      ['http://d/'],
      ['http://solo/announce'],
    ]);
  });

  it('does not repeat announce when announce-list already lists it', () => {
    const meta = parseMetainfo(
      buildTorrent({ announce: 'udp://b:2', announceList: [['udp://a:1'], ['udp://b:2']] }).bytes,
    );
    assert.deepEqual(meta.announce, [['udp://a:1'], ['udp://b:2']]);
  });

  it('skips malformed tracker entries instead of failing', () => {
    const meta = parseMetainfo(
      buildTorrent({
        length: 10,
        root: {
          announce: 42,
          'announce-list': [['udp://a:1', 7, ['nested']], 'udp://bare:1', 9, [new Uint8Array([0xff, 0xfe])]],
        },
      }).bytes,
    );
    assert.deepEqual(meta.announce, [['udp://a:1'], ['udp://bare:1']]);
    const notAList = parseMetainfo(
      buildTorrent({ announce: 'udp://x:1', root: { 'announce-list': 'nonsense' } }).bytes,
    );
    assert.deepEqual(notAList.announce, [['udp://x:1']]);
  });

  it('keeps at most MAX_ANNOUNCE_URLS trackers and MAX_WEB_SEEDS web seeds', () => {
    const urls = Array.from({ length: MAX_ANNOUNCE_URLS + 10 }, (_, i) => `udp://t${i}:1`);
    const meta = parseMetainfo(
      buildTorrent({
        announceList: [urls.slice(0, 600), urls.slice(600)],
        urlList: urls,
        announce: 'udp://last:1',
      }).bytes,
    );
    assert.equal(meta.announce.flat().length, MAX_ANNOUNCE_URLS);
    assert.equal(meta.announce.length, 2);
    assert.equal(meta.urlList.length, MAX_WEB_SEEDS);
  });

  it('reads url-list as a string or a list', () => {
    assert.deepEqual(parseMetainfo(buildTorrent({ urlList: 'http://seed/file' }).bytes).urlList, [
      'http://seed/file',
    ]);
    assert.deepEqual(
      parseMetainfo(buildTorrent({ urlList: ['http://a/', 'http://b/', 'http://a/', ''] }).bytes).urlList,
      ['http://a/', 'http://b/'],
    );
    assert.deepEqual(parseMetainfo(buildTorrent({ urlList: '' }).bytes).urlList, []);
  });
});

describe('parseMetainfo: text encodings', () => {
  it('prefers name.utf-8 and path.utf-8 over name and path', () => {
    const meta = parseMetainfo(
      buildTorrent({
        name: 'legacy',
        files: [{ path: ['old.txt'], length: 3 }],
        info: {
          'name.utf-8': 'Ünïcödé',
          files: [{ length: 3, path: ['old.txt'], 'path.utf-8': ['dir', 'nouveau-été.txt'] }],
        },
      }).bytes,
    );
    assert.equal(meta.name, 'Ünïcödé');
    assert.deepEqual(meta.files[0]!.path, ['dir', 'nouveau-été.txt']);
  });

  it('falls back to name and path when the .utf-8 variants are not valid UTF-8 or malformed', () => {
    const meta = parseMetainfo(
      buildTorrent({
        name: 'plain',
        files: [{ path: ['ok.txt'], length: 3 }],
        info: {
          'name.utf-8': new Uint8Array([0xc3, 0x28]),
          files: [{ length: 3, path: ['ok.txt'], 'path.utf-8': 'not a list' }],
        },
      }).bytes,
    );
    assert.equal(meta.name, 'plain');
    assert.deepEqual(meta.files[0]!.path, ['ok.txt']);
  });

  it('replaces each byte of invalid UTF-8 in a name with _, with a warning', () => {
    const meta = parseMetainfo(
      buildTorrent({
        length: 3,
        info: { name: new Uint8Array([0x41, 0xe9, 0x25, 0x42]) }, // "A", Latin-1 é, "%", "B"
      }).bytes,
    );
    assert.equal(meta.name, 'A_%B');
    assert.equal(meta.files[0]!.path[0], 'A_%B');
    assert.deepEqual(
      meta.warnings.map((warning) => warning.kind),
      ['path-sanitized'],
    );
    assert.match(meta.warnings[0]!.message, /"A\uFFFD%B" is used as "A_%B"/);
  });

  it('sanitises a name.utf-8 of .. to the info-hash rather than falling back to name', () => {
    const meta = parseMetainfo(buildTorrent({ name: 'safe', info: { 'name.utf-8': '..' } }).bytes);
    assert.equal(meta.name, meta.infoHashHex);
  });

  it('decodes comment and created by for display, preferring .utf-8', () => {
    const meta = parseMetainfo(
      buildTorrent({
        root: { comment: new Uint8Array([0x61, 0xff]), 'created by.utf-8': 'tørk', 'created by': 'tork' },
      }).bytes,
    );
    assert.equal(meta.comment, 'a\uFFFD');
    assert.equal(meta.createdBy, 'tørk');
  });
});

describe('parseMetainfo: odd and hostile paths are sanitised', () => {
  // [label, component as the torrent gives it, what it becomes in a file path (null: dropped)]
  const cases: Array<[string, string | Uint8Array, string | null]> = [
    ['..', '..', null],
    ['.', '.', null],
    ['empty', '', '_'],
    ['absolute', '/etc/passwd', 'etcpasswd'],
    ['only a slash', '/', null],
    ['a slash inside', 'a/../../b', 'a....b'],
    ['a backslash', 'a\\b', 'ab'],
    ['NUL and a newline', 'a\0b\n', 'a_b_'],
    ['a direction override', 'evil\u202Etxt.exe', 'eviltxt.exe'],
    ['invalid UTF-8', new Uint8Array([0x61, 0xff, 0xfe, 0x62]), 'a__b'],
    ['a drive letter', 'C:', 'C_'],
    ['a drive path', 'c:\\windows', 'c_windows'],
    ['too long, with an extension', `${'x'.repeat(300)}.mkv`, `${'x'.repeat(240)}.mkv`],
    ['too long, no extension', 'y'.repeat(300), 'y'.repeat(240)],
    ['too long, multi-byte', 'é'.repeat(200), 'é'.repeat(120)],
  ];
  for (const [label, component, expected] of cases) {
    it(`sanitises ${label} in a file path, with a warning naming the file`, () => {
      const meta = parseMetainfo(
        buildTorrent({
          files: [
            { path: ['fine'], length: 1 },
            { path: ['dir', 'x'], length: 1 },
          ],
          info: {
            files: [
              { length: 1, path: ['fine'] },
              { length: 1, path: ['dir', component, 'leaf'] },
            ],
          },
        }).bytes,
      );
      assert.deepEqual(meta.files[1]!.path, expected === null ? ['dir', 'leaf'] : ['dir', expected, 'leaf']);
      assert.deepEqual(meta.files[0]!.path, ['fine']);
      assert.equal(meta.warnings.length, 1);
      assert.equal(meta.warnings[0]!.kind, 'path-sanitized');
      assert.equal(meta.warnings[0]!.fileIndex, 1);
      assert.match(meta.warnings[0]!.message, /^file 1: path /);
      assert.doesNotMatch(meta.warnings[0]!.message, /[\0\n]/);
      for (const part of meta.files[1]!.path) assert.equal(unsafeComponentReason(part), undefined, part);
    });
    it(`sanitises ${label} as the name (the info-hash when nothing is left)`, () => {
      const meta = parseMetainfo(buildTorrent({ info: { name: component } }).bytes);
      assert.equal(meta.name, expected ?? meta.infoHashHex);
      assert.deepEqual(meta.files[0]!.path, [meta.name]);
      assert.equal(meta.warnings[0]!.kind, 'path-sanitized');
    });
  }

  it('uses _ for a path with nothing left, and renames the second such path _.1', () => {
    const meta = parseMetainfo(
      buildTorrent({
        files: [
          { path: ['a'], length: 3 },
          { path: ['b'], length: 5 },
        ],
        info: {
          files: [
            { length: 3, path: ['..', '..', '.'] },
            { length: 5, path: ['/'] },
          ],
        },
      }).bytes,
    );
    assert.deepEqual(
      meta.files.map((file) => file.path),
      [['_'], ['_.1']],
    );
    assert.deepEqual(
      meta.warnings.map((warning) => [warning.kind, warning.fileIndex]),
      [
        ['path-sanitized', 0],
        ['path-sanitized', 1],
        ['path-renamed', 1],
      ],
    );
  });

  it('keeps a torrent with ../../etc/passwd inside its directory', () => {
    const meta = parseMetainfo(
      buildTorrent({
        files: [{ path: ['x'], length: 4 }],
        info: { files: [{ length: 4, path: ['..', '..', 'etc', 'passwd'] }] },
      }).bytes,
    );
    assert.deepEqual(meta.files[0]!.path, ['etc', 'passwd']);
    const root = '/tmp/tork-out';
    assert.equal(outputPath(root, meta, 0), `${root}/${meta.name}/etc/passwd`);
  });

  it('accepts names that only look odd', () => {
    for (const name of ['..foo', 'a..b', '.hidden', 'x'.repeat(240), 'é'.repeat(120), 'ab:c', ' ']) {
      assert.equal(parseMetainfo(buildTorrent({ name }).bytes).name, name);
    }
    // Over 240 bytes libtorrent cuts a name to 240 (python3-libtorrent 2.0.8: `x`×255 → `x`×240).
    assert.equal(parseMetainfo(buildTorrent({ name: 'x'.repeat(255) }).bytes).name, 'x'.repeat(240));
  });

  it(`keeps at most MAX_METAINFO_WARNINGS (${MAX_METAINFO_WARNINGS}) warnings and counts the rest`, () => {
    const count = MAX_METAINFO_WARNINGS + 5;
    const meta = parseMetainfo(
      buildTorrent({
        files: Array.from({ length: count }, (_, i) => ({ path: [`f${i}`], length: 1 })),
        info: { files: Array.from({ length: count }, (_, i) => ({ length: 1, path: ['..', `f${i}`] })) },
      }).bytes,
    );
    assert.equal(meta.warnings.length, MAX_METAINFO_WARNINGS + 1);
    assert.equal(meta.warnings.at(-1)!.kind, 'more-warnings');
    assert.match(meta.warnings.at(-1)!.message, /^5 more warnings/);
    assert.deepEqual(meta.files.at(-1)!.path, [`f${count - 1}`]);
  });

  it('refuses a path deeper than MAX_PATH_DEPTH', () => {
    const deep = Array.from({ length: MAX_PATH_DEPTH + 1 }, (_, i) => `d${i}`);
    assertTorkError(
      () => parseMetainfo(buildTorrent({ files: [{ path: deep, length: 1 }] }).bytes),
      Codes.UNSAFE_PATH,
      /65 components/,
    );
    assert.ok(parseMetainfo(buildTorrent({ files: [{ path: deep.slice(1), length: 1 }] }).bytes));
  });

  it('refuses a relative path longer than MAX_RELATIVE_PATH_BYTES', () => {
    const long = Array.from({ length: 20 }, () => 'y'.repeat(250));
    assertTorkError(
      () => parseMetainfo(buildTorrent({ files: [{ path: long, length: 1 }] }).bytes),
      Codes.UNSAFE_PATH,
      /bytes long \(at most 4000\)/,
    );
  });
});

describe('parseMetainfo: invalid numbers and pieces', () => {
  it('refuses negative, huge and non-integer lengths', () => {
    assertTorkError(
      () => parseMetainfo(buildTorrent({ info: { length: -1 } }).bytes),
      Codes.METAINFO,
      /info\.length must not be negative/,
    );
    const huge = text('d4:infod6:lengthi99999999999999999999e4:name1:a12:piece lengthi16384e6:pieces20:');
    const hugeBytes = Buffer.concat([huge, twentyZeros, text('ee')]);
    assertTorkError(
      () => parseMetainfo(hugeBytes),
      Codes.METAINFO,
      /info\.length must be an integer below 2\^53/,
    );
    assertTorkError(
      () =>
        parseMetainfo(
          buildTorrent({
            files: [{ path: ['a'], length: 1 }],
            info: { files: [{ length: 'ten', path: ['a'] }] },
          }).bytes,
        ),
      Codes.METAINFO,
      /info\.files\[0\]\.length must be an integer/,
    );
    // Bencode has no floats: "i1.5e" fails before metainfo validation.
    const float = text('d4:infod6:lengthi1.5e4:name1:a12:piece lengthi16384e6:pieces0:ee');
    assertTorkError(() => parseMetainfo(float), Codes.BENCODE);
  });

  it('refuses a total length beyond 2^53 - 1 even when every file length is safe', () => {
    const half = 2 ** 52;
    assertTorkError(
      () =>
        parseMetainfo(
          buildTorrent({
            files: [{ path: ['a'], length: 1 }],
            info: {
              files: [
                { length: half, path: ['a'] },
                { length: half, path: ['b'] },
              ],
            },
          }).bytes,
        ),
      Codes.METAINFO,
      /exceeds 2\^53 - 1/,
    );
  });

  it('bounds the piece length', () => {
    for (const bad of [0, -16_384]) {
      assertTorkError(
        () => parseMetainfo(buildTorrent({ info: { 'piece length': bad } }).bytes),
        Codes.METAINFO,
        /info\.piece length must be a positive integer/,
      );
    }
    assertTorkError(
      () => parseMetainfo(buildTorrent({ info: { 'piece length': MAX_PIECE_LENGTH * 2 } }).bytes),
      Codes.METAINFO,
      /at most 536870912/,
    );
    assertTorkError(
      () => parseMetainfo(buildTorrent({ info: { 'piece length': undefined } }).bytes),
      Codes.METAINFO,
      /info\.piece length is missing/,
    );
    const one = buildTorrent({ length: 3, pieceLength: 1 });
    assert.equal(parseMetainfo(one.bytes).pieceCount, 3);
    const max = buildTorrent({ length: 10, pieceLength: MAX_PIECE_LENGTH });
    assert.equal(parseMetainfo(max.bytes).pieceLength, MAX_PIECE_LENGTH);
  });

  it('refuses pieces that are not whole hashes or do not match the length', () => {
    assertTorkError(
      () => parseMetainfo(buildTorrent({ info: { pieces: new Uint8Array(30) } }).bytes),
      Codes.METAINFO,
      /info\.pieces must be a whole number of 20-byte/,
    );
    assertTorkError(
      () => parseMetainfo(buildTorrent({ length: 40_000, info: { pieces: new Uint8Array(40) } }).bytes),
      Codes.METAINFO,
      /holds 2 hashes .* needs 3/,
    );
    assertTorkError(
      () => parseMetainfo(buildTorrent({ length: 10, info: { pieces: new Uint8Array(40) } }).bytes),
      Codes.METAINFO,
      /holds 2 hashes .* needs 1/,
    );
    assertTorkError(
      () => parseMetainfo(buildTorrent({ info: { pieces: 'short' } }).bytes),
      Codes.METAINFO,
      /info\.pieces must be a whole number/,
    );
    assertTorkError(
      () => parseMetainfo(buildTorrent({ info: { pieces: 7 } }).bytes),
      Codes.METAINFO,
      /info\.pieces must be a byte string/,
    );
  });

  it('refuses missing pieces', () => {
    assertTorkError(
      () => parseMetainfo(buildTorrent({ info: { pieces: undefined } }).bytes),
      Codes.METAINFO,
      /^info\.pieces is missing/,
    );
  });

  it(`refuses more than MAX_FILES (${MAX_FILES}) files`, () => {
    // Larger than the default bencode cap, so the caller raises it to reach this limit.
    const entry = text('d6:lengthi0e4:pathl1:aee');
    const head = text(`d4:infod5:filesl`);
    const tail = text('e4:name1:n12:piece lengthi1e6:pieces0:ee');
    const body = Buffer.alloc(entry.length * (MAX_FILES + 1));
    for (let i = 0; i <= MAX_FILES; i++) body.set(entry, i * entry.length);
    const bytes = Buffer.concat([head, body, tail]);
    assertTorkError(
      () => parseMetainfo(bytes, { bencode: { maxBytes: 64 * 1024 * 1024 } }),
      Codes.METAINFO,
      /info\.files must list at most 1000000 files/,
    );
  });

  it('refuses a torrent with a total length of 0', () => {
    assertTorkError(
      () => parseMetainfo(buildTorrent({ length: 0 }).bytes),
      Codes.METAINFO,
      /total length of 0/,
    );
    assertTorkError(
      () =>
        parseMetainfo(
          buildTorrent({
            files: [
              { path: ['a'], length: 0 },
              { path: ['b'], length: 0 },
            ],
          }).bytes,
        ),
      Codes.METAINFO,
      /total length of 0/,
    );
  });

  it('accepts private 0 and 1 only', () => {
    assert.equal(parseMetainfo(buildTorrent({ private: false }).bytes).private, false);
    assertTorkError(
      () => parseMetainfo(buildTorrent({ info: { private: 2 } }).bytes),
      Codes.METAINFO,
      /info\.private must be 0 or 1/,
    );
    assertTorkError(
      () => parseMetainfo(buildTorrent({ info: { private: '1' } }).bytes),
      Codes.METAINFO,
      /info\.private must be 0 or 1/,
    );
  });
});

describe('parseMetainfo: structure', () => {
  it('refuses a missing info, an info that is not a dictionary, and a root that is not one', () => {
    assertTorkError(
      () => parseMetainfo(encodeBencodeOrdered({ announce: 'x' })),
      Codes.METAINFO,
      /^info is missing/,
    );
    assertTorkError(() => parseMetainfo(withInfo('text')), Codes.METAINFO, /^info must be a dictionary/);
    assertTorkError(() => parseMetainfo(withInfo([1, 2])), Codes.METAINFO, /^info must be a dictionary/);
    assertTorkError(
      () => parseMetainfo(encodeBencodeOrdered(['info'])),
      Codes.METAINFO,
      /must be a dictionary/,
    );
    assertTorkError(() => parseMetainfo(text('i42e')), Codes.METAINFO, /must be a dictionary/);
    assertTorkError(
      () =>
        parseMetainfo(withInfo({ name: 'a', 'piece length': 1, pieces: twentyZeros, length: 1, files: [7] })),
      Codes.METAINFO,
      /info\.files\[0\] must be a dictionary/,
    );
    assertTorkError(
      () => parseMetainfo(withInfo({ 'piece length': 1, pieces: twentyZeros, length: 1 })),
      Codes.METAINFO,
      /info\.name is missing/,
    );
  });

  it('refuses __proto__ keys, trailing garbage, truncation and empty input as bencode errors', () => {
    const good = buildTorrent({ length: 10 }).bytes;
    const proto = encodeBencodeOrdered(
      new Map<string, FixtureValue>([
        ['__proto__', { polluted: 1 }],
        ['info', 'x'],
      ]),
    );
    assertTorkError(() => parseMetainfo(proto), Codes.BENCODE, /__proto__/);
    const protoInInfo = buildTorrent({ info: { __proto__x: 1 } }).bytes;
    assert.ok(parseMetainfo(protoInInfo));
    const protoInside = withInfo(new Map<string, FixtureValue>([['__proto__', 1]]));
    assertTorkError(() => parseMetainfo(protoInside), Codes.BENCODE, /__proto__/);
    const tail = parseMetainfo(Buffer.concat([good, text('garbage')]));
    assert.equal(tail.infoHashHex, parseMetainfo(good).infoHashHex);
    assertTorkError(() => parseMetainfo(good.subarray(0, good.length - 1)), Codes.BENCODE);
    assertTorkError(() => parseMetainfo(good.subarray(0, 20)), Codes.BENCODE);
    assertTorkError(() => parseMetainfo(new Uint8Array(0)), Codes.BENCODE);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  it(`ignores up to MAX_METAINFO_TRAILING_BYTES (${MAX_METAINFO_TRAILING_BYTES}) after the torrent, with a warning`, () => {
    const good = buildTorrent({ length: 10 }).bytes;
    const clean = parseMetainfo(good);
    assert.deepEqual(clean.warnings, []);
    const newline = parseMetainfo(Buffer.concat([good, text('\n')]));
    assert.equal(newline.infoHashHex, clean.infoHashHex);
    assert.deepEqual(newline.infoBytes, clean.infoBytes);
    assert.deepEqual(
      newline.warnings.map((warning) => [warning.kind, warning.message]),
      [['trailing-data', '1 byte after the end of the torrent ignored']],
    );
    // Any bytes, even a second dictionary: only the first value is the torrent.
    const atCap = parseMetainfo(
      Buffer.concat([good, new Uint8Array(MAX_METAINFO_TRAILING_BYTES).fill(0x64)]),
    );
    assert.equal(atCap.infoHashHex, clean.infoHashHex);
    assertTorkError(
      () => parseMetainfo(Buffer.concat([good, new Uint8Array(MAX_METAINFO_TRAILING_BYTES + 1)])),
      Codes.BENCODE,
      /65537 bytes of trailing data \(at most 65536 are ignored\)/,
    );
  });

  it('refuses input that is not bytes', () => {
    assertTorkError(() => parseMetainfo('d4:infoe' as unknown as Uint8Array), Codes.METAINFO, /bytes/);
  });

  it('reads v2-only torrents and checks hybrid ones against their v2 part (more in metainfo-v2.test)', () => {
    const root = new Uint8Array(32).fill(9);
    const v2Only = withInfo({
      name: 'v2',
      'piece length': 16_384,
      'meta version': 2,
      'file tree': { 'a.txt': { '': { length: 5, 'pieces root': root } } },
    });
    assert.equal(parseMetainfo(v2Only).version, 2);
    const zeroRoot = withInfo({
      name: 'v2',
      'piece length': 16_384,
      'meta version': 2,
      'file tree': { 'a.txt': { '': { length: 5, 'pieces root': new Uint8Array(32) } } },
    });
    assertTorkError(() => parseMetainfo(zeroRoot), Codes.METAINFO, /no valid pieces root/);
    const hybrid = buildTorrent({
      name: 'hybrid',
      files: [{ path: ['a.txt'], length: 5 }],
      info: {
        'meta version': 2,
        'file tree': { 'a.txt': { '': { length: 5, 'pieces root': root } } },
      },
      root: { 'piece layers': {} },
    });
    const meta = parseMetainfo(hybrid.bytes);
    assert.equal(meta.infoHashHex, hybrid.infoHashHex);
    assert.equal(meta.version, 'hybrid');
    assert.deepEqual(meta.files[0]!.path, ['a.txt']);
  });

  it('applies caller bencode limits', () => {
    const bytes = buildTorrent({ length: 10 }).bytes;
    assertTorkError(() => parseMetainfo(bytes, { bencode: { maxBytes: 10 } }), Codes.BENCODE, /exceeds/);
  });
});
