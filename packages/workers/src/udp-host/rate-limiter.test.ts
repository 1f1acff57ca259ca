import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PerKeyRateLimiter } from './rate-limiter.js';

describe('PerKeyRateLimiter', () => {
  it('allows the burst, then the rate, per key', () => {
    let now = 0;
    const limiter = new PerKeyRateLimiter({ rate: 20, burst: 40, maxKeys: 10, now: () => now });
    let allowed = 0;
    for (let i = 0; i < 1000; i++) if (limiter.allow('10.0.0.1')) allowed++;
    assert.equal(allowed, 40);
    assert.ok(limiter.allow('10.0.0.2'), 'another key has its own bucket');
    now += 1000;
    allowed = 0;
    for (let i = 0; i < 1000; i++) if (limiter.allow('10.0.0.1')) allowed++;
    assert.equal(allowed, 20, 'one second later: the rate');
  });

  it('remembers at most maxKeys keys, forgetting the least recently seen', () => {
    const limiter = new PerKeyRateLimiter({ rate: 1, burst: 1, maxKeys: 100, now: () => 0 });
    for (let i = 0; i < 10_000; i++) limiter.allow(`k${i}`);
    assert.equal(limiter.size, 100);
    assert.equal(limiter.allow('k9999'), false, 'a recent key is still remembered');
    assert.equal(limiter.allow('k0'), true, 'an old one was forgotten');
  });
});
