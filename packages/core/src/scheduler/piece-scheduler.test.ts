import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkSchedulerInvariants } from '@tork/testkit';
import { Bitfield } from '../bitfield.js';
import { isTorkError, TorkErrorCode } from '../errors.js';
import { PieceScheduler, type PieceSchedulerOptions } from './piece-scheduler.js';
import { createRng } from './rng.js';

const KiB = 1024;

function bits(length: number, indices: Iterable<number>): Bitfield {
  const field = new Bitfield(length);
  for (const i of indices) field.set(i);
  return field;
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i);
}

function scheduler(pieceCount: number, options: Partial<PieceSchedulerOptions> = {}): PieceScheduler {
  const pieceLength = options.pieceLength ?? 16 * KiB;
  return new PieceScheduler({
    pieceCount,
    pieceLength,
    length: options.length ?? pieceCount * pieceLength,
    rng: createRng(1),
    initialRandomPieces: 0,
    ...options,
  });
}

/** Verifies and writes a piece assigned to `peer`. */
function finish(s: PieceScheduler, index: number, peer: number): void {
  assert.equal(s.verified(index, peer).accepted, true);
  s.written(index);
}

describe('PieceScheduler: construction', () => {
  it('refuses inconsistent geometry and options', () => {
    const bad: Array<Partial<PieceSchedulerOptions>> = [
      { pieceCount: 3, pieceLength: 10, length: 31 },
      { pieceCount: 0, pieceLength: 10, length: 0 },
      { pieceCount: 1, pieceLength: 0, length: 1 },
      { pieceCount: 4, pieceLength: 10, length: 40, maxBytesInFlight: 0 },
      { pieceCount: 4, pieceLength: 10, length: 40, endgame: { copies: 0 } },
      { pieceCount: 4, pieceLength: 10, length: 40, banAfterFailures: 0 },
      { pieceCount: 4, pieceLength: 10, length: 40, have: new Bitfield(5) },
    ];
    for (const options of bad) {
      assert.throws(
        () => new PieceScheduler({ pieceCount: 0, pieceLength: 0, length: 0, rng: createRng(1), ...options }),
        (error) => isTorkError(error, TorkErrorCode.USAGE),
        JSON.stringify(options),
      );
    }
  });

  it('never assigns pieces we already have, and counts them', () => {
    const s = scheduler(10, { have: bits(10, [0, 1, 2, 3, 4, 5, 6, 7]) });
    assert.equal(s.missingCount, 2);
    assert.equal(s.bytesInFlight, 0);
    s.addPeer(1, Bitfield.full(10));
    assert.deepEqual(s.assign(1, 10).sort(), [8, 9]);
    assert.equal(s.isVerified(3), true);
    checkSchedulerInvariants(s);
  });

  it('sizes the last piece short', () => {
    const s = scheduler(3, { pieceLength: 100, length: 250 });
    assert.equal(s.pieceSize(0), 100);
    assert.equal(s.pieceSize(2), 50);
  });
});

