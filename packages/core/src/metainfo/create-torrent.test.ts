import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { fixtureBytes } from '@tork/testkit';
import { decodeBencode } from '../bencode/index.js';
import { TorkError, TorkErrorCode } from '../errors.js';
import {
  choosePieceLength,
  type EncodeTorrentOptions,
  encodeTorrent,
  MAX_AUTO_PIECE_LENGTH,
  MIN_CREATE_PIECE_LENGTH,
} from './create-torrent.js';
import { FileLayout } from './file-layout.js';
import { MAX_PIECE_LENGTH } from './limits.js';
import { parseMetainfo } from './metainfo.js';

const KiB = 1024;
const MiB = 1024 * KiB;

/** Real SHA-1 piece hashes of the concatenated payload, as `tork create` computes them. */
function hashPayload(payload: Uint8Array, pieceLength: number): Uint8Array {
  const count = Math.ceil(payload.length / pieceLength);
  const out = new Uint8Array(count * 20);
  for (let piece = 0; piece < count; piece++) {
    const slice = payload.subarray(piece * pieceLength, (piece + 1) * pieceLength);
    out.set(createHash('sha1').update(slice).digest(), piece * 20);
  }
  return out;
}

const multiFiles = [
  { path: ['README.txt'], length: 1000 },
  { path: ['data', 'a.bin'], length: 40_000 },
  { path: ['data', 'empty.bin'], length: 0 },
  { path: ['data', 'nested', 'b.bin'], length: 17 },
  { path: ['z'], length: 16 * KiB },
];

function multiOptions(overrides: Partial<EncodeTorrentOptions> = {}): EncodeTorrentOptions {
  const total = multiFiles.reduce((sum, file) => sum + file.length, 0);
  return {
    name: 'sample',
    files: multiFiles,
    pieceLength: 16 * KiB,
    pieceHashes: hashPayload(fixtureBytes(total, 7), 16 * KiB),
    announce: [['udp://127.0.0.1:6969/announce'], ['http://127.0.0.1:8080/announce', 'https://t.example/a']],
    ...overrides,
  };
}

function assertUsage(fn: () => unknown, pattern?: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof TorkError, `expected TorkError, got ${String(error)}`);
    assert.equal(error.code, TorkErrorCode.USAGE);
    if (pattern) assert.match(error.message, pattern);
    return true;
  });
}

describe('choosePieceLength', () => {
  it('aims at 1,000 to 2,000 pieces with a power of two', () => {
    for (const total of [64 * MiB, 700 * MiB, 1024 * MiB, 4.7e9, 20 * 1024 * MiB]) {
      const pieceLength = choosePieceLength(total);
      assert.equal(pieceLength & (pieceLength - 1), 0, `${total}: power of two`);
      const pieces = Math.ceil(total / pieceLength);
      assert.ok(pieces >= 1000 && pieces <= 2000, `${total}: ${pieces} pieces of ${pieceLength}`);
    }
    assert.equal(choosePieceLength(1024 * MiB), MiB);
    assert.equal(choosePieceLength(2000 * MiB), MiB);
    assert.equal(choosePieceLength(2000 * MiB + 1), 2 * MiB);
  });

  it('clamps to [16 KiB, 16 MiB]', () => {
    assert.equal(choosePieceLength(0), MIN_CREATE_PIECE_LENGTH);
    assert.equal(choosePieceLength(1), MIN_CREATE_PIECE_LENGTH);
    assert.equal(choosePieceLength(10 * MiB), MIN_CREATE_PIECE_LENGTH);
    assert.equal(choosePieceLength(2 ** 50), MAX_AUTO_PIECE_LENGTH);
  });

  it('refuses sizes that are not byte counts', () => {
    for (const bad of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53]) {
      assertUsage(() => choosePieceLength(bad));
    }
  });
});

