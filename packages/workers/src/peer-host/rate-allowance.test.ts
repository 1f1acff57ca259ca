import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RateDirection } from '@tork/core';
import { RATE_REASK_MS, RateAllowance } from './rate-allowance.js';

describe('RateAllowance (a host’s side of the rate caps)', () => {
  it('uncapped: always granted, nothing asked', () => {
    const asks: Array<[number, RateDirection]> = [];
    const rates = new RateAllowance((actorId, direction) => asks.push([actorId, direction]));
    assert.equal(
      rates.take('download', 1 << 30, 1, () => {}),
      true,
    );
    assert.deepEqual(asks, []);
  });

  it('capped: spends grants, asks once while sessions wait, wakes them in order on a grant', () => {
    const asks: Array<[number, RateDirection]> = [];
    const rates = new RateAllowance((actorId, direction) => asks.push([actorId, direction]));
    rates.setLimits(true, false);
    const woken: string[] = [];
    assert.equal(
      rates.take('download', 16_384, 1, () => woken.push('a')),
      false,
    );
    assert.equal(
      rates.take('download', 16_384, 2, () => woken.push('b')),
      false,
    );
    assert.deepEqual(asks, [[1, 'download']], 'one ask for both');
    assert.equal(
      rates.take('upload', 16_384, 3, () => {}),
      true,
      'upload is not capped',
    );
    rates.grant('download', 20_000);
    assert.deepEqual(woken, ['a', 'b']);
    assert.equal(
      rates.take('download', 16_384, 1, () => {}),
      true,
    );
    assert.equal(
      rates.take('download', 16_384, 2, () => woken.push('b2')),
      false,
      '3,616 bytes left',
    );
    assert.equal(asks.length, 2, 'asked again');
  });

  it('asks again when a grant is overdue (the actor it named may be gone); lifting the cap wakes everyone', () => {
    const asks: Array<[number, RateDirection]> = [];
    const rates = new RateAllowance((actorId, direction) => asks.push([actorId, direction]));
    rates.setLimits(false, true);
    let woken = 0;
    rates.take('upload', 16_384, 4, () => woken++);
    rates.tick(performance.now());
    assert.equal(asks.length, 1, 'not yet overdue');
    rates.tick(performance.now() + RATE_REASK_MS + 1);
    assert.deepEqual(asks.at(-1), [4, 'upload']);
    rates.setLimits(false, false);
    assert.equal(woken, 1);
    assert.equal(
      rates.take('upload', 1 << 30, 4, () => {}),
      true,
    );
  });
});
