import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ensureDataset } from '@tork/cli';
import { parseMetainfo } from '@tork/core';
import { datasetView } from './dataset-view.js';

describe('datasetView: one cached data set, an info-hash per test file', () => {
  let cache: string;
  before(async () => {
    cache = await mkdtemp(join(tmpdir(), 'tork-view-'));
  });
  after(() => rm(cache, { recursive: true, force: true }));

  it('gives each owner its own name and info-hash over the same files, hard-linked', async () => {
    const shared = await ensureDataset(cache, { size: 1 << 20, files: 5, pieceLength: 16_384, seed: 9 });
    const a = await datasetView(shared, 'file-a');
    const b = await datasetView(shared, 'file-b');
    const hash = async (path: string) => parseMetainfo(await readFile(path)).infoHashHex;
    const hashes = new Set([
      await hash(shared.torrentPath),
      await hash(a.torrentPath),
      await hash(b.torrentPath),
    ]);
    assert.equal(hashes.size, 3, 'three info-hashes');
    for (const view of [a, b]) {
      const meta = parseMetainfo(await readFile(view.torrentPath));
      assert.equal(meta.name, view.name);
      assert.equal(meta.length, shared.length);
      for (const file of shared.files) {
        const original = await stat(join(shared.dataDir, shared.name, ...file.path));
        const linked = await stat(join(view.dataDir, view.name, ...file.path));
        assert.equal(linked.ino, original.ino, `${file.path.join('/')} is the cached file, not a copy`);
      }
    }
    // Asked again: the same view, not rebuilt.
    const marker = await stat(join(a.dataDir, '..', 'complete'));
    await datasetView(shared, 'file-a');
    assert.equal((await stat(join(a.dataDir, '..', 'complete'))).ino, marker.ino);
  });

  it('is rebuilt over new files when the cache was made again', async () => {
    const first = await ensureDataset(cache, { size: 1 << 20, files: 5, pieceLength: 16_384, seed: 10 });
    const view = await datasetView(first, 'file-c');
    await rm(join(first.dataDir, '..', 'complete'));
    const again = await ensureDataset(cache, { size: 1 << 20, files: 5, pieceLength: 16_384, seed: 10 });
    assert.equal(again.cached, false, 'the cache was remade');
    const rebuilt = await datasetView(again, 'file-c');
    const file = again.files[1]!;
    assert.equal(
      (await stat(join(rebuilt.dataDir, rebuilt.name, ...file.path))).ino,
      (await stat(join(again.dataDir, again.name, ...file.path))).ino,
      "linked to the new cache's file",
    );
    assert.equal(rebuilt.torrentPath, view.torrentPath);
  });

  it('refuses an owner that is not a short plain name', async () => {
    const shared = await ensureDataset(cache, { size: 1 << 20, files: 5, pieceLength: 16_384, seed: 9 });
    for (const owner of ['', '../x', 'A', 'a/b', 'x'.repeat(65)])
      await assert.rejects(datasetView(shared, owner), /bad owner/);
  });
});
