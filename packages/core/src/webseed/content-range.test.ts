import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseContentRange } from './content-range.js';

describe('parseContentRange', () => {
  it('parses bytes START-END/TOTAL and /*', () => {
    assert.deepEqual(parseContentRange('bytes 0-99/1234'), { start: 0, end: 99, total: 1234 });
    assert.deepEqual(parseContentRange('bytes 10-10/*'), { start: 10, end: 10, total: null });
    assert.deepEqual(parseContentRange('Bytes  5-9/10 '), { start: 5, end: 9, total: 10 });
  });

  it('refuses missing, malformed, other units and inconsistent ranges', () => {
    for (const bad of [
      undefined,
      '',
      'bytes */1234',
      'bytes 5-4/10',
      'bytes 0-10/10',
      'items 0-1/2',
      'bytes 0-1',
      'bytes -1-2/3',
      'bytes 0-99999999999999999/*',
    ])
      assert.equal(parseContentRange(bad), undefined, String(bad));
  });
});
