import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { TorkError, TorkErrorCode } from '../errors.js';
import { encodeBase32 } from './base32.js';
import { MAX_MAGNET_LENGTH, MAX_MAGNET_PEERS, MAX_MAGNET_TRACKERS, MAX_SELECT_ONLY_INDEX } from './limits.js';
import { formatMagnet, type MagnetInput, parseMagnet } from './magnet.js';

const HEX = 'c12fe1c06bba254a9dc9f519b335aa7c1367a88a';
const HASH = new Uint8Array(Buffer.from(HEX, 'hex'));
const BASE32 = encodeBase32(HASH);
const V2 = `1220${'ab'.repeat(32)}`;

function assertMagnetError(fn: () => unknown, pattern?: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof TorkError, `expected TorkError, got ${String(error)}`);
    assert.equal(error.code, TorkErrorCode.MAGNET);
    if (pattern) assert.match(error.message, pattern);
    return true;
  });
}

describe('parseMagnet', () => {
  it('reads a hex info-hash in any case', () => {
    for (const hex of [HEX, HEX.toUpperCase()]) {
      const magnet = parseMagnet(`magnet:?xt=urn:btih:${hex}`);
      assert.deepEqual(magnet.infoHash, HASH);
      assert.equal(magnet.infoHashHex, HEX);
      assert.deepEqual(magnet.trackers, []);
      assert.deepEqual(magnet.peers, []);
      assert.equal(magnet.name, undefined);
      assert.equal(magnet.selectOnly, undefined);
    }
    assert.deepEqual(parseMagnet(`MAGNET:?XT=URN:BTIH:${HEX.toUpperCase()}`).infoHash, HASH);
  });

  it('reads a base32 info-hash in any case', () => {
    assert.deepEqual(parseMagnet(`magnet:?xt=urn:btih:${BASE32}`).infoHash, HASH);
    assert.deepEqual(parseMagnet(`magnet:?xt=urn:btih:${BASE32.toLowerCase()}`).infoHash, HASH);
    const mixed = [...BASE32].map((c, i) => (i % 2 ? c.toLowerCase() : c)).join('');
    assert.deepEqual(parseMagnet(`magnet:?xt=urn:btih:${mixed}`).infoHash, HASH);
  });

  it('reads dn, many tr in order without duplicates, ws, and key.N forms', () => {
    const magnet = parseMagnet(
      `magnet:?xt=urn:btih:${HEX}&dn=My+Film%20%282024%29&tr=udp%3A%2F%2Fa%3A1&tr=http://b/announce` +
        `&tr.1=udp%3A%2F%2Fa%3A1&tr=&ws=http%3A%2F%2Fseed%2F&dn=second`,
    );
    assert.equal(magnet.name, 'My Film (2024)');
    assert.deepEqual(magnet.trackers, ['udp://a:1', 'http://b/announce']);
    assert.deepEqual(magnet.webSeeds, ['http://seed/']);
  });

  it('reads x.pe peers: IPv4, bracketed IPv6 and host names', () => {
    const magnet = parseMagnet(
      `magnet:?xt=urn:btih:${HEX}&x.pe=10.0.0.1:6881&x.pe=%5B2001:db8::1%5D:51413&x.pe=[::1]:1` +
        '&x.pe=Peer.Example.com:65535&x.pe=10.0.0.1:6881',
    );
    assert.deepEqual(magnet.peers, [
      { host: '10.0.0.1', port: 6881 },
      { host: '2001:db8::1', port: 51413 },
      { host: '::1', port: 1 },
      { host: 'peer.example.com', port: 65535 },
    ]);
  });

  it('refuses malformed x.pe peers', () => {
    for (const peer of [
      '10.0.0.1',
      '10.0.0.1:0',
      '10.0.0.1:65536',
      'host:-1',
      'host:',
      ':80',
      '2001:db8::1:80',
      '[2001:db8::1]80',
      '[nothex]:80',
      '[::1',
      'bad_host:80',
      'a..b:80',
      'h:1e3',
    ]) {
      assertMagnetError(
        () => parseMagnet(`magnet:?xt=urn:btih:${HEX}&x.pe=${encodeURIComponent(peer)}`),
        /x\.pe/,
      );
    }
  });

  it('reads BEP 53 so as a sorted unique list', () => {
    assert.deepEqual(parseMagnet(`magnet:?xt=urn:btih:${HEX}&so=0,2,4-6`).selectOnly, [0, 2, 4, 5, 6]);
    assert.deepEqual(
      parseMagnet(`magnet:?xt=urn:btih:${HEX}&so=9,1-3,2&so=0,,3`).selectOnly,
      [0, 1, 2, 3, 9],
    );
    assert.deepEqual(parseMagnet(`magnet:?xt=urn:btih:${HEX}&so=5-5`).selectOnly, [5]);
    assert.equal(parseMagnet(`magnet:?xt=urn:btih:${HEX}&so=`).selectOnly, undefined);
    assert.equal(
      parseMagnet(`magnet:?xt=urn:btih:${HEX}&so=0-${MAX_SELECT_ONLY_INDEX}`).selectOnly?.length,
      MAX_SELECT_ONLY_INDEX + 1,
    );
  });

  it('refuses malformed so selections and indices past the cap', () => {
    for (const so of [
      'a',
      '1-',
      '-1',
      '3-1',
      '1.5',
      '0x1',
      '1-2-3',
      `${MAX_SELECT_ONLY_INDEX + 1}`,
      '99999999999999',
    ]) {
      assertMagnetError(() => parseMagnet(`magnet:?xt=urn:btih:${HEX}&so=${so}`), /^so /);
    }
  });

  it('accepts btmh only alongside btih; uses btih when there are several xt', () => {
    const hybrid = parseMagnet(`magnet:?xt=urn:btmh:${V2}&xt=urn:btih:${HEX}&xt=urn:sha1:ABCDEF`);
    assert.deepEqual(hybrid.infoHash, HASH);
    assert.deepEqual(hybrid.infoHashV2, new Uint8Array(32).fill(0xab));
    const v2Only = parseMagnet(`magnet:?xt=urn:btmh:${V2}`);
    assert.equal(v2Only.v2Only, true);
    assert.equal(Buffer.from(v2Only.infoHashV2!).toString('hex'), V2.slice(4));
    assert.equal(v2Only.infoHashHex, V2.slice(4, 44));
    // formatMagnet writes it back with urn:btmh alone, and refuses v2Only without a v2 hash.
    assert.equal(formatMagnet(v2Only), `magnet:?xt=urn:btmh:${V2}`);
    assert.deepEqual(parseMagnet(formatMagnet(v2Only)), v2Only);
    assert.equal(parseMagnet(`magnet:?xt=urn:btih:${HEX}`).v2Only, undefined);
    assertMagnetError(() => formatMagnet({ infoHash: new Uint8Array(20), v2Only: true }), /needs infoHashV2/);
    assertMagnetError(
      () => parseMagnet(`magnet:?xt=urn:btih:${HEX}&xt=urn:btmh:1220abc`),
      /SHA-256 multihash/,
    );
    assert.deepEqual(parseMagnet(`magnet:?xt=urn:btih:${HEX}&xt=urn:btih:${BASE32}`).infoHash, HASH);
    assertMagnetError(
      () => parseMagnet(`magnet:?xt=urn:btih:${HEX}&xt=urn:btih:${'0'.repeat(40)}`),
      /two different/,
    );
  });

  it('refuses what is not a usable magnet URI', () => {
    const bad: Array<[string, RegExp]> = [
      ['', /not a magnet URI/],
      ['http://example.com/?xt=urn:btih:x', /not a magnet URI/],
      ['magnet:', /not a magnet URI/],
      ['magnet:?', /no xt=urn:btih/],
      ['magnet:?dn=x&tr=udp://t:1', /no xt=urn:btih/],
      [`magnet:?xt=urn:btih:${HEX.slice(1)}`, /40 hex or 32 base32/],
      [`magnet:?xt=urn:btih:${HEX}0`, /40 hex or 32 base32/],
      [`magnet:?xt=urn:btih:${BASE32.slice(1)}1`, /40 hex or 32 base32/],
      [`magnet:?xt=urn:btih:${HEX}&dn=%E0%A4%A`, /percent-encoding in magnet parameter "dn"/],
      [`magnet:?xt=urn:btih:${HEX}&tr=%ZZ`, /percent-encoding/],
      [`magnet:?xt=urn:btih:${HEX}&dn=%C3%28`, /percent-encoding/],
      [`magnet:?xt=urn:btih:%`, /percent-encoding/],
      [`magnet:?%=1&xt=urn:btih:${HEX}`, /percent-encoding/],
    ];
    for (const [uri, pattern] of bad) assertMagnetError(() => parseMagnet(uri), pattern);
    assertMagnetError(() => parseMagnet(42 as unknown as string), /must be a string/);
    assertMagnetError(
      () => parseMagnet(`magnet:?xt=urn:btih:${HEX}&dn=${'x'.repeat(MAX_MAGNET_LENGTH)}`),
      /exceeds/,
    );
  });

  it('tolerates surrounding whitespace, a fragment and unknown parameters', () => {
    const magnet = parseMagnet(`  magnet:?xt=urn:btih:${HEX}&xl=123&kt=a+b&novalue&&#frag&tr=ignored\n`);
    assert.deepEqual(magnet.infoHash, HASH);
    assert.deepEqual(magnet.trackers, []);
  });

  it('caps trackers and peers', () => {
    const trackers = Array.from({ length: MAX_MAGNET_TRACKERS + 50 }, (_, i) => `tr=udp://t${i}:1`).join('&');
    const peers = Array.from(
      { length: MAX_MAGNET_PEERS + 50 },
      (_, i) => `x.pe=10.0.${i >> 8}.${i & 255}:1`,
    ).join('&');
    const magnet = parseMagnet(`magnet:?xt=urn:btih:${HEX}&${trackers}&${peers}`);
    assert.equal(magnet.trackers.length, MAX_MAGNET_TRACKERS);
    assert.equal(magnet.peers.length, MAX_MAGNET_PEERS);
    assert.equal(magnet.trackers[0], 'udp://t0:1');
  });

  it('returns frozen results', () => {
    const magnet = parseMagnet(`magnet:?xt=urn:btih:${HEX}&tr=udp://t:1`);
    assert.ok(Object.isFrozen(magnet));
    assert.ok(Object.isFrozen(magnet.trackers));
  });
});

