import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseRange } from './http-range.js';

describe('parseRange', () => {
  it('reads the three forms, clamps the end, answers the first of a list', () => {
    assert.deepEqual(parseRange(undefined, 100), { kind: 'whole' });
    assert.deepEqual(parseRange('bytes=0-9', 100), { kind: 'partial', start: 0, end: 9 });
    assert.deepEqual(parseRange('bytes=90-', 100), { kind: 'partial', start: 90, end: 99 });
    assert.deepEqual(parseRange('bytes=-10', 100), { kind: 'partial', start: 90, end: 99 });
    assert.deepEqual(parseRange('bytes=-500', 100), { kind: 'partial', start: 0, end: 99 });
    assert.deepEqual(parseRange('bytes=50-5000', 100), { kind: 'partial', start: 50, end: 99 });
    assert.deepEqual(parseRange('Bytes = 3 - 4', 100), { kind: 'partial', start: 3, end: 4 });
    assert.deepEqual(parseRange('bytes=1-2, 5-6', 100), { kind: 'partial', start: 1, end: 2 });
  });

  it('416 for ranges past the end, a zero suffix or an empty file', () => {
    assert.deepEqual(parseRange('bytes=100-', 100), { kind: 'unsatisfiable' });
    assert.deepEqual(parseRange('bytes=100-200', 100), { kind: 'unsatisfiable' });
    assert.deepEqual(parseRange('bytes=-0', 100), { kind: 'unsatisfiable' });
    assert.deepEqual(parseRange('bytes=0-', 0), { kind: 'unsatisfiable' });
    assert.deepEqual(parseRange('bytes=-5', 0), { kind: 'unsatisfiable' });
    assert.deepEqual(parseRange('bytes=99999999999999999999-', 100), { kind: 'unsatisfiable' });
  });

  it('ignores what does not parse (the whole file, as RFC 9110 allows)', () => {
    for (const header of [
      '',
      'bytes',
      'bytes=',
      'bytes=-',
      'bytes=5-3',
      'items=0-1',
      'bytes=a-b',
      'bytes=1-2-3',
      'bytes=0x10-',
    ])
      assert.deepEqual(parseRange(header, 100), { kind: 'whole' }, header);
  });
});
