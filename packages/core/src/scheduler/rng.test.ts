import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createRng, randomInt } from './rng.js';

describe('createRng', () => {
  it('is deterministic per seed and differs between seeds', () => {
    const a = createRng(42);
    const b = createRng(42);
    const c = createRng(43);
    const seqA = Array.from({ length: 100 }, () => a());
    assert.deepEqual(
      Array.from({ length: 100 }, () => b()),
      seqA,
    );
    assert.notDeepEqual(
      Array.from({ length: 100 }, () => c()),
      seqA,
    );
  });

  it('yields floats in [0, 1), roughly uniform', () => {
    const rng = createRng(7);
    const buckets = new Array<number>(10).fill(0);
    for (let i = 0; i < 100_000; i++) {
      const x = rng();
      assert.ok(x >= 0 && x < 1);
      buckets[Math.floor(x * 10)]!++;
    }
    for (const count of buckets) assert.ok(count > 9_500 && count < 10_500, `bucket ${count}`);
    const ints = new Set(Array.from({ length: 1000 }, () => randomInt(rng, 5)));
    assert.deepEqual([...ints].sort(), [0, 1, 2, 3, 4]);
  });
});
