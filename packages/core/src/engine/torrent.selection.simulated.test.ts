import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { buildTorrent, generateSwarm, SimulatedActorSystem, tempDir } from '@tork/testkit';
import { FileLayout } from '../metainfo/file-layout.js';
import { parseMetainfo } from '../metainfo/metainfo.js';
import { Engine } from './engine.js';

const KiB = 1024;
const MiB = 1024 * KiB;

/**
 * File selection through the Engine over a simulated swarm: skipped files are never fetched nor
 * created, and `torrent.files.setPriority` while downloading widens the selection (the file
 * appears, filled from the part file where a shared piece was already had) and completes it.
 */
describe('Torrent: file selection over a simulated swarm', () => {
  it('fetches only selected pieces, and a file selected at runtime is created and completed', async (t) => {
    t.mock.timers.enable({ apis: ['setInterval', 'Date'], now: 0 });
    const pieceLength = 64 * KiB;
    const files = [
      { path: ['a.bin'], length: 300 * KiB + 17 },
      { path: ['b.bin'], length: 200 * KiB + 5 },
      { path: ['c.bin'], length: 500 * KiB + 99 },
      { path: ['d.bin'], length: 100 * KiB + 1 },
    ];
    const built = buildTorrent({ files, pieceLength, seed: 77, name: 'sel' });
    const meta = parseMetainfo(built.bytes);
    const layout = FileLayout.fromMetainfo(meta);
    const outDir = await tempDir('tork-sel-sim-');
    const swarm = generateSwarm({
      seed: 6,
      peers: 6,
      seeds: 6,
      minRate: 2 * MiB,
      maxRate: 8 * MiB,
      chokeForever: 0,
      flaky: 0,
    });
    const sim = new SimulatedActorSystem({
      seed: 5,
      peers: swarm,
      payload: built.data,
      advanceClock: (ms) => t.mock.timers.tick(ms),
    });
    const engine = new Engine({ actors: sim, peerId: new Uint8Array(20).fill(0x42) });
    const torrent = await engine.add({
      meta,
      outDir,
      peers: swarm.map(({ host, port }) => ({ host, port })),
      useTrackers: false,
      seed: 3,
      filePriorities: ['skip', 'normal', 'skip', 'high'],
    });
    let widened: Promise<void> | undefined;
    const run = await sim.run({
      maxMs: 600_000,
      until: () => torrent.state !== 'downloading' && widened !== undefined,
      busy: () =>
        torrent.state === 'downloading' && torrent.progress().writtenBytes < torrent.progress().verifiedBytes,
      onStep: () => {
        // Widen once a few pieces are in: c.bin joins (low priority).
        if (widened === undefined && torrent.progress().verifiedPieces >= 3)
          widened = torrent.files.setPriority(2, 'low');
      },
    });
    await widened;
    const final = torrent.progress();
    await engine.close();
    assert.equal(run.reason, 'until');
    assert.equal(final.state, 'done');
    assert.equal(final.selectedBytes, files[1]!.length + files[2]!.length + files[3]!.length);
    assert.equal(final.skippedBytes, files[0]!.length);
    assert.ok(
      final.wantedBytes >= final.selectedBytes && final.wantedBytes < meta.length,
      'wanted: the selection and its shared pieces',
    );
    assert.ok(final.verifiedBytes >= final.wantedBytes);
    // Only pieces that overlap b, c or d came from the swarm, each once.
    const wanted = new Set<number>();
    for (const index of [1, 2, 3]) {
      const { firstPiece, lastPiece } = layout.filePieces(index);
      for (let p = firstPiece; p <= lastPiece; p++) wanted.add(p);
    }
    sim.deliveriesPerPiece.forEach((count, piece) => {
      assert.equal(count, wanted.has(piece) ? 1 : 0, `piece ${piece} delivered ${count} times`);
    });
    for (const index of [1, 2, 3]) {
      const bytes = await readFile(join(outDir, 'sel', ...files[index]!.path));
      assert.ok(Buffer.from(built.fileData[index]!).equals(bytes), `${files[index]!.path} differs`);
    }
    assert.equal(existsSync(join(outDir, 'sel', 'a.bin')), false, 'a skipped file is not created');
    assert.deepEqual(
      await readdir(join(outDir, '.tork')).then((names) => names.filter((n) => n.endsWith('.parts'))),
      [`${meta.infoHashHex}.parts`],
    );
  });
});
