import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkSchedulerInvariants } from '@tork/testkit';
import fc from 'fast-check';
import { Bitfield } from '../bitfield.js';
import { PieceScheduler } from './piece-scheduler.js';
import { createRng } from './rng.js';

/**
 * Random sequences of everything the coordinator can do, in any order (including the races the
 * scheduler must tolerate: events from removed peers, releases of pieces no longer held). After
 * every step the scheduler's own full consistency check runs, and every assignment is checked
 * against an independent model. At the end, one seed finishes the torrent: nothing is lost.
 */

const PEERS = 5;

type Op =
  | { op: 'add'; peer: number; bits: boolean[] }
  | { op: 'remove'; peer: number }
  | { op: 'have'; peer: number; index: number }
  | { op: 'bitfield'; peer: number; bits: boolean[] }
  | { op: 'assign'; peer: number; max: number; duplicates: boolean }
  | { op: 'release'; peer: number; pick: number; lacks: boolean }
  | { op: 'fail'; peer: number; pick: number }
  | { op: 'verify'; peer: number; pick: number }
  | { op: 'write'; pick: number }
  | { op: 'writeFailed'; pick: number }
  | { op: 'order'; sequential: boolean; from: number; urgent: number[] }
  | { op: 'priorities'; values: number[] };

const peer = fc.nat(PEERS - 1);
const boolBits = fc.array(fc.boolean(), { minLength: 64, maxLength: 64 });
const weighted = <T>(weight: number, arbitrary: fc.Arbitrary<T>) => ({ weight, arbitrary });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  weighted(3, fc.record({ op: fc.constant('add' as const), peer, bits: boolBits })),
  weighted(1, fc.record({ op: fc.constant('remove' as const), peer })),
  weighted(2, fc.record({ op: fc.constant('have' as const), peer, index: fc.nat(63) })),
  weighted(1, fc.record({ op: fc.constant('bitfield' as const), peer, bits: boolBits })),
  weighted(
    8,
    fc.record({
      op: fc.constant('assign' as const),
      peer,
      max: fc.integer({ min: 0, max: 6 }),
      duplicates: fc.boolean(),
    }),
  ),
  weighted(2, fc.record({ op: fc.constant('release' as const), peer, pick: fc.nat(), lacks: fc.boolean() })),
  weighted(2, fc.record({ op: fc.constant('fail' as const), peer, pick: fc.nat() })),
  weighted(6, fc.record({ op: fc.constant('verify' as const), peer, pick: fc.nat() })),
  weighted(4, fc.record({ op: fc.constant('write' as const), pick: fc.nat() })),
  weighted(1, fc.record({ op: fc.constant('writeFailed' as const), pick: fc.nat() })),
  weighted(
    1,
    fc.record({
      op: fc.constant('order' as const),
      sequential: fc.boolean(),
      from: fc.nat(45),
      urgent: fc.array(fc.nat(45), { maxLength: 8 }),
    }),
  ),
  weighted(
    1,
    fc.record({
      op: fc.constant('priorities' as const),
      values: fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 64, maxLength: 64 }),
    }),
  ),
);

const config = fc.record({
  pieceCount: fc.integer({ min: 1, max: 40 }),
  lastShort: fc.integer({ min: 0, max: 99 }),
  budgetPieces: fc.integer({ min: 1, max: 12 }),
  allowancePieces: fc.integer({ min: 1, max: 4 }),
  copies: fc.integer({ min: 1, max: 3 }),
  idleOnly: fc.boolean(),
  initialRandomPieces: fc.integer({ min: 0, max: 3 }),
  banAfterFailures: fc.integer({ min: 1, max: 4 }),
  seed: fc.integer(),
  haveSome: fc.boolean(),
  /** Peers connected before the operations start, with these fields. */
  initial: fc.array(boolBits, { minLength: 0, maxLength: 3 }),
});

