import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkSchedulerInvariants } from '@tork/testkit';
import { Bitfield } from '../bitfield.js';
import { isTorkError, TorkErrorCode } from '../errors.js';
import { PieceScheduler } from './piece-scheduler.js';
import { createRng } from './rng.js';

const PIECE = 16 * 1024;

function scheduler(pieceCount: number, priorities?: Uint8Array): PieceScheduler {
  return new PieceScheduler({
    pieceCount,
    pieceLength: PIECE,
    length: pieceCount * PIECE,
    rng: createRng(7),
    initialRandomPieces: 0,
    ...(priorities ? { priorities } : {}),
  });
}

/** Assigns one piece at a time to a seed until nothing is left; returns the order. */
function drain(s: PieceScheduler, peer: number): number[] {
  const order: number[] = [];
  for (let step = 0; step < 10_000; step++) {
    const [index] = s.assign(peer, 1);
    if (index === undefined) break;
    order.push(index);
    assert.equal(s.verified(index, peer).accepted, true);
    s.written(index);
    checkSchedulerInvariants(s);
  }
  return order;
}

describe('PieceScheduler: priorities', () => {
  it('never assigns a skipped piece, and is complete without it', () => {
    const s = scheduler(8, Uint8Array.from([2, 0, 2, 0, 0, 2, 0, 2]));
    s.addPeer(1, Bitfield.full(8));
    assert.equal(s.missingCount, 4);
    const order = drain(s, 1);
    assert.deepEqual(
      [...order].sort((a, b) => a - b),
      [0, 2, 5, 7],
    );
    assert.equal(s.isComplete, true);
    assert.equal(s.interesting(1), false, 'a peer with only skipped pieces is not interesting');
  });

  it('fetches high before normal before low, rarest first within a tier', () => {
    const s = scheduler(9, Uint8Array.from([1, 1, 1, 2, 2, 2, 3, 3, 3]));
    s.addPeer(1, Bitfield.full(9));
    const order = drain(s, 1);
    assert.deepEqual(
      order.map((index) => s.inspect().priorities[index]),
      [3, 3, 3, 2, 2, 2, 1, 1, 1],
    );
  });

  it('a high piece only one peer has still goes first to that peer', () => {
    const s = scheduler(4, Uint8Array.from([2, 2, 2, 3]));
    const some = new Bitfield(4);
    some.set(3);
    s.addPeer(1, Bitfield.full(4));
    s.addPeer(2, some);
    assert.deepEqual(s.assign(1, 1), [3]);
  });

  it('the random start does not jump a tier', () => {
    for (let seed = 0; seed < 20; seed++) {
      const s = new PieceScheduler({
        pieceCount: 64,
        pieceLength: PIECE,
        length: 64 * PIECE,
        rng: createRng(seed),
        initialRandomPieces: 4,
        priorities: Uint8Array.from({ length: 64 }, (_, i) => (i % 16 === 5 ? 3 : 2)),
      });
      s.addPeer(1, Bitfield.full(64));
      assert.deepEqual(
        s.assign(1, 4).sort((a, b) => a - b),
        [5, 21, 37, 53],
      );
    }
  });

  it('changes at runtime: skip frees interest, widening brings it back, an assigned piece may finish', () => {
    const s = scheduler(4);
    s.addPeer(1, Bitfield.full(4));
    const [first] = s.assign(1, 1);
    assert.ok(first !== undefined);
    const skipAll = s.setPiecePriorities(new Uint8Array(4));
    assert.deepEqual(skipAll, { interesting: [], uninteresting: [1] });
    checkSchedulerInvariants(s);
    assert.equal(s.missingCount, 0);
    assert.deepEqual(s.assign(1, 4), [], 'nothing to assign while everything is skipped');
    // The piece assigned before the change may still arrive and counts as verified.
    assert.equal(s.verified(first, 1).accepted, true);
    s.written(first);
    checkSchedulerInvariants(s);
    const widen = s.setPiecePriorities(Uint8Array.from([2, 2, 2, 2]));
    assert.deepEqual(widen, { interesting: [1], uninteresting: [] });
    assert.equal(s.missingCount, 3);
    const rest = drain(s, 1);
    assert.equal(rest.length, 3);
    assert.ok(!rest.includes(first));
    assert.equal(s.isComplete, true);
  });

  it('refuses priorities of the wrong length or range', () => {
    const s = scheduler(4);
    const usage = (error: unknown) => isTorkError(error) && error.code === TorkErrorCode.USAGE;
    assert.throws(() => s.setPiecePriorities(new Uint8Array(3)), usage);
    assert.throws(() => s.setPiecePriorities(Uint8Array.from([0, 1, 2, 4])), usage);
  });
});
