import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { decodeBase32, encodeBase32 } from './base32.js';
import { sanitizeComponent } from './sanitize-path.js';
import { decodeUtf8Lenient, decodeUtf8Strict, utf8SequenceLength } from './utf8.js';

describe('utf8', () => {
  it('decodes valid UTF-8 strictly and keeps a BOM', () => {
    assert.equal(decodeUtf8Strict(new Uint8Array([0xef, 0xbb, 0xbf, 0x61])), '\uFEFFa');
    assert.equal(decodeUtf8Strict(new Uint8Array([0xc3, 0x28])), undefined);
    assert.equal(decodeUtf8Lenient(new Uint8Array([0x61, 0xff])), 'a\uFFFD');
  });

  it('sanitised names replace each byte outside a well-formed sequence with _', () => {
    const cases: Array<[number[], string]> = [
      [[0xc0, 0xaf], '__'], // overlong
      [[0xed, 0xa0, 0x80], '___'], // surrogate
      [[0xe2, 0x82], '__'], // truncated
      [[0xf4, 0x90, 0x80, 0x80], '____'], // beyond U+10FFFF
      [[0x25, 0xff, 0xc3, 0xa9], '%_\u00e9'],
      [[0xf0, 0x9f, 0x98, 0x80, 0x80], '\u{1F600}_'],
    ];
    for (const [bytes, expected] of cases) assert.equal(sanitizeComponent(new Uint8Array(bytes)), expected);
  });

  it('replaces invalid UTF-8 exactly where the strict decoder fails (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), (bytes) => {
        let valid = true;
        for (let i = 0; i < bytes.length; ) {
          const length = utf8SequenceLength(bytes, i);
          if (length === 0) valid = false;
          i += Math.max(length, 1);
        }
        assert.equal(valid, decodeUtf8Strict(bytes) !== undefined);
      }),
      { numRuns: 3000 },
    );
  });
});

describe('base32', () => {
  it('decodes RFC 4648 test vectors case-insensitively', () => {
    assert.equal(Buffer.from(decodeBase32('MZXW6YTBOI')!).toString(), 'foobar');
    assert.equal(Buffer.from(decodeBase32('mzxw6ytboi')!).toString(), 'foobar');
    assert.equal(encodeBase32(new TextEncoder().encode('fooba')), 'MZXW6YTB');
    assert.equal(encodeBase32(new TextEncoder().encode('foobar')), 'MZXW6YTBOI');
    assert.equal(decodeBase32('MZXW6YTB0I'), undefined);
    assert.equal(decodeBase32('MZXW6YTBſI'), undefined);
  });

  it('round-trips 20-byte hashes (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 20, maxLength: 20 }), (bytes) => {
        const text = encodeBase32(bytes);
        assert.equal(text.length, 32);
        assert.deepEqual(decodeBase32(text), bytes);
        assert.deepEqual(decodeBase32(text.toLowerCase()), bytes);
      }),
      { numRuns: 1000 },
    );
  });
});
