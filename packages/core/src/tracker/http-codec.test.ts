import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { encodeBencode } from '../bencode/index.js';
import { TorkError, TorkErrorCode } from '../errors.js';
import { encodeCompactPeers } from './compact-peers.js';
import {
  bodyExcerpt,
  buildAnnounceUrl,
  buildScrapeUrl,
  parseAnnounceBody,
  parseScrapeBody,
  percentEncodeBytes,
  scrapeUrlFor,
} from './http-codec.js';
import type { AnnounceRequest } from './types.js';

const text = (s: string): Uint8Array => new TextEncoder().encode(s);
const bencode = (value: unknown): Uint8Array => encodeBencode(value);

const request: AnnounceRequest = {
  infoHash: Uint8Array.from({ length: 20 }, (_, i) => i * 13),
  peerId: text('-TK0001-abcdefghijkl'),
  port: 6881,
  uploaded: 1,
  downloaded: 2n,
  left: 3,
  event: 'none',
};

function assertTorkError(code: TorkErrorCode, pattern?: RegExp): (error: unknown) => boolean {
  return (error) => {
    assert.ok(error instanceof TorkError, `expected TorkError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    if (pattern) assert.match(error.message, pattern);
    return true;
  };
}

describe('percentEncodeBytes', () => {
  it('keeps unreserved characters and encodes every other byte as uppercase %XX', () => {
    assert.equal(percentEncodeBytes(text('AZaz09.-_~')), 'AZaz09.-_~');
    assert.equal(
      percentEncodeBytes(Uint8Array.from([0, 0x20, 0x2b, 0x25, 0xff, 0xab])),
      '%00%20%2B%25%FF%AB',
    );
  });

  it('is decoded back to the same bytes for all 256 byte values', () => {
    const all = Uint8Array.from({ length: 256 }, (_, i) => i);
    const encoded = percentEncodeBytes(all);
    assert.match(encoded, /^([A-Za-z0-9._~-]|%[0-9A-F]{2})+$/);
    assert.deepEqual(new Uint8Array(Buffer.from(unescape(encoded), 'latin1')), all);
  });
});

describe('buildAnnounceUrl', () => {
  it('appends every parameter, omitting event=none and unset options', () => {
    const url = buildAnnounceUrl('http://t.example/announce', request);
    assert.equal(
      url,
      `http://t.example/announce?info_hash=${percentEncodeBytes(request.infoHash)}` +
        '&peer_id=-TK0001-abcdefghijkl&port=6881&uploaded=1&downloaded=2&left=3&compact=1',
    );
  });

  it('adds event, numwant, key, ip and trackerid when set', () => {
    const url = buildAnnounceUrl('https://t.example/a/announce.php', {
      ...request,
      event: 'started',
      numwant: 50,
      key: 0xbeef,
      ip: '2001:db8::1',
      trackerId: 'id \u00ff',
    });
    const query = url.slice(url.indexOf('compact=1'));
    assert.equal(
      query,
      'compact=1&event=started&numwant=50&key=0000BEEF&ip=2001%3Adb8%3A%3A1&trackerid=id%20%FF',
    );
  });

  it('joins an existing query string correctly and drops a fragment', () => {
    const tail = buildAnnounceUrl('http://t.example/announce', request).split('?')[1];
    assert.equal(
      buildAnnounceUrl('http://t.example/announce?passkey=a%2Fb', request),
      `http://t.example/announce?passkey=a%2Fb&${tail}`,
    );
    assert.equal(
      buildAnnounceUrl('http://t.example/announce?pk=1&', request),
      `http://t.example/announce?pk=1&${tail}`,
    );
    assert.equal(
      buildAnnounceUrl('http://t.example/announce?', request),
      `http://t.example/announce?${tail}`,
    );
    assert.equal(
      buildAnnounceUrl('http://t.example/announce#frag', request),
      `http://t.example/announce?${tail}`,
    );
  });

  it('refuses non-http URLs', () => {
    assert.throws(
      () => buildAnnounceUrl('udp://t.example:1/announce', request),
      assertTorkError(TorkErrorCode.TRACKER_URL),
    );
    assert.throws(() => buildAnnounceUrl('not a url', request), assertTorkError(TorkErrorCode.TRACKER_URL));
  });
});

