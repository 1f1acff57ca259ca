/**
 * Per-torrent peer limits through the daemon, against real peers: a torrent downloading from 4
 * libtorrent seeders on loopback has its `maxPeers` lowered to 2 half-way with `tork remote
 * limits`; the surplus connections close at once, the daemon's peer list never shows more than 2
 * again (nor its session more than 2 connections), and the download completes byte-identical.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type Dataset, ensureDataset, sessionBody, stateFileSchema, torrentDetail } from '@tork/cli';
import { requireLibtorrentPython, startLibtorrentSeeder } from '../download/support.js';
import type { StartedProgram } from '../support/programs.js';
import { api, assertSameFiles, runRemote, startDaemon, waitFor } from './support.js';

const SEEDERS = 4;
/**
 * Each seeder's cap: 4 of them fill the first MiB in ~4 s; 2 need ~16 s for the rest — long enough
 * for `tork remote limits` (a node process: 4 s to start at load 13 on 2 cores) to land mid-download.
 */
const UPLOAD_LIMIT = 64 * 1024;

let work: string;
let dataset: Dataset;

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'tork-daemon-limits-'));
  dataset = await ensureDataset(join(tmpdir(), 'tork-daemon-cache'), {
    size: 3 * 1024 * 1024 + 313,
    files: 2,
    pieceLength: 32 * 1024,
    seed: 77,
  });
});
after(() => rm(work, { recursive: true, force: true }));

describe('daemon: per-torrent peer limits', { timeout: 120_000 }, () => {
  it('lowers maxPeers to 2 mid-download: at most 2 connections from then on, and it completes', async (t) => {
    const python = await requireLibtorrentPython(t);
    if (!python) return;
    const seeders: StartedProgram[] = [];
    t.after(() => Promise.all(seeders.map((seeder) => seeder.stop())));
    const peers: string[] = [];
    for (let i = 0; i < SEEDERS; i++) {
      const seeder = await startLibtorrentSeeder(python, dataset.torrentPath, dataset.dataDir, {
        uploadLimit: UPLOAD_LIMIT,
      });
      seeders.push(seeder);
      peers.push(`127.0.0.1:${seeder.port}`);
    }
    const out = join(work, 'out');
    const state = join(work, 'state');
    const daemon = await startDaemon(['--state', state, '--download-dir', out, '--max-peers', '100']);
    t.after(() => daemon.program.stop());
    const added = await api(daemon.url, 'POST', '/api/v1/torrents', { path: dataset.torrentPath, peers });
    assert.equal(added.status, 201, JSON.stringify(added.json));
    const id = (added.json as { id: string }).id;
    const detail = async () => {
      const answer = await api(daemon.url, 'GET', `/api/v1/torrents/${id}`);
      assert.equal(answer.status, 200);
      return torrentDetail.parse(answer.json);
    };

    // All four connect under the default limit (80).
    const before = await waitFor('4 peers connected', 30_000, async () => {
      const shown = await detail();
      return shown.peerList.length === SEEDERS ? shown : undefined;
    });
    assert.equal(before.maxPeers, 80);
    assert.ok(before.progress < 0.6, `already ${before.progress} done: the limit would come too late`);

    const remote = await runRemote(daemon.url, [
      'limits',
      id.slice(0, 8),
      '--max-peers',
      '2',
      '--upload-slots',
      '2',
    ]);
    assert.equal(remote.status, 0, remote.stderr);
    assert.match(remote.stdout, /max-peers 2, upload-slots 2/);
    const lowered = await detail();
    assert.equal(lowered.maxPeers, 2);
    assert.equal(lowered.uploadSlots, 2);

    // The surplus closes at once (its actors report closed within a moment).
    await waitFor('the surplus closed', 5_000, async () =>
      (await detail()).peerList.length <= 2 ? true : undefined,
    );
    let most = 0;
    let samples = 0;
    const done = await waitFor(
      'the download to complete',
      60_000,
      async () => {
        const [shown, session] = await Promise.all([
          detail(),
          api(daemon.url, 'GET', '/api/v1/session').then((answer) => sessionBody.parse(answer.json)),
        ]);
        samples++;
        most = Math.max(most, shown.peerList.length, session.connections);
        return shown.progress === 1 ? shown : undefined;
      },
      200,
    );
    assert.ok(samples >= 5, `${samples} samples taken while it downloaded`);
    assert.ok(most <= 2, `${most} connections seen with maxPeers 2`);
    assert.equal(done.verifiedBytes, dataset.length);
    await assertSameFiles(dataset, out);

    // The session form: caps over all torrents together.
    const session = await runRemote(daemon.url, [
      'limits',
      'session',
      '--max-peers',
      '300',
      '--upload-slots',
      '8',
    ]);
    assert.equal(session.status, 0, session.stderr);
    const caps = sessionBody.parse((await api(daemon.url, 'GET', '/api/v1/session')).json);
    assert.deepEqual([caps.maxPeers, caps.uploadSlots], [300, 8]);

    // Kept in the state file for the next start.
    const saved = stateFileSchema.parse(JSON.parse(await readFile(join(state, 'torrents.json'), 'utf8')));
    assert.deepEqual(
      saved.torrents.map((record) => [record.maxPeers, record.uploadSlots]),
      [[2, 2]],
    );
    assert.deepEqual(saved.sessionPeerLimits, { maxPeers: 300, uploadSlots: 8 });
  });
});