describe('PieceScheduler: picking', () => {
  it('assigns only pieces the peer has, never one it holds, never twice', () => {
    const s = scheduler(64);
    s.addPeer(1, bits(64, [3, 9, 40]));
    const first = s.assign(1, 10);
    assert.deepEqual(
      [...first].sort((a, b) => a - b),
      [3, 9, 40],
    );
    assert.deepEqual(s.assign(1, 10), []);
    s.addPeer(2, Bitfield.full(64));
    const second = s.assign(2, 100);
    assert.equal(second.length, 61);
    assert.ok(second.every((i) => !first.includes(i)));
    checkSchedulerInvariants(s);
  });

  it('picks the rarest pieces first', () => {
    const s = scheduler(100);
    s.addPeer(1, Bitfield.full(100));
    s.addPeer(2, bits(100, range(0, 90)));
    s.addPeer(3, bits(100, range(0, 50)));
    // availability: 0..49 → 3, 50..89 → 2, 90..99 → 1
    const picks = s.assign(1, 10);
    assert.deepEqual(
      [...picks].sort((a, b) => a - b),
      range(90, 100),
    );
    const next = s.assign(1, 40);
    assert.deepEqual(
      [...next].sort((a, b) => a - b),
      range(50, 90),
    );
    assert.equal(s.availability(95), 1);
    checkSchedulerInvariants(s);
  });

  it('breaks ties at random (the rng decides, deterministically)', () => {
    const firstPicks = new Set<number>();
    for (let seed = 1; seed <= 40; seed++) {
      const run = () => {
        const s = scheduler(1000, { rng: createRng(seed) });
        s.addPeer(1, Bitfield.full(1000));
        return s.assign(1, 1)[0]!;
      };
      const pick = run();
      assert.equal(run(), pick, 'same seed, same pick');
      firstPicks.add(pick);
    }
    assert.ok(firstPicks.size >= 30, `only ${firstPicks.size} distinct first picks over 40 seeds`);
  });

  it('picks at random, not rarest, until initialRandomPieces are verified', () => {
    const setup = (seed: number) => {
      const s = scheduler(200, { rng: createRng(seed), initialRandomPieces: 2 });
      s.addPeer(1, Bitfield.full(200));
      s.addPeer(2, bits(200, range(0, 190))); // 190..199 are the rarest
      return s;
    };
    let notRarest = 0;
    for (let seed = 1; seed <= 20; seed++) {
      const s = setup(seed);
      if (s.assign(1, 1)[0]! < 190) notRarest++;
    }
    assert.ok(notRarest >= 15, `random picks hit the rarest ten of 200 pieces ${20 - notRarest} times of 20`);
    // Once two pieces are verified, rarest-first.
    const s = setup(1);
    const [a, b] = s.assign(2, 2);
    finish(s, a!, 2);
    finish(s, b!, 2);
    assert.ok(s.assign(1, 1)[0]! >= 190);
  });

  it('offers released pieces first', () => {
    const s = scheduler(50);
    s.addPeer(1, Bitfield.full(50));
    s.addPeer(2, Bitfield.full(50));
    const held = s.assign(1, 5);
    assert.deepEqual(s.released(1, [held[3]!, held[1]!]), [held[3], held[1]]);
    assert.deepEqual(s.assign(2, 2), [held[3], held[1]]);
    // A release of a piece the peer does not hold (crossed with an unassign) is ignored.
    assert.deepEqual(s.released(1, [held[3]!]), []);
    checkSchedulerInvariants(s);
  });

  it('released with peerLacks strikes the pieces from the peer until it announces them', () => {
    const s = scheduler(8);
    s.addPeer(1, Bitfield.full(8));
    s.addPeer(2, Bitfield.full(8));
    const held = s.assign(1, 2);
    s.released(1, held, { peerLacks: true });
    assert.equal(s.availability(held[0]!), 1);
    const again = s.assign(1, 8);
    assert.equal(again.length, 6);
    assert.ok(
      held.every((i) => !again.includes(i)),
      'not offered back to the peer that lacks them',
    );
    s.peerHave(1, held[0]!);
    assert.equal(s.availability(held[0]!), 2);
    assert.deepEqual(s.assign(2, 8).sort(), [...held].sort());
    checkSchedulerInvariants(s);
  });

  it('tracks interest: pieces the peer has that we have not verified', () => {
    const s = scheduler(8);
    s.addPeer(1);
    assert.equal(s.interesting(1), false);
    s.peerHave(1, 5);
    assert.equal(s.interesting(1), true);
    s.addPeer(2, bits(8, [5, 6]));
    const [piece] = s.assign(1, 1);
    assert.equal(piece, 5);
    const result = s.verified(5, 1);
    assert.deepEqual(result.uninteresting, [1]);
    assert.equal(s.interesting(1), false);
    assert.equal(s.interesting(2), true);
    assert.deepEqual(s.assign(1, 1), [], 'nothing to give an uninteresting peer');
    assert.equal(s.interesting(99), false);
  });

  it('removePeer frees its pieces and its availability', () => {
    const s = scheduler(20);
    s.addPeer(1, Bitfield.full(20));
    s.addPeer(2, bits(20, range(0, 10)));
    const held = s.assign(1, 4);
    assert.equal(s.availability(0), 2);
    assert.deepEqual(s.removePeer(1).sort(), [...held].sort());
    assert.equal(s.availability(0), 1);
    assert.equal(s.availability(15), 0);
    assert.equal(s.bytesInFlight, 0);
    assert.deepEqual(s.removePeer(1), []);
    checkSchedulerInvariants(s);
  });

  it('peerBitfield replaces the field, unassigning pieces the peer no longer claims', () => {
    const s = scheduler(16);
    s.addPeer(1, Bitfield.full(16));
    const held = s.assign(1, 3);
    const keep = held[0]!;
    assert.deepEqual(s.peerBitfield(1, bits(16, [keep])).sort(), held.slice(1).sort());
    assert.deepEqual(s.piecesOf(1), [keep]);
    assert.equal(s.availability(keep), 1);
    assert.equal(s.availability((keep + 1) % 16), 0);
    checkSchedulerInvariants(s);
  });

  it('ignores events from peers already removed, refuses to assign to them', () => {
    const s = scheduler(8);
    s.addPeer(1, Bitfield.full(8));
    const [piece] = s.assign(1, 1);
    s.removePeer(1);
    s.peerHave(1, 3);
    assert.deepEqual(s.peerBitfield(1, Bitfield.full(8)), []);
    assert.deepEqual(s.released(1, [piece!]), []);
    assert.deepEqual(s.hashFailed(piece!, 1), { ban: false });
    assert.equal(s.verified(piece!, 1).accepted, false);
    assert.throws(
      () => s.assign(1, 1),
      (error) => isTorkError(error, TorkErrorCode.INTERNAL),
    );
    assert.throws(
      () => s.addPeer(2, new Bitfield(9)),
      (error) => isTorkError(error, TorkErrorCode.INTERNAL),
    );
    checkSchedulerInvariants(s);
  });

  it('refuses out-of-range pieces and a peer added twice', () => {
    const s = scheduler(8);
    s.addPeer(1);
    assert.throws(
      () => s.addPeer(1),
      (error) => isTorkError(error, TorkErrorCode.INTERNAL),
    );
    for (const index of [-1, 8, 1.5]) {
      assert.throws(
        () => s.peerHave(1, index),
        (error) => isTorkError(error, TorkErrorCode.OUT_OF_RANGE),
      );
    }
    assert.throws(
      () => s.written(0),
      (error) => isTorkError(error, TorkErrorCode.INTERNAL),
    );
  });
});

