import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { classifyDatagram } from './datagram-demux.js';

describe('classifyDatagram', () => {
  it('tells KRPC, uTP and anything else apart by the first byte', () => {
    assert.equal(classifyDatagram(Buffer.from('d1:ad2:id20:')), 'krpc');
    const utp = Buffer.alloc(20);
    for (const type of [0, 1, 2, 3, 4]) {
      utp[0] = (type << 4) | 1;
      assert.equal(classifyDatagram(utp), 'utp');
    }
    utp[0] = (5 << 4) | 1;
    assert.equal(classifyDatagram(utp), 'unknown', 'no uTP type 5');
    assert.equal(
      classifyDatagram(Buffer.from([0x41, 0, 0])),
      'unknown',
      'a uTP-looking byte without a header',
    );
    assert.equal(classifyDatagram(new Uint8Array(0)), 'unknown');
    assert.equal(classifyDatagram(Buffer.from('l4:spame')), 'unknown');
  });
});
