import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { TorkError, TorkErrorCode } from '../errors.js';
import { decodeBencode, encodeBencode, findTopLevelSpan } from './bencode.js';

const text = (s: string): Uint8Array => new TextEncoder().encode(s);

function assertBencodeError(fn: () => unknown, pattern?: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof TorkError, `expected TorkError, got ${String(error)}`);
    assert.equal(error.code, TorkErrorCode.BENCODE);
    if (pattern) assert.match(error.message, pattern);
    return true;
  });
}

describe('decodeBencode', () => {
  it('decodes every type', () => {
    const value = decodeBencode(text('d3:agei-42e4:listli1e3:abce4:name4:torke')) as Record<string, unknown>;
    assert.equal(value.age, -42);
    assert.deepEqual(value.list, [1, text('abc')]);
    assert.deepEqual(value.name, text('tork'));
  });

  it('round-trips with encodeBencode', () => {
    const bytes = encodeBencode({ b: [1, 2, { c: text('x') }], a: text('') });
    assert.deepEqual(Buffer.from(bytes).toString(), 'd1:a0:1:bli1ei2ed1:c1:xeee');
    assert.deepEqual(decodeBencode(bytes), { a: text(''), b: [1, 2, { c: text('x') }] });
  });

  it('refuses what the bencode package would silently accept', () => {
    assertBencodeError(() => decodeBencode(text('i1ei2e')), /trailing/);
    assertBencodeError(() => decodeBencode(text('i01e')), /leading zero/);
    assertBencodeError(() => decodeBencode(text('i-0e')), /negative zero/);
    assertBencodeError(() => decodeBencode(text('ie')), /without digits/);
    assertBencodeError(() => decodeBencode(text('i1.5e')), /expected 'e'/);
    assertBencodeError(() => decodeBencode(text('03:abc')), /leading zero/);
    assertBencodeError(() => decodeBencode(text('d1:ai1e1:ai2ee')), /duplicate/);
    assertBencodeError(() => decodeBencode(text('d9:__proto__d4:infoi1eee')), /__proto__/);
    assertBencodeError(() => decodeBencode(text('di1ei2ee')), /string length/);
    assertBencodeError(() => decodeBencode(text('d1:ae')), /key without a value/);
    assertBencodeError(() => decodeBencode(text(`i${'9'.repeat(21)}e`)), /digits/);
    assertBencodeError(() => decodeBencode(text('')), /empty/);
  });

  it('refuses truncated input at every cut point', () => {
    const full = text('d4:infod6:lengthi12345e4:name3:abce5:piecel1:x1:yee');
    for (let cut = 0; cut < full.length; cut++) {
      assertBencodeError(() => decodeBencode(full.subarray(0, cut)));
    }
  });

  it('refuses 100,000 nested lists without recursing', () => {
    const deep = text(`${'l'.repeat(100_000)}${'e'.repeat(100_000)}`);
    assertBencodeError(() => decodeBencode(deep), /nesting deeper than 64/);
    assert.deepEqual(decodeBencode(text('lllleeee')), [[[[]]]]);
    assertBencodeError(() => decodeBencode(text('lllleeee'), { maxDepth: 3 }), /nesting/);
  });

  it('refuses input over maxBytes before scanning', () => {
    assertBencodeError(() => decodeBencode(text('4:abcd'), { maxBytes: 5 }), /exceeds 5/);
  });

  it('refuses a string length beyond the input without allocating it', () => {
    assertBencodeError(() => decodeBencode(text('99999999999999999999:x')), /beyond the end/);
  });

  it('only ever throws TorkError on random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        try {
          decodeBencode(bytes);
        } catch (error) {
          return error instanceof TorkError && error.code === TorkErrorCode.BENCODE;
        }
        return true;
      }),
      { numRuns: 10_000 },
    );
  });

  it('only ever throws TorkError on bencode-shaped noise', () => {
    const token = fc.constantFrom(
      'd',
      'l',
      'e',
      'i',
      '-',
      '0',
      '1',
      '9',
      ':',
      '3:abc',
      'i12e',
      '1:a',
      '__proto__',
    );
    fc.assert(
      fc.property(fc.array(token, { maxLength: 60 }), (tokens) => {
        try {
          decodeBencode(text(tokens.join('')));
        } catch (error) {
          return error instanceof TorkError && error.code === TorkErrorCode.BENCODE;
        }
        return true;
      }),
      { numRuns: 10_000 },
    );
  });
});

describe('findTopLevelSpan', () => {
  it('finds the exact bytes of a value, keys in any order', () => {
    const bytes = text('d8:announce3:url4:infod6:lengthi1e4:name1:ae1:zi0ee');
    const span = findTopLevelSpan(bytes, 'info');
    assert.ok(span);
    assert.equal(Buffer.from(bytes.subarray(span.start, span.end)).toString(), 'd6:lengthi1e4:name1:ae');
    assert.equal(findTopLevelSpan(bytes, 'missing'), undefined);
    assert.equal(findTopLevelSpan(text('li1ee'), 'info'), undefined);
  });

  it('validates the whole input', () => {
    assertBencodeError(() => findTopLevelSpan(text('d4:infoi1eejunk'), 'info'), /trailing/);
  });
});
