import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { TorkError, TorkErrorCode } from '../errors.js';
import type { AnnounceRequest } from './types.js';
import {
  decodeUdpRequest,
  decodeUdpResponse,
  encodeAnnounceRequest,
  encodeAnnounceResponse,
  encodeConnectRequest,
  encodeConnectResponse,
  encodeErrorResponse,
  encodeScrapeRequest,
  encodeScrapeResponse,
  MAX_UDP_SCRAPE_HASHES,
  peekTransactionId,
  UDP_PROTOCOL_ID,
} from './udp-codec.js';

const hash = (fill: number): Uint8Array => new Uint8Array(20).fill(fill);

function isProtocolError(error: unknown): boolean {
  return error instanceof TorkError && error.code === TorkErrorCode.TRACKER_PROTOCOL;
}

describe('UDP codec', () => {
  it('encodes a connect request with the protocol id (BEP 15 layout)', () => {
    const bytes = encodeConnectRequest(0xdeadbeef);
    assert.equal(Buffer.from(bytes).toString('hex'), '0000041727101980' + '00000000' + 'deadbeef');
    assert.deepEqual(decodeUdpRequest(bytes), { action: 'connect', transactionId: 0xdeadbeef });
  });

  it('round-trips an announce request, every field at its BEP 15 offset', () => {
    const request: AnnounceRequest = {
      infoHash: hash(0xaa),
      peerId: hash(0xbb),
      port: 51413,
      uploaded: 3n,
      downloaded: 2 ** 40,
      left: (1n << 63n) - 1n,
      event: 'completed',
      numwant: 200,
      key: 0xfeedface,
      ip: '10.0.0.7',
    };
    const bytes = encodeAnnounceRequest(0x0102030405060708n, 77, request);
    assert.equal(bytes.length, 98);
    assert.deepEqual(decodeUdpRequest(bytes), {
      action: 'announce',
      connectionId: 0x0102030405060708n,
      transactionId: 77,
      infoHash: request.infoHash,
      peerId: request.peerId,
      downloaded: 2n ** 40n,
      left: (1n << 63n) - 1n,
      uploaded: 3n,
      event: 'completed',
      ip: (10 << 24) + 7,
      key: 0xfeedface,
      numwant: 200,
      port: 51413,
    });
    const defaults = decodeUdpRequest(
      encodeAnnounceRequest(1n, 1, {
        ...request,
        numwant: undefined,
        key: undefined,
        ip: '::1',
        event: 'none',
      }),
    );
    assert.ok(defaults.action === 'announce');
    assert.equal(defaults.numwant, -1);
    assert.equal(defaults.key, 0);
    assert.equal(defaults.ip, 0);
    assert.equal(defaults.event, 'none');
  });

  it('round-trips scrape requests of 1 to 74 hashes and refuses more', () => {
    const hashes = Array.from({ length: MAX_UDP_SCRAPE_HASHES }, (_, i) => hash(i));
    const decoded = decodeUdpRequest(encodeScrapeRequest(9n, 5, hashes));
    assert.deepEqual(decoded, { action: 'scrape', connectionId: 9n, transactionId: 5, infoHashes: hashes });
    assert.throws(() => encodeScrapeRequest(9n, 5, [...hashes, hash(1)]), /1 to 74/);
    assert.throws(() => encodeScrapeRequest(9n, 5, []), /1 to 74/);
  });

  it('round-trips every response', () => {
    assert.deepEqual(decodeUdpResponse(encodeConnectResponse(1, 0xffff_ffff_ffff_ffffn), 4), {
      action: 'connect',
      transactionId: 1,
      connectionId: 0xffff_ffff_ffff_ffffn,
    });
    const peers = [
      { host: '1.2.3.4', port: 5 },
      { host: '127.0.0.1', port: 6881 },
    ];
    assert.deepEqual(
      decodeUdpResponse(encodeAnnounceResponse(2, { interval: 1800, leechers: 3, seeders: 4, peers }, 4), 4),
      { action: 'announce', transactionId: 2, interval: 1800, leechers: 3, seeders: 4, peers },
    );
    const peers6 = [{ host: '2001:db8::1', port: 6881 }];
    assert.deepEqual(
      decodeUdpResponse(
        encodeAnnounceResponse(2, { interval: 1, leechers: 0, seeders: 0, peers: peers6 }, 6),
        6,
      ),
      { action: 'announce', transactionId: 2, interval: 1, leechers: 0, seeders: 0, peers: peers6 },
    );
    const stats = [
      { complete: 1, downloaded: 2, incomplete: 3 },
      { complete: 4, downloaded: 5, incomplete: 6 },
    ];
    assert.deepEqual(decodeUdpResponse(encodeScrapeResponse(3, stats), 4), {
      action: 'scrape',
      transactionId: 3,
      stats,
    });
    assert.deepEqual(decodeUdpResponse(encodeErrorResponse(4, 'torrent not registered'), 4), {
      action: 'error',
      transactionId: 4,
      message: 'torrent not registered',
    });
  });

  it('makes error text printable', () => {
    const reply = decodeUdpResponse(encodeErrorResponse(4, 'bad\u001b[31m red\n\nthing'), 4);
    assert.ok(reply.action === 'error');
    assert.equal(reply.message, 'bad?[31m red thing');
    const empty = decodeUdpResponse(encodeErrorResponse(4, ''), 4);
    assert.ok(empty.action === 'error');
    assert.equal(empty.message, '(no message)');
  });

  it('refuses truncated and unknown replies with TRACKER_PROTOCOL', () => {
    const announce = encodeAnnounceResponse(
      2,
      { interval: 1800, leechers: 3, seeders: 4, peers: [{ host: '1.2.3.4', port: 5 }] },
      4,
    );
    for (let cut = 0; cut < announce.length; cut++) {
      if (cut === 20) continue; // a header without peers is a valid, empty reply
      assert.throws(() => decodeUdpResponse(announce.subarray(0, cut), 4), isProtocolError, `cut ${cut}`);
    }
    const connect = encodeConnectResponse(1, 5n);
    for (let cut = 0; cut < connect.length; cut++) {
      assert.throws(() => decodeUdpResponse(connect.subarray(0, cut), 4), isProtocolError);
    }
    const scrape = encodeScrapeResponse(1, [{ complete: 1, downloaded: 1, incomplete: 1 }]);
    assert.throws(() => decodeUdpResponse(scrape.subarray(0, 19), 4), isProtocolError);
    const unknown = encodeConnectResponse(1, 5n);
    unknown[3] = 9;
    assert.throws(() => decodeUdpResponse(unknown, 4), /unknown action 9/);
    // One IPv4 entry read as IPv6 does not fit: refused, not misread. (The reverse cannot be
    // detected: 18 bytes are three IPv4 entries; hence the family comes from the socket.)
    const four = encodeAnnounceResponse(
      2,
      { interval: 1, leechers: 0, seeders: 0, peers: [{ host: '1.2.3.4', port: 1 }] },
      4,
    );
    assert.throws(() => decodeUdpResponse(four, 6), isProtocolError);
  });

  it('peeks the transaction id', () => {
    assert.equal(peekTransactionId(encodeConnectResponse(0x12345678, 1n)), 0x12345678);
    assert.equal(peekTransactionId(new Uint8Array(7)), undefined);
  });

  it('refuses malformed requests (test trackers rely on it)', () => {
    const connect = encodeConnectRequest(1);
    connect[0] = 1;
    assert.throws(() => decodeUdpRequest(connect), isProtocolError);
    assert.throws(() => decodeUdpRequest(new Uint8Array(15)), isProtocolError);
    assert.equal(UDP_PROTOCOL_ID, 0x41727101980n);
  });

  it('random bytes to the response decoder only ever throw TorkError TRACKER_PROTOCOL', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 200 }),
          // Valid headers with random bodies reach deeper than fully random bytes.
          fc
            .tuple(fc.integer({ min: 0, max: 4 }), fc.uint8Array({ maxLength: 120 }))
            .map(([action, body]) => Uint8Array.from([0, 0, 0, action, 0, 0, 0, 1, ...body])),
        ),
        fc.constantFrom(4 as const, 6 as const),
        (bytes, family) => {
          try {
            decodeUdpResponse(bytes, family);
          } catch (error) {
            assert.ok(isProtocolError(error), String(error));
          }
        },
      ),
      { numRuns: 5000 },
    );
  });
});
