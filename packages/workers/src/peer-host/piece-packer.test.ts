import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TorkError, TorkErrorCode } from '@tork/core';
import {
  MAX_PIECE_BATCH_BYTES,
  MAX_PIECES_PER_EVENT,
  SMALL_PIECE_EVENT_BYTES,
} from '@tork/core/internal/messages/message-limits.js';
import { BufferPool } from './buffer-pool.js';
import { PACK_UNIT_BYTES, PiecePacker } from './piece-packer.js';

const KIB = 1024;

/** A piece's bytes: its index in every byte, so a misplaced copy shows. */
const bytesOf = (index: number, length = 16 * KIB) => new Uint8Array(length).fill(index & 0xff);

describe('PiecePacker', () => {
  it('copies pieces back to back as they come, one event per buffer, in order', () => {
    const packer = new PiecePacker(new BufferPool());
    const source = bytesOf(1);
    packer.add(7, 1, source);
    source.fill(0xee); // the caller's view is reused at once: the packed copy must not change
    packer.add(7, 2, bytesOf(2, 10_000));
    packer.add(8, 3, bytesOf(3));
    assert.equal(packer.pending, true);
    const { events, transfer } = packer.seal();
    assert.equal(events.length, 1);
    const [event] = events;
    assert.deepEqual(event!.pieces, [
      { actorId: 7, index: 1, offset: 0, length: 16 * KIB },
      { actorId: 7, index: 2, offset: 16 * KIB, length: 10_000 },
      { actorId: 8, index: 3, offset: 16 * KIB + 10_000, length: 16 * KIB },
    ]);
    assert.deepEqual(transfer, [event!.data]);
    for (const piece of event!.pieces) {
      const bytes = new Uint8Array(event!.data, piece.offset, piece.length);
      assert.ok(
        bytes.every((byte) => byte === piece.index),
        `piece ${piece.index} intact`,
      );
    }
    assert.equal(event!.data.byteLength, PACK_UNIT_BYTES, 'the least size, for 42 KB');
    assert.equal(packer.pending, false);
    assert.deepEqual(packer.seal().events, [], 'nothing more to seal');
    assert.deepEqual(packer.packed, { events: 1, pieces: 3 });
  });

  it("sizes a turn's buffers by what the last turn packed, doubling within a turn, PACK_UNIT_BYTES to MAX_PIECE_BATCH_BYTES", () => {
    const packer = new PiecePacker(new BufferPool());
    packer.add(1, 0, bytesOf(0));
    assert.equal(packer.seal().events[0]!.data.byteLength, PACK_UNIT_BYTES, 'a first turn: the least unit');
    // A turn of 40 pieces of 16 KiB (640 KiB) after a quiet one: each buffer it outgrows is
    // followed by one twice as big (64, 128, 256, 512 KiB), not by more of 64 KiB.
    for (let i = 0; i < 40; i++) packer.add(1, i, bytesOf(i));
    const busy = packer.seal().events;
    assert.deepEqual(
      busy.map((event) => [event.data.byteLength / KIB, event.pieces.length]),
      [
        [64, 4],
        [128, 8],
        [256, 16],
        [512, 12],
      ],
    );
    // The next turn's buffer has room for about the last turn: 640 KiB.
    for (let i = 0; i < 40; i++) packer.add(1, i, bytesOf(i));
    const sized = packer.seal().events;
    assert.equal(sized.length, 1);
    assert.equal(sized[0]!.data.byteLength, 1024 * KIB, 'the next power of two');
    // Never more than MAX_PIECE_BATCH_BYTES or MAX_PIECES_PER_EVENT in one event.
    for (let turn = 0; turn < 2; turn++) for (let i = 0; i < 600; i++) packer.add(1, i, bytesOf(i, 4 * KIB));
    const capped = packer.seal().events;
    assert.ok(capped.length >= 3);
    for (const event of capped) {
      assert.ok(event.pieces.length <= MAX_PIECES_PER_EVENT, `${event.pieces.length} pieces`);
      assert.ok(event.data.byteLength <= MAX_PIECE_BATCH_BYTES, `${event.data.byteLength} bytes`);
    }
  });

  it('takes its buffers from the pool and keeps an empty one for the next turn', () => {
    const pool = new BufferPool();
    const packer = new PiecePacker(pool);
    packer.add(1, 0, bytesOf(0));
    const [first] = packer.seal().events;
    pool.give(first!.data); // written and recycled by the coordinator
    packer.add(1, 1, bytesOf(1));
    const [second] = packer.seal().events;
    assert.equal(second!.data, first!.data, 'the recycled buffer is used again');
    assert.equal(pool.allocated, 1);
  });

  it('refuses a piece beyond SMALL_PIECE_EVENT_BYTES, or an empty one, as a bug', () => {
    const packer = new PiecePacker(new BufferPool());
    for (const length of [0, SMALL_PIECE_EVENT_BYTES + 1])
      assert.throws(
        () => packer.add(1, 0, new Uint8Array(length)),
        (error: unknown) => error instanceof TorkError && error.code === TorkErrorCode.INTERNAL,
      );
    assert.equal(packer.pending, false);
  });
});
