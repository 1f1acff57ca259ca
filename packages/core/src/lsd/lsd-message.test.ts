import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TorkError, TorkErrorCode } from '../errors.js';
import {
  decodeLsdAnnounce,
  encodeLsdAnnounce,
  MAX_LSD_COOKIE_CHARS,
  MAX_LSD_HEADERS,
  MAX_LSD_INFOHASHES,
  MAX_LSD_MESSAGE_BYTES,
} from './lsd-message.js';

const HASH_A = '0123456789abcdef0123456789abcdef01234567';
const HASH_B = 'fedcba9876543210fedcba9876543210fedcba98';

const bytes = (text: string) => new TextEncoder().encode(text);
const text = (data: Uint8Array) => new TextDecoder().decode(data);

function throwsCode(f: () => unknown, code: TorkErrorCode, message?: RegExp): void {
  assert.throws(f, (error: unknown) => {
    assert.ok(error instanceof TorkError, String(error));
    assert.equal(error.code, code, error.message);
    if (message) assert.match(error.message, message);
    return true;
  });
}

function hashes(count: number): string[] {
  return Array.from({ length: count }, (_, i) => i.toString(16).padStart(40, '0'));
}

describe('encodeLsdAnnounce', () => {
  it('writes the BEP 14 announce byte for byte', () => {
    assert.equal(
      text(encodeLsdAnnounce({ port: 6881, infoHashes: [HASH_A.toUpperCase()], cookie: 'tork-1f2e' })),
      'BT-SEARCH * HTTP/1.1\r\nHost: 239.192.152.143:6771\r\nPort: 6881\r\n' +
        `Infohash: ${HASH_A}\r\ncookie: tork-1f2e\r\n\r\n\r\n`,
    );
  });

  it('puts several info-hashes in consecutive headers, and no cookie line without one', () => {
    assert.equal(
      text(encodeLsdAnnounce({ port: 1, infoHashes: [HASH_A, HASH_B], host: '127.0.0.1:9' })),
      'BT-SEARCH * HTTP/1.1\r\nHost: 127.0.0.1:9\r\nPort: 1\r\n' +
        `Infohash: ${HASH_A}\r\nInfohash: ${HASH_B}\r\n\r\n\r\n`,
    );
  });

  it('stays under MAX_LSD_MESSAGE_BYTES at its caps, and decodes back', () => {
    const fields = {
      port: 65535,
      infoHashes: hashes(MAX_LSD_INFOHASHES),
      cookie: 'c'.repeat(MAX_LSD_COOKIE_CHARS),
      host: 'h'.repeat(MAX_LSD_COOKIE_CHARS),
    };
    const encoded = encodeLsdAnnounce(fields);
    assert.ok(encoded.byteLength <= MAX_LSD_MESSAGE_BYTES, `${encoded.byteLength} bytes`);
    assert.deepEqual(decodeLsdAnnounce(encoded), fields);
  });

  it('refuses what it cannot write as a valid announce', () => {
    const ok = { port: 6881, infoHashes: [HASH_A] };
    for (const port of [0, 65536, 1.5, Number.NaN]) {
      throwsCode(() => encodeLsdAnnounce({ ...ok, port }), TorkErrorCode.USAGE, /port/);
    }
    throwsCode(() => encodeLsdAnnounce({ ...ok, infoHashes: [] }), TorkErrorCode.USAGE);
    throwsCode(
      () => encodeLsdAnnounce({ ...ok, infoHashes: hashes(MAX_LSD_INFOHASHES + 1) }),
      TorkErrorCode.USAGE,
    );
    throwsCode(() => encodeLsdAnnounce({ ...ok, infoHashes: [HASH_A.slice(1)] }), TorkErrorCode.USAGE);
    throwsCode(() => encodeLsdAnnounce({ ...ok, infoHashes: [`${HASH_A.slice(1)}g`] }), TorkErrorCode.USAGE);
    for (const cookie of ['', 'a b', 'a\r\nPort: 1', 'x'.repeat(MAX_LSD_COOKIE_CHARS + 1), 'é']) {
      throwsCode(() => encodeLsdAnnounce({ ...ok, cookie }), TorkErrorCode.USAGE, /cookie/);
    }
    throwsCode(() => encodeLsdAnnounce({ ...ok, host: 'a\nb' }), TorkErrorCode.USAGE, /host/);
  });
});

