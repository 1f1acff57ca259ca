import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { TorkError, TorkErrorCode } from '../errors.js';
import { WireDecoder, type WireDecoderOptions } from './decoder.js';
import { encodeMessage } from './encoder.js';
import { encodeHandshake, parseHandshake } from './handshake.js';
import type { PeerMessage, WireMessage } from './messages.js';

/** Cases per property: 10,000 in CI; a nightly run sets TORK_FUZZ_RUNS=200000. */
const RUNS = Number(process.env.TORK_FUZZ_RUNS ?? 10_000);

/** Encoded bytes and what the decoder must make of them. */
interface Sample {
  readonly bytes: Uint8Array;
  readonly expected: WireMessage;
}

const KNOWN_CODES = new Set<string>(Object.values(TorkErrorCode));
const UNKNOWN_IDS = [10, 11, 12, 18, 19, 21, 22, 23, 100, 255];

const u32 = fc.integer({ min: 0, max: 0xffff_ffff });

/** Mostly small payloads; now and then a large one, filled cheaply, so messages straddle many chunks. */
function payload(minLength: number, maxLength: number): fc.Arbitrary<Uint8Array> {
  return fc.oneof(
    { weight: 9, arbitrary: fc.uint8Array({ minLength, maxLength: Math.min(maxLength, 600) }) },
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.integer({ min: minLength, max: maxLength }), fc.integer({ min: 0, max: 255 }))
        .map(([length, seed]) => Uint8Array.from({ length }, (_, i) => (i * 31 + seed) & 0xff)),
    },
  );
}

function frame(id: number, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(5 + body.length);
  new DataView(out.buffer).setUint32(0, 1 + body.length);
  out[4] = id;
  out.set(body, 5);
  return out;
}

function peerMessage(pieceCount: number, maxBlockLength: number): fc.Arbitrary<PeerMessage> {
  const index = fc.integer({ min: 0, max: pieceCount - 1 });
  const blockLength = fc.integer({ min: 1, max: maxBlockLength });
  const bitfieldBytes = Math.ceil(pieceCount / 8);
  const spareMask = (0xff << (bitfieldBytes * 8 - pieceCount)) & 0xff;
  const triple = { index, begin: u32, length: blockLength };
  return fc.oneof(
    fc.constant({ type: 'keep-alive' } as const),
    fc.constant({ type: 'choke' } as const),
    fc.constant({ type: 'unchoke' } as const),
    fc.constant({ type: 'interested' } as const),
    fc.constant({ type: 'not-interested' } as const),
    fc.record({ type: fc.constant('have' as const), index }),
    fc.uint8Array({ minLength: bitfieldBytes, maxLength: bitfieldBytes }).map((bitfield) => {
      if (bitfieldBytes > 0) bitfield[bitfieldBytes - 1]! &= spareMask;
      return { type: 'bitfield' as const, bitfield };
    }),
    fc.record({ type: fc.constant('request' as const), ...triple }),
    fc.record({ type: fc.constant('piece' as const), index, begin: u32, block: payload(1, maxBlockLength) }),
    fc.record({ type: fc.constant('cancel' as const), ...triple }),
    fc.record({ type: fc.constant('port' as const), port: fc.integer({ min: 0, max: 0xffff }) }),
    fc.record({ type: fc.constant('suggest-piece' as const), index }),
    fc.constant({ type: 'have-all' } as const),
    fc.constant({ type: 'have-none' } as const),
    fc.record({ type: fc.constant('reject-request' as const), ...triple }),
    fc.record({ type: fc.constant('allowed-fast' as const), index }),
    fc.record({
      type: fc.constant('extended' as const),
      extId: fc.integer({ min: 0, max: 255 }),
      payload: payload(0, 20_000),
    }),
  );
}