describe('PieceScheduler: byte budget', () => {
  it('stops at maxBytesInFlight and frees on written, not on verified', () => {
    const s = scheduler(10, { pieceLength: 100, maxBytesInFlight: 300 });
    s.addPeer(1, Bitfield.full(10));
    const held = s.assign(1, 10);
    assert.equal(held.length, 3);
    assert.equal(s.bytesInFlight, 300);
    assert.deepEqual(s.assign(1, 10), []);
    assert.equal(s.verified(held[0]!, 1).accepted, true);
    assert.equal(s.bytesInFlight, 300, 'a verified piece waits for the disk');
    assert.deepEqual(s.assign(1, 10), []);
    s.written(held[0]!);
    assert.equal(s.bytesInFlight, 200);
    assert.equal(s.assign(1, 10).length, 1);
    s.released(1, [held[1]!]);
    assert.equal(s.bytesInFlight, 200);
    checkSchedulerInvariants(s);
  });

  it('allows one piece at a time when a piece is larger than the budget', () => {
    const s = scheduler(4, { pieceLength: 1000, maxBytesInFlight: 300 });
    s.addPeer(1, Bitfield.full(4));
    const [piece] = s.assign(1, 4);
    assert.equal(s.bytesInFlight, 1000);
    assert.deepEqual(s.assign(1, 4), []);
    finish(s, piece!, 1);
    assert.equal(s.assign(1, 4).length, 1);
  });

  it('writeFailed makes the piece missing again', () => {
    const s = scheduler(4, { pieceLength: 100 });
    s.addPeer(1, Bitfield.full(4));
    const all = s.assign(1, 4);
    for (const i of all) s.verified(i, 1);
    assert.equal(s.missingCount, 0);
    assert.equal(s.isComplete, false);
    assert.deepEqual(s.writeFailed(all[2]!), [1], 'peer 1 is interesting again');
    assert.equal(s.missingCount, 1);
    assert.equal(s.interesting(1), true);
    assert.deepEqual(s.assign(1, 4), [all[2]]);
    s.verified(all[2]!, 1);
    for (const i of all) s.written(i);
    assert.equal(s.isComplete, true);
    assert.equal(s.bytesInFlight, 0);
    checkSchedulerInvariants(s);
  });
});