describe('formatMagnet', () => {
  it('writes every part', () => {
    const uri = formatMagnet({
      infoHash: HASH,
      infoHashV2: new Uint8Array(32).fill(0xab),
      name: 'a b&c',
      trackers: ['udp://t:1/?x=1&y=2'],
      webSeeds: ['http://s/'],
      peers: [
        { host: '10.0.0.1', port: 1 },
        { host: '::1', port: 2 },
      ],
      selectOnly: [6, 0, 2, 4, 5, 5],
    });
    assert.equal(
      uri,
      `magnet:?xt=urn:btih:${HEX}&xt=urn:btmh:${V2}&dn=a%20b%26c&tr=udp%3A%2F%2Ft%3A1%2F%3Fx%3D1%26y%3D2` +
        '&ws=http%3A%2F%2Fs%2F&x.pe=10.0.0.1%3A1&x.pe=%5B%3A%3A1%5D%3A2&so=0,2,4-6',
    );
  });

  it('refuses a bad info-hash or a name that is not well-formed Unicode', () => {
    assertMagnetError(() => formatMagnet({ infoHash: new Uint8Array(19) }), /20 bytes/);
    assertMagnetError(() => formatMagnet({ infoHash: HASH, infoHashV2: new Uint8Array(20) }), /32 bytes/);
    assertMagnetError(() => formatMagnet({ infoHash: HASH, name: 'a\uD800' }), /well-formed/);
  });

  it('round-trips through parseMagnet (property)', () => {
    const host = fc.oneof(
      fc.ipV4(),
      fc.ipV6().map((address) => address.toLowerCase()),
      fc.domain().map((domain) => domain.toLowerCase()),
    );
    const peer = fc.record({ host, port: fc.integer({ min: 1, max: 65535 }) });
    const input = fc.record(
      {
        infoHash: fc.uint8Array({ minLength: 20, maxLength: 20 }),
        infoHashV2: fc.uint8Array({ minLength: 32, maxLength: 32 }),
        name: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 30 }),
        trackers: fc.uniqueArray(fc.webUrl({ withQueryParameters: true }), { maxLength: 5 }),
        webSeeds: fc.uniqueArray(fc.webUrl(), { maxLength: 3 }),
        peers: fc.uniqueArray(peer, { maxLength: 4, selector: (p) => `${p.host}|${p.port}` }),
        selectOnly: fc.uniqueArray(fc.nat({ max: 5000 }), { minLength: 1, maxLength: 20 }),
      },
      { requiredKeys: ['infoHash', 'trackers', 'webSeeds', 'peers'] },
    );
    fc.assert(
      fc.property(input, (magnet: MagnetInput) => {
        const parsed = parseMagnet(formatMagnet(magnet));
        assert.deepEqual(parsed.infoHash, magnet.infoHash);
        assert.deepEqual(parsed.infoHashV2, magnet.infoHashV2);
        assert.equal(parsed.name, magnet.name);
        assert.deepEqual(parsed.trackers, magnet.trackers);
        assert.deepEqual(parsed.webSeeds, magnet.webSeeds);
        assert.deepEqual(
          parsed.peers,
          magnet.peers?.map((p) => ({ ...p })),
        );
        assert.deepEqual(
          parsed.selectOnly,
          magnet.selectOnly ? [...magnet.selectOnly].sort((a, b) => a - b) : undefined,
        );
        assert.equal(formatMagnet(parsed), formatMagnet(magnet));
      }),
      { numRuns: 2000 },
    );
  });
});

