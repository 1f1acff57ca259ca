import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseMetainfo } from '@tork/core';
import { ABANDONED_BUILD_MS, type Dataset, ensureDataset } from './dataset.js';

const options = { size: 3 << 20, files: 6, pieceLength: 65_536, seed: 5 };

describe('ensureDataset', () => {
  let cache: string;
  before(async () => {
    cache = await mkdtemp(join(tmpdir(), 'tork-dataset-'));
  });
  after(() => rm(cache, { recursive: true, force: true }));

  it('made by two callers at once: one set, complete, and no half-made leftovers', async () => {
    const calls = [ensureDataset(cache, options), ensureDataset(cache, options)];
    // The first answer is checked before the other call is done: the files it names are whole.
    const a = await Promise.race(calls);
    const meta = parseMetainfo(await readFile(a.torrentPath));
    assert.equal(meta.length, options.size);
    for (const file of a.files)
      assert.equal(
        (await stat(join(a.dataDir, a.name, ...file.path))).size,
        file.length,
        file.path.join('/'),
      );
    const [first, second] = await Promise.all(calls);
    assert.deepEqual(first!.files, second!.files);
    assert.ok(first!.cached === false || second!.cached === false, 'one of them made it');
    assert.deepEqual(await readdir(cache), [a.name], 'only the set itself: no *.tmp left behind');
    const again = await ensureDataset(cache, options);
    assert.equal(again.cached, true);
  });

  it('made by another process at the same time: the set it reports is whole when it exits', async () => {
    const dir = join(cache, 'two-processes');
    const wanted = { size: 48 << 20, files: 8, pieceLength: 262_144, seed: 7 };
    const module = new URL('./dataset.js', import.meta.url).href;
    const child = spawn(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `const { ensureDataset } = await import(${JSON.stringify(module)});
         const set = await ensureDataset(${JSON.stringify(dir)}, ${JSON.stringify(wanted)});
         process.stdout.write(JSON.stringify(set));`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    child.stdout.on('data', (chunk) => {
      out += chunk;
    });
    const exited = once(child, 'exit');
    try {
      // Once the other process has started writing, this one makes the same set.
      const deadline = Date.now() + 20_000;
      while ((await readdir(dir).catch(() => [])).length === 0) {
        assert.ok(Date.now() < deadline, 'the child started writing');
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
      const own = ensureDataset(dir, wanted);
      const [code] = await exited;
      assert.equal(code, 0);
      const theirs = JSON.parse(out) as Dataset;
      for (const file of theirs.files) {
        const size = (await stat(join(theirs.dataDir, theirs.name, ...file.path)).catch(() => undefined))
          ?.size;
        assert.equal(size, file.length, `${file.path.join('/')} as the child reported it, at its exit`);
      }
      await own;
    } finally {
      child.kill();
    }
  });

  it("removes half-made sets a killed process left long ago, and no one else's", async () => {
    const wanted = { ...options, seed: 8 };
    const name = `tork-demo-v2-${wanted.size}-${wanted.files}-${wanted.pieceLength}-${wanted.seed}`;
    const abandoned = join(cache, `${name}.1-dead.tmp`);
    const running = join(cache, `${name}.2-alive.tmp`);
    const other = join(cache, 'other-set.3-dead.tmp');
    for (const dir of [abandoned, running, other]) await mkdir(dir, { recursive: true });
    const longAgo = new Date(Date.now() - ABANDONED_BUILD_MS - 60_000);
    await utimes(abandoned, longAgo, longAgo);
    await utimes(other, longAgo, longAgo);
    await ensureDataset(cache, wanted);
    const left = await readdir(cache);
    assert.equal(left.includes(`${name}.1-dead.tmp`), false, 'the abandoned build is gone');
    assert.ok(left.includes(`${name}.2-alive.tmp`), 'a build in progress (recent) is kept');
    assert.ok(left.includes('other-set.3-dead.tmp'), "another set's leftovers are not this call's");
    await rm(running, { recursive: true });
    await rm(other, { recursive: true });
  });

  it('replaces a set left without its marker (cut short, or an older version)', async () => {
    const made = await ensureDataset(cache, { ...options, seed: 6 });
    const file = made.files[1]!;
    const path = join(made.dataDir, made.name, ...file.path);
    await rm(join(made.dataDir, '..', 'complete'));
    await writeFile(path, 'truncated');
    const remade = await ensureDataset(cache, { ...options, seed: 6 });
    assert.equal(remade.cached, false);
    assert.equal((await stat(path)).size, file.length);
  });
});
