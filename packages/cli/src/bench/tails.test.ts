import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { tailFigures } from './tails.js';

describe('tailFigures', () => {
  it('interpolates the first piece and the last 1 % from the timeline and the end', () => {
    // 1000 bytes, pieces of 100: 0 at 0 s, 50 at 1 s, 500 at 2 s, 980 at 3 s, done at 5 s.
    const tails = tailFigures(
      [
        [0, 0],
        [1, 50],
        [2, 500],
        [3, 980],
      ],
      5,
      1000,
      100,
      true,
    );
    // 100 bytes: between 1 s (50) and 2 s (500): 1 + 50/450 s.
    assert.equal(tails.firstPieceSeconds, Number((1 + 50 / 450).toFixed(3)));
    // 990 bytes: between 3 s (980) and 5 s (1000): 4 s, so the last 1 % took 1 s.
    assert.equal(tails.lastPercentSeconds, 1);
  });

  it('caps rewritten bytes at the length and says null when the download did not complete', () => {
    const tails = tailFigures(
      [
        [0, 0],
        [1, 5000],
      ],
      2,
      1000,
      100,
      false,
    );
    // Capped at 1000 bytes: 100 bytes at 0.1 s (uncapped, 5000 bytes, it would say 0.02 s).
    assert.equal(tails.firstPieceSeconds, 0.1);
    assert.equal(tails.lastPercentSeconds, null);
    assert.deepEqual(tailFigures([[0, 0]], 2, 1000, 100, false), {
      firstPieceSeconds: null,
      lastPercentSeconds: null,
    });
  });
});
