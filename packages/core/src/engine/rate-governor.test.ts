import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  grantSize,
  RATE_MIN_GRANT_BYTES,
  type RateDirection,
  RateGovernor,
  RateLimiter,
} from './rate-governor.js';
import { TokenBucket } from './token-bucket.js';

describe('TokenBucket', () => {
  it('fills at its rate up to its burst, and gives what it has', () => {
    const bucket = new TokenBucket(1000, 500, 0);
    assert.equal(bucket.available(0), 0, 'starts empty: no burst before the first second');
    assert.equal(bucket.take(300, 200), 200);
    assert.equal(bucket.available(200), 0);
    assert.equal(bucket.available(10_000), 500, 'capped at the burst');
    assert.equal(bucket.take(800, 10_000), 500);
  });

  it('refuses a rate or burst that is not positive', () => {
    assert.throws(() => new TokenBucket(0, 10, 0), RangeError);
    assert.throws(() => new TokenBucket(10, 0, 0), RangeError);
  });
});

describe('RateGovernor', () => {
  function governor(global?: RateLimiter) {
    let now = 0;
    const grants: Array<{ actorId: number; direction: RateDirection; bytes: number }> = [];
    const gov = new RateGovernor({ ...(global ? { global } : {}), now: () => now });
    const need = (own: RateLimiter, actorId: number, direction: RateDirection) =>
      gov.need(own, actorId, direction, (bytes) => grants.push({ actorId, direction, bytes }));
    return {
      gov,
      grants,
      need,
      at(ms: number) {
        now = ms;
        gov.serve();
      },
    };
  }
  const sum = (grants: Array<{ bytes: number }>) => grants.reduce((total, grant) => total + grant.bytes, 0);

  it('grants a capped direction no faster than its rate, over any span; an uncapped one is not metered', () => {
    const rate = 8 * 1024 * 1024;
    const own = new RateLimiter({ download: rate }, 0);
    const { gov, grants, need, at } = governor();
    assert.equal(gov.limited(own, 'download'), true);
    assert.equal(gov.limited(own, 'upload'), false);
    // Two actors always wanting more, served every 20 ms for 20 s.
    for (let t = 0; t <= 20_000; t += 20) {
      for (const actorId of [1, 2]) need(own, actorId, 'download');
      at(t);
    }
    gov.close();
    const expected = rate * 20;
    assert.ok(
      Math.abs(sum(grants) - expected) / expected < 0.02,
      `${sum(grants)} granted for ${expected} allowed`,
    );
    assert.ok(grants.every((grant) => grant.bytes >= RATE_MIN_GRANT_BYTES && grant.bytes <= grantSize(rate)));
    assert.ok(
      grants.some((g) => g.actorId === 1) && grants.some((g) => g.actorId === 2),
      'both actors served',
    );
  });

  it('the smaller of the torrent and the engine caps wins; the engine cap is shared fairly across torrents', () => {
    const { gov, grants, need, at } = governor(new RateLimiter({ upload: 1024 * 1024 }, 0));
    const fast = new RateLimiter({ upload: 4 * 1024 * 1024 }, 0);
    const free = new RateLimiter({}, 0);
    assert.equal(gov.limited(free, 'upload'), true, 'the engine cap alone meters a torrent');
    for (let t = 0; t <= 10_000; t += 20) {
      need(fast, 1, 'upload');
      need(free, 2, 'upload');
      at(t);
    }
    gov.close();
    const total = sum(grants);
    assert.ok(Math.abs(total - 10 * 1024 * 1024) / (10 * 1024 * 1024) < 0.03, `${total} for both torrents`);
    const first = sum(grants.filter((grant) => grant.actorId === 1));
    assert.ok(
      Math.abs(first / total - 0.5) < 0.1,
      `first come, first served: ${first} of ${total} to one torrent`,
    );
  });

  it("a torrent's own spent cap does not hold up another torrent behind it", () => {
    const { gov, grants, need, at } = governor();
    const slow = new RateLimiter({ download: 32 * 1024 }, 0);
    const open = new RateLimiter({ download: 8 * 1024 * 1024 }, 0);
    for (let t = 0; t <= 1_000; t += 20) {
      need(slow, 1, 'download');
      need(open, 2, 'download');
      at(t);
    }
    gov.close();
    assert.ok(sum(grants.filter((g) => g.actorId === 2)) > 7 * 1024 * 1024);
    assert.ok(sum(grants.filter((g) => g.actorId === 1)) <= 32 * 1024 + RATE_MIN_GRANT_BYTES);
  });

  it('a forgotten actor gets nothing; a lifted cap drops what waited', () => {
    const own = new RateLimiter({ download: 100 * 1024 }, 0);
    const { gov, grants, need, at } = governor();
    need(own, 7, 'download');
    gov.forget(7);
    at(5_000);
    assert.equal(grants.length, 0);
    own.set({}, 5_000);
    need(own, 8, 'download');
    at(6_000);
    assert.equal(grants.length, 0, 'no cap: hosts stop metering on their own (rate-limits)');
    gov.close();
  });
});
