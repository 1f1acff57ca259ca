import assert from 'node:assert/strict';
import { link, mkdir, readdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { tempDir } from '@tork/testkit';
import { TorkError, TorkErrorCode } from '../errors.js';
import { nodeDiskFs } from './disk-fs.js';
import { DiskWriter } from './disk-writer.js';
import { isInside, SafeTree } from './safe-tree.js';

describe('SafeTree', () => {
  it('isInside compares resolved paths, not prefixes', () => {
    assert.equal(isInside('/out', '/out'), true);
    assert.equal(isInside('/out', '/out/a/b'), true);
    assert.equal(isInside('/out', '/outside'), false);
    assert.equal(isInside('/out', '/'), false);
    assert.equal(isInside('/out', '/out/../etc'), false);
    assert.equal(isInside('/', '/etc'), true);
    assert.equal(isInside('/out', '/out/..foo'), true);
  });

  it('accepts an output root that is itself a symlink (the user chose it) and resolves it', async () => {
    const base = await tempDir();
    await mkdir(join(base, 'real'));
    await symlink(join(base, 'real'), join(base, 'link'));
    const tree = await SafeTree.open(nodeDiskFs, join(base, 'link'));
    assert.equal(tree.root, join(base, 'real'));
    const dir = await tree.directory(['a', 'b']);
    assert.equal(dir, join(base, 'real', 'a', 'b'));
    // Concurrent requests for one directory share a single check.
    const same = await Promise.all([tree.directory(['a', 'c']), tree.directory(['a', 'c'])]);
    assert.equal(same[0], same[1]);
    assert.deepEqual((await readdir(join(base, 'real', 'a'))).sort(), ['b', 'c']);
    await assert.rejects(
      tree.directory(['..']),
      (error: unknown) => error instanceof TorkError && error.code === TorkErrorCode.UNSAFE_PATH,
    );
  });

  it('refuses two torrent files that are one file on disk (a hard link)', async () => {
    const out = await tempDir();
    await mkdir(join(out, 'tor'));
    await writeFile(join(out, 'tor', 'a'), 'shared');
    await link(join(out, 'tor', 'a'), join(out, 'tor', 'b'));
    const layout = {
      name: 'tor',
      isMultiFile: true,
      pieceLength: 8,
      length: 12,
      files: [
        { path: ['a'], length: 6, pad: false },
        { path: ['b'], length: 6, pad: false },
      ],
    };
    await assert.rejects(
      DiskWriter.open({ root: out, layout }),
      (error: unknown) => error instanceof TorkError && error.code === TorkErrorCode.UNSAFE_PATH,
    );
  });
});