describe('parseMagnet never throws anything but TORK_ERR_MAGNET (property)', () => {
  const check = (uri: string): void => {
    try {
      parseMagnet(uri);
    } catch (error) {
      assert.ok(error instanceof TorkError, `not a TorkError: ${String(error)}`);
      assert.equal(error.code, TorkErrorCode.MAGNET);
    }
  };

  it('on arbitrary strings', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 200 }), check), { numRuns: 3000 });
  });

  it('on magnet-shaped strings built from its own vocabulary', () => {
    const key = fc.constantFrom('xt', 'dn', 'tr', 'ws', 'x.pe', 'so', 'xt.1', 'tr.2', 'XT', 'x', '%', '');
    const value = fc.oneof(
      fc.constantFrom(
        `urn:btih:${HEX}`,
        `urn:btih:${BASE32}`,
        `urn:btmh:${V2}`,
        'urn:btih:',
        '%',
        '%E0%A4%A',
        '%C3%28',
        '[::1]:1',
        '1.2.3.4:5',
        '0-3,5',
        '9-1',
        '+',
      ),
      fc.string({ unit: 'binary', maxLength: 20 }),
    );
    const uri = fc
      .array(fc.tuple(key, value), { maxLength: 8 })
      .map((pairs) => `magnet:?${pairs.map(([k, v]) => `${k}=${v}`).join('&')}`);
    fc.assert(fc.property(uri, check), { numRuns: 3000 });
  });
});
