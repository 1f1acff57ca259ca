/**
 * Message stream encryption (MSE/PE) against libtorrent on 127.0.0.1, both directions: tork
 * downloads from libtorrent seeders that accept only encrypted connections (RC4, and the
 * obfuscated-header-plaintext method), a libtorrent downloader that encrypts only gets the data
 * from a tork seeder, tork's `require` against libtorrent's defaults, and tork's `prefer`
 * falling back to plain BitTorrent against a peer that speaks no MSE. Every download is checked
 * byte for byte, and both sides say which method the connection used.
 */
import '../support/hermetic.js';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { type Dataset, verifyDownload } from '@tork/cli';
import { interopDataset, type TorkEvent } from '../download/support.js';
import { exitWithin, requireLibtorrent, startTork } from '../seed/support.js';
import {
  libtorrentDownloadDone,
  startLibtorrentDownloader,
  startLibtorrentSeeder,
} from '../support/libtorrent-peer.js';

let work: string;
let dataset: Dataset;
before(async () => {
  work = await mkdtemp(join(tmpdir(), 'tork-mse-'));
  dataset = await interopDataset('mse-interop');
});
after(() => rm(work, { recursive: true, force: true }));

/** tork downloads from one libtorrent seeder; returns its peer-connected events. */
async function torkDownloads(
  t: TestContext,
  seederPort: number,
  label: string,
  encryption?: string,
): Promise<TorkEvent[]> {
  const events = await torkDownloadEvents(t, seederPort, label, encryption);
  return events.filter((event) => event.event === 'peer-connected');
}

/** tork downloads from one libtorrent seeder, every file checked; returns all its events. */
async function torkDownloadEvents(
  t: TestContext,
  seederPort: number,
  label: string,
  encryption?: string,
): Promise<TorkEvent[]> {
  const out = join(work, label);
  const tork = await startTork('download', [
    dataset.torrentPath,
    '--out',
    out,
    '--no-trackers',
    '--no-dht',
    '--peer',
    `127.0.0.1:${seederPort}`,
    ...(encryption ? ['--encryption', encryption] : []),
  ]);
  t.after(() => tork.stop());
  // Bounded: a download that never ends fails here, with what tork saw, not at the file's timeout.
  const { status } = await exitWithin(tork, 90_000);
  assert.equal(status, 0, tork.transcript());
  assert.deepEqual(await verifyDownload(dataset, out), [], 'every file byte-identical');
  return tork.events;
}

describe('MSE/PE with libtorrent', { timeout: 180_000 }, () => {
  it('tork downloads from a libtorrent seeder that accepts only RC4-encrypted connections', async (t) => {
    const python = requireLibtorrent(t);
    if (!python) return;
    const { port } = await startLibtorrentSeeder(t, python, dataset, 'forced-rc4');
    const connected = await torkDownloads(t, port, 'from-forced-rc4');
    assert.ok(connected.length > 0);
    for (const event of connected) assert.equal(event.encryption, 'rc4', JSON.stringify(event));
  });

  it('tork downloads from a libtorrent seeder that insists on the encrypted handshake, plaintext after it', async (t) => {
    const python = requireLibtorrent(t);
    if (!python) return;
    const { port } = await startLibtorrentSeeder(t, python, dataset, 'forced-plaintext');
    const connected = await torkDownloads(t, port, 'from-forced-plaintext');
    assert.ok(connected.length > 0);
    for (const event of connected) assert.equal(event.encryption, 'plaintext', JSON.stringify(event));
  });

  it('a forced-RC4 seeder that listens 3 s before its torrent runs: MSE and plain turned away, then RC4 again', async (t) => {
    const python = requireLibtorrent(t);
    if (!python) return;
    // libtorrent drops the encrypted handshake (it cannot match a paused torrent) and then the
    // plain one (it requires encryption): one passing MSE failure must not cost the peer for good.
    const { port } = await startLibtorrentSeeder(t, python, dataset, 'forced-rc4', 'tcp', 3);
    const events = await torkDownloadEvents(t, port, 'from-late-forced-rc4');
    const transcript = JSON.stringify(events.filter((event) => event.event.startsWith('peer-')));
    const dropped = events.filter((event) => event.event === 'peer-disconnected');
    const phase = (event: TorkEvent) => (event.reason as { details?: { phase?: string } }).details?.phase;
    const firstMse = dropped.findIndex((event) => phase(event) === 'mse');
    assert.ok(firstMse >= 0, `an encrypted dial turned away while paused: ${transcript}`);
    assert.ok(
      dropped.slice(firstMse).some((event) => phase(event) === 'handshake'),
      `then a plain one turned away at its handshake: ${transcript}`,
    );
    const connected = events.filter((event) => event.event === 'peer-connected');
    assert.ok(connected.length > 0, transcript);
    for (const event of connected) assert.equal(event.encryption, 'rc4', JSON.stringify(event));
  });

  it('tork --encryption require gets RC4 from a libtorrent with its default settings', async (t) => {
    const python = requireLibtorrent(t);
    if (!python) return;
    const { port } = await startLibtorrentSeeder(t, python, dataset, 'enabled');
    const connected = await torkDownloads(t, port, 'require-from-default', 'require');
    assert.ok(connected.length > 0);
    for (const event of connected) assert.equal(event.encryption, 'rc4', JSON.stringify(event));
  });

  it('tork (prefer) falls back to plain BitTorrent for a peer that speaks no MSE', async (t) => {
    const python = requireLibtorrent(t);
    if (!python) return;
    const { port } = await startLibtorrentSeeder(t, python, dataset, 'disabled');
    const connected = await torkDownloads(t, port, 'prefer-from-plain');
    assert.ok(connected.length > 0);
    assert.equal(connected.at(-1)?.encryption, 'none');
  });

  for (const policy of ['forced-rc4', 'forced-plaintext'] as const) {
    it(`a libtorrent downloader (${policy}) gets the data from a tork seeder`, async (t) => {
      const python = requireLibtorrent(t);
      if (!python) return;
      const seeder = await startTork('seed', [
        dataset.torrentPath,
        '--data',
        dataset.dataDir,
        '--no-trackers',
        '--no-dht',
      ]);
      t.after(() => seeder.stop());
      await seeder.waitFor('done', 60_000);
      const out = join(work, `libtorrent-${policy}`);
      const leecher = await startLibtorrentDownloader(t, python, dataset, out, policy, [
        `127.0.0.1:${seeder.port}`,
      ]);
      const peers = await libtorrentDownloadDone(leecher);
      const tork = peers.find((peer) => peer.address === `127.0.0.1:${seeder.port}`);
      assert.ok(tork, `libtorrent's peers: ${JSON.stringify(peers)}`);
      if (policy === 'forced-rc4') assert.equal(tork.rc4, true, 'RC4, as libtorrent reports it');
      else assert.equal(tork.plaintextEncrypted, true, 'the encrypted handshake, then plaintext');
      assert.deepEqual(await verifyDownload(dataset, out), [], 'every file byte-identical');
      const accepted = seeder.events.filter((event) => event.event === 'peer-connected');
      assert.equal(accepted.at(-1)?.encryption, policy === 'forced-rc4' ? 'rc4' : 'plaintext');
    });
  }
});
