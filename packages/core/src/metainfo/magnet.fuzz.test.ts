/**
 * Fuzz properties of parseMagnet: any string → a Magnet or one TorkError TORK_ERR_MAGNET, and
 * every cap (trackers, web seeds, peers, select-only indices) holds on what it returns.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { TorkError, TorkErrorCode } from '../errors.js';
import { MAX_MAGNET_PEERS, MAX_MAGNET_TRACKERS, MAX_SELECT_ONLY_INDEX } from './limits.js';
import { formatMagnet, type Magnet, parseMagnet } from './magnet.js';

/** Cases per property: 10,000 in CI; a nightly run sets TORK_FUZZ_RUNS=200000. */
const RUNS = Number(process.env.TORK_FUZZ_RUNS ?? 10_000);

function magnetOrTorkError(uri: string): Magnet | undefined {
  let magnet: Magnet;
  try {
    magnet = parseMagnet(uri);
  } catch (error) {
    assert.ok(error instanceof TorkError, `not a TorkError: ${String(error)}`);
    assert.equal(error.code, TorkErrorCode.MAGNET, error.message);
    return undefined;
  }
  assert.equal(magnet.infoHash.length, 20);
  assert.equal(magnet.infoHashHex, Buffer.from(magnet.infoHash).toString('hex'));
  if (magnet.infoHashV2) assert.equal(magnet.infoHashV2.length, 32);
  assert.ok(magnet.trackers.length <= MAX_MAGNET_TRACKERS);
  assert.ok(magnet.webSeeds.length <= MAX_MAGNET_TRACKERS);
  assert.ok(magnet.peers.length <= MAX_MAGNET_PEERS);
  for (const peer of magnet.peers) assert.ok(peer.port >= 1 && peer.port <= 65535);
  for (const index of magnet.selectOnly ?? []) assert.ok(index >= 0 && index <= MAX_SELECT_ONLY_INDEX);
  return magnet;
}

const hex40 = fc.uint8Array({ minLength: 20, maxLength: 20 }).map((b) => Buffer.from(b).toString('hex'));
const parameter = fc.oneof(
  hex40.map((h) => `xt=urn:btih:${h}`),
  fc.stringMatching(/^[A-Za-z2-7]{30,34}$/).map((h) => `xt=urn:btih:${h}`),
  fc.string({ maxLength: 45 }).map((h) => `xt=urn:btih:${h}`),
  fc.stringMatching(/^1220[0-9a-f]{62,66}$/).map((h) => `xt=urn:btmh:${h}`),
  fc.string({ maxLength: 20 }).map((s) => `dn=${s}`),
  fc.constantFrom('dn=%', 'dn=%E0%A4%A', 'tr=%zz', 'dn=a+b', 'tr=', 'ws=', 'so=', 'so=,', 'x.pe='),
  fc.webUrl().map((u) => `tr=${encodeURIComponent(u)}`),
  fc.webUrl().map((u) => `ws.1=${u}`),
  fc
    .tuple(
      fc.oneof(fc.ipV4(), fc.domain(), fc.string({ maxLength: 8 })),
      fc.integer({ min: -1, max: 70_000 }),
    )
    .map(([h, p]) => `x.pe=${h}:${p}`),
  fc.tuple(fc.ipV6(), fc.integer({ min: 0, max: 70_000 })).map(([h, p]) => `x.pe=[${h}]:${p}`),
  fc
    .array(
      fc.oneof(
        fc.integer({ min: 0, max: 2_000_000 }).map(String),
        fc
          .tuple(fc.integer({ min: 0, max: 3000 }), fc.integer({ min: 0, max: 3000 }))
          .map(([a, b]) => `${a}-${b}`),
        fc.string({ maxLength: 4 }),
      ),
      { maxLength: 4 },
    )
    .map((items) => `so=${items.join(',')}`),
  fc.tuple(fc.string({ maxLength: 6 }), fc.string({ maxLength: 10 })).map(([k, v]) => `${k}=${v}`),
  fc.string({ maxLength: 10 }),
);
const magnetish = fc
  .tuple(
    fc.constantFrom('magnet:?', 'MAGNET:?', 'magnet:', 'magnet:?&', 'http://x/?', ''),
    fc.array(parameter, { maxLength: 8 }),
    fc.constantFrom('', '#frag', '#', '&&'),
  )
  .map(([head, params, tail]) => `${head}${params.join('&')}${tail}`);

describe('parseMagnet (fuzz)', () => {
  it('arbitrary strings: a Magnet or TORK_ERR_MAGNET', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string({ maxLength: 80 }), fc.string({ unit: 'binary', maxLength: 80 })),
        (s) => {
          magnetOrTorkError(s);
          magnetOrTorkError(`magnet:?${s}`);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('magnet-shaped URIs: a Magnet or TORK_ERR_MAGNET; an accepted one formats and re-parses to the same', () => {
    fc.assert(
      fc.property(magnetish, (uri) => {
        const magnet = magnetOrTorkError(uri);
        if (magnet === undefined) return;
        const again = parseMagnet(formatMagnet(magnet));
        assert.deepEqual(again.infoHashHex, magnet.infoHashHex);
        assert.deepEqual(again.trackers, magnet.trackers);
        assert.deepEqual(again.peers, magnet.peers);
        assert.deepEqual(again.selectOnly, magnet.selectOnly);
      }),
      { numRuns: RUNS },
    );
  });

  it('caps: hundreds of trackers and peers and an so range at the index cap stay bounded', () => {
    fc.assert(
      fc.property(
        hex40,
        fc.integer({ min: 0, max: 600 }),
        fc.integer({ min: 0, max: 600 }),
        fc.integer({ min: 0, max: 50 }),
        fc.integer({ min: -50, max: 50 }),
        (hash, trackers, peers, span, overshoot) => {
          // A range ending near the index cap (expanding a million indices per case would be slow).
          const last = MAX_SELECT_ONLY_INDEX + overshoot;
          const params = [`xt=urn:btih:${hash}`, `so=${last - span}-${last}`];
          for (let i = 0; i < trackers; i++) params.push(`tr=udp://t${i}:1`);
          for (let i = 0; i < peers; i++) params.push(`x.pe=10.0.${i >> 8}.${i & 255}:${1 + i}`);
          magnetOrTorkError(`magnet:?${params.join('&')}`);
        },
      ),
      { numRuns: Math.max(1, Math.floor(RUNS / 20)) },
    );
  });
});
