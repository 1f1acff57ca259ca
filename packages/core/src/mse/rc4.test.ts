import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Rc4 } from './rc4.js';

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

describe('Rc4', () => {
  it('matches RFC 6229 (key 0102030405: offsets 0 and 1024)', () => {
    const key = Uint8Array.from([1, 2, 3, 4, 5]);
    const first = new Uint8Array(16);
    Rc4.create(key).transform(first);
    assert.equal(hex(first), 'b2396305f03dc027ccc3524a0a1118a8');
    // Offset 1024 is where MSE's stream starts (the first 1,024 bytes are discarded).
    const at1024 = new Uint8Array(16);
    Rc4.create(key, 1024).transform(at1024);
    assert.equal(hex(at1024), '30abbcc7c20b01609f23ee2d5f6bb7df');
  });

  it('matches the classic "Key"/"Plaintext" vector', () => {
    const data = Buffer.from('Plaintext');
    Rc4.create(Buffer.from('Key')).transform(data);
    assert.equal(hex(data), 'bbf316e8d940af0ad3');
  });

  it('a restored snapshot goes on where the stream was; chunking does not matter', () => {
    const key = Buffer.from('a key of twenty bytes');
    const whole = new Uint8Array(10_000).map((_, i) => i);
    const expected = new Uint8Array(whole);
    Rc4.create(key, 1024).transform(expected);
    const stream = Rc4.create(key, 1024);
    const data = new Uint8Array(whole);
    stream.transform(data, 0, 3_333);
    const moved = Rc4.restore(structuredClone(stream.snapshot()));
    const out = new Uint8Array(data.length - 3_333);
    moved.transformInto(data.subarray(3_333), out);
    data.set(out, 3_333);
    assert.deepEqual(data, expected);
  });

  it('refuses an empty or over-long key and a malformed state', () => {
    assert.throws(() => Rc4.create(new Uint8Array(0)), RangeError);
    assert.throws(() => Rc4.create(new Uint8Array(257)), RangeError);
    assert.throws(() => Rc4.restore({ s: new Uint8Array(10), i: 0, j: 0 }), RangeError);
  });
});
