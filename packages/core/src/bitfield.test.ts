import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Bitfield } from './bitfield.js';
import { TorkError, TorkErrorCode } from './errors.js';

describe('Bitfield', () => {
  it('uses BEP 3 bit order and counts', () => {
    const field = new Bitfield(10);
    assert.equal(field.set(0), true);
    assert.equal(field.set(0), false);
    field.set(9);
    assert.deepEqual([...field.bytes], [0x80, 0x40]);
    assert.equal(field.count, 2);
    assert.deepEqual([...field.indices()], [0, 9]);
    assert.equal(field.clear(0), true);
    assert.equal(field.count, 1);
    assert.equal(field.has(10), false);
    assert.ok(Bitfield.full(10).complete);
  });

  it('refuses a wrong length or spare bits from a peer', () => {
    const check = (fn: () => unknown) =>
      assert.throws(fn, (e: unknown) => e instanceof TorkError && e.code === TorkErrorCode.WIRE_PROTOCOL);
    check(() => new Bitfield(10, new Uint8Array(1)));
    check(() => new Bitfield(10, Uint8Array.of(0xff, 0xff)));
    assert.equal(new Bitfield(10, Uint8Array.of(0xff, 0xc0)).count, 10);
    assert.throws(
      () => new Bitfield(3).set(3),
      (e: unknown) => e instanceof TorkError && e.code === 'TORK_ERR_OUT_OF_RANGE',
    );
  });

  it('setAll sets every piece, as set() one by one would, and never a spare bit', () => {
    for (const length of [0, 1, 7, 8, 9, 15, 16, 17, 16_337]) {
      const one = new Bitfield(length);
      for (let i = 0; i < length; i++) one.set(i);
      const all = new Bitfield(length);
      if (length > 0) all.set(length >> 1); // one already set: counted once
      all.setAll();
      assert.deepEqual(all.bytes, one.bytes, `length ${length}`);
      assert.equal(all.count, length);
      assert.equal(all.complete, true);
      // What a peer may send: the constructor refuses spare bits.
      assert.equal(new Bitfield(length, all.bytes).count, length);
      assert.deepEqual(Bitfield.full(length).bytes, one.bytes);
    }
  });
});
