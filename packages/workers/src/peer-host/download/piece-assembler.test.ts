import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { MessageChannel } from 'node:worker_threads';
import { BLOCK_LENGTH } from '@tork/core';
import { PieceAssembler } from './piece-assembler.js';

const sha1 = (bytes: Uint8Array) => createHash('sha1').update(bytes).digest();

describe('PieceAssembler', () => {
  it('hands out blocks in order, a short last block, and assembles and verifies the piece', () => {
    const size = BLOCK_LENGTH * 2 + 100;
    const data = Buffer.from(Array.from({ length: size }, (_, i) => (i * 31) & 0xff));
    const piece = new PieceAssembler(7, size);
    assert.equal(piece.blockCount, 3);
    assert.equal(piece.buffer.byteLength, size);
    assert.deepEqual([piece.takeNext(), piece.takeNext(), piece.takeNext(), piece.takeNext()], [0, 1, 2, -1]);
    assert.equal(piece.blockLength(2), 100);
    assert.equal(piece.requested, 3);
    assert.equal(piece.accept(BLOCK_LENGTH * 2, data.subarray(BLOCK_LENGTH * 2)), 'accepted');
    assert.equal(piece.accept(0, data.subarray(0, BLOCK_LENGTH)), 'accepted');
    assert.equal(piece.accept(0, data.subarray(0, BLOCK_LENGTH)), 'duplicate');
    assert.equal(piece.accept(5, data.subarray(0, 10)), 'unrequested');
    assert.equal(piece.accept(BLOCK_LENGTH, data.subarray(0, 10)), 'wrong-size');
    assert.equal(piece.complete, false);
    assert.equal(piece.accept(BLOCK_LENGTH, data.subarray(BLOCK_LENGTH, BLOCK_LENGTH * 2)), 'accepted');
    assert.equal(piece.complete, true);
    assert.ok(piece.verify(sha1(data)));
    assert.ok(!piece.verify(sha1(Buffer.from('x'))));
    assert.deepEqual(new Uint8Array(piece.buffer), new Uint8Array(data));
  });

  it('takes its buffer when the first block arrives, not when assigned', () => {
    let taken = 0;
    const piece = new PieceAssembler(2, BLOCK_LENGTH * 2, (size) => {
      taken++;
      return new ArrayBuffer(size);
    });
    assert.deepEqual([piece.takeNext(), piece.takeNext()], [0, 1]);
    assert.equal(taken, 0, 'assigned and requested, nothing arrived: no buffer');
    assert.equal(piece.heldBuffer, null);
    assert.equal(piece.accept(BLOCK_LENGTH, new Uint8Array(BLOCK_LENGTH).fill(9)), 'accepted');
    assert.equal(taken, 1);
    assert.ok(piece.heldBuffer !== null);
    assert.equal(piece.accept(0, new Uint8Array(BLOCK_LENGTH).fill(8)), 'accepted');
    assert.equal(taken, 1, 'one buffer per piece');
    assert.deepEqual([...new Uint8Array(piece.buffer, BLOCK_LENGTH - 1, 2)], [8, 9]);
    // A buffer of the wrong size from the pool is not used.
    const odd = new PieceAssembler(3, 100, () => new ArrayBuffer(50));
    assert.equal(odd.buffer.byteLength, 100);
  });

  it('wants rejected blocks again, lowest first', () => {
    const piece = new PieceAssembler(0, BLOCK_LENGTH * 4);
    piece.takeNext();
    piece.takeNext();
    piece.takeNext();
    assert.ok(piece.unrequest(1));
    assert.ok(!piece.unrequest(1), 'already wanted');
    assert.ok(!piece.unrequest(3), 'never requested');
    assert.equal(piece.takeNext(), 1);
    assert.equal(piece.takeNext(), 3);
    assert.deepEqual([...piece.requestedBlocks()], [0, 1, 2, 3]);
    piece.unrequestAll();
    assert.equal(piece.requested, 0);
    assert.equal(piece.takeNext(), 0);
  });

  it('owns an exactly-sized ArrayBuffer that transfers alone (never a pooled Buffer)', () => {
    const piece = new PieceAssembler(0, 1_000); // small enough that a pooled Buffer would share a pool
    assert.equal(piece.buffer.byteLength, 1_000);
    const { port1, port2 } = new MessageChannel();
    port1.postMessage(piece.buffer, [piece.buffer]);
    assert.equal(piece.buffer.byteLength, 0, 'detached: moved, not copied');
    port1.close();
    port2.close();
  });
  it("never asks for the blocks wholly in a piece's tail pad: zero-filled, counted received", () => {
    const size = BLOCK_LENGTH * 4;
    const recycled = new ArrayBuffer(size);
    new Uint8Array(recycled).fill(0xee); // an earlier piece's bytes
    // 1.5 blocks of file data, then pad: blocks 0 and 1 are asked for, 2 and 3 are not.
    const piece = new PieceAssembler(3, size, () => recycled, BLOCK_LENGTH + BLOCK_LENGTH / 2);
    assert.equal(piece.started, false, 'pad alone is not a started piece');
    assert.deepEqual([piece.takeNext(), piece.takeNext(), piece.takeNext()], [0, 1, -1]);
    assert.equal(piece.accept(BLOCK_LENGTH * 2, new Uint8Array(BLOCK_LENGTH)), 'duplicate');
    const data = new Uint8Array(BLOCK_LENGTH).fill(7);
    assert.equal(piece.accept(0, data), 'accepted');
    assert.equal(piece.started, true);
    assert.equal(piece.complete, false);
    assert.equal(piece.accept(BLOCK_LENGTH, data), 'accepted');
    assert.equal(piece.complete, true);
    const bytes = new Uint8Array(piece.buffer);
    assert.ok(
      bytes.subarray(BLOCK_LENGTH * 2).every((byte) => byte === 0),
      'pad blocks are zeros',
    );
    piece.unrequestAll();
    assert.equal(piece.takeNext(), -1, 'nothing to ask again');
    // A piece that is all pad is fetched as any other: something must complete it.
    const allPad = new PieceAssembler(4, size, undefined, 0);
    assert.deepEqual(
      [allPad.takeNext(), allPad.takeNext(), allPad.takeNext(), allPad.takeNext()],
      [0, 1, 2, 3],
    );
  });
});