describe('scrape URL', () => {
  it('follows the announce → scrape convention', () => {
    assert.equal(scrapeUrlFor('http://t.example/announce'), 'http://t.example/scrape');
    assert.equal(scrapeUrlFor('http://t.example/x/announce.php?pk=1'), 'http://t.example/x/scrape.php?pk=1');
    assert.equal(scrapeUrlFor('http://t.example:8080/announce?a=/b'), 'http://t.example:8080/scrape?a=/b');
    const hashes = [new Uint8Array(20).fill(0x41), new Uint8Array(20).fill(0xff)];
    assert.equal(
      buildScrapeUrl('http://t.example/announce?pk=1', hashes),
      `http://t.example/scrape?pk=1&info_hash=${'A'.repeat(20)}&info_hash=${'%FF'.repeat(20)}`,
    );
  });

  it('says clearly when a tracker has no scrape URL', () => {
    for (const url of [
      'http://t.example/a',
      'http://t.example/announce/x',
      'http://t.example/',
      'http://t.example',
    ]) {
      assert.throws(
        () => scrapeUrlFor(url),
        assertTorkError(TorkErrorCode.TRACKER_URL, /does not support scrape/),
      );
    }
  });
});

describe('parseAnnounceBody', () => {
  it('parses compact IPv4 and IPv6 peers and every optional field', () => {
    const body = bencode({
      interval: 1800,
      'min interval': 900,
      complete: 5,
      incomplete: 7,
      'tracker id': Uint8Array.from([0x61, 0xff]),
      'warning message': text('slow down\n'),
      peers: encodeCompactPeers(
        [
          { host: '1.2.3.4', port: 6881 },
          { host: '5.6.7.8', port: 0 },
        ],
        4,
      ),
      peers6: encodeCompactPeers([{ host: '2001:db8::2', port: 51413 }], 6),
    });
    assert.deepEqual(parseAnnounceBody(body), {
      interval: 1800,
      minInterval: 900,
      complete: 5,
      incomplete: 7,
      trackerId: 'a\u00ff',
      warning: 'slow down',
      peers: [
        { host: '1.2.3.4', port: 6881 },
        { host: '2001:db8::2', port: 51413 },
      ],
    });
  });

  it('parses dictionary peers (IPv4, IPv6, host names), ignoring peer id and extra keys', () => {
    const body = bencode({
      interval: 60,
      peers: [
        { ip: text('10.0.0.1'), port: 1, 'peer id': new Uint8Array(20) },
        { ip: text('2001:DB8:0:0::1'), port: 2, extra: 1 },
        { ip: text('Peer.Example'), port: 3 },
        { ip: text('10.0.0.9'), port: 0 },
      ],
    });
    assert.deepEqual(parseAnnounceBody(body), {
      interval: 60,
      peers: [
        { host: '10.0.0.1', port: 1 },
        { host: '2001:db8::1', port: 2 },
        { host: 'peer.example', port: 3 },
      ],
    });
    assert.deepEqual(parseAnnounceBody(bencode({ interval: 60 })), { interval: 60, peers: [] });
  });

  it('turns failure reason into TRACKER_FAILURE with the text', () => {
    assert.throws(
      () => parseAnnounceBody(bencode({ 'failure reason': text('Requested download is not authorized') })),
      assertTorkError(TorkErrorCode.TRACKER_FAILURE, /Requested download is not authorized/),
    );
    assert.throws(
      () => parseAnnounceBody(bencode({ 'failure reason': 3 })),
      assertTorkError(TorkErrorCode.TRACKER_FAILURE, /non-text/),
    );
  });

  it('names the malformed field', () => {
    const cases: Array<[unknown, RegExp]> = [
      [{}, /field 'interval'/],
      [{ interval: -1 }, /field 'interval'/],
      [{ interval: text('60') }, /field 'interval'/],
      [{ interval: 1, complete: text('x') }, /field 'complete'/],
      [{ interval: 1, peers: 5 }, /field 'peers'/],
      [{ interval: 1, peers: [{ ip: text('1.2.3.4'), port: 70000 }] }, /field 'peers\.0\.port'/],
      [{ interval: 1, peers: [{ port: 1 }] }, /field 'peers\.0\.ip'/],
      [{ interval: 1, peers: [{ ip: text('bad host!'), port: 1 }] }, /field 'peers\.0\.ip'/],
      [{ interval: 1, peers: new Uint8Array(7) }, /not a multiple of 6/],
      [{ interval: 1, peers6: new Uint8Array(17) }, /not a multiple of 18/],
    ];
    for (const [value, pattern] of cases) {
      assert.throws(
        () => parseAnnounceBody(bencode(value)),
        assertTorkError(TorkErrorCode.TRACKER_PROTOCOL, pattern),
      );
    }
  });

  it('quotes a short printable excerpt of a body that is not bencode', () => {
    const html = text(
      '<!DOCTYPE html><html><head><title>502 Bad Gateway</title><style>body{x}</style></head>' +
        `<body><h1>502 Bad Gateway</h1>\u001b[2J${'x'.repeat(5000)}</body></html>`,
    );
    assert.throws(
      () => parseAnnounceBody(html),
      (error: unknown) => {
        assertTorkError(
          TorkErrorCode.TRACKER_PROTOCOL,
          /not bencode .*: 502 Bad Gateway 502 Bad Gateway \?\[2Jx+…$/,
        )(error);
        assert.ok((error as Error).message.length < 300, (error as Error).message);
        return true;
      },
    );
    assert.throws(
      () => parseAnnounceBody(text('li1ee')),
      assertTorkError(TorkErrorCode.TRACKER_PROTOCOL, /not a bencoded dictionary/),
    );
    assert.throws(
      () => parseAnnounceBody(new Uint8Array(0)),
      assertTorkError(TorkErrorCode.TRACKER_PROTOCOL, /\(empty\)/),
    );
    assert.equal(bodyExcerpt(text('Forbidden')), 'Forbidden');
  });

  it('caps nesting at 8 levels and tracker text at 512 characters', () => {
    const deep = text(`d8:intervali1e1:x${'l'.repeat(8)}${'e'.repeat(8)}e`);
    assert.throws(
      () => parseAnnounceBody(deep),
      assertTorkError(TorkErrorCode.TRACKER_PROTOCOL, /nesting deeper than 8/),
    );
    assert.deepEqual(parseAnnounceBody(text(`d8:intervali1e1:x${'l'.repeat(7)}${'e'.repeat(7)}e`)).peers, []);
    assert.throws(
      () => parseAnnounceBody(bencode({ 'failure reason': text('x'.repeat(10_000)) })),
      (error: unknown) => {
        assert.ok(error instanceof TorkError);
        assert.equal(error.details.trackerMessage, `${'x'.repeat(512)}…`);
        return true;
      },
    );
    const warned = parseAnnounceBody(bencode({ interval: 1, 'warning message': text('é'.repeat(600)) }));
    assert.equal(warned.warning, `${'é'.repeat(512)}…`);
  });

  it('applies the size cap', () => {
    const body = bencode({ interval: 1, peers: new Uint8Array(600) });
    assert.equal(parseAnnounceBody(body).peers.length, 0);
    assert.throws(
      () => parseAnnounceBody(body, { maxBytes: 100 }),
      assertTorkError(TorkErrorCode.TRACKER_PROTOCOL, /exceeds 100/),
    );
  });

  it('random bytes only ever throw TorkError with a tracker code', () => {
    const allowed = new Set<string>([TorkErrorCode.TRACKER_PROTOCOL, TorkErrorCode.TRACKER_FAILURE]);
    const reply = fc.dictionary(
      fc.constantFrom(
        'interval',
        'min interval',
        'peers',
        'peers6',
        'complete',
        'failure reason',
        'tracker id',
        'x',
      ),
      fc.oneof(
        fc.integer({ min: -5, max: 5000 }),
        fc.uint8Array({ maxLength: 40 }),
        fc.array(
          fc.dictionary(
            fc.constantFrom('ip', 'port', 'peer id'),
            fc.oneof(
              fc.integer({ min: -1, max: 70000 }),
              fc.uint8Array({ maxLength: 16 }),
              fc.constant(text('1.2.3.4')),
            ),
          ),
          { maxLength: 4 },
        ),
      ),
    );
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 300 }),
          reply.map((value) => bencode(value)),
          // Valid bencode cut or corrupted at a random place.
          fc.tuple(reply, fc.nat(), fc.nat(255)).map(([value, at, byte]) => {
            const bytes = bencode(value).slice();
            if (bytes.length > 0) bytes[at % bytes.length] = byte;
            return bytes;
          }),
        ),
        (bytes) => {
          try {
            const response = parseAnnounceBody(bytes);
            assert.ok(Number.isSafeInteger(response.interval) && response.interval >= 0);
            for (const peer of response.peers)
              assert.ok(peer.port > 0 && peer.port < 65536 && peer.host !== '');
          } catch (error) {
            assert.ok(error instanceof TorkError && allowed.has(error.code), String(error));
          }
        },
      ),
      { numRuns: 3000 },
    );
  });
});

