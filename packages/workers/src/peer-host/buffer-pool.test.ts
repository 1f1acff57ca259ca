import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BufferPool } from './buffer-pool.js';

describe('BufferPool', () => {
  it('hands back a given buffer of the same size instead of allocating', () => {
    const pool = new BufferPool(1024);
    const first = pool.take(256);
    assert.equal(first.byteLength, 256);
    assert.equal(pool.allocated, 1);
    pool.give(first);
    assert.equal(pool.bytes, 256);
    assert.equal(pool.take(256), first, 'the same buffer, reused');
    assert.equal(pool.reused, 1);
    assert.notEqual(pool.take(128).byteLength, 256, 'another size is allocated');
  });

  it(`never holds more than maxBytes`, () => {
    const pool = new BufferPool(1000);
    for (let i = 0; i < 10; i++) pool.give(new ArrayBuffer(300));
    assert.equal(pool.bytes, 900);
    pool.give(new ArrayBuffer(300));
    assert.equal(pool.bytes, 900, 'dropped beyond the cap');
  });

  it('ignores a detached (transferred) buffer', () => {
    const pool = new BufferPool(1000);
    const buffer = new ArrayBuffer(100);
    structuredClone(buffer, { transfer: [buffer] });
    assert.equal(buffer.byteLength, 0);
    pool.give(buffer);
    assert.equal(pool.bytes, 0);
  });

  it('allocates buffers that can be transferred on their own (not a slice of a shared pool)', () => {
    const pool = new BufferPool();
    const buffer = pool.take(4096);
    const moved = structuredClone(buffer, { transfer: [buffer] });
    assert.equal(moved.byteLength, 4096);
  });
});
