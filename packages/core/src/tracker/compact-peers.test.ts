import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { TorkError, TorkErrorCode } from '../errors.js';
import { decodeCompactPeers, encodeCompactPeers, formatIPv6, parseIPv6 } from './compact-peers.js';

describe('compact peers', () => {
  it('decodes IPv4 entries and drops port 0', () => {
    const bytes = Uint8Array.from([127, 0, 0, 1, 0x1a, 0xe1, 10, 0, 0, 2, 0, 0, 192, 168, 1, 9, 0xff, 0xff]);
    assert.deepEqual(decodeCompactPeers(bytes, 4), [
      { host: '127.0.0.1', port: 6881 },
      { host: '192.168.1.9', port: 65535 },
    ]);
    assert.deepEqual(decodeCompactPeers(new Uint8Array(0), 4), []);
  });

  it('decodes IPv6 entries in RFC 5952 form', () => {
    const peers = [
      { host: '::1', port: 6881 },
      { host: '2001:db8::8:800:200c:417a', port: 1 },
      { host: '::ffff:10.1.2.3', port: 80 },
      { host: 'fe80::', port: 443 },
      { host: '1:0:1:0:1:0:1:0', port: 2 },
    ];
    const bytes = encodeCompactPeers(peers, 6);
    assert.equal(bytes.length, 18 * peers.length);
    assert.deepEqual(decodeCompactPeers(bytes, 6), peers);
  });

  it('refuses a length that is not a whole number of entries', () => {
    for (const [length, family] of [
      [5, 4],
      [7, 4],
      [17, 6],
      [19, 6],
    ] as const) {
      assert.throws(
        () => decodeCompactPeers(new Uint8Array(length), family),
        (error: unknown) => error instanceof TorkError && error.code === TorkErrorCode.TRACKER_PROTOCOL,
      );
    }
  });

  it('round-trips random IPv4 and IPv6 lists', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ host: fc.ipV4(), port: fc.integer({ min: 1, max: 65535 }) }), { maxLength: 50 }),
        (peers) => {
          const normalised = peers.map((p) => ({
            host: p.host.split('.').map(Number).join('.'),
            port: p.port,
          }));
          assert.deepEqual(decodeCompactPeers(encodeCompactPeers(normalised, 4), 4), normalised);
        },
      ),
      { numRuns: 500 },
    );
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (raw) => {
        // bytes → text → bytes must be the identity, whatever the zero runs look like.
        assert.deepEqual(parseIPv6(formatIPv6(raw)), raw);
      }),
      { numRuns: 2000 },
    );
  });

  it('only ever throws TorkError on random input', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 100 }),
        fc.constantFrom(4 as const, 6 as const),
        (bytes, family) => {
          try {
            for (const peer of decodeCompactPeers(bytes, family)) assert.ok(peer.port > 0);
          } catch (error) {
            assert.ok(error instanceof TorkError && error.code === TorkErrorCode.TRACKER_PROTOCOL);
          }
        },
      ),
      { numRuns: 2000 },
    );
  });
});
