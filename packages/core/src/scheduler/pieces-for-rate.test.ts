import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isTorkError, TorkErrorCode } from '../errors.js';
import { piecesForRate } from './pieces-for-rate.js';

const KiB = 1024;
const MiB = 1024 * KiB;

describe('piecesForRate', () => {
  it('gives a new or slow peer one piece, or the 64 KiB minimum in small pieces', () => {
    assert.equal(piecesForRate(0, 256 * KiB), 1);
    assert.equal(piecesForRate(10 * KiB, 4 * MiB), 1);
    assert.equal(piecesForRate(0, 16 * KiB), 4);
    assert.equal(piecesForRate(Number.NaN, 16 * KiB), 4);
  });

  it('covers rate × 3 s, plus one piece for a peer that fetches a piece within the horizon', () => {
    // 1 MiB/s × 3 s = 3 MiB of 256 KiB pieces = 12, +1.
    assert.equal(piecesForRate(MiB, 256 * KiB), 13);
    // Exactly one piece per horizon: fast, so two.
    assert.equal(piecesForRate(MiB, 3 * MiB), 2);
    // Just under: slow, one.
    assert.equal(piecesForRate(MiB - 1, 3 * MiB), 1);
  });

  it('honours its options and caps', () => {
    assert.equal(piecesForRate(100 * MiB, 16 * KiB), 1024);
    assert.equal(piecesForRate(100 * MiB, 16 * KiB, { maxPieces: 50 }), 50);
    assert.equal(piecesForRate(MiB, 256 * KiB, { horizonSeconds: 1 }), 5);
    assert.equal(piecesForRate(0, 16 * KiB, { minBytes: 0 }), 1);
    assert.throws(
      () => piecesForRate(1, 0),
      (error) => isTorkError(error, TorkErrorCode.USAGE),
    );
    assert.throws(
      () => piecesForRate(1, 1, { horizonSeconds: 0 }),
      (error) => isTorkError(error, TorkErrorCode.USAGE),
    );
  });
});
