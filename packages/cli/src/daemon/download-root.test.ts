import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, join as joinPath } from 'node:path';
import { after, describe, it } from 'node:test';

/** A fresh directory, removed after the file's tests (the CLI package does not depend on the test kit). */
async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(joinPath(tmpdir(), prefix));
  after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

import { DownloadRoot } from './download-root.js';

describe('DownloadRoot', () => {
  it('accepts paths inside the root, existing or not', async () => {
    const root = await tempDir('tork-root-');
    await mkdir(join(root, 'a'));
    const check = new DownloadRoot(root);
    assert.equal(await check.check(root, 'dir'), root);
    assert.equal(
      await check.check(join(root, 'a', 'new', 'deeper'), 'dir'),
      join(root, 'a', 'new', 'deeper'),
    );
    assert.equal(await check.check(join(root, 'a', '..', 'b'), 'dir'), join(root, 'b'));
  });

  it('refuses .., absolute paths elsewhere, sibling prefixes, links out of the root and NUL bytes', async () => {
    const base = await tempDir('tork-root-');
    const root = join(base, 'root');
    await mkdir(join(root, 'in'), { recursive: true });
    await symlink(base, join(root, 'out-link'));
    const check = new DownloadRoot(root);
    for (const path of [
      join(root, '..'),
      '/etc',
      `${root}-sibling`,
      join(root, 'out-link', 'x'),
      join(root, 'out-link'),
    ])
      await assert.rejects(check.check(path, 'dir'), { code: 'TORK_ERR_API_FORBIDDEN' }, path);
    await assert.rejects(check.check(`${root}/a\0b`, 'dir'), { code: 'TORK_ERR_API_BAD_REQUEST' });
  });

  it('without a root, any path goes (resolved)', async () => {
    assert.equal(await new DownloadRoot(undefined).check('/tmp/../etc', 'dir'), '/etc');
  });
});
