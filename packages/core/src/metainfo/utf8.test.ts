import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { decodeBase32, encodeBase32 } from './base32.js';
import { decodeUtf8Lenient, decodeUtf8Lossless, decodeUtf8Strict } from './utf8.js';

/** Inverse of decodeUtf8Lossless for names that were escaped. */
function unescapeName(text: string): Uint8Array {
  const out: number[] = [];
  for (let i = 0; i < text.length; ) {
    if (text[i] === '%') {
      out.push(Number.parseInt(text.slice(i + 1, i + 3), 16));
      i += 3;
    } else {
      const codePoint = text.codePointAt(i)!;
      const char = String.fromCodePoint(codePoint);
      out.push(...new TextEncoder().encode(char));
      i += char.length;
    }
  }
  return new Uint8Array(out);
}

describe('utf8', () => {
  it('decodes valid UTF-8 strictly and keeps a BOM', () => {
    assert.equal(decodeUtf8Strict(new Uint8Array([0xef, 0xbb, 0xbf, 0x61])), '\uFEFFa');
    assert.equal(decodeUtf8Strict(new Uint8Array([0xc3, 0x28])), undefined);
    assert.equal(decodeUtf8Lenient(new Uint8Array([0x61, 0xff])), 'a\uFFFD');
  });

  it('escapes invalid sequences: overlongs, surrogates, truncations, out-of-range', () => {
    const cases: Array<[number[], string]> = [
      [[0xc0, 0xaf], '%C0%AF'],
      [[0xed, 0xa0, 0x80], '%ED%A0%80'],
      [[0xe2, 0x82], '%E2%82'],
      [[0xf4, 0x90, 0x80, 0x80], '%F4%90%80%80'],
      [[0x25, 0xff, 0xc3, 0xa9], '%25%FF\u00e9'],
      [[0xf0, 0x9f, 0x98, 0x80, 0x80], '\u{1F600}%80'],
    ];
    for (const [bytes, expected] of cases) assert.equal(decodeUtf8Lossless(new Uint8Array(bytes)), expected);
    assert.equal(decodeUtf8Lossless(new TextEncoder().encode('100%')), '100%');
  });

  it('is lossless: escaped names decode back to their bytes (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), (bytes) => {
        const text = decodeUtf8Lossless(bytes);
        if (decodeUtf8Strict(bytes) === undefined) assert.deepEqual(unescapeName(text), bytes);
        else assert.equal(text, decodeUtf8Strict(bytes));
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
