import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkSchedulerInvariants } from '@tork/testkit';
import { Bitfield } from '../bitfield.js';
import { MAX_URGENT_PIECES, PieceOrder } from './piece-order.js';
import { PieceScheduler, type PieceSchedulerOptions } from './piece-scheduler.js';
import { createRng } from './rng.js';

function scheduler(pieceCount: number, options: Partial<PieceSchedulerOptions> = {}): PieceScheduler {
  return new PieceScheduler({
    pieceCount,
    pieceLength: 100,
    length: pieceCount * 100,
    rng: createRng(7),
    ...options,
  });
}

function bits(length: number, indices: Iterable<number>): Bitfield {
  const field = new Bitfield(length);
  for (const i of indices) field.set(i);
  return field;
}

function finish(s: PieceScheduler, index: number, peer: number): void {
  assert.equal(s.verified(index, peer).accepted, true);
  s.written(index);
}

describe('PieceOrder: sequential and urgent picks', () => {
  it('sequential mode picks the lowest missing piece each peer has, in order, from the first pick', () => {
    const s = scheduler(100, { order: new PieceOrder({ sequential: true }) });
    s.addPeer(1, Bitfield.full(100));
    s.addPeer(2, bits(100, [5, 7, 50, 60]));
    assert.deepEqual(s.assign(1, 4), [0, 1, 2, 3]);
    assert.deepEqual(s.assign(2, 3), [5, 7, 50]);
    assert.deepEqual(s.assign(1, 2), [4, 6]);
    // A released piece comes back first (retry), and the cursor follows it back.
    s.released(1, [1]);
    checkSchedulerInvariants(s);
    assert.deepEqual(s.assign(1, 2), [1, 8]);
    for (const index of [0, 1, 2, 3, 4, 6, 8]) finish(s, index, 1);
    for (const index of [5, 7, 50]) finish(s, index, 2);
    assert.deepEqual(s.assign(1, 3), [9, 10, 11]);
    checkSchedulerInvariants(s);
  });

  it('a write failure makes a piece below the cursor a candidate again, and it is fetched', () => {
    const s = scheduler(10, { order: new PieceOrder({ sequential: true }), maxBytesInFlight: 1000 });
    s.addPeer(1, Bitfield.full(10));
    assert.deepEqual(s.assign(1, 3), [0, 1, 2]);
    assert.equal(s.verified(0, 1).accepted, true);
    s.writeFailed(0);
    checkSchedulerInvariants(s);
    assert.equal(s.order.cursor, 0);
    assert.deepEqual(s.assign(1, 2), [0, 3]);
  });

  it('sequentialFrom starts in-order picks at a file, then wraps to the start', () => {
    const s = scheduler(10, { order: new PieceOrder({ sequential: true, sequentialFrom: 7 }) });
    s.addPeer(1, Bitfield.full(10));
    assert.deepEqual(s.assign(1, 5), [7, 8, 9, 0, 1]);
    s.order.sequentialFrom = 3;
    assert.deepEqual(s.assign(1, 2), [3, 4]);
    checkSchedulerInvariants(s);
  });

  it('urgent pieces come first, in the given order, skipping those had, taken or lacking', () => {
    const s = scheduler(100);
    s.addPeer(1, Bitfield.full(100));
    s.addPeer(2, bits(100, [30, 31]));
    s.order.setUrgent([40, 30, 41, 30, 42]);
    assert.deepEqual(s.order.urgent, [40, 30, 41, 42], 'repeats dropped');
    assert.deepEqual(s.assign(2, 2), [30, 31], 'peer 2 lacks 40: its urgent piece is 30');
    const picked = s.assign(1, 4);
    assert.deepEqual(picked.slice(0, 2), [40, 41]);
    assert.equal(picked[2], 42);
    assert.equal(picked.length, 4);
    checkSchedulerInvariants(s);
  });

  it('urgent pieces come before sequential ones; changing the list tells the owner', () => {
    let changes = 0;
    const order = new PieceOrder({ sequential: true });
    order.onChange = () => changes++;
    const s = scheduler(20, { order });
    s.addPeer(1, Bitfield.full(20));
    order.setUrgent([15, 16]);
    order.setUrgent([15, 16]);
    assert.equal(changes, 1, 'the same list again is no change');
    assert.deepEqual(s.assign(1, 4), [15, 16, 0, 1]);
    order.setUrgent([-1, 2.5, 20, 3]);
    assert.deepEqual(order.urgent, [3], 'bad and out-of-range pieces are dropped');
    order.sequential = false;
    assert.equal(changes, 3);
  });

  it('keeps at most MAX_URGENT_PIECES', () => {
    const order = new PieceOrder();
    order.setUrgent(Array.from({ length: MAX_URGENT_PIECES + 10 }, (_, i) => i));
    assert.equal(order.urgent.length, MAX_URGENT_PIECES);
  });

  it('the byte budget bounds the read-ahead; the endgame still duplicates the last pieces', () => {
    const s = scheduler(8, {
      order: new PieceOrder({ sequential: true }),
      maxBytesInFlight: 300,
      endgame: { copies: 2, idleOnly: true, maxBytes: 200 },
    });
    s.addPeer(1, Bitfield.full(8));
    s.addPeer(2, Bitfield.full(8));
    assert.deepEqual(s.assign(1, 8), [0, 1, 2], 'three pieces fit the budget');
    assert.deepEqual(s.assign(2, 8), []);
    for (const index of [0, 1, 2]) finish(s, index, 1);
    assert.deepEqual(s.assign(1, 8), [3, 4, 5]);
    for (const index of [3, 4]) finish(s, index, 1);
    assert.deepEqual(s.assign(2, 8), [6, 7]);
    finish(s, 5, 1);
    assert.equal(s.inEndgame, true);
    // Peer 1 is idle: it gets copies of 6 and 7, oldest first.
    assert.deepEqual(s.assign(1, 8), [6, 7]);
    assert.deepEqual(s.verified(6, 1).cancel, [{ peer: 2, index: 6 }]);
    s.written(6);
    finish(s, 7, 2);
    assert.equal(s.isComplete, true);
    checkSchedulerInvariants(s);
  });

  it('an order handed to a new scheduler (after the resume check) starts over from its first candidate', () => {
    const order = new PieceOrder({ sequential: true });
    const first = scheduler(10, { order });
    first.addPeer(1, Bitfield.full(10));
    first.assign(1, 5);
    const second = scheduler(10, { order, have: bits(10, [0, 1]) });
    second.addPeer(1, Bitfield.full(10));
    assert.deepEqual(second.assign(1, 2), [2, 3]);
    checkSchedulerInvariants(second);
  });
});
