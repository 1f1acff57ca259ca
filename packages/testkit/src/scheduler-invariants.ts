import { forEachSet, type PieceScheduler, PieceState, TorkError, TorkErrorCode, unitOf } from '@tork/core';

const { CANDIDATE, ASSIGNED, PENDING_WRITE } = PieceState;

/**
 * Recomputes a `PieceScheduler`'s state from scratch (through `inspect`) and throws
 * TORK_ERR_INTERNAL on any inconsistency: availability, candidate buckets, assignments, byte
 * budgets, wanted counts, priority tiers (a skipped piece is never a candidate nor wanted).
 * O(pieceCount × peers).
 */
export function checkSchedulerInvariants(scheduler: PieceScheduler): void {
  const s = scheduler.inspect();
  const fail = (message: string, details: Record<string, number> = {}): never => {
    throw new TorkError(TorkErrorCode.INTERNAL, `scheduler invariant: ${message}`, details);
  };
  const availability = new Uint32Array(scheduler.pieceCount);
  for (const p of s.peers.values()) forEachSet(p.bits, (index) => availability[index]!++);
  let primary = 0;
  let duplicate = 0;
  let verified = 0;
  let pending = 0;
  let pendingBytes = 0;
  let candidates = 0;
  let skippedMissing = 0;
  for (let index = 0; index < scheduler.pieceCount; index++) {
    const state = s.states[index]!;
    const size = scheduler.pieceSize(index);
    if (availability[index] !== s.availability[index]) fail('availability', { index });
    const isCandidate = s.candidates.has(index);
    const priority = s.priorities[index]!;
    if (priority > 3) fail('priority out of range', { index, priority });
    if (priority === 0 && state < PENDING_WRITE) skippedMissing++;
    if (isCandidate !== (state === CANDIDATE && priority > 0))
      fail('candidate bit', { index, state, priority });
    // With the bucket sizes summing to the candidate count (checked below), this also proves
    // that no piece sits in a second bucket or in one while not a candidate.
    if (isCandidate && !(s.buckets[priority]?.[availability[index]!]?.has(index) ?? false)) {
      fail('candidate outside its bucket', { index, priority });
    }
    if (isCandidate && index < scheduler.order.cursor) fail('candidate below the order cursor', { index });
    if (isCandidate) candidates++;
    else if (s.retry.has(index)) fail('retry holds a non-candidate', { index });
    const holders = s.assignees.get(index);
    if ((holders !== undefined) !== (state === ASSIGNED)) fail('assignees vs state', { index, state });
    if (holders !== undefined) {
      if (holders.length === 0 || holders.length > scheduler.endgameCopies) fail('copies', { index });
      if (new Set(holders).size !== holders.length) fail('assigned twice to one peer', { index });
      for (const peer of holders) {
        const p = s.peers.get(peer) ?? fail('assigned to unknown peer', { index, peer });
        if (!p.bits.has(index)) fail('assigned to a peer that lacks it', { index, peer });
        if (!p.pieces.has(index)) fail('peer does not list its piece', { index, peer });
      }
      primary += size;
      duplicate += (holders.length - 1) * size;
    }
    if (state >= PENDING_WRITE) verified++;
    if (state === PENDING_WRITE) {
      pending++;
      pendingBytes += size;
      primary += size;
    }
    if (state >= PENDING_WRITE && s.failedBy.has(index)) {
      fail('failedBy on a verified piece', { index });
    }
  }
  for (const [peer, p] of s.peers) {
    let wanted = 0;
    forEachSet(p.bits, (index) => {
      if (s.states[index]! < PENDING_WRITE && s.priorities[index]! > 0) wanted++;
    });
    if (wanted !== p.wanted) fail('wanted count', { peer });
    for (const index of p.pieces) {
      if (!(s.assignees.get(index)?.includes(peer) ?? false)) {
        fail('peer lists a piece not assigned to it', { peer, index });
      }
    }
    if (p.units !== undefined) {
      const listed = new Set(p.units);
      if (listed.size !== p.units.length) fail('sparse units listed twice', { peer });
      forEachSet(p.bits, (index) => {
        if (!listed.has(unitOf(index, p.bits.bytes.length))) {
          fail('sparse units miss a piece', { peer, index });
        }
      });
    }
  }
  for (const [index, failers] of s.failedBy) {
    for (const peer of failers)
      if (!s.peers.get(peer)?.bits.has(index)) fail('failedBy peer', { index, peer });
  }
  if (candidates !== s.candidates.count) fail('candidate count');
  let inBuckets = 0;
  for (const tier of s.buckets) for (const bucket of tier) inBuckets += bucket?.count ?? 0;
  if (inBuckets !== candidates) fail('bucket sizes', { inBuckets, candidates });
  if ((s.buckets[0]?.length ?? 0) > 0) fail('a bucket for skipped pieces');
  if (skippedMissing !== s.skippedMissing)
    fail('skipped count', { skippedMissing, expected: s.skippedMissing });
  if (verified !== s.verifiedCount || pending !== s.pendingWrites || pendingBytes !== s.pendingWriteBytes) {
    fail('verified counts');
  }
  if (primary !== s.primaryBytes || duplicate !== s.duplicateBytes) {
    fail('bytes in flight', { primary, expected: s.primaryBytes, duplicate });
  }
  if (primary > Math.max(scheduler.maxBytesInFlight, scheduler.pieceLength))
    fail('budget exceeded', { primary });
  if (duplicate > Math.max(scheduler.endgameMaxBytes, scheduler.pieceLength)) {
    fail('endgame allowance exceeded', { duplicate });
  }
}