describe('PieceScheduler: properties', () => {
  it('random operation sequences never break an invariant, and the torrent still completes', () => {
    fc.assert(
      fc.property(config, fc.array(opArb, { minLength: 10, maxLength: 150, size: 'max' }), (c, ops) => {
        const pieceLength = 100;
        const n = c.pieceCount;
        const have = new Bitfield(n);
        if (c.haveSome) for (let i = 0; i < n; i += 3) have.set(i);
        const s = new PieceScheduler({
          pieceCount: n,
          pieceLength,
          length: n * pieceLength - Math.min(c.lastShort, pieceLength - 1),
          have,
          rng: createRng(c.seed),
          maxBytesInFlight: c.budgetPieces * pieceLength,
          initialRandomPieces: c.initialRandomPieces,
          endgame: { copies: c.copies, maxBytes: c.allowancePieces * pieceLength, idleOnly: c.idleOnly },
          banAfterFailures: c.banAfterFailures,
        });
        // Independent model: what each connected peer has and holds, what is verified / pending.
        const peerBits = new Map<number, Set<number>>();
        const held = new Map<number, Set<number>>();
        const verified = new Set<number>(have.indices());
        const pending: number[] = [];
        /** Per piece 0 skip … 3 high (the scheduler's default is 2). */
        let priority = new Uint8Array(n).fill(2);
        const toField = (flags: boolean[]) => {
          const field = new Bitfield(n);
          for (let i = 0; i < n; i++) if (flags[i]) field.set(i);
          return field;
        };
        const nth = <T>(items: readonly T[], pick: number): T | undefined =>
          items.length === 0 ? undefined : items[pick % items.length];

        const initial: Op[] = c.initial.map((bits, id) => ({ op: 'add', peer: id, bits }));
        for (const op of [...initial, ...ops]) {
          switch (op.op) {
            case 'add': {
              if (peerBits.has(op.peer)) break;
              const field = toField(op.bits);
              s.addPeer(op.peer, field);
              peerBits.set(op.peer, new Set(field.indices()));
              held.set(op.peer, new Set());
              break;
            }
            case 'remove':
              s.removePeer(op.peer);
              peerBits.delete(op.peer);
              held.delete(op.peer);
              break;
            case 'have':
              if (op.index >= n) break;
              s.peerHave(op.peer, op.index);
              peerBits.get(op.peer)?.add(op.index);
              break;
            case 'bitfield': {
              const field = toField(op.bits);
              const unassigned = s.peerBitfield(op.peer, field);
              if (peerBits.has(op.peer)) {
                peerBits.set(op.peer, new Set(field.indices()));
                for (const i of unassigned) held.get(op.peer)!.delete(i);
              }
              break;
            }
            case 'assign': {
              if (!peerBits.has(op.peer)) break;
              const before = s.bytesInFlight;
              const picked = s.assign(op.peer, op.max, { duplicates: op.duplicates });
              assert.ok(picked.length <= op.max);
              assert.equal(new Set(picked).size, picked.length, 'one piece twice in one call');
              for (const i of picked) {
                assert.ok(peerBits.get(op.peer)!.has(i), `piece ${i} assigned to a peer that lacks it`);
                assert.ok(!held.get(op.peer)!.has(i), `piece ${i} assigned twice to peer ${op.peer}`);
                assert.ok(!verified.has(i), `verified piece ${i} assigned`);
                assert.ok(priority[i]! > 0, `skipped piece ${i} assigned`);
                held.get(op.peer)!.add(i);
              }
              if (picked.length > 0) assert.ok(s.bytesInFlight > before);
              break;
            }
            case 'release': {
              const index = nth([...(held.get(op.peer) ?? [])], op.pick);
              if (index === undefined) break;
              s.released(op.peer, [index], { peerLacks: op.lacks });
              held.get(op.peer)!.delete(index);
              if (op.lacks) peerBits.get(op.peer)!.delete(index);
              break;
            }
            case 'fail': {
              const index = nth([...(held.get(op.peer) ?? [])], op.pick);
              if (index === undefined) break;
              s.hashFailed(index, op.peer);
              held.get(op.peer)!.delete(index);
              break;
            }
            case 'verify': {
              const index = nth([...(held.get(op.peer) ?? [])], op.pick);
              if (index === undefined) break;
              const result = s.verified(index, op.peer);
              assert.equal(result.accepted, !verified.has(index));
              held.get(op.peer)!.delete(index);
              for (const { peer: other, index: piece } of result.cancel) {
                assert.equal(piece, index);
                assert.ok(held.get(other)!.delete(piece), 'cancel for a piece the peer did not hold');
              }
              if (result.accepted) {
                verified.add(index);
                pending.push(index);
              }
              for (const other of result.uninteresting) assert.equal(s.interesting(other), false);
              break;
            }
            case 'write': {
              if (pending.length === 0) break;
              const [index] = pending.splice(op.pick % pending.length, 1);
              s.written(index!);
              break;
            }
            case 'writeFailed': {
              if (pending.length === 0) break;
              const [index] = pending.splice(op.pick % pending.length, 1);
              const nowInteresting = s.writeFailed(index!);
              for (const id of nowInteresting) assert.equal(s.interesting(id), true);
              verified.delete(index!);
              break;
            }
            case 'order':
              // Urgent pieces and sequential mode change only which piece is picked, never the
              // invariants; out-of-range urgent pieces are dropped.
              s.order.sequential = op.sequential;
              s.order.sequentialFrom = op.from;
              s.order.setUrgent(op.urgent);
              assert.ok(s.order.urgent.every((index) => index < n));
              break;
            case 'priorities': {
              const next = Uint8Array.from(op.values.slice(0, n));
              const { interesting, uninteresting } = s.setPiecePriorities(next);
              priority = next;
              for (const id of interesting) assert.equal(s.interesting(id), true);
              for (const id of uninteresting) assert.equal(s.interesting(id), false);
              break;
            }
          }
          checkSchedulerInvariants(s);
          assert.ok(s.bytesInFlight <= s.bytesInFlightBound);
          for (const [id, pieces] of held) {
            assert.deepEqual(new Set(s.piecesOf(id)), pieces, `peer ${id} holds`);
            const wants = [...peerBits.get(id)!].some((i) => !verified.has(i) && priority[i]! > 0);
            assert.equal(s.interesting(id), wants, `interest of ${id}`);
          }
          let missing = 0;
          for (let i = 0; i < n; i++) if (!verified.has(i) && priority[i]! > 0) missing++;
          assert.equal(s.missingCount, missing);
        }

        // Liveness: drop everyone, let one seed fetch the rest. Bounded steps.
        for (const id of [...peerBits.keys()]) s.removePeer(id);
        for (const index of pending.splice(0)) s.written(index);
        s.addPeer(PEERS, Bitfield.full(n));
        for (let step = 0; step < 4 * n + 4 && !s.isComplete; step++) {
          for (const index of s.assign(PEERS, n)) {
            assert.equal(s.verified(index, PEERS).accepted, true);
            s.written(index);
          }
        }
        assert.equal(s.isComplete, true);
        // Skipped pieces are not fetched: after wanting everything, the rest completes too.
        s.setPiecePriorities(new Uint8Array(n).fill(1));
        for (let step = 0; step < 4 * n + 4 && !s.isComplete; step++) {
          for (const index of s.assign(PEERS, n)) {
            assert.equal(s.verified(index, PEERS).accepted, true);
            s.written(index);
          }
        }
        assert.equal(s.isComplete, true);
        assert.equal(s.missingCount, 0);
        assert.equal(s.verifiedCount, n);
        assert.equal(s.bytesInFlight, 0);
        checkSchedulerInvariants(s);
      }),
      { numRuns: 300 },
    );
  });
});
