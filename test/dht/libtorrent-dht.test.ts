/**
 * A trackerless swarm on a loopback DHT of 8 libtorrent nodes (127.0.0.10 and up, same-IP
 * restrictions and the per-IP DHT rate limit off): tork bootstraps from one node, finds the
 * libtorrent seeders with get_peers and completes byte-identical (no tracker, no --peer), from a
 * .torrent and from a magnet link that holds nothing but the info-hash (the metadata comes from
 * the peers the DHT found); and a libtorrent downloader with only the DHT and only the info-hash
 * finds a tork seeder through tork's announce_peer and gets the metadata and the data from it.
 * Nothing points beyond 127.0.0.0/8: every bootstrap list is a loopback node.
 */
import '../support/hermetic.js';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { type Dataset, ensureDataset, verifyDownload } from '@tork/cli';
import { parseMetainfo } from '@tork/core';
import { interopDataset, torkMain } from '../download/support.js';
import { requireLibtorrent, startTork, type TorkProcess } from '../seed/support.js';
import { type LibtorrentDht, startLibtorrentDht } from './support.js';

const run = promisify(execFile);

let work: string;
before(async () => {
  work = await mkdtemp(join(tmpdir(), 'tork-dht-interop-'));
});
after(() => rm(work, { recursive: true, force: true }));

/** One DHT with 3 libtorrent seeders of the interop set, shared by the tests that download it. */
let seeded: Promise<{ dht: LibtorrentDht; dataset: Dataset }> | undefined;
function seededDht(python: string): Promise<{ dht: LibtorrentDht; dataset: Dataset }> {
  seeded ??= (async () => {
    const dataset = await interopDataset('libtorrent-dht');
    const dht = await startLibtorrentDht(python, 8, {
      torrent: dataset.torrentPath,
      dataDir: dataset.dataDir,
      seeders: 3,
    });
    return { dht, dataset };
  })();
  return seeded;
}
after(async () => {
  const started = await seeded?.catch(() => undefined);
  await started?.dht.stop();
});

/**
 * Checks a finished trackerless download: exit 0, peers found through the DHT, every connection
 * to one of the libtorrent seeders (nodes 1..3), every file byte-identical.
 */
async function assertDhtDownload(
  tork: TorkProcess,
  dht: LibtorrentDht,
  dataset: Dataset,
  out: string,
): Promise<string> {
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
  return `peers from the DHT: ${found.map((event) => event.added).join(', ')}`;
}

describe('tork on a loopback libtorrent DHT', () => {
  it('downloads from libtorrent seeders it found with get_peers, byte-identical', {
    timeout: 240_000,
  }, async (t) => {
    const python = requireLibtorrent(t);
    if (!python) return;
    const { dht, dataset } = await seededDht(python);
    const out = join(work, 'out');
    const tork = await startTork('download', [
      dataset.torrentPath,
      '--out',
      out,
      '--no-trackers',
      '--dht-bootstrap',
      dht.bootstrap,
      '--dht-state',
      join(work, 'download-dht.json'),
    ]);
    t.after(() => tork.stop());
    t.diagnostic(await assertDhtDownload(tork, dht, dataset, out));
  });

  it('downloads a magnet link holding only the info-hash: metadata and data from peers the DHT found', {
    timeout: 240_000,
  }, async (t) => {
    const python = requireLibtorrent(t);
    if (!python) return;
    const { dht, dataset } = await seededDht(python);
    const infoHash = parseMetainfo(await readFile(dataset.torrentPath)).infoHashHex;
    const out = join(work, 'magnet-out');
    const saved = join(work, 'magnet.torrent');
    const tork = await startTork('download', [
      `magnet:?xt=urn:btih:${infoHash}`,
      '--out',
      out,
      '--dht-bootstrap',
      dht.bootstrap,
      '--dht-state',
      join(work, 'magnet-dht.json'),
      '--save-torrent',
      saved,
    ]);
    t.after(() => tork.stop());
    const diagnostic = await assertDhtDownload(tork, dht, dataset, out);
    const received = tork.events.find((event) => event.event === 'metadata-received');
    assert.ok(received, `a metadata-received event\n${tork.transcript()}`);
    const fetchFound = tork.events.filter(
      (event) => event.event === 'dht-peers' && tork.events.indexOf(event) < tork.events.indexOf(received),
    );
    assert.ok(fetchFound.length > 0, 'the metadata phase found its peers in the DHT');
    assert.equal(parseMetainfo(await readFile(saved)).infoHashHex, infoHash, 'the saved .torrent');
    t.diagnostic(diagnostic);
  });

  it('tork info prints a magnet holding only the info-hash, its metadata fetched from peers the DHT found', {
    timeout: 120_000,
  }, async (t) => {
    const python = requireLibtorrent(t);
    if (!python) return;
    const { dht, dataset } = await seededDht(python);
    const infoHash = parseMetainfo(await readFile(dataset.torrentPath)).infoHashHex;
    const args = [torkMain, 'info', `magnet:?xt=urn:btih:${infoHash}`, '--json', '--metadata-timeout', '60'];
    const result = await run(process.execPath, [
      ...args,
      '--dht-bootstrap',
      dht.bootstrap,
      '--dht-state',
      join(work, 'info-dht.json'),
    ]);
    const info = JSON.parse(result.stdout) as { infoHash: string; name: string; files: unknown[] };
    assert.equal(info.infoHash, infoHash);
    assert.equal(info.name, dataset.name);
    assert.equal(info.files.length, dataset.files.length);
    // Without the DHT the magnet names no peer at all: it is refused after the timeout, not hung.
    const refused = await run(process.execPath, [...args.slice(0, -1), '2', '--no-dht']).then(
      () => assert.fail('no peers: must fail'),
      (error: { code?: number; stderr?: string }) => error,
    );
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr ?? '', /TORK_ERR_/);
  });

  it("lets libtorrent, given only the info-hash, find a tork seeder through tork's announce_peer and fetch metadata and data from it", {
    timeout: 240_000,
  }, async (t) => {
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
    const infoHash = parseMetainfo(await readFile(dataset.torrentPath)).infoHashHex;
    dht.send({ cmd: 'download', magnet: `magnet:?xt=urn:btih:${infoHash}`, save: out });
    const finished = await dht.next('finished', 180_000);
    const torkAddress = `127.0.0.1:${tork.port}`;
    assert.ok((finished.peers as string[]).includes(torkAddress), `libtorrent's peers: ${finished.peers}`);
    assert.deepEqual(await verifyDownload(dataset, out), [], 'every file byte-identical');
  });
});
