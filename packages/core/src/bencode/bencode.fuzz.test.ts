/**
 * Fuzz properties of the validating bencode scanner: any bytes → a value or one TorkError
 * TORK_ERR_BENCODE (never a RangeError, never another exception), and the caps always hold.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { TorkError, TorkErrorCode } from '../errors.js';
import { decodeBencode, encodeBencode, findTopLevelSpan } from './bencode.js';

/** Cases per property: 10,000 in CI; a nightly run sets TORK_FUZZ_RUNS=200000. */
const RUNS = Number(process.env.TORK_FUZZ_RUNS ?? 10_000);

const ascii = new TextEncoder();

/** Runs `f`; returns its value, or undefined after checking that it threw a TorkError of `code`. */
function valueOrTorkError<T>(f: () => T, code: string = TorkErrorCode.BENCODE): T | undefined {
  try {
    return f();
  } catch (error) {
    assert.ok(error instanceof TorkError, `not a TorkError: ${String(error)}`);
    assert.equal(error.code, code, error.message);
    return undefined;
  }
}

/** Token soup: mostly bencode syntax, so that the scanner gets deep, plus some noise. */
const token = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.constantFrom('l', 'd', 'e', 'i', ':', '-', '0', '1', '9', 'ie', 'i0e', 'i-0e', 'i01e'),
  },
  { weight: 2, arbitrary: fc.nat({ max: 12 }).map((n) => `${n}:${'x'.repeat(n)}`) },
  { weight: 1, arbitrary: fc.nat({ max: 40 }).map((n) => `${n}:`) },
  { weight: 1, arbitrary: fc.bigInt({ min: -(10n ** 22n), max: 10n ** 22n }).map((n) => `i${n}e`) },
  { weight: 1, arbitrary: fc.constantFrom('4:name', '4:info', '9:__proto__', '11:constructor', '1:\xff') },
  { weight: 1, arbitrary: fc.string({ maxLength: 3 }) },
);
const tokenSoup = fc.array(token, { maxLength: 40 }).map((tokens) => ascii.encode(tokens.join('')));

/** Well-formed values (for round trips and caps). */
const value = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.integer({ min: -(2 ** 40), max: 2 ** 40 }),
    fc.uint8Array({ maxLength: 12 }),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(fc.string({ unit: 'grapheme-ascii', maxLength: 6 }), tie('value'), { maxKeys: 4 }),
  ),
})).value;

function depthOf(bytes: Uint8Array): number {
  let depth = 0;
  let max = 0;
  for (let at = 0; at < bytes.length; ) {
    const c = bytes[at]!;
    if (c === 0x6c || c === 0x64) {
      depth++;
      max = Math.max(max, depth);
      at++;
    } else if (c === 0x65) {
      depth--;
      at++;
    } else if (c === 0x69) {
      at = bytes.indexOf(0x65, at) + 1;
    } else {
      const colon = bytes.indexOf(0x3a, at);
      at = colon + 1 + Number(Buffer.from(bytes.subarray(at, colon)).toString('latin1'));
    }
  }
  return max;
}

describe('decodeBencode (fuzz)', () => {
  it('random bytes: a value or TORK_ERR_BENCODE', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        valueOrTorkError(() => decodeBencode(bytes));
        valueOrTorkError(() => findTopLevelSpan(bytes, 'info'));
      }),
      { numRuns: RUNS },
    );
  });

  it('bencode token soup: a value or TORK_ERR_BENCODE, and an accepted value re-encodes to a valid input', () => {
    fc.assert(
      fc.property(tokenSoup, (bytes) => {
        const decoded = valueOrTorkError(() => decodeBencode(bytes));
        const span = valueOrTorkError(() => findTopLevelSpan(bytes, 'info'));
        if (span !== undefined) {
          assert.ok(span.start >= 0 && span.start < span.end && span.end <= bytes.length);
          valueOrTorkError(() => decodeBencode(bytes.subarray(span.start, span.end)));
        }
        if (decoded !== undefined) {
          // Whatever the scanner lets through is something the encoder can write back.
          valueOrTorkError(() => decodeBencode(encodeBencode(decoded)));
        }
      }),
      { numRuns: RUNS },
    );
  });

  it('well-formed values round-trip; truncations and appended bytes are refused', () => {
    fc.assert(
      fc.property(value, fc.nat(), fc.uint8Array({ minLength: 1, maxLength: 4 }), (v, cutSeed, extra) => {
        const bytes = encodeBencode(v);
        assert.deepEqual(encodeBencode(decodeBencode(bytes)), bytes);
        const cut = cutSeed % bytes.length;
        assert.throws(() => decodeBencode(bytes.subarray(0, cut)), { code: TorkErrorCode.BENCODE });
        assert.throws(() => decodeBencode(new Uint8Array([...bytes, ...extra])), {
          code: TorkErrorCode.BENCODE,
        });
      }),
      { numRuns: RUNS },
    );
  });

  it('caps: input over maxBytes or nesting over maxDepth is refused, never decoded', () => {
    fc.assert(
      fc.property(
        value,
        fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 0, max: 200 }),
        fc.constantFrom('l', 'd'),
        (v, maxDepth, extraDepth, opener) => {
          const bytes = encodeBencode(v);
          const depth = depthOf(bytes);
          const maxBytes = Math.max(1, bytes.length - 1);
          assert.throws(() => decodeBencode(bytes, { maxBytes }), { code: TorkErrorCode.BENCODE });
          const result = valueOrTorkError(() => decodeBencode(bytes, { maxDepth }));
          assert.equal(result !== undefined, depth <= maxDepth, `depth ${depth}, maxDepth ${maxDepth}`);
          // Deep nesting of lists (or dicts with a key) is refused at the cap, without recursion.
          const levels = maxDepth + 1 + extraDepth;
          const open = opener === 'l' ? 'l' : 'd1:k';
          const deep = ascii.encode(`${open.repeat(levels)}i0e${'e'.repeat(levels)}`);
          assert.throws(() => decodeBencode(deep, { maxDepth }), { code: TorkErrorCode.BENCODE });
        },
      ),
      { numRuns: RUNS },
    );
  });
});
