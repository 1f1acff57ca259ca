import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isTorkError, TorkErrorCode } from '../errors.js';
import { FileLayout } from '../metainfo/file-layout.js';
import { piecePriorities, selectionBytes, selectOnlyPriorities } from './file-priorities.js';
import { compileGlob, MAX_GLOB_LENGTH } from './path-glob.js';
import { MAX_SELECT_ITEMS, parseSelectList } from './select-list.js';

const usage = (error: unknown) => isTorkError(error) && error.code === TorkErrorCode.USAGE;

describe('--select lists', () => {
  it('parses indices and ranges, sorted and unique', () => {
    assert.deepEqual(parseSelectList('0,3-5', 10), [0, 3, 4, 5]);
    assert.deepEqual(parseSelectList(' 5 , 1-2,2', 10), [1, 2, 5]);
    assert.deepEqual(parseSelectList('9', 10), [9]);
  });

  it('refuses bad input with TORK_ERR_USAGE and a clear message', () => {
    for (const bad of ['', ' ', '1,,2', 'a', '-1', '1-', '3-1', '+2', '1.5', '0x1']) {
      assert.throws(() => parseSelectList(bad, 10), usage, JSON.stringify(bad));
    }
    assert.throws(() => parseSelectList('10', 10), /out of range.*10 files, 0\.\.9/);
    assert.throws(() => parseSelectList('2-40', 10), /out of range/);
    assert.throws(
      () =>
        parseSelectList(
          Array(MAX_SELECT_ITEMS + 1)
            .fill('1')
            .join(','),
          10,
        ),
      usage,
    );
  });
});

describe('--select-glob patterns', () => {
  it('matches * and ? within a name and ** across directories', () => {
    const season = compileGlob('Season 2/**');
    assert.equal(season('Season 2/e01.mkv'), true);
    assert.equal(season('Season 2/extras/a.mkv'), true);
    assert.equal(season('Season 20/e01.mkv'), false);
    assert.equal(season('Season 1/e01.mkv'), false);
    const mkv = compileGlob('**/*.mkv');
    assert.equal(mkv('a.mkv'), true);
    assert.equal(mkv('x/y/a.mkv'), true);
    assert.equal(mkv('x/a.mkv.part'), false);
    const one = compileGlob('dir?/file-*.bin');
    assert.equal(one('dir1/file-001.bin'), true);
    assert.equal(one('dir1/sub/file-001.bin'), false);
    assert.equal(compileGlob('a\\*b')('a*b'), true);
    assert.equal(compileGlob('a\\*b')('axb'), false);
    assert.equal(compileGlob('(x)+[y].txt')('(x)+[y].txt'), true, 'regex characters are literal');
  });

  it('refuses empty and overlong patterns', () => {
    assert.throws(() => compileGlob(''), usage);
    assert.throws(() => compileGlob('a'.repeat(MAX_GLOB_LENGTH + 1)), usage);
  });
});

describe('file priorities → piece priorities', () => {
  // Files 0..3: 1,500 + 0 + 700 + 2,300 bytes, pieces of 1,024: piece 1 spans files 0 and 2.
  const layout = new FileLayout(
    [
      { length: 1500, pad: false },
      { length: 0, pad: false },
      { length: 700, pad: false },
      { length: 2300, pad: false },
    ],
    1024,
  );

  it('a piece takes the highest priority of its files; skipped-only pieces are 0', () => {
    assert.deepEqual([...piecePriorities(layout, ['skip', 'high', 'low', 'skip'])], [0, 1, 1, 0, 0]);
    assert.deepEqual([...piecePriorities(layout, ['high', 'skip', 'low', 'normal'])], [3, 3, 2, 2, 2]);
    assert.throws(() => piecePriorities(layout, ['skip']), usage);
  });

  it('counts selected and skipped bytes; so= selects listed files, ignoring indices beyond the torrent', () => {
    assert.deepEqual(selectionBytes(layout, ['skip', 'normal', 'normal', 'skip']), {
      selected: 700,
      skipped: 3800,
    });
    assert.deepEqual(selectOnlyPriorities([0, 3, 99], 4), ['normal', 'skip', 'skip', 'normal']);
    assert.equal(selectOnlyPriorities([], 4), undefined);
    assert.equal(selectOnlyPriorities(undefined, 4), undefined);
    assert.equal(selectOnlyPriorities([7, 9], 4), undefined, 'no index in range: every file');
  });
});
