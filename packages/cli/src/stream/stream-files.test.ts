import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DiskLayout } from '@tork/core';
import { contentType, fileUrlPath, findFile, streamFiles } from './stream-files.js';

const layout: DiskLayout = {
  name: 'show',
  isMultiFile: true,
  pieceLength: 16,
  length: 100,
  files: [
    { path: ['a', 'movie.mkv'], length: 40, pad: false },
    { path: ['.pad', '8'], length: 8, pad: true },
    { path: ['notes 100%.txt'], length: 52, pad: false },
    { path: ['empty'], length: 0, pad: false },
  ],
};

describe('stream files', () => {
  const files = streamFiles(layout);
  const byPath = new Map(files.map((file) => [file.path, file]));
  const lookup = (url: string) => {
    const found = findFile(files, byPath, url);
    return 'file' in found ? found.file.index : found.error;
  };

  it('lists the files as tork info does (numbered by metainfo index, pads counted but left out), with their payload offsets', () => {
    assert.deepEqual(
      files.map(({ index, layoutIndex, path, offset }) => [index, layoutIndex, path, offset]),
      [
        [0, 0, 'a/movie.mkv', 0],
        [2, 2, 'notes 100%.txt', 48],
        [3, 3, 'empty', 100],
      ],
    );
  });

  it('finds a file by number or by its exact path, percent-decoded', () => {
    assert.equal(lookup('/0'), 0);
    assert.equal(lookup('/3?t=1'), 3);
    assert.equal(lookup('/a/movie.mkv'), 0);
    assert.equal(lookup('/a%2Fmovie.mkv'), 0, 'an encoded slash is just a slash in an exact match');
    assert.equal(lookup('/notes%20100%25.txt'), 2);
    assert.equal(lookup(fileUrlPath(files[1]!)), 2);
    assert.equal(lookup('/1'), 'missing', 'a pad file has a number but is never served');
    assert.equal(lookup('/4'), 'missing');
    assert.equal(lookup('/01'), 'missing');
  });

  it('hostile paths reach nothing: 404 or 400, never a lookup outside the list', () => {
    for (const url of [
      '/../../etc/passwd',
      '/%2e%2e/%2e%2e/etc/passwd',
      '/a/../a/movie.mkv',
      '//etc/passwd',
      '/%2Fetc%2Fpasswd',
      '/show/a/movie.mkv',
      '/.pad/8',
      '/a\\movie.mkv',
    ])
      assert.equal(lookup(url), 'missing', url);
    for (const url of ['/a%00', '/%zz', '/%', 'a/movie.mkv', '/notes%E2%28.txt'])
      assert.equal(lookup(url), 'bad', url);
  });

  it('content types by extension; nothing a browser would run', () => {
    assert.equal(contentType('a/movie.mkv'), 'video/x-matroska');
    assert.equal(contentType('X.MP4'), 'video/mp4');
    assert.equal(contentType('page.html'), 'application/octet-stream');
    assert.equal(contentType('x.svg'), 'application/octet-stream');
    assert.equal(contentType('dir.mp4/file'), 'application/octet-stream');
  });
});
