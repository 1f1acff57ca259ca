import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BLOCK_LENGTH } from '@tork/core';
import { RequestPipeline } from './request-pipeline.js';

describe('RequestPipeline', () => {
  it('aims for rate × 3 s of blocks, clamped to [4, reqq or 500]', () => {
    const pipeline = new RequestPipeline(0, { rate: { minElapsedMs: 1_000 } });
    assert.equal(pipeline.target(0), 4, 'no rate yet: the minimum');
    // 10 blocks a second → 30 blocks of depth.
    for (let t = 0; t < 5_000; t += 100) pipeline.received(BLOCK_LENGTH, t);
    const target = pipeline.target(5_000);
    assert.ok(target >= 28 && target <= 30, `target ${target}`);
    for (let t = 5_000; t < 10_000; t += 1) pipeline.received(BLOCK_LENGTH, t);
    assert.equal(pipeline.target(10_000), 500, 'capped at our maximum');
    pipeline.setPeerLimit(250);
    assert.equal(pipeline.target(10_000), 250, "capped at the peer's reqq");
    pipeline.setPeerLimit(2);
    assert.equal(pipeline.target(10_000), 2, 'a reqq below the minimum wins');
  });

  it('detects a snub: requests out and no block for snubTimeoutMs → depth 1 until a block comes', () => {
    const pipeline = new RequestPipeline(0, { snubTimeoutMs: 1_000 });
    assert.equal(pipeline.checkSnub(5_000), false, 'nothing requested: not a snub');
    pipeline.requested(5_000);
    assert.equal(pipeline.checkSnub(5_999), false);
    assert.equal(pipeline.checkSnub(6_000), true);
    assert.equal(pipeline.checkSnub(6_100), false, 'reported once');
    assert.equal(pipeline.snubbed, true);
    assert.equal(pipeline.target(6_100), 1);
    assert.equal(pipeline.received(BLOCK_LENGTH, 6_200), true, 'a block ends the snub');
    assert.equal(pipeline.snubbed, false);
    assert.equal(pipeline.outstanding, 0);
  });
});
