import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TorkError, TorkErrorCode } from '../errors.js';
import { encodeHandshake, HANDSHAKE_LENGTH, PROTOCOL_STRING, parseHandshake } from './handshake.js';
import {
  DEFAULT_RESERVED_FLAGS,
  decodeReserved,
  encodeReserved,
  hasReservedBit,
  ReservedBits,
  setReservedBit,
} from './reserved-bits.js';

const infoHash = Uint8Array.from({ length: 20 }, (_, i) => i + 1);
const peerId = new TextEncoder().encode('-TK0001-abcdefghijkl');

function isCode(code: string) {
  return (error: unknown) => error instanceof TorkError && error.code === code;
}

describe('reserved bits', () => {
  it('puts each feature where its BEP says', () => {
    assert.deepEqual([...encodeReserved({ extensionProtocol: true })], [0, 0, 0, 0, 0, 0x10, 0, 0]);
    assert.deepEqual([...encodeReserved({ fastExtension: true })], [0, 0, 0, 0, 0, 0, 0, 0x04]);
    assert.deepEqual([...encodeReserved({ dht: true })], [0, 0, 0, 0, 0, 0, 0, 0x01]);
    // BEP 52: "the 4th most significant bit in the last byte".
    assert.deepEqual([...encodeReserved({ v2: true })], [0, 0, 0, 0, 0, 0, 0, 0x10]);
    assert.deepEqual([...encodeReserved()], [0, 0, 0, 0, 0, 0x10, 0, 0x04]);
  });

  it('sets, clears and reads bits, ignoring unknown ones', () => {
    const reserved = Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xef, 0xff, 0xfa);
    assert.deepEqual(decodeReserved(reserved), {
      extensionProtocol: false,
      fastExtension: false,
      dht: false,
      // 0xfa has 0x10 set: the v2 bit.
      v2: true,
    });
    setReservedBit(reserved, ReservedBits.dht);
    setReservedBit(reserved, ReservedBits.extensionProtocol);
    assert.equal(hasReservedBit(reserved, ReservedBits.dht), true);
    assert.equal(hasReservedBit(reserved, ReservedBits.extensionProtocol), true);
    setReservedBit(reserved, ReservedBits.dht, false);
    assert.equal(reserved[7], 0xfa);
    assert.throws(() => setReservedBit(new Uint8Array(7), ReservedBits.dht), isCode(TorkErrorCode.INTERNAL));
  });
});

describe('handshake', () => {
  it('encodes the BEP 3 layout with tork’s default reserved bits', () => {
    const bytes = encodeHandshake({ infoHash, peerId });
    assert.equal(bytes.length, HANDSHAKE_LENGTH);
    assert.equal(bytes[0], 19);
    assert.equal(new TextDecoder().decode(bytes.subarray(1, 20)), PROTOCOL_STRING);
    assert.deepEqual([...bytes.subarray(20, 28)], [0, 0, 0, 0, 0, 0x10, 0, 0x04]);
    assert.deepEqual(bytes.subarray(28, 48), infoHash);
    assert.deepEqual(bytes.subarray(48, 68), peerId);
  });

  it('round-trips, with flags applied on top of a given reserved field', () => {
    const parsed = parseHandshake(encodeHandshake({ infoHash, peerId, dht: true, fastExtension: false }));
    assert.deepEqual(parsed.infoHash, infoHash);
    assert.deepEqual(parsed.peerId, peerId);
    assert.deepEqual(
      {
        extensionProtocol: parsed.extensionProtocol,
        fastExtension: parsed.fastExtension,
        dht: parsed.dht,
        v2: parsed.v2,
      },
      { ...DEFAULT_RESERVED_FLAGS, fastExtension: false, dht: true },
    );
    const custom = Uint8Array.of(0x80, 0, 0, 0, 0, 0, 0, 0);
    const withCustom = parseHandshake(encodeHandshake({ infoHash, peerId, reserved: custom, dht: true }));
    assert.deepEqual([...withCustom.reserved], [0x80, 0, 0, 0, 0, 0, 0, 0x01]);
    assert.equal(withCustom.extensionProtocol, false);
    assert.deepEqual([...custom], [0x80, 0, 0, 0, 0, 0, 0, 0], 'the caller’s reserved field is not mutated');
  });

  it('sets the BEP 52 v2 bit on request, and reads it back', () => {
    const plain = parseHandshake(encodeHandshake({ infoHash, peerId }));
    assert.equal(plain.v2, false, 'not advertised by default: libtorrent drops it on a v1-only torrent');
    const bytes = encodeHandshake({ infoHash, peerId, v2: true });
    assert.equal(bytes[27], 0x14, 'byte 7: fast extension 0x04 and v2 0x10');
    assert.equal(parseHandshake(bytes).v2, true);
    const cleared = encodeHandshake({ infoHash, peerId, reserved: bytes.subarray(20, 28), v2: false });
    assert.equal(cleared[27], 0x04);
  });

  it('returns copies that do not pin or alias the input', () => {
    const bytes = encodeHandshake({ infoHash, peerId });
    const parsed = parseHandshake(bytes);
    bytes.fill(0, 20);
    assert.deepEqual(parsed.infoHash, infoHash);
    assert.equal(parsed.peerId.buffer.byteLength, 20);
  });

  it('refuses a wrong protocol length, a wrong protocol name and truncation', () => {
    const good = encodeHandshake({ infoHash, peerId });
    const badLength = good.slice();
    badLength[0] = 18;
    assert.throws(
      () => parseHandshake(badLength),
      (error: unknown) => {
        assert.ok(error instanceof TorkError);
        assert.equal(error.code, TorkErrorCode.WIRE_HANDSHAKE);
        assert.equal(error.details.pstrlen, 18);
        assert.match(error.message, /protocol name length 18, expected 19/);
        return true;
      },
    );
    const badName = good.slice();
    badName[5] = 0x58;
    assert.throws(
      () => parseHandshake(badName),
      (error: unknown) => {
        assert.ok(error instanceof TorkError);
        assert.equal(error.code, TorkErrorCode.WIRE_HANDSHAKE);
        assert.match(error.message, /protocol "BitTXrrent protocol"/);
        return true;
      },
    );
    const http = new TextEncoder().encode('GET /announce HTTP/1.1\r\n');
    assert.throws(() => parseHandshake(http), isCode(TorkErrorCode.WIRE_HANDSHAKE));
    assert.throws(
      () => parseHandshake(good.subarray(0, 67)),
      (error: unknown) => {
        assert.ok(error instanceof TorkError);
        assert.equal(error.code, TorkErrorCode.WIRE_HANDSHAKE);
        assert.match(error.message, /truncated: 67 of 68/);
        return true;
      },
    );
  });

  it('refuses to encode ids of the wrong size', () => {
    assert.throws(
      () => encodeHandshake({ infoHash: new Uint8Array(32), peerId }),
      isCode(TorkErrorCode.INTERNAL),
    );
    assert.throws(
      () => encodeHandshake({ infoHash, peerId: new Uint8Array(19) }),
      isCode(TorkErrorCode.INTERNAL),
    );
    assert.throws(
      () => encodeHandshake({ infoHash, peerId, reserved: new Uint8Array(4) }),
      isCode(TorkErrorCode.INTERNAL),
    );
  });
});
