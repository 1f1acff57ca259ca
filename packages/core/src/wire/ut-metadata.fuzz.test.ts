import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { encodeBencode } from '../bencode/bencode.js';
import { TorkError, TorkErrorCode } from '../errors.js';
import {
  decodeMetadataMessage,
  encodeMetadataData,
  encodeMetadataReject,
  encodeMetadataRequest,
  MAX_METADATA_BYTES,
  METADATA_PIECE_BYTES,
  metadataPieceCount,
  metadataPieceSize,
} from './ut-metadata.js';

/** Cases per property: 10,000 in CI; a nightly run sets TORK_FUZZ_RUNS=200000. */
const RUNS = Number(process.env.TORK_FUZZ_RUNS ?? 10_000);

const protocolFault = (pattern: RegExp) => (error: unknown) =>
  error instanceof TorkError && error.code === TorkErrorCode.WIRE_PROTOCOL && pattern.test(error.message);

describe('ut_metadata messages (BEP 9)', () => {
  it('round-trip request, reject and data; data is the bytes after the header', () => {
    assert.deepEqual(decodeMetadataMessage(encodeMetadataRequest(3)), { type: 'request', piece: 3 });
    assert.deepEqual(decodeMetadataMessage(encodeMetadataReject(0)), { type: 'reject', piece: 0 });
    const size = 2 * METADATA_PIECE_BYTES + 100;
    const last = new Uint8Array(100).fill(7);
    const message = decodeMetadataMessage(encodeMetadataData(2, size, last));
    assert.equal(message.type, 'data');
    assert.ok(message.type === 'data' && message.totalSize === size && message.piece === 2);
    assert.deepEqual(message.type === 'data' ? [...message.data] : [], [...last]);
    assert.equal(metadataPieceCount(size), 3);
    assert.equal(metadataPieceSize(size, 0), METADATA_PIECE_BYTES);
    assert.equal(metadataPieceSize(size, 2), 100);
  });

  it('refuses a total_size over the cap, a piece out of range or of the wrong size, unknown types', () => {
    const piece = new Uint8Array(METADATA_PIECE_BYTES);
    assert.throws(
      () => decodeMetadataMessage(encodeMetadataData(0, MAX_METADATA_BYTES + 1, piece)),
      protocolFault(/total_size/),
    );
    assert.throws(
      () => decodeMetadataMessage(encodeMetadataData(0, 100, piece)),
      protocolFault(/expected 100/),
    );
    assert.throws(
      () => decodeMetadataMessage(encodeMetadataData(5, 100, new Uint8Array(0))),
      protocolFault(/beyond/),
    );
    assert.throws(
      () => decodeMetadataMessage(encodeMetadataRequest(1_000_000)),
      protocolFault(/out of range/),
    );
    assert.throws(() => decodeMetadataMessage(encodeMetadataRequest(-1)), protocolFault(/out of range/));
    assert.throws(
      () => decodeMetadataMessage(encodeBencode({ msg_type: 9, piece: 0 })),
      protocolFault(/msg_type/),
    );
    assert.throws(() => decodeMetadataMessage(encodeBencode([1, 2])), protocolFault(/dictionary/));
    assert.throws(() => decodeMetadataMessage(new Uint8Array([0x64, 0x31])), protocolFault(/bencoded/));
    // A small cap of the caller's (a peer's metadata_size) bounds the pieces too.
    assert.throws(
      () => decodeMetadataMessage(encodeMetadataRequest(2), 20_000),
      protocolFault(/out of range/),
    );
  });

  it('any bytes decode to a message or throw TORK_ERR_WIRE_PROTOCOL, never another error', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
        try {
          decodeMetadataMessage(bytes);
        } catch (error) {
          assert.ok(error instanceof TorkError && error.code === TorkErrorCode.WIRE_PROTOCOL, String(error));
        }
      }),
      { numRuns: RUNS },
    );
    fc.assert(
      fc.property(
        fc.record({
          msg_type: fc.integer({ min: -2, max: 4 }),
          piece: fc.integer(),
          total_size: fc.integer(),
        }),
        fc.uint8Array({ maxLength: 64 }),
        (header, tail) => {
          const bytes = new Uint8Array([...encodeBencode(header), ...tail]);
          try {
            const message = decodeMetadataMessage(bytes, 4 * METADATA_PIECE_BYTES);
            if (message.type === 'data')
              assert.equal(message.data.length, metadataPieceSize(message.totalSize, message.piece));
          } catch (error) {
            assert.ok(
              error instanceof TorkError && error.code === TorkErrorCode.WIRE_PROTOCOL,
              String(error),
            );
          }
        },
      ),
      { numRuns: RUNS },
    );
  });
});
