import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { TorkError, TorkErrorCode } from '../errors.js';
import { decodeUtpPacket, encodeUtpPacket, UTP_HEADER_BYTES, type UtpPacket } from './utp-packet.js';

/** Cases per property: a tenth of the other codecs' (uTP packets are small and this runs in CI). */
const RUNS = Math.ceil(Number(process.env.TORK_FUZZ_RUNS ?? 10_000) / 5);

/** Bytes shaped like uTP often enough to reach past the header checks: version 1, types 0..5, extensions. */
const datagram = fc.oneof(
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 80 }) },
  {
    weight: 4,
    arbitrary: fc
      .tuple(
        fc.integer({ min: 0, max: 5 }),
        fc.constantFrom(0, 1, 2, 3, 200),
        fc.uint8Array({ minLength: 18, maxLength: 18 }),
        fc.array(fc.tuple(fc.constantFrom(0, 1, 2, 3), fc.uint8Array({ maxLength: 40 }), fc.boolean()), {
          maxLength: 4,
        }),
        fc.uint8Array({ maxLength: 40 }),
      )
      .map(([type, firstExtension, header, extensions, payload]) => {
        const parts: number[] = [(type << 4) | 1, firstExtension, ...header];
        for (const [next, body, honestLength] of extensions) {
          parts.push(next, honestLength ? body.length : (body.length * 7) & 0xff, ...body);
        }
        parts.push(...payload);
        return Uint8Array.from(parts);
      }),
  },
);

/** A SACK as we encode it: 4..32 bytes, a multiple of 4. */
function sendableSack(packet: UtpPacket): UtpPacket {
  const sack = packet.sack;
  if (sack === undefined || (sack.length % 4 === 0 && sack.length <= 32)) return packet;
  const padded = new Uint8Array(Math.min(32, Math.ceil(sack.length / 4) * 4));
  padded.set(sack.subarray(0, padded.length));
  return { ...packet, sack: padded };
}

describe('uTP packet codec (property)', () => {
  it('any bytes: a packet whose re-encoding keeps the header and payload, or a TORK_ERR_UTP; nothing else', () => {
    fc.assert(
      fc.property(datagram, (bytes) => {
        let packet: UtpPacket;
        try {
          packet = decodeUtpPacket(bytes);
        } catch (error) {
          assert.ok(error instanceof TorkError && error.code === TorkErrorCode.UTP, String(error));
          return;
        }
        const again = encodeUtpPacket(sendableSack(packet));
        assert.deepEqual(again.subarray(0, 1), bytes.subarray(0, 1));
        // Byte 1 names the first extension: re-encoded, only the SACK (if any) remains.
        assert.equal(again[1], packet.sack ? 1 : 0);
        assert.deepEqual(again.subarray(2, UTP_HEADER_BYTES), bytes.subarray(2, UTP_HEADER_BYTES));
        assert.deepEqual(again.subarray(again.length - packet.payload.length), packet.payload);
        assert.deepEqual(decodeUtpPacket(again), { ...sendableSack(packet) });
        // Without foreign extensions and with a BEP-sized SACK, the bytes are identical.
        if (
          (bytes[1] === 0 || (bytes[1] === 1 && bytes[UTP_HEADER_BYTES] === 0)) &&
          sendableSack(packet) === packet
        ) {
          assert.deepEqual(again, bytes);
        }
      }),
      { numRuns: RUNS },
    );
  });

  it('encode then decode is the identity on valid packets', () => {
    const packet = fc.record({
      type: fc.constantFrom(0, 1, 2, 3, 4) as fc.Arbitrary<UtpPacket['type']>,
      connectionId: fc.integer({ min: 0, max: 0xffff }),
      timestampMicros: fc.integer({ min: 0, max: 0xffff_ffff }),
      timestampDifferenceMicros: fc.integer({ min: 0, max: 0xffff_ffff }),
      windowSize: fc.integer({ min: 0, max: 0xffff_ffff }),
      seq: fc.integer({ min: 0, max: 0xffff }),
      ack: fc.integer({ min: 0, max: 0xffff }),
      sack: fc.option(
        fc
          .integer({ min: 1, max: 8 })
          .chain((words) => fc.uint8Array({ minLength: words * 4, maxLength: words * 4 })),
        { nil: undefined },
      ),
      payload: fc.uint8Array({ maxLength: 100 }),
    });
    fc.assert(
      fc.property(packet, (p) => {
        assert.deepEqual(decodeUtpPacket(encodeUtpPacket(p)), { ...p });
      }),
      { numRuns: RUNS },
    );
  });
});
