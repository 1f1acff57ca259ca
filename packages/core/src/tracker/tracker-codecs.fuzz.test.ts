/**
 * Fuzz properties of the tracker codecs (BEP 15 UDP packets, BEP 3/23/48 HTTP bodies, compact
 * peers): any bytes → a value or one TorkError with a tracker code, never another exception, and
 * what is returned respects the caps (tracker text ≤ 512 characters plus an ellipsis, printable).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { encodeBencode } from '../bencode/bencode.js';
import { TorkError, TorkErrorCode } from '../errors.js';
import { compactEntrySize, decodeCompactPeers } from './compact-peers.js';
import { parseAnnounceBody, parseScrapeBody } from './http-codec.js';
import { MAX_TRACKER_TEXT_CHARS } from './printable.js';
import {
  decodeUdpRequest,
  decodeUdpResponse,
  encodeAnnounceResponse,
  encodeConnectResponse,
  encodeErrorResponse,
  encodeScrapeResponse,
  peekTransactionId,
} from './udp-codec.js';

/** Cases per property: 10,000 in CI; a nightly run sets TORK_FUZZ_RUNS=200000. */
const RUNS = Number(process.env.TORK_FUZZ_RUNS ?? 10_000);

const TRACKER_CODES = new Set<string>([
  TorkErrorCode.TRACKER_PROTOCOL,
  TorkErrorCode.TRACKER_FAILURE,
  TorkErrorCode.LIMIT_EXCEEDED,
]);

function valueOrTorkError<T>(f: () => T, codes: ReadonlySet<string> = TRACKER_CODES): T | undefined {
  try {
    return f();
  } catch (error) {
    assert.ok(error instanceof TorkError, `not a TorkError: ${String(error)}`);
    assert.ok(codes.has(error.code), `${error.code}: ${error.message}`);
    // Tracker-supplied text in a message is bounded and free of control characters.
    assert.ok(
      error.message.length < 2 * MAX_TRACKER_TEXT_CHARS + 400,
      `message of ${error.message.length} chars`,
    );
    assert.doesNotMatch(error.message, /[\u0000-\u0008\u000e-\u001f\u007f]/);
    return undefined;
  }
}

const PROTOCOL_ONLY = new Set<string>([TorkErrorCode.TRACKER_PROTOCOL]);

function checkPrintable(text: string): void {
  assert.ok(Array.from(text).length <= MAX_TRACKER_TEXT_CHARS + 1, `text of ${text.length} chars`);
  assert.doesNotMatch(text, /[\u0000-\u0008\u000e-\u001f\u007f]/);
}

const u32 = fc.integer({ min: 0, max: 0xffff_ffff });
const peer4 = fc.record({ host: fc.ipV4(), port: fc.integer({ min: 1, max: 65535 }) });

/** Valid UDP responses, then cut, extended or flipped: most land near the decoder's checks. */
const udpResponse = fc
  .tuple(
    fc.oneof(
      fc.tuple(u32, fc.bigInt({ min: 0n, max: 2n ** 64n - 1n })).map(([t, c]) => encodeConnectResponse(t, c)),
      fc
        .tuple(u32, u32, u32, u32, fc.array(peer4, { maxLength: 8 }))
        .map(([t, interval, leechers, seeders, peers]) =>
          encodeAnnounceResponse(t, { interval, leechers, seeders, peers }, 4),
        ),
      fc
        .tuple(
          u32,
          fc.array(fc.record({ complete: u32, downloaded: u32, incomplete: u32 }), { maxLength: 5 }),
        )
        .map(([t, stats]) => encodeScrapeResponse(t, stats)),
      fc.tuple(u32, fc.string({ unit: 'binary', maxLength: 700 })).map(([t, m]) => encodeErrorResponse(t, m)),
      fc.uint8Array({ maxLength: 64 }),
    ),
    fc.integer({ min: -8, max: 8 }),
    fc.uint8Array({ maxLength: 20 }),
    fc.array(fc.record({ at: fc.nat(), xor: fc.integer({ min: 1, max: 255 }) }), { maxLength: 3 }),
    fc.integer({ min: 0, max: 6 }),
  )
  .map(([packet, cut, extra, flips, action]) => {
    let bytes = cut < 0 ? packet.slice(0, Math.max(0, packet.length + cut)) : packet;
    if (cut > 0) bytes = new Uint8Array([...bytes, ...extra.subarray(0, cut)]);
    else bytes = new Uint8Array(bytes);
    for (const { at, xor } of flips) if (bytes.length > 0) bytes[at % bytes.length]! ^= xor;
    if (action < 4 && bytes.length >= 4) new DataView(bytes.buffer).setUint32(0, action);
    return bytes;
  });

