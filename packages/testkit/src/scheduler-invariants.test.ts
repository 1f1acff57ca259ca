import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Bitfield, createRng, PieceScheduler, TorkError, TorkErrorCode } from '@tork/core';
import { checkSchedulerInvariants } from './scheduler-invariants.js';

function busyScheduler(): PieceScheduler {
  const s = new PieceScheduler({
    pieceCount: 40,
    pieceLength: 1024,
    length: 40 * 1024 - 100,
    rng: createRng(3),
  });
  const all = new Bitfield(40);
  for (let i = 0; i < 40; i++) all.set(i);
  s.addPeer(1, all);
  s.addPeer(2);
  s.peerHave(2, 7);
  const [first] = s.assign(1, 4);
  s.verified(first!, 1);
  return s;
}

const internal = (error: unknown) => error instanceof TorkError && error.code === TorkErrorCode.INTERNAL;

describe('checkSchedulerInvariants', () => {
  it('passes a consistent scheduler', () => {
    checkSchedulerInvariants(busyScheduler());
  });

  it('catches a broken availability count, a lost candidate and an unlisted assignment', () => {
    const a = busyScheduler();
    a.inspect().availability[7]! += 1;
    assert.throws(
      () => checkSchedulerInvariants(a),
      (error) => internal(error) && /availability/.test(String(error)),
    );
    const b = busyScheduler();
    const candidate = [...Array(40).keys()].find((i) => b.inspect().states[i] === 0)!;
    b.inspect().candidates.clear(candidate);
    assert.throws(() => checkSchedulerInvariants(b), internal);
    const c = busyScheduler();
    (c.inspect().peers.get(1)!.pieces as Set<number>).clear();
    assert.throws(() => checkSchedulerInvariants(c), internal);
  });
});
