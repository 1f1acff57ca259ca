/**
 * A trackerless swarm on a loopback DHT of 8 libtorrent nodes (127.0.0.10 and up, same-IP
 * restrictions and the per-IP DHT rate limit off): tork bootstraps from one node, finds the
 * libtorrent seeders with get_peers and completes byte-identical (no tracker, no --peer); and a
 * libtorrent downloader with only the DHT finds a tork seeder through tork's announce_peer.
 * Nothing points beyond 127.0.0.0/8: every bootstrap list is a loopback node.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ensureDataset, verifyDownload } from '@tork/cli';
import { interopDataset } from '../download/support.js';
import { requireLibtorrent, startTork, type TorkProcess } from '../seed/support.js';
import { type LibtorrentDht, startLibtorrentDht } from './support.js';

let work: string;
before(async () => {
  work = await mkdtemp(join(tmpdir(), 'tork-dht-interop-'));
});
after(() => rm(work, { recursive: true, force: true }));

describe('tork on a loopback libtorrent DHT', () => {
  it('downloads from libtorrent seeders it found with get_peers, byte-identical', {
    timeout: 240_000,
  }, async (t) => {
    const python = requireLibtorrent(t);
    if (!python) return;
    const dataset = await interopDataset();
    const dht = await startLibtorrentDht(python, 8, {
      torrent: dataset.torrentPath,
      dataDir: dataset.dataDir,
      seeders: 3,
    });
    let tork: TorkProcess | undefined;
    t.after(async () => {
      await tork?.stop();
      await dht.stop();
    });
    const out = join(work, 'out');
    tork = await startTork('download', [
      dataset.torrentPath,
      '--out',
      out,
      '--no-trackers',
      '--dht-bootstrap',
      dht.bootstrap,
      '--dht-state',
      join(work, 'download-dht.json'),
    ]);
    const { status } = await tork.exited;
    assert.equal(status, 0, tork.transcript());
    const found = tork.events.filter((event) => event.event === 'dht-peers');
    assert.ok(
      found.some((event) => (event.added as number) > 0),
      `dht-peers events: ${JSON.stringify(found)}`,
    );
    const seeders = new Set(dht.nodes.slice(1, 4).map((node) => node.host));
    const connected = tork.events.filter((event) => event.event === 'peer-connected');
    assert.ok(connected.length > 0);
    for (const event of connected) {
      assert.ok(seeders.has(String(event.address).split(':')[0]!), `a seeder: ${event.address}`);
    }
    assert.deepEqual(await verifyDownload(dataset, out), [], 'every file byte-identical');
    t.diagnostic(`peers from the DHT: ${found.map((event) => event.added).join(', ')}`);
  });

  it("lets libtorrent find a tork seeder through tork's announce_peer", { timeout: 240_000 }, async (t) => {
    const python = requireLibtorrent(t);
    if (!python) return;
    const dataset = await ensureDataset(join(tmpdir(), 'tork-dht-cache'), {
      size: 8 * 1024 * 1024 + 4321,
      files: 3,
      pieceLength: 256 * 1024,
      seed: 5,
    });
    const dht: LibtorrentDht = await startLibtorrentDht(python, 8);
    let tork: TorkProcess | undefined;
    t.after(async () => {
      await tork?.stop();
      await dht.stop();
    });
    tork = await startTork('seed', [
      dataset.torrentPath,
      '--data',
      dataset.dataDir,
      '--no-trackers',
      '--dht-bootstrap',
      dht.bootstrap,
      '--dht-state',
      join(work, 'seed-dht.json'),
    ]);
    const announced = await tork.waitFor(
      'dht-lookup-done',
      60_000,
      (event) => (event.announced as number) > 0,
    );
    t.diagnostic(`tork announced to ${announced.announced} of ${announced.nodes} nodes`);
    const out = join(work, 'libtorrent-out');
    dht.send({ cmd: 'download', torrent: dataset.torrentPath, save: out });
    const finished = await dht.next('finished', 180_000);
    const torkAddress = `127.0.0.1:${tork.port}`;
    assert.ok((finished.peers as string[]).includes(torkAddress), `libtorrent's peers: ${finished.peers}`);
    assert.deepEqual(await verifyDownload(dataset, out), [], 'every file byte-identical');
  });
});
