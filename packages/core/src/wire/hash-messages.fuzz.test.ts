/**
 * The BEP 52 hash messages through the incremental decoder: round trips under any chunking,
 * truncated input (nothing yielded, nothing thrown), hostile lengths refused before allocation,
 * malformed fields refused with TORK_ERR_WIRE_PROTOCOL, and fuzz: any bytes behind a hash message
 * header give a message or one TorkError with a known code, never another exception.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { TorkError, TorkErrorCode } from '../errors.js';
import { WireDecoder } from './decoder.js';
import { encodeMessage } from './encoder.js';
import {
  encodeHashes,
  encodeHashReject,
  encodeHashRequest,
  HASH_HEADER_BYTES,
  MAX_HASHES_PER_MESSAGE,
  MAX_PROOF_LAYERS,
  maxHashesPayload,
  uncleCount,
} from './hash-messages.js';
import type { HashesMessage, HashRange, PeerMessage, WireMessage } from './messages.js';

/** Cases per property: 10,000 in CI; a nightly run sets TORK_FUZZ_RUNS=200000. */
const RUNS = Number(process.env.TORK_FUZZ_RUNS ?? 10_000);
const KNOWN_CODES = new Set<string>(Object.values(TorkErrorCode));

const u32 = fc.integer({ min: 0, max: 0xffff_ffff });
const root = fc.uint8Array({ minLength: 32, maxLength: 32 });

const anyRange: fc.Arbitrary<HashRange> = fc.record({
  piecesRoot: root,
  baseLayer: u32,
  index: u32,
  length: u32,
  proofLayers: u32,
});

/** A well-formed `hashes` message: length 2..512 a power of two, index aligned, its uncles. */
const hashesMessage: fc.Arbitrary<HashesMessage> = fc
  .record({
    piecesRoot: root,
    baseLayer: fc.integer({ min: 0, max: 40 }),
    log: fc.integer({ min: 1, max: 9 }),
    slot: fc.integer({ min: 0, max: 2 ** 20 }),
    proofLayers: fc.integer({ min: 0, max: MAX_PROOF_LAYERS }),
    seed: fc.integer({ min: 0, max: 255 }),
  })
  .map(({ piecesRoot, baseLayer, log, slot, proofLayers, seed }) => {
    const length = 2 ** log;
    const uncles = uncleCount(length, proofLayers);
    const fill = (n: number, salt: number) =>
      Uint8Array.from({ length: n }, (_, i) => (i * 13 + seed + salt) & 0xff);
    return {
      type: 'hashes' as const,
      piecesRoot,
      baseLayer,
      index: (slot * length) % 2 ** 32,
      length,
      proofLayers,
      hashes: fill(length * 32, 0),
      uncles: fill(uncles * 32, 7),
    };
  });

const hashMessage: fc.Arbitrary<PeerMessage> = fc.oneof(
  anyRange.map((range) => ({ type: 'hash-request' as const, ...range })),
  anyRange.map((range) => ({ type: 'hash-reject' as const, ...range })),
  hashesMessage,
);