describe('parseScrapeBody', () => {
  it('maps the hashes asked about, whatever their bytes', () => {
    const ascii = text('ABCDEFGHIJKLMNOPQRST'); // valid UTF-8: the decoder keys it as text
    const binary = new Uint8Array(20).fill(0xff); // invalid UTF-8: the decoder keys it as hex
    const missing = new Uint8Array(20).fill(0x01);
    const body = encodeBencodeWithRawKeys([
      [ascii, { complete: 1, downloaded: 2, incomplete: 3 }],
      [binary, { complete: 4, incomplete: 6 }],
      [text('some-other-torrent-x'), { complete: 9, downloaded: 9, incomplete: 9 }],
    ]);
    const result = parseScrapeBody(body, [ascii, binary, missing]);
    assert.deepEqual(
      [...result],
      [
        [Buffer.from(ascii).toString('hex'), { complete: 1, downloaded: 2, incomplete: 3 }],
        ['ff'.repeat(20), { complete: 4, downloaded: 0, incomplete: 6 }],
      ],
    );
  });

  it('surfaces failure reason and malformed files', () => {
    assert.throws(
      () => parseScrapeBody(bencode({ 'failure reason': text('no scrape here') }), []),
      assertTorkError(TorkErrorCode.TRACKER_FAILURE, /no scrape here/),
    );
    assert.throws(
      () => parseScrapeBody(bencode({ files: 1 }), []),
      assertTorkError(TorkErrorCode.TRACKER_PROTOCOL, /'files'/),
    );
    assert.throws(
      () => parseScrapeBody(bencode({ files: { a: { complete: 1 } } }), []),
      assertTorkError(TorkErrorCode.TRACKER_PROTOCOL, /'files\.a\.incomplete'/),
    );
  });

  it('random bytes only ever throw TorkError with a tracker code', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        try {
          parseScrapeBody(bytes, [new Uint8Array(20)]);
        } catch (error) {
          assert.ok(
            error instanceof TorkError &&
              (error.code === TorkErrorCode.TRACKER_PROTOCOL || error.code === TorkErrorCode.TRACKER_FAILURE),
          );
        }
      }),
      { numRuns: 2000 },
    );
  });
});

/** `d5:filesd<key><stats>...ee` with raw byte keys (encodeBencode only takes string keys). */
function encodeBencodeWithRawKeys(entries: Array<[Uint8Array, Record<string, number>]>): Uint8Array {
  const sorted = [...entries].sort(([a], [b]) => Buffer.compare(a, b));
  const parts: Uint8Array[] = [text('d5:filesd')];
  for (const [key, stats] of sorted) parts.push(text(`${key.length}:`), key, bencode(stats));
  parts.push(text('ee'));
  return new Uint8Array(Buffer.concat(parts));
}
