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

  it('processes taking over one stale lock at one instant: exactly one takes it', async () => {
    // Each read the dead pid, removed the lock and made its own: a later one removed the lock an
    // earlier one had just made, and both held it.
    for (let round = 0; round < 6; round++) {
      const dir = await tempDir('tork-lock-');
      const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
      await writeFile(join(dir, `${HASH}.lock`), `${dead}\n`);
      const got = await race(dir, 6);
      assert.equal(got.filter((answer) => answer === 'lock').length, 1, `round ${round}: ${got.join(' ')}`);
      assert.deepEqual(await readdir(dir), [`${HASH}.lock`], 'no temp or takeover file left');
    }
  });

  it("a takeover marker left by a dead process, and dead processes' temp files, are cleared", async () => {
    const dir = await tempDir('tork-lock-');
    const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
    await writeFile(join(dir, `${HASH}.lock`), `${dead}\n`);
    await writeFile(join(dir, `${HASH}.lock.takeover`), `${dead}\n`);
    const deadTemp = `${HASH}.lock.${dead}-0badc0de.tmp`;
    const deadMarkerTemp = `${HASH}.lock.takeover.${dead}-0badc0de.tmp`;
    // The test runner that started us is alive: its temp file may be in use.
    const liveTemp = `${HASH}.lock.${process.ppid}-0badc0de.tmp`;
    for (const name of [deadTemp, deadMarkerTemp, liveTemp]) await writeFile(join(dir, name), '');
    const result = await lockResumeState(dir, HASH);
    assert.ok('lock' in result, "taken over past the dead maker's marker");
    assert.deepEqual((await readdir(dir)).sort(), [`${HASH}.lock`, liveTemp].sort());
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