/** Announce/scrape bodies: dictionaries with the real keys and values of every type. */
const bodyKey = fc.constantFrom(
  'interval',
  'min interval',
  'peers',
  'peers6',
  'complete',
  'incomplete',
  'tracker id',
  'warning message',
  'failure reason',
  'files',
  'ip',
  'port',
  'peer id',
  'downloaded',
  '__proto__',
);
const leaf = fc.oneof(
  fc.integer({ min: -2, max: 70_000 }),
  fc.constantFrom(2 ** 53 - 1, -(2 ** 40), 0, 1800),
  fc.uint8Array({ maxLength: 40 }),
  fc.constantFrom('127.0.0.1', '::1', 'fe80::1%eth0', 'example.org', '-bad-', '', '<html>', 'x'.repeat(2000)),
  fc.uint8Array({ minLength: 20, maxLength: 20 }),
);
const bodyValue = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    leaf,
    fc.array(tie('value'), { maxLength: 3 }),
    fc.dictionary(fc.oneof(bodyKey, fc.string({ maxLength: 20 })), tie('value'), { maxKeys: 4 }),
  ),
})).value;
const body = fc
  .tuple(
    fc.dictionary(bodyKey, bodyValue, { maxKeys: 6 }),
    fc.array(peer4, { maxLength: 5 }),
    fc.boolean(),
    fc.uint8Array({ maxLength: 3 }),
  )
  .map(([dict, peers, validBase, noise]) => {
    const base: Record<string, unknown> = validBase
      ? {
          interval: 1800,
          peers: Buffer.concat(
            peers.map((p) => Buffer.from([...p.host.split('.').map(Number), p.port >> 8, p.port & 255])),
          ),
        }
      : {};
    const bytes = encodeBencode({ ...base, ...dict });
    return noise.length === 0
      ? bytes
      : new Uint8Array([...bytes.subarray(0, bytes.length - (noise[0]! % 3)), ...noise]);
  });

describe('tracker codecs (fuzz)', () => {
  it('decodeUdpResponse: any packet → a response or TRACKER_PROTOCOL', () => {
    fc.assert(
      fc.property(udpResponse, fc.constantFrom(4 as const, 6 as const), (bytes, family) => {
        const response = valueOrTorkError(() => decodeUdpResponse(bytes, family), PROTOCOL_ONLY);
        const peeked = peekTransactionId(bytes);
        assert.equal(peeked === undefined, bytes.length < 8);
        if (response === undefined) return;
        assert.equal(response.transactionId, peeked);
        if (response.action === 'error') checkPrintable(response.message);
        if (response.action === 'announce') {
          assert.equal((bytes.length - 20) % compactEntrySize(family), 0);
          for (const peer of response.peers) assert.ok(peer.port > 0);
        }
      }),
      { numRuns: RUNS },
    );
  });

  it('decodeUdpRequest: any packet → a request or TRACKER_PROTOCOL', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 140 }),
        fc.integer({ min: 0, max: 4 }),
        fc.boolean(),
        (bytes, action, magic) => {
          const packet = new Uint8Array(bytes);
          if (packet.length >= 12) new DataView(packet.buffer).setUint32(8, action);
          if (magic && packet.length >= 8) new DataView(packet.buffer).setBigUint64(0, 0x41727101980n);
          valueOrTorkError(() => decodeUdpRequest(packet), PROTOCOL_ONLY);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('decodeCompactPeers: any bytes → whole entries with a port, or TRACKER_PROTOCOL for a partial entry', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 100 }),
        fc.constantFrom(4 as const, 6 as const),
        (bytes, family) => {
          const peers = valueOrTorkError(() => decodeCompactPeers(bytes, family), PROTOCOL_ONLY);
          const size = compactEntrySize(family);
          assert.equal(peers === undefined, bytes.length % size !== 0);
          if (peers) {
            assert.ok(peers.length <= bytes.length / size);
            for (const peer of peers) assert.ok(peer.port >= 1 && peer.port <= 65535 && peer.host.length > 0);
          }
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('parseAnnounceBody: any body → a response or TRACKER_PROTOCOL/TRACKER_FAILURE', () => {
    fc.assert(
      fc.property(fc.oneof(body, fc.uint8Array({ maxLength: 80 })), (bytes) => {
        const response = valueOrTorkError(() => parseAnnounceBody(bytes));
        if (response === undefined) return;
        assert.ok(Number.isInteger(response.interval));
        for (const peer of response.peers) assert.ok(peer.port >= 1 && peer.port <= 65535);
        if (response.warning !== undefined) checkPrintable(response.warning);
      }),
      { numRuns: RUNS },
    );
  });

  it('parseScrapeBody: any body → stats or TRACKER_PROTOCOL/TRACKER_FAILURE', () => {
    const hash = new Uint8Array(20).fill(0x61);
    fc.assert(
      fc.property(
        fc.oneof(
          body,
          fc
            .dictionary(fc.constantFrom('a'.repeat(20), 'b'.repeat(20)), bodyValue, { maxKeys: 2 })
            .map((files) => encodeBencode({ files })),
          fc.uint8Array({ maxLength: 80 }),
        ),
        (bytes) => {
          const result = valueOrTorkError(() => parseScrapeBody(bytes, [hash, new Uint8Array(20)]));
          if (result !== undefined) assert.ok(result.size <= 2);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('HTTP body cap: a body over maxBytes is refused whatever it holds', () => {
    fc.assert(
      fc.property(body, (bytes) => {
        const maxBytes = Math.max(1, bytes.length - 1);
        assert.throws(
          () => parseAnnounceBody(bytes, { maxBytes }),
          (error: unknown) => error instanceof TorkError && error.code === TorkErrorCode.TRACKER_PROTOCOL,
        );
      }),
      { numRuns: RUNS },
    );
  });
});
