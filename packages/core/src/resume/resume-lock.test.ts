import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readdir, readFile, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { tempDir } from '@tork/testkit';
import { lockResumeState } from './resume-lock.js';

const LOCK_URL = pathToFileURL(fileURLToPath(new URL('resume-lock.js', import.meta.url))).href;

// A child: waits for the common start instant (a busy wait, so that all reach the lock together),
// tries the lock, says what it got, and holds it until its stdin closes (10 s at most).
const CHILD = `
import { lockResumeState } from ${JSON.stringify(LOCK_URL)};
const [dir, hash, startAt] = process.argv.slice(1);
setTimeout(() => process.exit(0), 10_000);
process.stdin.on('end', () => process.exit(0)).resume();
while (Date.now() < Number(startAt));
const result = await lockResumeState(dir, hash);
process.stdout.write(('lock' in result ? 'lock' : 'held') + '\\n');
`;

/** Starts `count` processes that try the lock at one instant; resolves with what each got. */
async function race(dir: string, count: number): Promise<string[]> {
  const startAt = Date.now() + 600;
  const children = Array.from({ length: count }, () =>
    spawn(process.execPath, ['--input-type=module', '-e', CHILD, dir, HASH, String(startAt)], {
      stdio: ['pipe', 'pipe', 'inherit'],
    }),
  );
  try {
    return await Promise.all(
      children.map(
        (child) =>
          new Promise<string>((resolve, reject) => {
            let out = '';
            child.stdout.on('data', (chunk: Buffer) => {
              out += chunk.toString();
              if (out.includes('\n')) resolve(out.trim());
            });
            child.on('exit', (code) => reject(new Error(`child exited (${code}) before answering`)));
          }),
      ),
    );
  } finally {
    for (const child of children) child.stdin.end();
  }
}

const HASH = 'ab'.repeat(20);

describe('lockResumeState', () => {
  it('takes a free lock with our pid, and gives it back', async () => {
    const dir = await tempDir('tork-lock-');
    const result = await lockResumeState(join(dir, '.tork'), HASH);
    assert.ok('lock' in result);
    assert.equal((await readFile(result.lock.path, 'utf8')).trim(), String(process.pid));
    await result.lock.release();
    await assert.rejects(readFile(result.lock.path), { code: 'ENOENT' });
  });

  it('reports the live process holding it, and takes over from a dead one', async () => {
    const dir = await tempDir('tork-lock-');
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
  });

  it('processes starting at one instant: exactly one takes the lock', async () => {
    // The lock once appeared empty for a moment; a process reading it then took it for stale.
    for (let round = 0; round < 6; round++) {
      const dir = await tempDir('tork-lock-');
      const got = await race(dir, 6);
      assert.equal(got.filter((answer) => answer === 'lock').length, 1, `round ${round}: ${got.join(' ')}`);
      assert.deepEqual(await readdir(dir), [`${HASH}.lock`], 'no temp file left');
    }
  });

  it('an empty lock file is being made when new, stale when old', async () => {
    const dir = await tempDir('tork-lock-');
    const path = join(dir, `${HASH}.lock`);
    await writeFile(path, '');
    assert.deepEqual(await lockResumeState(dir, HASH), { heldBy: null });
    const old = new Date(Date.now() - 60_000);
    await utimes(path, old, old);
    assert.ok('lock' in (await lockResumeState(dir, HASH)), 'an old empty lock is taken over');
  });
});