function sample(pieceCount: number, maxBlockLength: number): fc.Arbitrary<Sample> {
  return fc.oneof(
    {
      weight: 12,
      arbitrary: peerMessage(pieceCount, maxBlockLength).map((m) => ({
        bytes: encodeMessage(m),
        // fc.record builds null-prototype objects; the decoder's are plain.
        expected: { ...m },
      })),
    },
    {
      weight: 1,
      arbitrary: fc.tuple(fc.constantFrom(...UNKNOWN_IDS), payload(0, 5000)).map(
        ([id, body]): Sample => ({
          bytes: frame(id, body),
          expected: { type: 'unknown', id, length: body.length },
        }),
      ),
    },
  );
}

const handshakeSample: fc.Arbitrary<Sample> = fc
  .record({
    infoHash: fc.uint8Array({ minLength: 20, maxLength: 20 }),
    peerId: fc.uint8Array({ minLength: 20, maxLength: 20 }),
    reserved: fc.uint8Array({ minLength: 8, maxLength: 8 }),
  })
  .map((options) => {
    const bytes = encodeHandshake(options);
    return { bytes, expected: { type: 'handshake' as const, ...parseHandshake(bytes) } };
  });

/** Chunk sizes, used in turn until the stream is consumed: tiny ones straddle headers, big ones hold many messages. */
const chunkSizes = fc.array(
  fc.oneof(
    fc.integer({ min: 1, max: 6 }),
    fc.integer({ min: 1, max: 300 }),
    fc.integer({ min: 1, max: 70_000 }),
  ),
  { minLength: 1, maxLength: 12 },
);

function split(bytes: Uint8Array, sizes: readonly number[]): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  for (let at = 0, i = 0; at < bytes.length; i++) {
    const size = sizes[i % sizes.length]!;
    chunks.push(bytes.subarray(at, at + size));
    at += size;
  }
  return chunks;
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

