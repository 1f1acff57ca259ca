import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { Bitfield } from '../bitfield.js';
import { findCommon, findFirstCommon, forEachSet, wordsOf } from './bit-scan.js';
import { createRng } from './rng.js';

function field(length: number, indices: Iterable<number>): Bitfield {
  const bits = new Bitfield(length);
  for (const i of indices) bits.set(i);
  return bits;
}

describe('bit-scan', () => {
  it('findFirstCommon returns the lowest common accepted piece from fromIndex, -1 when none', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 300 }),
        fc.array(fc.nat(), { maxLength: 80 }),
        fc.array(fc.nat(), { maxLength: 80 }),
        fc.nat(),
        (length, rawA, rawB, rawFrom) => {
          const a = field(
            length,
            rawA.map((x) => x % length),
          );
          const b = field(
            length,
            rawB.map((x) => x % length),
          );
          const from = rawFrom % (length + 2);
          const common = [...a.indices()].filter((i) => b.has(i) && i >= from);
          assert.equal(findFirstCommon(a, wordsOf(a), b, wordsOf(b), from), common[0] ?? -1);
          const odd = (i: number) => i % 2 === 1;
          assert.equal(findFirstCommon(a, wordsOf(a), b, wordsOf(b), from, odd), common.find(odd) ?? -1);
        },
      ),
    );
  });

  it('findFirstCommon skips empty words and finds a piece in the tail bytes', () => {
    const a = field(70, [3, 40, 69]);
    const b = field(70, [40, 69]);
    assert.equal(findFirstCommon(a, wordsOf(a), b, wordsOf(b), 0), 40);
    assert.equal(findFirstCommon(a, wordsOf(a), b, wordsOf(b), 41), 69);
    assert.equal(findFirstCommon(a, wordsOf(a), b, wordsOf(b), 70), -1);
  });

  it('findCommon returns only common pieces accepted by the filter, -1 when none', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 200 }),
        fc.array(fc.nat(), { maxLength: 60 }),
        fc.array(fc.nat(), { maxLength: 60 }),
        fc.integer(),
        (length, rawA, rawB, seed) => {
          const a = field(
            length,
            rawA.map((x) => x % length),
          );
          const b = field(
            length,
            rawB.map((x) => x % length),
          );
          const common = [...a.indices()].filter((i) => b.has(i));
          const odd = (i: number) => i % 2 === 1;
          const rng = createRng(seed);
          const found = findCommon(a, wordsOf(a), b, wordsOf(b), rng);
          if (common.length === 0) assert.equal(found, -1);
          else assert.ok(common.includes(found));
          const foundOdd = findCommon(a, wordsOf(a), b, wordsOf(b), rng, odd);
          if (common.some(odd)) assert.ok(common.includes(foundOdd) && odd(foundOdd));
          else assert.equal(foundOdd, -1);
        },
      ),
    );
  });

  it('finds pieces in the tail bytes past the last whole word, and every common piece over seeds', () => {
    const length = 8 * 4 * 3 + 13; // three words and two tail bytes
    const a = field(length, [0, 31, 32, 95, 96, 107]);
    const b = field(length, [31, 96, 107, 50]);
    const seen = new Set<number>();
    for (let seed = 0; seed < 200; seed++) {
      seen.add(findCommon(a, wordsOf(a), b, wordsOf(b), createRng(seed)));
    }
    assert.deepEqual(
      [...seen].sort((x, y) => x - y),
      [31, 96, 107],
    );
  });

  it('forEachSet visits set pieces in order', () => {
    const indices = [0, 7, 8, 63, 64, 99];
    const seen: number[] = [];
    forEachSet(field(100, indices), (i) => seen.push(i));
    assert.deepEqual(seen, indices);
  });
});
