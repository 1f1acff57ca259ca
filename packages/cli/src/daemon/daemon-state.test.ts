import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, join as joinPath } from 'node:path';
import { after, describe, it } from 'node:test';

/** A fresh directory, removed after the file's tests (the CLI package does not depend on the test kit). */
async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(joinPath(tmpdir(), prefix));
  after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

import { DaemonState, defaultStateDir, STATE_FILE, type StateFile } from './daemon-state.js';

const record = (i: number) => ({
  infoHash: i.toString(16).padStart(40, '0'),
  magnet: `magnet:?xt=urn:btih:${i.toString(16).padStart(40, '0')}`,
  outDir: '/downloads',
  rateLimits: {},
  paused: i % 2 === 0,
  addedAt: i,
});

describe('DaemonState', () => {
  it('starts empty, and reads back what it wrote', async () => {
    const state = new DaemonState(join(await tempDir('tork-state-'), 'nested'));
    assert.deepEqual(await state.load(), { version: 1, sessionLimits: {}, torrents: [] });
    const saved: StateFile = {
      version: 1,
      sessionLimits: { download: 4096 },
      torrents: [record(1), record(2)],
    };
    await state.save(saved);
    assert.deepEqual(await state.load(), saved);
  });

  it('writes whole files by rename, in call order, leaving no temporary file', async () => {
    const dir = await tempDir('tork-state-');
    const state = new DaemonState(dir);
    const writes = [];
    for (let i = 1; i <= 50; i++)
      writes.push(state.save({ version: 1, sessionLimits: {}, torrents: [record(i)] }));
    await Promise.all(writes);
    assert.deepEqual(await readdir(dir), [STATE_FILE]);
    assert.equal((await state.load()).torrents[0]?.addedAt, 50);
  });

  it('refuses a malformed, foreign-version or oversized file', async () => {
    const dir = await tempDir('tork-state-');
    const path = join(dir, STATE_FILE);
    await writeFile(path, '{"version":1,');
    await assert.rejects(new DaemonState(dir).load(), { code: 'TORK_ERR_IO' });
    await writeFile(path, JSON.stringify({ version: 2, sessionLimits: {}, torrents: [] }));
    await assert.rejects(new DaemonState(dir).load(), { code: 'TORK_ERR_IO' });
    await writeFile(
      path,
      JSON.stringify({ version: 1, sessionLimits: {}, torrents: [{ ...record(1), infoHash: 'x' }] }),
    );
    await assert.rejects(new DaemonState(dir).load(), { code: 'TORK_ERR_IO' });
    await writeFile(path, JSON.stringify({ version: 1, sessionLimits: {}, torrents: [record(1)] }));
    await assert.rejects(new DaemonState(dir, 64).load(), { code: 'TORK_ERR_LIMIT_EXCEEDED' });
    assert.match(await readFile(path, 'utf8'), /"version":1/);
  });

  it('defaults to $XDG_DATA_HOME/tork, else ~/.local/share/tork', () => {
    assert.equal(defaultStateDir({ XDG_DATA_HOME: '/data' }, '/home/u'), '/data/tork');
    assert.equal(defaultStateDir({ XDG_DATA_HOME: 'relative' }, '/home/u'), '/home/u/.local/share/tork');
    assert.equal(defaultStateDir({}, '/home/u'), '/home/u/.local/share/tork');
  });
});
