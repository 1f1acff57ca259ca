import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_REQUEST_LENGTH, UploadQueue } from './upload-queue.js';

const piece = { size: 100_000, have: true, choking: false };

describe('UploadQueue', () => {
  it('holds at most its limit, in arrival order', () => {
    const queue = new UploadQueue(3);
    for (let i = 0; i < 3; i++)
      assert.equal(queue.offer({ index: i, begin: 0, length: 16_384 }, piece), 'queued');
    assert.equal(queue.offer({ index: 9, begin: 0, length: 16_384 }, piece), 'full');
    assert.equal(queue.size, 3);
    assert.deepEqual(
      [queue.shift()?.index, queue.shift()?.index, queue.shift()?.index, queue.shift()],
      [0, 1, 2, undefined],
    );
  });

  it('looks ahead with at() without taking anything', () => {
    const queue = new UploadQueue(10);
    for (let i = 0; i < 4; i++) queue.offer({ index: i, begin: 0, length: 16_384 }, piece);
    queue.shift();
    assert.deepEqual(
      [queue.at(0)?.index, queue.at(2)?.index, queue.at(3), queue.at(-1)],
      [1, 3, undefined, undefined],
    );
    assert.equal(queue.size, 3);
  });

  it('sorts refusals: invalid, choked, missing', () => {
    const queue = new UploadQueue(10);
    assert.equal(queue.offer({ index: 0, begin: 0, length: 0 }, piece), 'invalid');
    assert.equal(queue.offer({ index: 0, begin: 0, length: MAX_REQUEST_LENGTH + 1 }, piece), 'invalid');
    assert.equal(queue.offer({ index: 0, begin: 99_999, length: 2 }, piece), 'invalid');
    assert.equal(queue.offer({ index: 0, begin: -1, length: 2 }, piece), 'invalid');
    assert.equal(queue.offer({ index: 0, begin: 0, length: 16_384 }, { ...piece, choking: true }), 'choked');
    assert.equal(queue.offer({ index: 0, begin: 0, length: 16_384 }, { ...piece, have: false }), 'missing');
    assert.equal(queue.offer({ index: 0, begin: 100_000 - 16_384, length: 16_384 }, piece), 'queued');
  });

  it('cancels a queued request only, and clears everything on choke', () => {
    const queue = new UploadQueue(10);
    queue.offer({ index: 1, begin: 0, length: 16_384 }, piece);
    queue.offer({ index: 1, begin: 16_384, length: 16_384 }, piece);
    assert.equal(queue.cancel(1, 16_384, 16_384), true);
    assert.equal(queue.cancel(1, 16_384, 16_384), false, 'not queued any more');
    assert.equal(queue.cancel(1, 0, 100), false, 'length must match');
    queue.offer({ index: 2, begin: 0, length: 16_384 }, piece);
    assert.deepEqual(
      queue.clear().map((request) => request.index),
      [1, 2],
    );
    assert.equal(queue.size, 0);
  });

  it('stays compact over a long life', () => {
    const queue = new UploadQueue(4);
    for (let i = 0; i < 10_000; i++) {
      queue.offer({ index: i, begin: 0, length: 1 }, piece);
      assert.equal(queue.shift()?.index, i);
    }
    assert.equal(queue.size, 0);
  });

  it('holds at most its byte limit too, and counts bytes out as requests leave', () => {
    const queue = new UploadQueue(100, 256 * 1024);
    const piece = { size: 1024 * 1024, have: true, choking: false };
    assert.equal(queue.offer({ index: 0, begin: 0, length: 128 * 1024 }, piece), 'queued');
    assert.equal(queue.offer({ index: 0, begin: 131_072, length: 128 * 1024 }, piece), 'queued');
    assert.equal(queue.offer({ index: 0, begin: 262_144, length: 16_384 }, piece), 'full');
    assert.equal(queue.bytes, 256 * 1024);
    queue.shift();
    assert.equal(queue.bytes, 128 * 1024);
    assert.equal(queue.offer({ index: 0, begin: 262_144, length: 16_384 }, piece), 'queued');
    assert.equal(queue.cancel(0, 262_144, 16_384), true);
    assert.equal(queue.bytes, 128 * 1024);
    queue.clear();
    assert.equal(queue.bytes, 0);
  });
});