describe('PieceScheduler: endgame', () => {
  function endgame(options: Partial<PieceSchedulerOptions> = {}) {
    const s = scheduler(6, { pieceLength: 100, ...options });
    s.addPeer(1, Bitfield.full(6));
    s.addPeer(2, Bitfield.full(6));
    s.addPeer(3, Bitfield.full(6));
    const held = s.assign(1, 6);
    return { s, held };
  }

  it('starts when every available missing piece is assigned, oldest first, two copies at most', () => {
    const { s, held } = endgame();
    assert.equal(s.inEndgame, true);
    const copies = s.assign(2, 2);
    assert.deepEqual(copies, held.slice(0, 2), 'oldest assignments first');
    assert.deepEqual(s.assignedTo(held[0]!), [1, 2]);
    // Peer 2 is busy now: no more duplicates for it (idleOnly).
    assert.deepEqual(s.assign(2, 2), []);
    const more = s.assign(3, 10);
    assert.deepEqual(more, held.slice(2), 'the next idle peer takes the rest, never a third copy');
    assert.equal(s.duplicateBytesInFlight, 600);
    checkSchedulerInvariants(s);
  });

  it('the first verified copy wins and the others are cancelled', () => {
    const { s, held } = endgame();
    const piece = held[0]!;
    s.assign(2, 1);
    const result = s.verified(piece, 2);
    assert.equal(result.accepted, true);
    assert.deepEqual(result.cancel, [{ peer: 1, index: piece }]);
    assert.deepEqual(s.piecesOf(1).includes(piece), false);
    assert.equal(s.verified(piece, 1).accepted, false, 'the late copy is dropped');
    assert.equal(s.duplicateBytesInFlight, 0);
    checkSchedulerInvariants(s);
  });

  it('pieces nobody has do not hold the endgame off', () => {
    const s = scheduler(4, { pieceLength: 100 });
    s.addPeer(1, bits(4, [0, 1, 2]));
    s.addPeer(2, bits(4, [0, 1, 2]));
    s.assign(1, 4);
    assert.equal(s.inEndgame, true);
    assert.equal(s.assign(2, 4).length, 3);
  });

  it('copies: 1 disables duplicates; idleOnly: false lets busy peers take copies', () => {
    const off = endgame({ endgame: { copies: 1 } });
    assert.equal(off.s.inEndgame, true);
    assert.deepEqual(off.s.assign(2, 6), []);
    const busy = scheduler(6, { pieceLength: 100, endgame: { idleOnly: false } });
    busy.addPeer(1, Bitfield.full(6));
    busy.addPeer(2, bits(6, [5]));
    const mine = busy.assign(2, 1);
    busy.assign(1, 6);
    assert.equal(busy.assign(2, 6).length, 0, 'peer 2 has only its own piece');
    assert.equal(busy.assign(1, 6).length, 1, 'busy peer 1 copies piece 5');
    assert.deepEqual(busy.assignedTo(mine[0]!), [2, 1]);
  });

  it('no stall at 99%: an idle peer gets copies while a stalled peer fills the whole budget', () => {
    const s = scheduler(40, { pieceLength: 100, maxBytesInFlight: 1000, endgame: { maxBytes: 300 } });
    s.addPeer(1, Bitfield.full(40));
    s.addPeer(2, Bitfield.full(40));
    while (s.missingCount > 10) finish(s, s.assign(2, 1)[0]!, 2);
    // Peer 1 takes the last ten pieces — the whole budget — and stalls.
    const stuck = s.assign(1, 40);
    assert.equal(stuck.length, 10);
    assert.equal(s.bytesInFlight, 1000);
    assert.equal(s.inEndgame, true);
    let rounds = 0;
    while (!s.isComplete) {
      const copies = s.assign(2, 10);
      assert.ok(copies.length > 0 && copies.length <= 3, `copies ${copies.length}`);
      assert.ok(s.duplicateBytesInFlight <= 300);
      assert.ok(s.bytesInFlight <= 1300);
      for (const i of copies) {
        assert.deepEqual(s.verified(i, 2).cancel, [{ peer: 1, index: i }]);
        s.written(i);
      }
      assert.ok(++rounds <= 4);
      checkSchedulerInvariants(s);
    }
    assert.deepEqual(s.piecesOf(1), []);
  });

  it('duplicates: true lets a fast idle peer copy old assignments outside the endgame', () => {
    const s = scheduler(100, { pieceLength: 100, maxBytesInFlight: 500, endgame: { maxBytes: 200 } });
    s.addPeer(1, Bitfield.full(100));
    s.addPeer(2, Bitfield.full(100));
    const slow = s.assign(1, 100);
    assert.equal(slow.length, 5);
    assert.equal(s.inEndgame, false);
    assert.deepEqual(s.assign(2, 2), [], 'budget full, no endgame');
    assert.deepEqual(s.assign(2, 5, { duplicates: true }), slow.slice(0, 2), 'within the 200-byte allowance');
    checkSchedulerInvariants(s);
  });
});