describe('encodeTorrent', () => {
  it('a single-file torrent round-trips through parseMetainfo', () => {
    const payload = fixtureBytes(100_000, 3);
    const pieceHashes = hashPayload(payload, 32 * KiB);
    const bytes = encodeTorrent({
      name: 'movie.mkv',
      length: payload.length,
      pieceLength: 32 * KiB,
      pieceHashes,
      announce: [['http://127.0.0.1:1/announce']],
      comment: 'a comment',
      createdBy: 'tork test',
      creationDate: 1_700_000_000,
      urlList: ['https://mirror.example/movie.mkv'],
    });
    const meta = parseMetainfo(bytes);
    assert.equal(meta.name, 'movie.mkv');
    assert.equal(meta.isMultiFile, false);
    assert.equal(meta.length, 100_000);
    assert.equal(meta.pieceLength, 32 * KiB);
    assert.equal(meta.pieceCount, 4);
    assert.deepEqual(meta.pieceHashes, pieceHashes);
    assert.deepEqual(
      meta.files.map((file) => [file.path, file.length]),
      [[['movie.mkv'], 100_000]],
    );
    assert.deepEqual(meta.announce, [['http://127.0.0.1:1/announce']]);
    assert.deepEqual(meta.urlList, ['https://mirror.example/movie.mkv']);
    assert.equal(meta.private, false);
    assert.equal(meta.comment, 'a comment');
    assert.equal(meta.createdBy, 'tork test');
    assert.equal(meta.creationDate, 1_700_000_000);
    // One URL in all: `announce` alone, no `announce-list`.
    const root = decodeBencode(bytes) as Record<string, unknown>;
    assert.equal(root['announce-list'], undefined);
  });

  it('a multi-file torrent round-trips, zero-length file and tiers included', () => {
    const options = multiOptions();
    const meta = parseMetainfo(encodeTorrent(options));
    assert.equal(meta.name, 'sample');
    assert.equal(meta.isMultiFile, true);
    assert.deepEqual(
      meta.files.map((file) => ({ path: [...file.path], length: file.length })),
      multiFiles,
    );
    assert.equal(meta.length, 1000 + 40_000 + 17 + 16 * KiB);
    assert.equal(meta.pieceCount, Math.ceil(meta.length / (16 * KiB)));
    assert.deepEqual(meta.pieceHashes, options.pieceHashes);
    assert.deepEqual(meta.announce, options.announce);
    assert.equal(meta.comment, undefined);
    assert.equal(meta.createdBy, undefined);
    assert.equal(meta.creationDate, undefined, 'no timestamp unless asked');
    // The layout a downloader derives matches the files given.
    const layout = FileLayout.fromMetainfo(meta);
    assert.equal(layout.pieceCount, meta.pieceCount);
    const root = decodeBencode(encodeTorrent(options)) as Record<string, unknown>;
    assert.equal(new TextDecoder().decode(root.announce as Uint8Array), 'udp://127.0.0.1:6969/announce');
  });

  it('is deterministic, with keys in canonical order', () => {
    const a = encodeTorrent(multiOptions({ comment: 'c', createdBy: 'tork' }));
    const b = encodeTorrent(multiOptions({ comment: 'c', createdBy: 'tork' }));
    assert.deepEqual(a, b);
    const text = Buffer.from(a).toString('latin1');
    const order = ['8:announce', '13:announce-list', '7:comment', '10:created by', '4:info'];
    const positions = order.map((key) => text.indexOf(key));
    assert.ok(
      positions.every((position, index) => position > 0 && (index === 0 || position > positions[index - 1]!)),
      `keys in order: ${positions.join(' ')}`,
    );
    // Encoding does not depend on the caller's key order either.
    const { name, files, pieceLength, pieceHashes, announce } = multiOptions();
    assert.deepEqual(
      encodeTorrent({ announce, pieceHashes, pieceLength, files, name }),
      encodeTorrent(multiOptions()),
    );
  });

  it('the private flag changes the info-hash, other top-level fields do not', () => {
    const plain = parseMetainfo(encodeTorrent(multiOptions()));
    const priv = parseMetainfo(encodeTorrent(multiOptions({ private: true })));
    const commented = parseMetainfo(encodeTorrent(multiOptions({ comment: 'x', creationDate: 5 })));
    assert.equal(priv.private, true);
    assert.equal(plain.private, false);
    assert.notEqual(priv.infoHashHex, plain.infoHashHex);
    assert.equal(commented.infoHashHex, plain.infoHashHex);
    assert.equal(
      parseMetainfo(encodeTorrent(multiOptions({ private: false }))).infoHashHex,
      plain.infoHashHex,
    );
  });

  it('writes no announce key for a trackerless torrent', () => {
    const bytes = encodeTorrent(multiOptions({ announce: [] }));
    const root = decodeBencode(bytes) as Record<string, unknown>;
    assert.equal(root.announce, undefined);
    assert.deepEqual(parseMetainfo(bytes).announce, []);
  });

  it('keeps non-ASCII names as UTF-8', () => {
    const meta = parseMetainfo(
      encodeTorrent(
        multiOptions({
          name: 'Ünïcødé 🎵',
          files: [{ path: ['日本', 'ファイル.txt'], length: 3 }],
          pieceHashes: new Uint8Array(20),
        }),
      ),
    );
    assert.equal(meta.name, 'Ünïcødé 🎵');
    assert.deepEqual(meta.files[0]!.path, ['日本', 'ファイル.txt']);
  });

  it('refuses bad input with TORK_ERR_USAGE', () => {
    const good = multiOptions();
    const cases: Array<[string, Partial<EncodeTorrentOptions>, RegExp]> = [
      ['empty name', { name: '' }, /name .* is empty/],
      ['dotdot name', { name: '..' }, /relative directory/],
      ['slash name', { name: 'a/b' }, /slash/],
      ['lone surrogate', { name: 'a\uD800' }, /lone surrogate/],
      ['control character in the name', { name: 'a\tb' }, /would be read back as "a_b"/],
      ['direction override in a path', { files: [{ path: ['x\u202Eexe.txt'], length: 1 }] }, /direction/],
      ['traversal', { files: [{ path: ['..', 'x'], length: 1 }] }, /relative directory/],
      ['absolute', { files: [{ path: ['/etc', 'passwd'], length: 1 }] }, /absolute|slash/],
      ['empty path', { files: [{ path: [], length: 1 }] }, /empty/],
      ['no files', { files: [] }, /non-empty/],
      [
        'duplicate',
        {
          files: [
            { path: ['a'], length: 1 },
            { path: ['a'], length: 1 },
          ],
        },
        /also the path/,
      ],
      [
        'file in the way',
        {
          files: [
            { path: ['a'], length: 1 },
            { path: ['a', 'b'], length: 1 },
          ],
        },
        /in the way/,
      ],
      ['negative length', { files: [{ path: ['a'], length: -1 }] }, /non-negative/],
      ['fractional length', { files: [{ path: ['a'], length: 1.5 }] }, /non-negative/],
      ['all empty', { files: [{ path: ['a'], length: 0 }], pieceHashes: new Uint8Array(0) }, /0 bytes/],
      ['both', { length: 5 }, /not both/],
      ['piece not power of two', { pieceLength: 20_000 }, /power of two/],
      ['piece too small', { pieceLength: 8 * KiB }, /power of two/],
      ['piece too large', { pieceLength: MAX_PIECE_LENGTH * 2 }, /power of two/],
      ['short hashes', { pieceHashes: good.pieceHashes.subarray(20) }, /pieces need/],
      ['long hashes', { pieceHashes: new Uint8Array(good.pieceHashes.length + 20) }, /pieces need/],
      ['hashes not bytes', { pieceHashes: [1, 2] as unknown as Uint8Array }, /Uint8Array/],
      ['bad scheme', { announce: [['ftp://x/announce']] }, /must use/],
      ['not a URL', { announce: [['not a url']] }, /whitespace|not a URL/],
      ['no scheme', { announce: [['tracker.example:80']] }, /must use|not a URL/],
      ['empty tier', { announce: [[]] }, /tier 1/],
      ['duplicate tracker', { announce: [['udp://a:1'], ['udp://a:1']] }, /twice/],
      ['bad web seed', { urlList: ['udp://a:1'] }, /must use/],
      ['bad date', { creationDate: -5 }, /creationDate/],
      ['bad comment', { comment: 5 as unknown as string }, /comment must be a string/],
      ['bad private', { private: 'yes' as unknown as boolean }, /private must be a boolean/],
    ];
    for (const [label, overrides, pattern] of cases) {
      assert.throws(
        () => encodeTorrent({ ...good, ...overrides }),
        (error: unknown) => {
          assert.ok(error instanceof TorkError, `${label}: expected TorkError, got ${String(error)}`);
          assert.equal(error.code, TorkErrorCode.USAGE, `${label}: ${error.message}`);
          assert.match(error.message, pattern, label);
          return true;
        },
        label,
      );
    }
    const { files: _files, ...single } = good;
    assertUsage(() => encodeTorrent(single), /either files/);
    assertUsage(() => encodeTorrent(null as unknown as EncodeTorrentOptions), /object/);
  });

  it('refuses a torrent too large for tork to read back', () => {
    // 900,000 hashes = 18 MB of `pieces`, above the 16 MiB bencode cap.
    const pieces = 900_000;
    assertUsage(
      () =>
        encodeTorrent({
          name: 'huge',
          length: pieces * 16 * KiB,
          pieceLength: 16 * KiB,
          pieceHashes: new Uint8Array(pieces * 20),
        }),
      /larger piece length/,
    );
  });
});
