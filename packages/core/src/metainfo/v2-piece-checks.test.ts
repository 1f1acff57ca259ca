import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { fileMerkle } from './merkle-tree.js';
import { V2_PIECE_CHECK_SIZE, v2PieceChecks, verifyV2Piece } from './v2-piece-checks.js';

const PIECE = 32 * 1024;

/** Files laid out as a hybrid: each file with data padded to a piece boundary. */
function hybrid(lengths: number[]) {
  const files: { length: number; pad: boolean }[] = [];
  const roots: (Uint8Array | undefined)[] = [];
  const layers = new Map<string, Uint8Array>();
  const chunks: Buffer[] = [];
  for (const length of lengths) {
    const data = randomBytes(length);
    const merkle = fileMerkle(data, PIECE);
    files.push({ length, pad: false });
    roots.push(merkle.root);
    if (merkle.pieceLayer && merkle.root)
      layers.set(Buffer.from(merkle.root).toString('hex'), merkle.pieceLayer);
    chunks.push(data);
    const tail = length % PIECE;
    if (tail !== 0) {
      files.push({ length: PIECE - tail, pad: true });
      roots.push(undefined);
      chunks.push(Buffer.alloc(PIECE - tail));
    }
  }
  const payload = Buffer.concat(chunks);
  const pieceCount = payload.length / PIECE;
  return {
    payload,
    meta: {
      pieceLength: PIECE,
      pieceCount,
      files,
      v2: { piecesRoots: roots, pieceLayers: layers, hasPieceLayers: true },
    },
  };
}

describe('v2 piece checks', () => {
  it('accepts every piece of a padded layout (long, one-block and sub-piece files) and refuses a changed byte', () => {
    const { payload, meta } = hybrid([100_000, 5_000, PIECE, 3 * PIECE, 20_000]);
    const table = v2PieceChecks(meta);
    assert.ok(table);
    assert.equal(table.length, meta.pieceCount * V2_PIECE_CHECK_SIZE);
    for (let index = 0; index < meta.pieceCount; index++) {
      const piece = new Uint8Array(payload.subarray(index * PIECE, (index + 1) * PIECE));
      assert.equal(verifyV2Piece(table, index, piece), true, `piece ${index}`);
      const bad = Uint8Array.from(piece);
      bad[index % 7] = (bad[index % 7] ?? 0) ^ 1;
      assert.equal(verifyV2Piece(table, index, bad), false, `changed piece ${index}`);
      // The right data under another index fails (roots differ).
      if (index > 0)
        assert.equal(verifyV2Piece(table, index - 1, piece), false, `piece ${index} as ${index - 1}`);
    }
    assert.equal(verifyV2Piece(table, meta.pieceCount, new Uint8Array(PIECE)), false, 'index past the end');
  });

  it('gives no table for a v2 torrent missing a layer it needs, and none for v1', () => {
    const { meta } = hybrid([100_000]);
    const noLayers = { ...meta.v2, pieceLayers: new Map(), hasPieceLayers: false };
    assert.equal(v2PieceChecks({ ...meta, v2: noLayers }), undefined);
    // Files of at most one piece need no layer: their roots are the checks.
    const small = hybrid([5_000, PIECE]);
    assert.ok(v2PieceChecks({ ...small.meta, v2: { ...small.meta.v2, hasPieceLayers: false } }));
    const { v2: _v2, ...v1 } = meta;
    assert.equal(v2PieceChecks(v1), undefined);
  });
});
