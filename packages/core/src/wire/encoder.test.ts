import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TorkError, TorkErrorCode } from '../errors.js';
import {
  encodeAllowedFast,
  encodeBitfield,
  encodeCancel,
  encodeChoke,
  encodeExtended,
  encodeHave,
  encodeHaveAll,
  encodeHaveNone,
  encodeInterested,
  encodeKeepAlive,
  encodeMessage,
  encodeNotInterested,
  encodePiece,
  encodePieceHeader,
  encodePort,
  encodeRejectRequest,
  encodeRequest,
  encodeSuggestPiece,
  encodeUnchoke,
} from './encoder.js';

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

describe('wire encoders', () => {
  it('write the exact bytes of every message', () => {
    assert.equal(hex(encodeKeepAlive()), '00000000');
    assert.equal(hex(encodeChoke()), '0000000100');
    assert.equal(hex(encodeUnchoke()), '0000000101');
    assert.equal(hex(encodeInterested()), '0000000102');
    assert.equal(hex(encodeNotInterested()), '0000000103');
    assert.equal(hex(encodeHave(0x01020304)), '000000050401020304');
    assert.equal(hex(encodeBitfield(Uint8Array.of(0xff, 0x80))), '0000000305ff80');
    assert.equal(hex(encodeRequest(1, 0x4000, 0x4000)), '0000000d06000000010000400000004000');
    assert.equal(hex(encodePiece(2, 3, Uint8Array.of(9, 8))), '0000000b07000000020000000309' + '08');
    assert.equal(hex(encodeCancel(1, 2, 3)), '0000000d08000000010000000200000003');
    assert.equal(hex(encodePort(6881)), '00000003091ae1');
    assert.equal(hex(encodeSuggestPiece(7)), '000000050d00000007');
    assert.equal(hex(encodeHaveAll()), '000000010e');
    assert.equal(hex(encodeHaveNone()), '000000010f');
    assert.equal(hex(encodeRejectRequest(1, 2, 3)), '0000000d10000000010000000200000003');
    assert.equal(hex(encodeAllowedFast(0xffffffff)), '0000000511ffffffff');
    assert.equal(hex(encodeExtended(3, Uint8Array.of(0x64, 0x65))), '0000000414036465');
  });

  it('writes a piece header that matches the front of the whole message', () => {
    const block = Uint8Array.from({ length: 100 }, (_, i) => i);
    const whole = encodePiece(5, 16384, block);
    const header = encodePieceHeader(5, 16384, block.length);
    assert.equal(header.length, 13);
    assert.deepEqual(header, whole.subarray(0, 13));
    assert.deepEqual(whole.subarray(13), block);
  });

  it('encodeMessage matches the per-message encoders', () => {
    assert.deepEqual(encodeMessage({ type: 'keep-alive' }), encodeKeepAlive());
    assert.deepEqual(encodeMessage({ type: 'have', index: 9 }), encodeHave(9));
    assert.deepEqual(
      encodeMessage({ type: 'extended', extId: 0, payload: Uint8Array.of(1) }),
      encodeExtended(0, Uint8Array.of(1)),
    );
    assert.deepEqual(
      encodeMessage({ type: 'reject-request', index: 1, begin: 2, length: 3 }),
      encodeRejectRequest(1, 2, 3),
    );
  });

  it('returns buffers that own their memory exactly', () => {
    const bytes = encodeRequest(1, 2, 3);
    assert.equal(bytes.byteOffset, 0);
    assert.equal(bytes.buffer.byteLength, bytes.length);
  });

  it('refuses values that do not fit their field instead of wrapping them', () => {
    const internal = (error: unknown) => error instanceof TorkError && error.code === TorkErrorCode.INTERNAL;
    assert.throws(() => encodeHave(-1), internal);
    assert.throws(() => encodeHave(2 ** 32), internal);
    assert.throws(() => encodeHave(1.5), internal);
    assert.throws(() => encodeRequest(0, Number.NaN, 1), internal);
    assert.throws(() => encodePort(65536), internal);
    assert.throws(() => encodeExtended(256, new Uint8Array(0)), internal);
    assert.throws(() => encodePieceHeader(0, 0, 2 ** 32 - 9), internal);
  });
});
