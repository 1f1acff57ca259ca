import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { TorkError, TorkErrorCode } from '../errors.js';
import {
  checkPathComponent,
  checkPathConflicts,
  checkRelativePath,
  outputComponents,
  outputPath,
  resolveInside,
  unsafeComponentReason,
} from './safe-path.js';

function assertUnsafe(fn: () => unknown, pattern?: RegExp): TorkError {
  let caught: TorkError | undefined;
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof TorkError, `expected TorkError, got ${String(error)}`);
    assert.equal(error.code, TorkErrorCode.UNSAFE_PATH);
    if (pattern) assert.match(error.message, pattern);
    caught = error;
    return true;
  });
  return caught!;
}

describe('checkPathComponent', () => {
  it('refuses every traversal form and names the component and the file', () => {
    const bad = [
      '..',
      '.',
      '',
      '/etc/passwd',
      '/',
      'a/b',
      'a\\b',
      '\\',
      'a\0',
      'C:',
      'c:\\x',
      'Z:foo',
      'x'.repeat(256),
    ];
    for (const component of bad) {
      assert.notEqual(unsafeComponentReason(component), undefined, JSON.stringify(component));
      const error = assertUnsafe(() =>
        checkPathComponent(component, { fileIndex: 7, field: 'info.files[7].path' }),
      );
      assert.match(error.message, /^file 7, info\.files\[7\]\.path: path component /);
      assert.equal(error.details.fileIndex, 7);
    }
  });

  it('accepts plain names, including ones that only look odd', () => {
    for (const component of [
      'a',
      '..a',
      'a..',
      '...',
      '.a',
      'a b',
      'ab:c',
      '1:',
      'ü'.repeat(127),
      'x'.repeat(255),
    ]) {
      assert.equal(unsafeComponentReason(component), undefined, component);
    }
  });

  it('counts the length in UTF-8 bytes', () => {
    assert.match(unsafeComponentReason('é'.repeat(128)) ?? '', /256 bytes long/);
    assert.equal(unsafeComponentReason('é'.repeat(127)), undefined);
  });

  it('escapes control characters in messages', () => {
    const error = assertUnsafe(() => checkPathComponent('a\0\n/b'));
    assert.doesNotMatch(error.message, /[\0\n]/);
  });
});

describe('checkRelativePath', () => {
  it('refuses an empty path and a path deeper than the limit', () => {
    assertUnsafe(() => checkRelativePath([]), /path is empty/);
    assertUnsafe(() => checkRelativePath(['a', 'b', 'c'], {}, 2), /3 components \(at most 2\)/);
    checkRelativePath(['a', 'b'], {}, 2);
  });
});

describe('resolveInside', () => {
  const root = path.resolve('/tmp/tork-out');

  it('joins components under the root', () => {
    assert.equal(resolveInside(root, ['name', 'dir', 'file']), path.join(root, 'name', 'dir', 'file'));
    assert.equal(resolveInside('relative/dir', ['f']), path.resolve('relative/dir', 'f'));
    assert.equal(resolveInside('/', ['etc-not']), '/etc-not');
  });

  it('refuses anything that is not strictly inside the root', () => {
    assertUnsafe(() => resolveInside(root, []));
    assertUnsafe(() => resolveInside(root, ['..']));
    assertUnsafe(() => resolveInside(root, ['a', '..', '..', 'b']));
    assertUnsafe(() => resolveInside(root, ['/etc/passwd']));
    assertUnsafe(() => resolveInside(root, ['.']));
    assertUnsafe(() => resolveInside(root, ['a/../../b']));
  });

  it('never resolves outside the root, whatever the components (property)', () => {
    const component = fc.oneof(
      fc.constantFrom('..', '.', '', '/', '\\', 'C:', '/etc', 'a/..', '..\\..', '\0'),
      fc.string({ maxLength: 12 }),
    );
    fc.assert(
      fc.property(fc.array(component, { maxLength: 6 }), (components) => {
        try {
          const full = resolveInside(root, components);
          assert.ok(full.startsWith(root + path.sep), full);
          assert.ok(!path.relative(root, full).split(path.sep).includes('..'));
        } catch (error) {
          assert.ok(error instanceof TorkError && error.code === TorkErrorCode.UNSAFE_PATH, String(error));
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('outputPath', () => {
  const files = [{ path: ['sub', 'a.txt'] }, { path: ['b.txt'] }];
  it('puts multi-file torrents under <out>/<name>/ and single files at <out>/<name>', () => {
    assert.deepEqual(outputComponents({ name: 'album', isMultiFile: true, files }, 0), [
      'album',
      'sub',
      'a.txt',
    ]);
    assert.equal(
      outputPath('/out', { name: 'album', isMultiFile: true, files }, 1),
      path.resolve('/out/album/b.txt'),
    );
    assert.equal(
      outputPath('/out', { name: 'one.iso', isMultiFile: false, files: [{ path: ['one.iso'] }] }, 0),
      '/out/one.iso',
    );
  });

  it('refuses a file index outside the torrent', () => {
    assert.throws(
      () => outputComponents({ name: 'x', isMultiFile: true, files }, 2),
      (error: unknown) => error instanceof TorkError && error.code === TorkErrorCode.OUT_OF_RANGE,
    );
  });
});

describe('checkPathConflicts', () => {
  const entries = (...paths: string[]) => paths.map((p) => ({ path: p.split('/') }));

  it('accepts distinct files and shared directories', () => {
    checkPathConflicts(entries('a/b', 'a/c', 'a/d/e', 'b', 'ab/c'));
  });

  it('refuses duplicates', () => {
    const error = assertUnsafe(
      () => checkPathConflicts(entries('x', 'a/b', 'a/b')),
      /"a\/b" is also the path of file 1/,
    );
    assert.equal(error.details.fileIndex, 2);
  });

  it('refuses a file in the way of a directory, in either order', () => {
    assertUnsafe(
      () => checkPathConflicts(entries('a', 'a/b')),
      /file 0 "a" is in the way of directory "a" of file 1/,
    );
    assertUnsafe(() => checkPathConflicts(entries('a/b/c', 'a/b')), /file 1 "a\/b" is in the way/);
  });

  it('ignores skipped (pad) files', () => {
    checkPathConflicts([
      { path: ['.pad', '100'], skip: true },
      { path: ['.pad', '100'], skip: true },
      { path: ['.pad'], skip: true },
      { path: ['real'] },
    ]);
  });

  it('compares names exactly', () => {
    checkPathConflicts(entries('A', 'a', 'é', 'e\u0301'));
  });
});
