import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  WEB_SEED_BASE_BACKOFF_MS,
  WEB_SEED_MAX_BACKOFF_MS,
  WEB_SEED_MAX_RETRIES,
  webSeedBackoffMs,
} from './web-seed-limits.js';

describe('webSeedBackoffMs', () => {
  it('doubles from the base per failure in a row, capped, and gives up after WEB_SEED_MAX_RETRIES', () => {
    const schedule = [];
    for (let failures = 1; failures <= WEB_SEED_MAX_RETRIES + 1; failures++)
      schedule.push(webSeedBackoffMs(failures));
    assert.deepEqual(schedule, [1_000, 2_000, 4_000, 8_000, 16_000, undefined]);
    assert.equal(webSeedBackoffMs(1), WEB_SEED_BASE_BACKOFF_MS);
    assert.equal(webSeedBackoffMs(0), 0);
  });

  it('never waits longer than the cap', () => {
    assert.equal(webSeedBackoffMs(20, { maxRetries: 100 }), WEB_SEED_MAX_BACKOFF_MS);
    assert.equal(webSeedBackoffMs(3, { baseMs: 10, maxMs: 25, maxRetries: 3 }), 25);
    assert.equal(webSeedBackoffMs(4, { baseMs: 10, maxMs: 25, maxRetries: 3 }), undefined);
  });
});
