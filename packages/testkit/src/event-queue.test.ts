import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createRng } from '@tork/core';
import { EventQueue } from './event-queue.js';

describe('EventQueue', () => {
  it('runs events in time order, same-time events in scheduling order', () => {
    const queue = new EventQueue();
    const log: string[] = [];
    queue.schedule(2, () => log.push(`b@${queue.now}`));
    queue.schedule(1, () => {
      log.push(`a@${queue.now}`);
      queue.schedule(0, () => log.push(`a2@${queue.now}`));
      queue.schedule(1, () => log.push(`c@${queue.now}`));
    });
    queue.schedule(-5, () => log.push(`z@${queue.now}`));
    while (queue.runNext());
    assert.deepEqual(log, ['z@0', 'a@1', 'a2@1', 'b@2', 'c@2']);
    assert.equal(queue.size, 0);
  });

  it('orders thousands of random events like a stable sort', () => {
    const rng = createRng(3);
    const queue = new EventQueue();
    const times = Array.from({ length: 5000 }, () => Math.floor(rng() * 100));
    const ran: number[] = [];
    times.forEach((time, i) => {
      queue.schedule(time, () => ran.push(i));
    });
    while (queue.runNext());
    const expected = times.map((time, i) => ({ time, i })).sort((x, y) => x.time - y.time || x.i - y.i);
    assert.deepEqual(
      ran,
      expected.map((e) => e.i),
    );
  });
});
