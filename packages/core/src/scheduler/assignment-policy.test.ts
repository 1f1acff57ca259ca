import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Bitfield } from '../bitfield.js';
import { AssignmentPolicy, type PolicyPeer } from './assignment-policy.js';
import { PieceScheduler } from './piece-scheduler.js';
import { DEFAULT_MAX_PIECES_PER_PEER, piecesForRate } from './pieces-for-rate.js';
import { createRng } from './rng.js';

const KiB = 1024;

function seededScheduler(pieceCount: number, pieceLength: number, peers: number[]): PieceScheduler {
  const scheduler = new PieceScheduler({
    pieceCount,
    pieceLength,
    length: pieceCount * pieceLength,
    rng: createRng(1),
    initialRandomPieces: 0,
    maxPiecesInFlight: pieceCount,
    maxBytesInFlight: pieceCount * pieceLength,
  });
  const all = new Bitfield(pieceCount);
  for (let index = 0; index < pieceCount; index++) all.set(index);
  for (const peer of peers) scheduler.addPeer(peer, all);
  return scheduler;
}

function peer(actorId: number, knownRate: number, piecesReceived: number): PolicyPeer {
  return { actorId, knownRate, canFetch: true, snubbed: false, piecesReceived };
}

describe('AssignmentPolicy: slow start before a peer is measured', () => {
  it('an unmeasured peer holds the minimum plus one piece per piece it delivered', () => {
    const scheduler = seededScheduler(4096, 16 * KiB, [1, 2]);
    const policy = new AssignmentPolicy(16 * KiB, 0);
    const minimum = piecesForRate(0, 16 * KiB);
    assert.equal(minimum, 4);
    assert.equal(policy.fill(scheduler, peer(1, 0, 0), 0).length, minimum, 'nothing delivered: the minimum');
    // Its four came back verified: the next fill tops it up to 4 + 4.
    for (const index of scheduler.piecesOf(1)) {
      scheduler.verified(index, 1);
      scheduler.written(index);
    }
    assert.equal(policy.fill(scheduler, peer(1, 0, 4), 0).length, 8);
    assert.equal(scheduler.heldBy(1), 8);
    assert.equal(policy.fill(scheduler, peer(2, 0, 3000), 0).length, DEFAULT_MAX_PIECES_PER_PEER, 'capped');
  });

  it('a measured peer holds what its rate warrants, whatever it delivered', () => {
    const scheduler = seededScheduler(4096, 16 * KiB, [1]);
    const policy = new AssignmentPolicy(16 * KiB, 0);
    const rate = 200 * KiB; // 3 s of it: 600 KiB, 38 pieces + 1 for a fast peer
    assert.equal(policy.fill(scheduler, peer(1, rate, 500), 0).length, piecesForRate(rate, 16 * KiB));
    assert.equal(scheduler.heldBy(1), 39);
  });

  it('large pieces: one piece, then one more per piece delivered', () => {
    const scheduler = seededScheduler(64, 1024 * KiB, [1]);
    const policy = new AssignmentPolicy(1024 * KiB, 0);
    assert.equal(policy.fill(scheduler, peer(1, 0, 0), 0).length, 1);
    assert.equal(policy.fill(scheduler, peer(1, 0, 2), 0).length, 2, 'held 1, target 1 + 2');
  });
});