describe('WireDecoder properties', () => {
  it('decodes the same messages however the bytes are split', () => {
    const scenario = fc
      .record({
        pieceCount: fc.integer({ min: 1, max: 3000 }),
        maxBlockLength: fc.constantFrom(16 * 1024, 128 * 1024),
        pieceCountKnown: fc.boolean(),
      })
      .chain((options) =>
        fc.record({
          options: fc.constant(options),
          handshake: fc.option(handshakeSample, { nil: undefined }),
          samples: fc.array(sample(options.pieceCount, options.maxBlockLength), { maxLength: 25 }),
          sizes: chunkSizes,
        }),
      );
    fc.assert(
      fc.property(scenario, ({ options, handshake, samples, sizes }) => {
        const all = handshake ? [handshake, ...samples] : samples;
        const stream = concat(all.map((s) => s.bytes));
        const expected = all.map((s) => s.expected);
        const decoderOptions: WireDecoderOptions = {
          expectHandshake: handshake !== undefined,
          maxBlockLength: options.maxBlockLength,
          ...(options.pieceCountKnown ? { pieceCount: options.pieceCount } : {}),
        };

        assert.deepStrictEqual(new WireDecoder(decoderOptions).push(stream), expected);

        const decoder = new WireDecoder(decoderOptions);
        const cap = 4 + decoder.maxMessageLength;
        const decoded: WireMessage[] = [];
        for (const chunk of split(stream, sizes)) {
          decoded.push(...decoder.push(chunk));
          assert.ok(decoder.bufferedBytes <= cap, `buffered ${decoder.bufferedBytes} > ${cap}`);
        }
        assert.deepStrictEqual(decoded, expected);
        assert.equal(decoder.bufferedBytes, 0);
      }),
      { numRuns: RUNS },
    );
  });

  it('with reuseBuffers, from one reused read buffer, messages consumed before the next push are intact', () => {
    const scenario = fc
      .record({ pieceCount: fc.integer({ min: 1, max: 3000 }), maxBlockLength: fc.constant(128 * 1024) })
      .chain((options) =>
        fc.record({
          options: fc.constant(options),
          samples: fc.array(sample(options.pieceCount, options.maxBlockLength), { maxLength: 25 }),
          sizes: chunkSizes,
        }),
      );
    // Like a socket with `onread`: every chunk lands in the same buffer, overwriting the last.
    const readBuffer = new Uint8Array(70_000);
    fc.assert(
      fc.property(scenario, ({ options, samples, sizes }) => {
        const stream = concat(samples.map((s) => s.bytes));
        const decoder = new WireDecoder({
          pieceCount: options.pieceCount,
          maxBlockLength: options.maxBlockLength,
          reuseBuffers: true,
        });
        const consumed: WireMessage[] = [];
        for (const chunk of split(stream, sizes)) {
          readBuffer.set(chunk);
          // Consumed at once, as a PeerActor does: deep copies of every view.
          for (const message of decoder.push(readBuffer.subarray(0, chunk.length))) {
            consumed.push(structuredClone(message));
          }
          readBuffer.fill(0xee, 0, chunk.length); // the next read overwrites it
        }
        assert.deepStrictEqual(
          consumed,
          samples.map((s) => s.expected),
        );
        assert.equal(decoder.bufferedBytes, 0);
      }),
      { numRuns: RUNS },
    );
  });

  it('turns any bytes, split anyhow, into messages or one TorkError, never buffering past the cap', () => {
    // Valid messages, messages with a plausible length but any id and payload, and raw garbage;
    // then random bytes flipped: mostly-valid streams reach far deeper than pure noise would.
    const segment = fc.oneof(
      sample(50, 16 * 1024).map((s) => s.bytes),
      fc
        .tuple(fc.integer({ min: 0, max: 30 }), fc.uint8Array({ maxLength: 40 }))
        .map(([id, body]) => frame(id, body)),
      fc.uint8Array({ maxLength: 40 }),
    );
    const scenario = fc.record({
      handshake: fc.boolean(),
      segments: fc.array(segment, { maxLength: 20 }),
      flips: fc.array(fc.record({ at: fc.nat(), xor: fc.integer({ min: 1, max: 255 }) }), { maxLength: 4 }),
      sizes: chunkSizes,
      pieceCount: fc.option(fc.integer({ min: 0, max: 200 }), { nil: undefined }),
      maxBlockLength: fc.constantFrom(100, 16 * 1024),
      maxExtendedLength: fc.constantFrom(0, 50, 128 * 1024),
      maxPieceCount: fc.constantFrom(0, 64, 2 ** 21),
      maxUnknownLength: fc.constantFrom(0, 20, 128 * 1024),
    });
    fc.assert(
      fc.property(scenario, ({ handshake, segments, flips, sizes, pieceCount, ...caps }) => {
        const parts = handshake
          ? [encodeHandshake({ infoHash: new Uint8Array(20), peerId: new Uint8Array(20) }), ...segments]
          : segments;
        const stream = concat(parts);
        for (const { at, xor } of flips) if (stream.length > 0) stream[at % stream.length]! ^= xor;
        const decoder = new WireDecoder({
          expectHandshake: handshake,
          ...(pieceCount === undefined ? {} : { pieceCount }),
          ...caps,
        });
        const cap = 4 + decoder.maxMessageLength;
        for (const chunk of split(stream, sizes)) {
          try {
            decoder.push(chunk);
          } catch (error) {
            assert.ok(error instanceof TorkError, `not a TorkError: ${String(error)}`);
            assert.ok(KNOWN_CODES.has(error.code), error.code);
            assert.notEqual(error.code, TorkErrorCode.INTERNAL, error.message);
            assert.equal(decoder.error, error);
            assert.throws(
              () => decoder.push(Uint8Array.of(0)),
              (again: unknown) => again === error,
            );
            return;
          }
          assert.ok(decoder.bufferedBytes <= cap, `buffered ${decoder.bufferedBytes} > ${cap}`);
        }
      }),
      { numRuns: RUNS },
    );
  });
});
