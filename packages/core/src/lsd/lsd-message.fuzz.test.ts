/**
 * Fuzz properties of the BEP 14 codec: any bytes → an announce or one TorkError LSD_PROTOCOL /
 * LIMIT_EXCEEDED, never another exception; what is returned respects the caps; every announce the
 * encoder writes decodes back to what it said.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { TorkError, TorkErrorCode } from '../errors.js';
import {
  decodeLsdAnnounce,
  encodeLsdAnnounce,
  type LsdAnnounce,
  MAX_LSD_COOKIE_CHARS,
  MAX_LSD_INFOHASHES,
  MAX_LSD_MESSAGE_BYTES,
} from './lsd-message.js';

/** Cases per property: 10,000 in CI; a nightly run sets TORK_FUZZ_RUNS=200000. */
const RUNS = Number(process.env.TORK_FUZZ_RUNS ?? 10_000);

const CODES = new Set<string>([TorkErrorCode.LSD_PROTOCOL, TorkErrorCode.LIMIT_EXCEEDED]);

function announceOrTorkError(datagram: Uint8Array): LsdAnnounce | undefined {
  let announce: LsdAnnounce;
  try {
    announce = decodeLsdAnnounce(datagram);
  } catch (error) {
    assert.ok(error instanceof TorkError, `not a TorkError: ${String(error)}`);
    assert.ok(CODES.has(error.code), `${error.code}: ${error.message}`);
    assert.doesNotMatch(error.message, /[\u0000-\u0008\u000e-\u001f\u007f]/);
    assert.ok(error.message.length < 200, `message of ${error.message.length} chars`);
    return undefined;
  }
  assert.ok(datagram.byteLength <= MAX_LSD_MESSAGE_BYTES);
  assert.ok(Number.isInteger(announce.port) && announce.port >= 1 && announce.port <= 65535);
  assert.ok(announce.infoHashes.length >= 1 && announce.infoHashes.length <= MAX_LSD_INFOHASHES);
  assert.equal(new Set(announce.infoHashes).size, announce.infoHashes.length);
  for (const hash of announce.infoHashes) assert.match(hash, /^[0-9a-f]{40}$/);
  return announce;
}

const hex40 = fc.uint8Array({ minLength: 20, maxLength: 20 }).map((b) => Buffer.from(b).toString('hex'));
const token = fc.stringMatching(new RegExp(`^[\\x21-\\x7e]{1,${MAX_LSD_COOKIE_CHARS}}$`));
const fields = fc.record(
  {
    port: fc.integer({ min: 1, max: 65535 }),
    infoHashes: fc.uniqueArray(hex40, { minLength: 1, maxLength: MAX_LSD_INFOHASHES }),
    cookie: token,
    host: token,
  },
  { requiredKeys: ['port', 'infoHashes'] },
);

/** Announce-like text: header lines near the valid ones, in any order, with odd endings. */
const headerLine = fc.oneof(
  hex40.map((h) => `Infohash: ${h}`),
  fc.string({ maxLength: 44 }).map((h) => `Infohash: ${h}`),
  fc.integer({ min: -2, max: 70_000 }).map((p) => `Port: ${p}`),
  fc.string({ maxLength: 6 }).map((p) => `port:${p}`),
  token.map((c) => `cookie: ${c}`),
  fc.constant('Host: 239.192.152.143:6771'),
  fc.tuple(fc.string({ maxLength: 8 }), fc.string({ maxLength: 12 })).map(([k, v]) => `${k}: ${v}`),
  fc.string({ maxLength: 20 }),
  fc.constant(''),
);
const announceText = fc
  .tuple(
    fc.constantFrom(
      'BT-SEARCH * HTTP/1.1',
      'BT-SEARCH * HTTP/1.1 ',
      'BT-SEARCH * HTTP/1.0',
      'GET / HTTP/1.1',
      '',
    ),
    fc.array(headerLine, { maxLength: 40 }),
    fc.constantFrom('\r\n', '\n', '\r'),
  )
  .map(([first, lines, eol]) => new TextEncoder().encode([first, ...lines].join(eol)));

describe('BEP 14 announce codec (fuzz)', () => {
  it('arbitrary bytes: an announce or TORK_ERR_LSD_PROTOCOL / LIMIT_EXCEEDED', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: MAX_LSD_MESSAGE_BYTES + 40 }), (datagram) => {
        announceOrTorkError(datagram);
      }),
      { numRuns: RUNS },
    );
  });

  it('announce-like text: an announce within the caps or a TorkError', () => {
    fc.assert(
      fc.property(announceText, (datagram) => {
        announceOrTorkError(datagram);
      }),
      { numRuns: RUNS },
    );
  });

  it('encode then decode gives back what was said', () => {
    fc.assert(
      fc.property(fields, (announce) => {
        const encoded = encodeLsdAnnounce(announce);
        assert.ok(encoded.byteLength <= MAX_LSD_MESSAGE_BYTES, `${encoded.byteLength} bytes`);
        const decoded = announceOrTorkError(encoded);
        assert.deepEqual(decoded, { host: '239.192.152.143:6771', ...announce });
      }),
      { numRuns: RUNS },
    );
  });

  it('a valid announce cut, extended or with a byte changed: an announce or a TorkError', () => {
    fc.assert(
      fc.property(
        fields,
        fc.nat(),
        fc.integer({ min: 0, max: 255 }),
        fc.uint8Array({ maxLength: 64 }),
        (announce, at, byte, tail) => {
          const encoded = encodeLsdAnnounce(announce);
          const index = at % encoded.length;
          const flipped = encoded.slice();
          flipped[index] = byte;
          announceOrTorkError(flipped);
          announceOrTorkError(encoded.subarray(0, index));
          announceOrTorkError(Uint8Array.from([...encoded, ...tail]));
        },
      ),
      { numRuns: RUNS },
    );
  });
});
