import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fileCompletedBytes } from './file-completed-bytes.js';

const file = (length: number) => ({ path: ['f'], length, pad: false });

describe('fileCompletedBytes', () => {
  // Pieces of 10 bytes; files of 4, 0, 13, 10, 3 bytes (30 bytes, 3 pieces).
  const layout = { files: [file(4), file(0), file(13), file(10), file(3)], pieceLength: 10, length: 30 };

  it('splits each had piece among the files it covers', () => {
    assert.deepEqual(
      fileCompletedBytes(layout, () => true),
      [4, 0, 13, 10, 3],
    );
    assert.deepEqual(
      fileCompletedBytes(layout, () => false),
      [0, 0, 0, 0, 0],
    );
    // Piece 0 = bytes 0-9: file 0 (4) and the first 6 of file 2.
    assert.deepEqual(
      fileCompletedBytes(layout, (piece) => piece === 0),
      [4, 0, 6, 0, 0],
    );
    // Piece 1 = bytes 10-19: the last 7 of file 2 and the first 3 of file 3.
    assert.deepEqual(
      fileCompletedBytes(layout, (piece) => piece === 1),
      [0, 0, 7, 3, 0],
    );
    // Piece 2 = bytes 20-29: the last 7 of file 3 and file 4.
    assert.deepEqual(
      fileCompletedBytes(layout, (piece) => piece === 2),
      [0, 0, 0, 7, 3],
    );
  });

  it('handles a short last piece and a file spanning many pieces', () => {
    const big = { files: [file(1), file(35)], pieceLength: 8, length: 36 };
    assert.deepEqual(
      fileCompletedBytes(big, (piece) => piece !== 2),
      [1, 27],
    );
    assert.deepEqual(
      fileCompletedBytes(big, (piece) => piece === 4),
      [0, 4],
      'the last piece holds 4 bytes',
    );
  });

  it('sums to the bytes of the had pieces, whatever the layout', () => {
    for (let seed = 1; seed <= 50; seed++) {
      let state = seed;
      const next = () => {
        state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
        return state;
      };
      const files = Array.from({ length: 1 + (next() % 8) }, () => file(next() % 50));
      const length = files.reduce((sum, one) => sum + one.length, 0);
      if (length === 0) continue;
      const pieceLength = 1 + (next() % 16);
      const had = new Set(
        Array.from({ length: Math.ceil(length / pieceLength) }, (_, i) => i).filter(() => next() % 2 === 0),
      );
      const done = fileCompletedBytes({ files, pieceLength, length }, (piece) => had.has(piece));
      let expected = 0;
      for (const piece of had) expected += Math.min(length, (piece + 1) * pieceLength) - piece * pieceLength;
      assert.equal(
        done.reduce((sum, bytes) => sum + bytes, 0),
        expected,
        `seed ${seed}`,
      );
      for (const [index, bytes] of done.entries()) assert.ok(bytes <= files[index]!.length);
    }
  });
});
