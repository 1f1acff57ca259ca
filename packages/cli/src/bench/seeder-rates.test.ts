import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_RATES_SEED, drawSeederRates, parseSeederRates } from './seeder-rates.js';

describe('--seeder-rates', () => {
  it('parses LO..HI and an optional @SEED', () => {
    assert.deepEqual(parseSeederRates('1MiB..50MiB'), {
      text: '1MiB..50MiB',
      low: 1 << 20,
      high: 50 << 20,
      seed: DEFAULT_RATES_SEED,
    });
    assert.equal((parseSeederRates('64KiB..64KiB@5') as { seed: number }).seed, 5);
  });

  it('refuses what is not a range of sizes', () => {
    for (const text of ['', '1MiB', '1MiB..', '..1MiB', 'x..y', '50MiB..1MiB', '1KiB..2KiB', '1MiB..2MiB@x'])
      assert.equal(typeof parseSeederRates(text), 'string', text);
  });

  it('draws the same caps for the same seed, within the range, spread over it', () => {
    const rates = parseSeederRates('1MiB..50MiB') as Exclude<ReturnType<typeof parseSeederRates>, string>;
    const a = drawSeederRates(rates, 64);
    assert.deepEqual(a, drawSeederRates(rates, 64));
    assert.notDeepEqual(a, drawSeederRates({ ...rates, seed: 3 }, 64));
    for (const rate of a) assert.ok(rate >= 1 << 20 && rate <= 50 << 20, `${rate}`);
    // Log-uniform: some below the geometric middle (~7 MiB/s) and some above.
    const middle = Math.sqrt(50) * (1 << 20);
    assert.ok(a.some((r) => r < middle) && a.some((r) => r > middle));
  });
});