/** `bytes` cut at the given points. */
function chunked(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((cut) => cut % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let from = 0;
  for (const point of points) {
    chunks.push(bytes.subarray(from, point));
    from = point;
  }
  chunks.push(bytes.subarray(from));
  return chunks;
}

function decodeAll(decoder: WireDecoder, chunks: Uint8Array[]): WireMessage[] {
  return chunks.flatMap((chunk) => decoder.push(chunk));
}

const concat = (...parts: Uint8Array[]) => Uint8Array.from(parts.flatMap((part) => [...part]));

function frame(id: number, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(5 + body.length);
  new DataView(out.buffer).setUint32(0, 1 + body.length);
  out[4] = id;
  out.set(body, 5);
  return out;
}

/** A 48-byte hash header with the given fields. */
function header(range: Partial<HashRange>): Uint8Array {
  return encodeHashRequest({
    piecesRoot: new Uint8Array(32).fill(9),
    baseLayer: 0,
    index: 0,
    length: 2,
    proofLayers: 0,
    ...range,
  }).subarray(5);
}

const fault = (code: string, pattern: RegExp) => (error: unknown) =>
  error instanceof TorkError && error.code === code && pattern.test(error.message);

describe('BEP 52 hash messages', () => {
  it('encodes the BEP layout: id, 32-byte root, four big-endian fields, then hashes and uncles', () => {
    const piecesRoot = Uint8Array.from({ length: 32 }, (_, i) => i);
    const range = { piecesRoot, baseLayer: 2, index: 4, length: 4, proofLayers: 5 };
    const request = encodeHashRequest(range);
    assert.equal(request.length, 4 + 1 + 48);
    assert.deepEqual([...request.subarray(0, 5)], [0, 0, 0, 49, 21]);
    assert.deepEqual(request.subarray(5, 37), piecesRoot);
    assert.deepEqual([...request.subarray(37)], [0, 0, 0, 2, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 5]);
    assert.equal(encodeHashReject(range)[4], 23);
    // 4 hashes span 2 layers: proof layer 1 is implied, layers 2..5 give 4 uncles.
    assert.equal(uncleCount(4, 5), 4);
    const hashes = encodeHashes(range, new Uint8Array(4 * 32).fill(1), new Uint8Array(4 * 32).fill(2));
    assert.equal(hashes[4], 22);
    assert.equal(new DataView(hashes.buffer).getUint32(0), 1 + 48 + 8 * 32);
  });

  it('counts uncles as BEP 52 says: the first log2(length) - 1 proof layers are omitted', () => {
    assert.equal(uncleCount(2, 0), 0);
    assert.equal(uncleCount(2, 3), 3);
    assert.equal(uncleCount(512, 8), 0);
    assert.equal(uncleCount(512, 9), 1);
    assert.equal(uncleCount(512, 20), 12);
  });

  it('round-trips every hash message through the decoder, whatever the chunking', () => {
    fc.assert(
      fc.property(hashMessage, fc.array(fc.nat(), { maxLength: 6 }), (message, cuts) => {
        const decoder = new WireDecoder({ hashMessages: true });
        const bytes = encodeMessage(message);
        const out = decodeAll(decoder, chunked(bytes, cuts));
        assert.equal(out.length, 1);
        assert.deepEqual(out[0], message);
        assert.equal(decoder.bufferedBytes, 0);
      }),
      { numRuns: RUNS },
    );
  });

  it('yields nothing and throws nothing for a truncated message, holding at most the message', () => {
    fc.assert(
      fc.property(hashMessage, fc.nat(), (message, cut) => {
        const bytes = encodeMessage(message);
        const decoder = new WireDecoder({ hashMessages: true });
        const at = cut % bytes.length;
        assert.deepEqual(decoder.push(bytes.subarray(0, at)), []);
        assert.ok(decoder.bufferedBytes <= bytes.length);
        assert.equal(decoder.push(bytes.subarray(at)).length, 1, 'the rest completes it');
      }),
      { numRuns: RUNS },
    );
  });

  it('skips ids 21-23 as unknown until hash messages are enabled', () => {
    const request = encodeHashRequest({
      piecesRoot: new Uint8Array(32),
      baseLayer: 0,
      index: 0,
      length: 2,
      proofLayers: 0,
    });
    const decoder = new WireDecoder();
    assert.equal(decoder.hashMessages, false);
    assert.deepEqual(decoder.push(request), [{ type: 'unknown', id: 21, length: 49 - 1 }]);
    // A v1 connection never sees a malformed one as a fault: it is skipped.
    assert.deepEqual(decoder.push(frame(22, new Uint8Array(3))), [{ type: 'unknown', id: 22, length: 3 }]);
    decoder.enableHashMessages();
    const [message] = decoder.push(request);
    assert.equal(message?.type, 'hash-request');
  });

  it('refuses an oversized hashes message from its 5-byte header, before allocating its body', () => {
    const decoder = new WireDecoder({ hashMessages: true });
    const max = maxHashesPayload(MAX_HASHES_PER_MESSAGE);
    assert.equal(max, 48 + (512 + 64) * 32);
    // Within the decoder's overall cap (128 KiB), above the hashes cap: refused on the id.
    const head = new Uint8Array(5);
    new DataView(head.buffer).setUint32(0, 1 + max + 1);
    head[4] = 22;
    assert.throws(() => decoder.push(head), fault(TorkErrorCode.WIRE_TOO_LARGE, /hashes \(id 22\)/));
    assert.equal(decoder.bufferedBytes, 0);
    // And the largest legal one (512 hashes, 64 proof layers: 56 uncles) is accepted in full.
    const largest = new WireDecoder({ hashMessages: true });
    const body = concat(header({ length: 512, proofLayers: 64 }), new Uint8Array((512 + 56) * 32));
    assert.ok(body.length <= max);
    assert.equal(largest.push(frame(22, body))[0]?.type, 'hashes');
  });

  it('lets maxHashesPerMessage lower the cap', () => {
    const decoder = new WireDecoder({ hashMessages: true, maxHashesPerMessage: 4 });
    const body = concat(header({ length: 8, proofLayers: 2 }), new Uint8Array(8 * 32));
    assert.throws(
      () => decoder.push(frame(22, body)),
      (error) => error instanceof TorkError,
    );
  });

  it('refuses malformed hash messages with TORK_ERR_WIRE_PROTOCOL and the reason', () => {
    const cases: [string, Uint8Array, RegExp][] = [
      [
        'request too short',
        frame(21, new Uint8Array(47)),
        /hash-request \(id 21\) of length 48, expected exactly 49/,
      ],
      ['reject too long', frame(23, new Uint8Array(49)), /hash-reject \(id 23\) of length 50/],
      ['hashes shorter than its header', frame(22, new Uint8Array(20)), /hashes \(id 22\) of length 21/],
      [
        'length not a power of two',
        frame(22, concat(header({ length: 3 }), new Uint8Array(96))),
        /for 3 hashes/,
      ],
      ['length 1', frame(22, concat(header({ length: 1 }), new Uint8Array(32))), /for 1 hashes/],
      ['length 0', frame(22, header({ length: 0 })), /for 0 hashes/],
      [
        'above 512',
        frame(22, concat(header({ length: 1024 }), new Uint8Array(1024 * 32).subarray(0, 100))),
        /1024 hashes/,
      ],
      [
        'index not aligned',
        frame(22, concat(header({ index: 3 }), new Uint8Array(64))),
        /index 3, not a multiple/,
      ],
      [
        'too many proof layers',
        frame(22, concat(header({ proofLayers: 65 }), new Uint8Array(64))),
        /65 proof layers/,
      ],
      [
        'missing an uncle',
        frame(22, concat(header({ proofLayers: 2 }), new Uint8Array(64 + 32))),
        /2 hashes and 2 uncles/,
      ],
      ['trailing bytes', frame(22, concat(header({}), new Uint8Array(65))), /2 hashes and 0 uncles/],
    ];
    for (const [name, bytes, pattern] of cases) {
      const decoder = new WireDecoder({ hashMessages: true });
      assert.throws(() => decoder.push(bytes), fault(TorkErrorCode.WIRE_PROTOCOL, pattern), name);
      assert.ok(decoder.error, `${name}: the decoder is dead`);
    }
  });

  it('decodes a hash request it cannot serve: the values are for the server to reject', () => {
    const decoder = new WireDecoder({ hashMessages: true });
    const [message] = decoder.push(frame(21, header({ length: 3, index: 1, proofLayers: 0xffff_ffff })));
    assert.deepEqual(message && { ...message, piecesRoot: undefined }, {
      type: 'hash-request',
      piecesRoot: undefined,
      baseLayer: 0,
      index: 1,
      length: 3,
      proofLayers: 0xffff_ffff,
    });
  });

  it('fuzz: any payload behind ids 21-23 gives a message or one TorkError with a known code', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(21, 22, 23),
        fc.oneof(
          fc.uint8Array({ maxLength: 200 }),
          anyRange.map((range) => header(range)),
        ),
        fc.uint8Array({ maxLength: 3000 }),
        fc.array(fc.nat(), { maxLength: 4 }),
        (id, head, tail, cuts) => {
          const decoder = new WireDecoder({ hashMessages: true });
          const bytes = frame(id, concat(head, tail));
          try {
            const out = decodeAll(decoder, chunked(bytes, cuts));
            assert.equal(out.length, 1);
            const message = out[0]!;
            assert.ok(['hash-request', 'hashes', 'hash-reject'].includes(message.type));
            if (message.type === 'hashes') {
              assert.equal(message.hashes.length, message.length * 32);
              assert.ok(message.length >= 2 && message.length <= MAX_HASHES_PER_MESSAGE);
              assert.equal(message.uncles.length, uncleCount(message.length, message.proofLayers) * 32);
              assert.equal(
                HASH_HEADER_BYTES + message.hashes.length + message.uncles.length,
                bytes.length - 5,
              );
            }
          } catch (error) {
            assert.ok(error instanceof TorkError, `not a TorkError: ${String(error)}`);
            assert.ok(KNOWN_CODES.has(error.code));
            assert.ok(
              error.code === TorkErrorCode.WIRE_PROTOCOL || error.code === TorkErrorCode.WIRE_TOO_LARGE,
              error.code,
            );
          }
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('refuses to encode what is not a 32-bit field, a 32-byte root, or whole hashes (a caller bug)', () => {
    const range = { piecesRoot: new Uint8Array(32), baseLayer: 0, index: 0, length: 2, proofLayers: 0 };
    const internal = (error: unknown) => error instanceof TorkError && error.code === TorkErrorCode.INTERNAL;
    assert.throws(() => encodeHashRequest({ ...range, piecesRoot: new Uint8Array(20) }), internal);
    assert.throws(() => encodeHashRequest({ ...range, index: -1 }), internal);
    assert.throws(() => encodeHashReject({ ...range, length: 2 ** 32 }), internal);
    assert.throws(() => encodeHashes(range, new Uint8Array(32), new Uint8Array(0)), internal);
    assert.throws(() => encodeHashes(range, new Uint8Array(64), new Uint8Array(5)), internal);
  });
});