describe('PieceScheduler: hash failures', () => {
  it('refetches from another source and bans after three distinct failures', () => {
    const s = scheduler(10);
    s.addPeer(1, Bitfield.full(10));
    s.addPeer(2, Bitfield.full(10));
    const bad = s.assign(1, 3);
    assert.deepEqual(s.hashFailed(bad[0]!, 1), { ban: false });
    assert.deepEqual(s.hashFailed(bad[1]!, 1), { ban: false });
    assert.equal(s.missingCount, 10);
    // Peer 1 is not given its failed pieces back while peer 2 has them.
    const again = s.assign(1, 10);
    assert.ok(!again.includes(bad[0]!) && !again.includes(bad[1]!));
    assert.deepEqual(s.assign(2, 2).sort(), [bad[0], bad[1]].sort());
    assert.deepEqual(s.hashFailed(bad[2]!, 1), { ban: true });
    checkSchedulerInvariants(s);
  });

  it('bans a peer that fails the same piece twice; retries it when it is the only source', () => {
    const s = scheduler(4);
    s.addPeer(1, bits(4, [2]));
    assert.deepEqual(s.assign(1, 1), [2]);
    assert.deepEqual(s.hashFailed(2, 1), { ban: false });
    assert.deepEqual(s.assign(1, 1), [2], 'the only source is asked again');
    assert.deepEqual(s.hashFailed(2, 1), { ban: true });
    s.removePeer(1);
    s.addPeer(3, bits(4, [2]));
    assert.deepEqual(s.assign(3, 1), [2]);
    finish(s, 2, 3);
    checkSchedulerInvariants(s);
  });

  it('an endgame copy failing leaves the other copy running', () => {
    const s = scheduler(2, { pieceLength: 100 });
    s.addPeer(1, Bitfield.full(2));
    s.addPeer(2, Bitfield.full(2));
    s.assign(1, 2);
    const [copy] = s.assign(2, 1);
    s.hashFailed(copy!, 2);
    assert.deepEqual(s.assignedTo(copy!), [1]);
    assert.equal(s.duplicateBytesInFlight, 0);
    assert.deepEqual(s.assign(2, 1), [s.piecesOf(1).find((i) => i !== copy)], 'not the piece it failed');
    checkSchedulerInvariants(s);
  });
});

