import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildTorrent, sha1 } from '@tork/testkit';
import fc from 'fast-check';
import { TorkError, TorkErrorCode } from '../errors.js';
import { FileLayout, type FileSpan, type LayoutFile } from './file-layout.js';
import { parseMetainfo } from './metainfo.js';

function layoutOf(lengths: number[], pieceLength: number, pads: number[] = []): FileLayout {
  return new FileLayout(
    lengths.map((length, index) => ({ length, pad: pads.includes(index) })),
    pieceLength,
  );
}

function assertOutOfRange(fn: () => unknown): void {
  assert.throws(
    fn,
    (error: unknown) => error instanceof TorkError && error.code === TorkErrorCode.OUT_OF_RANGE,
  );
}

/** Byte-by-byte reference: which (file, offset) holds payload byte `position`. */
function naiveLocate(files: readonly LayoutFile[], position: number): [number, number] {
  let start = 0;
  for (let index = 0; index < files.length; index++) {
    const length = files[index]!.length;
    if (position < start + length) return [index, position - start];
    start += length;
  }
  throw new Error('past the end');
}

describe('FileLayout', () => {
  it('sizes pieces, the last one short', () => {
    const layout = layoutOf([10, 5], 4);
    assert.equal(layout.totalLength, 15);
    assert.equal(layout.pieceCount, 4);
    assert.deepEqual(
      [0, 1, 2, 3].map((piece) => layout.pieceSize(piece)),
      [4, 4, 4, 3],
    );
    assert.equal(layoutOf([8], 4).pieceSize(1), 4);
    assert.equal(layout.pieceStart(3), 12);
  });

  it('splits pieces across files, skipping zero-length files and marking pads', () => {
    const layout = layoutOf([3, 0, 2, 0, 0, 4, 7], 8, [2]);
    assert.deepEqual(layout.spans(0), [
      { fileIndex: 0, fileOffset: 0, length: 3, pieceOffset: 0, pad: false },
      { fileIndex: 2, fileOffset: 0, length: 2, pieceOffset: 3, pad: true },
      { fileIndex: 5, fileOffset: 0, length: 3, pieceOffset: 5, pad: false },
    ]);
    assert.deepEqual(layout.spans(1), [
      { fileIndex: 5, fileOffset: 3, length: 1, pieceOffset: 0, pad: false },
      { fileIndex: 6, fileOffset: 0, length: 7, pieceOffset: 1, pad: false },
    ]);
    assert.deepEqual(layout.spans(0, 4, 2), [
      { fileIndex: 2, fileOffset: 1, length: 1, pieceOffset: 4, pad: true },
      { fileIndex: 5, fileOffset: 0, length: 1, pieceOffset: 5, pad: false },
    ]);
    assert.deepEqual(layout.spans(0, 5, 0), []);
  });

  it('puts many small files in one piece, and one file over many pieces', () => {
    const layout = layoutOf([...Array(100).fill(1), 1000], 16_384);
    const spans = layout.spans(0);
    assert.equal(spans.length, 101);
    assert.deepEqual(spans[100], {
      fileIndex: 100,
      fileOffset: 0,
      length: 1000,
      pieceOffset: 100,
      pad: false,
    });
    const big = layoutOf([1, 100_000, 1], 1000);
    assert.deepEqual(big.filePieces(1), { firstPiece: 0, lastPiece: 100 });
    assert.deepEqual(big.spans(50), [
      { fileIndex: 1, fileOffset: 49_999, length: 1000, pieceOffset: 0, pad: false },
    ]);
  });

  it('handles a file smaller than a block and a file ending exactly on a piece boundary', () => {
    const layout = layoutOf([16_384, 5, 16_379], 16_384);
    assert.deepEqual(layout.filePieces(0), { firstPiece: 0, lastPiece: 0 });
    assert.deepEqual(layout.filePieces(1), { firstPiece: 1, lastPiece: 1 });
    assert.deepEqual(layout.filePieces(2), { firstPiece: 1, lastPiece: 1 });
    assert.deepEqual(layout.filePosition(1, 4), { piece: 1, offset: 4 });
    assert.deepEqual(layout.filePosition(2, 0), { piece: 1, offset: 5 });
  });

  it('gives zero-length files an empty piece range', () => {
    const layout = layoutOf([0, 4, 0, 4, 0], 4);
    assert.deepEqual(layout.filePieces(0), { firstPiece: 0, lastPiece: -1 });
    assert.deepEqual(layout.filePieces(2), { firstPiece: 1, lastPiece: 0 });
    assert.deepEqual(layout.filePieces(4), { firstPiece: 2, lastPiece: 1 });
    assertOutOfRange(() => layout.filePosition(0, 0));
  });

  it('refuses out-of-range pieces, offsets and files', () => {
    const layout = layoutOf([10, 5], 4);
    for (const piece of [-1, 4, 1.5, Number.NaN]) assertOutOfRange(() => layout.spans(piece));
    assertOutOfRange(() => layout.pieceSize(4));
    assertOutOfRange(() => layout.spans(3, 0, 4));
    assertOutOfRange(() => layout.spans(3, 4));
    assertOutOfRange(() => layout.spans(0, -1, 1));
    assertOutOfRange(() => layout.spans(0, 1, -1));
    assertOutOfRange(() => layout.spans(0, 0.5, 1));
    assertOutOfRange(() => layout.filePieces(2));
    assertOutOfRange(() => layout.filePosition(1, 5));
    assertOutOfRange(() => layout.filePosition(1, -1));
    assertOutOfRange(() => layout.fileStart(-1));
  });

  it('refuses invalid construction with TORK_ERR_METAINFO', () => {
    const metainfoError = (error: unknown) =>
      error instanceof TorkError && error.code === TorkErrorCode.METAINFO;
    assert.throws(() => layoutOf([1], 0), metainfoError);
    assert.throws(() => layoutOf([-1], 4), metainfoError);
    assert.throws(() => layoutOf([1.5], 4), metainfoError);
    assert.throws(() => layoutOf([2 ** 52, 2 ** 52], 4), metainfoError);
    assert.throws(() => new FileLayout([{ length: 3 }], 4, 4), metainfoError);
  });

  it('verifies pieces of a torrent with pad files from its spans (pad bytes are zeros)', () => {
    const built = buildTorrent({
      pieceLength: 64,
      files: [
        { path: ['a'], length: 50 },
        { path: ['.pad', '14'], length: 14, pad: true },
        { path: ['b'], length: 0 },
        { path: ['c'], length: 100 },
      ],
    });
    const meta = parseMetainfo(built.bytes);
    const layout = FileLayout.fromMetainfo(meta);
    for (let piece = 0; piece < layout.pieceCount; piece++) {
      const buffer = new Uint8Array(layout.pieceSize(piece));
      for (const span of layout.spans(piece)) {
        if (span.pad) continue; // left as zeros, as the verifier must
        buffer.set(
          built.fileData[span.fileIndex]!.subarray(span.fileOffset, span.fileOffset + span.length),
          span.pieceOffset,
        );
      }
      assert.deepEqual(sha1(buffer), meta.pieceHash(piece));
    }
  });

  it('agrees with a byte-by-byte reference and round-trips piece → file → piece (property)', () => {
    const files = fc.array(
      fc.record({ length: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 40 })), pad: fc.boolean() }),
      { minLength: 1, maxLength: 12 },
    );
    fc.assert(
      fc.property(files, fc.integer({ min: 1, max: 33 }), fc.nat(), (layoutFiles, pieceLength, seed) => {
        const total = layoutFiles.reduce((sum, file) => sum + file.length, 0);
        fc.pre(total > 0);
        const layout = new FileLayout(layoutFiles, pieceLength, total);
        assert.equal(layout.pieceCount, Math.ceil(total / pieceLength));
        let covered = 0;
        for (let piece = 0; piece < layout.pieceCount; piece++) {
          const spans: FileSpan[] = layout.spans(piece);
          let next = 0;
          for (const span of spans) {
            assert.equal(span.pieceOffset, next);
            assert.ok(span.length > 0);
            assert.equal(span.pad, layoutFiles[span.fileIndex]!.pad);
            const position = piece * pieceLength + span.pieceOffset;
            assert.deepEqual(naiveLocate(layoutFiles, position), [span.fileIndex, span.fileOffset]);
            assert.deepEqual(layout.filePosition(span.fileIndex, span.fileOffset), {
              piece,
              offset: span.pieceOffset,
            });
            const range = layout.filePieces(span.fileIndex);
            assert.ok(range.firstPiece <= piece && piece <= range.lastPiece);
            next += span.length;
          }
          assert.equal(next, layout.pieceSize(piece));
          covered += next;
          // A sub-range is the same bytes, cut.
          const size = layout.pieceSize(piece);
          const offset = seed % size;
          const length = (seed >> 3) % (size - offset + 1);
          const sub = layout.spans(piece, offset, length);
          assert.equal(
            sub.reduce((sum, span) => sum + span.length, 0),
            length,
          );
          if (sub.length > 0) assert.equal(sub[0]!.pieceOffset, offset);
        }
        assert.equal(covered, total);
        layoutFiles.forEach((file, index) => {
          const range = layout.filePieces(index);
          if (file.length === 0) {
            assert.equal(range.lastPiece, range.firstPiece - 1);
          } else {
            assert.equal(range.lastPiece, layout.filePosition(index, file.length - 1).piece);
            assert.equal(range.firstPiece, layout.filePosition(index, 0).piece);
          }
        });
      }),
      { numRuns: 2000 },
    );
  });

  it('stays fast with 200,000 pieces and 10,000+ files', () => {
    const files: LayoutFile[] = [];
    for (let i = 0; i < 12_000; i++)
      files.push({ length: i % 7 === 0 ? 0 : 1 + ((i * 2_654_435_761) % 1_000_000) });
    const total = files.reduce((sum, file) => sum + file.length, 0);
    const pieceLength = Math.ceil(total / 200_000);
    const started = performance.now();
    const layout = new FileLayout(files, pieceLength);
    assert.ok(layout.pieceCount >= 199_990 && layout.pieceCount <= 200_000, String(layout.pieceCount));
    let bytes = 0;
    for (let piece = 0; piece < layout.pieceCount; piece++) {
      for (const span of layout.spans(piece)) bytes += span.length;
    }
    for (let index = 0; index < files.length; index++) layout.filePieces(index);
    assert.equal(bytes, total);
    // Generous: a per-piece linear scan over 12,000 files would take far longer.
    assert.ok(performance.now() - started < 5000);
  });
});
