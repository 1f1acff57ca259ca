import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RateMeter } from './rate-meter.js';

describe('RateMeter', () => {
  it('averages over its window and forgets what slid out of it', () => {
    const meter = new RateMeter(0, { windowMs: 1_000, buckets: 10, minElapsedMs: 100 });
    for (let t = 0; t < 1_000; t += 10) meter.add(1_000, t); // 100 KB over one second
    assert.ok(Math.abs(meter.rate(1_000) - 100_000) < 5_000, `rate ${meter.rate(1_000)}`);
    assert.equal(meter.total, 100_000);
    assert.equal(meter.rate(5_000), 0, 'nothing in the last window');
    assert.equal(meter.total, 100_000, 'the total is kept');
  });

  it('divides by at least minElapsedMs right after the start', () => {
    const meter = new RateMeter(0, { minElapsedMs: 1_000 });
    meter.add(16_384, 1);
    assert.equal(meter.rate(1), 16_384);
  });

  it('half a window later counts half the bytes', () => {
    const meter = new RateMeter(0, { windowMs: 1_000, buckets: 10, minElapsedMs: 1 });
    meter.add(500, 50);
    meter.add(500, 650);
    const rate = meter.rate(1_150); // the bucket holding t=50 has slid out
    assert.ok(rate > 400 && rate < 600, `rate ${rate}`);
  });
});