describe('PieceScheduler: runs of neighbours (small pieces)', () => {
  it('gives a peer runs of neighbouring pieces, continued by its next pick, one piece per call too', () => {
    const s = scheduler(4_000);
    s.addPeer(1, bits(4_000, range(0, 4_000)));
    s.addPeer(2, bits(4_000, range(0, 4_000)));
    const first = s.assign(1, 50);
    for (let i = 1; i < first.length; i++) assert.equal(first[i], first[0]! + i, `run broken at ${i}`);
    const other = s.assign(2, 50);
    // A refill of one piece continues the run where the peer's last pick stopped.
    assert.deepEqual(s.assign(1, 1), [first.at(-1)! + 1]);
    assert.deepEqual(s.assign(2, 1), [other.at(-1)! + 1]);
    checkSchedulerInvariants(s);
  });

  it('a rarer piece the peer has breaks the run (rarest-first first), and large pieces are picked alone', () => {
    const s = scheduler(1_000);
    s.addPeer(1, bits(1_000, range(0, 1_000)));
    s.addPeer(2, bits(1_000, range(0, 1_000)));
    const [a] = s.assign(1, 1);
    // Peer 3 arrives with every piece but 900 and 901: those two are now the rarest.
    s.addPeer(
      3,
      bits(
        1_000,
        range(0, 1_000).filter((i) => i !== 900 && i !== 901),
      ),
    );
    assert.deepEqual(s.assign(1, 2).sort(), [900, 901]);
    assert.notEqual(a, 899);
    const large = scheduler(2_000, { pieceLength: 1024 * KiB });
    assert.equal(large.contiguous, false);
    large.addPeer(1, bits(2_000, range(0, 2_000)));
    const picked = large.assign(1, 20);
    assert.ok(
      picked.some((index, i) => i > 0 && index !== picked[i - 1]! + 1),
      'large pieces stay random',
    );
  });
});

describe('PieceScheduler: the piece budget', () => {
  it('never has more than maxPiecesInFlight pieces assigned or unwritten, however large the byte budget', () => {
    const s = scheduler(10_000, { maxPiecesInFlight: 300 });
    assert.equal(s.maxBytesInFlight, 64 * 1024 * KiB);
    for (let peer = 1; peer <= 4; peer++) s.addPeer(peer, bits(10_000, range(0, 10_000)));
    const held = new Map<number, number[]>();
    for (let peer = 1; peer <= 4; peer++) held.set(peer, s.assign(peer, 200));
    assert.equal(s.piecesInFlight, 300);
    assert.deepEqual(s.assign(1, 10), []);
    // Verified but not written still counts; written frees the slot.
    const [first] = held.get(1)!;
    assert.equal(s.verified(first!, 1).accepted, true);
    assert.deepEqual(s.assign(2, 10), []);
    s.written(first!);
    assert.equal(s.assign(2, 10).length, 1);
    assert.equal(s.piecesInFlight, 300);
    checkSchedulerInvariants(s);
  });
});