describe('decodeLsdAnnounce', () => {
  it('reads an announce as other clients send it: LF endings, any case, extra headers, no terminator', () => {
    const announce = decodeLsdAnnounce(
      bytes(
        `BT-SEARCH * HTTP/1.1\nhost: 239.192.152.143:6771\nX-Other: 1\nPORT:51413\n` +
          `infohash: ${HASH_A.toUpperCase()}\nInfoHash:\t${HASH_B}  \nInfohash: ${HASH_A}\nCookie: abc`,
      ),
    );
    assert.deepEqual(announce, {
      host: '239.192.152.143:6771',
      port: 51413,
      infoHashes: [HASH_A, HASH_B],
      cookie: 'abc',
    });
  });

  it('stops at the empty line: what follows is not read', () => {
    const announce = decodeLsdAnnounce(
      bytes(`BT-SEARCH * HTTP/1.1\r\nPort: 7\r\nInfohash: ${HASH_A}\r\n\r\nnot a header\r\nPort: x\r\n`),
    );
    assert.deepEqual(announce, { port: 7, infoHashes: [HASH_A] });
  });

  it('refuses what is not a valid announce with TORK_ERR_LSD_PROTOCOL', () => {
    const cases: Array<[string, RegExp]> = [
      ['', /empty/],
      ['M-SEARCH * HTTP/1.1\r\nPort: 1\r\n\r\n', /not a BT-SEARCH/],
      [`bt-search * HTTP/1.1\r\nPort: 1\r\nInfohash: ${HASH_A}\r\n`, /not a BT-SEARCH/],
      [`BT-SEARCH * HTTP/1.1\r\nInfohash: ${HASH_A}\r\n\r\n`, /no Port/],
      ['BT-SEARCH * HTTP/1.1\r\nPort: 6881\r\n\r\n', /no Infohash/],
      [`BT-SEARCH * HTTP/1.1\r\nPort: 0\r\nInfohash: ${HASH_A}\r\n`, /bad port/],
      [`BT-SEARCH * HTTP/1.1\r\nPort: 65536\r\nInfohash: ${HASH_A}\r\n`, /bad port/],
      [`BT-SEARCH * HTTP/1.1\r\nPort: -1\r\nInfohash: ${HASH_A}\r\n`, /bad port/],
      [`BT-SEARCH * HTTP/1.1\r\nPort: 1\r\nPort: 2\r\nInfohash: ${HASH_A}\r\n`, /two Port/],
      [`BT-SEARCH * HTTP/1.1\r\nPort: 1\r\nInfohash: ${HASH_A}0\r\n`, /bad info-hash/],
      ['BT-SEARCH * HTTP/1.1\r\nPort: 1\r\nInfohash: \r\n', /bad info-hash/],
      [`BT-SEARCH * HTTP/1.1\r\nPort 1\r\nInfohash: ${HASH_A}\r\n`, /malformed header/],
      [`BT-SEARCH * HTTP/1.1\r\n: 1\r\nInfohash: ${HASH_A}\r\n`, /malformed header/],
    ];
    for (const [input, message] of cases)
      throwsCode(() => decodeLsdAnnounce(bytes(input)), TorkErrorCode.LSD_PROTOCOL, message);
  });

  it("keeps the sender's text out of its messages unprintable", () => {
    try {
      decodeLsdAnnounce(bytes('\x1b[31mBT-SEARCH\x07 * HTTP/1.1\r\n'));
      assert.fail('decoded');
    } catch (error) {
      assert.ok(error instanceof TorkError);
      assert.doesNotMatch(error.message, /[\u0000-\u001f]/);
    }
  });

  it('refuses a datagram over MAX_LSD_MESSAGE_BYTES before reading it', () => {
    const big = new Uint8Array(MAX_LSD_MESSAGE_BYTES + 1).fill(0x41);
    throwsCode(() => decodeLsdAnnounce(big), TorkErrorCode.LIMIT_EXCEEDED, /1401 bytes/);
    // Exactly at the cap it is read (and refused for what it says, not for its size).
    throwsCode(() => decodeLsdAnnounce(big.subarray(1)), TorkErrorCode.LSD_PROTOCOL);
  });

  it('refuses more than MAX_LSD_HEADERS header lines', () => {
    const head = `BT-SEARCH * HTTP/1.1\nPort: 1\nInfohash: ${HASH_A}\n`;
    const at = `${head}${'X: y\n'.repeat(MAX_LSD_HEADERS - 2)}\n`;
    assert.equal(decodeLsdAnnounce(bytes(at)).port, 1);
    throwsCode(
      () => decodeLsdAnnounce(bytes(`${head}${'X: y\n'.repeat(MAX_LSD_HEADERS - 1)}\n`)),
      TorkErrorCode.LIMIT_EXCEEDED,
      /headers/,
    );
    // Counted as they are read: a flood of lines is refused at the 33rd, even with bad ones after it.
    throwsCode(
      () => decodeLsdAnnounce(bytes(`${head}${'X: y\n'.repeat(200)}bad line\n`)),
      TorkErrorCode.LIMIT_EXCEEDED,
    );
  });

  it('refuses more than MAX_LSD_INFOHASHES distinct info-hashes, and counts a repeated one once', () => {
    const announce = (list: string[]) =>
      bytes(`BT-SEARCH * HTTP/1.1\r\nPort: 1\r\n${list.map((h) => `Infohash: ${h}\r\n`).join('')}\r\n`);
    assert.equal(
      decodeLsdAnnounce(announce(hashes(MAX_LSD_INFOHASHES))).infoHashes.length,
      MAX_LSD_INFOHASHES,
    );
    assert.equal(
      decodeLsdAnnounce(announce(Array(MAX_LSD_INFOHASHES + 4).fill(HASH_A))).infoHashes.length,
      1,
    );
    throwsCode(
      () => decodeLsdAnnounce(announce(hashes(MAX_LSD_INFOHASHES + 1))),
      TorkErrorCode.LIMIT_EXCEEDED,
      /info-hashes/,
    );
  });
});
