import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { lockResumeState } from './resume-lock.js';

const HASH = 'ab'.repeat(20);

describe('lockResumeState', () => {
  it('takes a free lock with our pid, and gives it back', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tork-lock-'));
    try {
      const result = await lockResumeState(join(dir, '.tork'), HASH);
      assert.ok('lock' in result);
      assert.equal((await readFile(result.lock.path, 'utf8')).trim(), String(process.pid));
      await result.lock.release();
      await assert.rejects(readFile(result.lock.path), { code: 'ENOENT' });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('reports the live process holding it, and takes over from a dead one', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tork-lock-'));
    try {
      const path = join(dir, `${HASH}.lock`);
      // The test runner that started us is alive and is not us.
      await writeFile(path, `${process.ppid}\n`);
      assert.deepEqual(await lockResumeState(dir, HASH), { heldBy: process.ppid });
      // A process that has exited: its lock is stale.
      const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
      await writeFile(path, `${dead}\n`);
      const taken = await lockResumeState(dir, HASH);
      assert.ok('lock' in taken, 'a stale lock is taken over');
      // Garbage in the lock file is stale too.
      await writeFile(path, 'not a pid');
      assert.ok('lock' in (await lockResumeState(dir, HASH)));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
