/**
 * One daemon, 20 torrents added through the API from 20 libtorrent seeders on loopback (rate-capped
 * so that half-way is observable). Killed with SIGKILL once 40 % of all bytes are verified, and
 * restarted with the same --state, it resumes all 20 from their resume data (re-downloading no
 * verified piece) and completes them byte-identical.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type Dataset, ensureDataset, type TorrentSummaryBody, torrentList, torrentSummary } from '@tork/cli';
import { requireLibtorrentPython, startLibtorrentSeeder } from '../download/support.js';
import type { StartedProgram } from '../support/programs.js';
import { api, assertSameFiles, type RunningDaemon, startDaemon, waitFor } from './support.js';

const TORRENTS = 20;
const PIECE = 64 * 1024;
/** Each seeder's cap: the 3 MiB torrents take ~20 s each, all 20 at once. */
const UPLOAD_LIMIT = 160 * 1024;
/** Pieces a killed run may lose per torrent: assigned or verified but not yet written at the kill. */
const IN_FLIGHT_PIECES = 8;

let work: string;
const datasets: Dataset[] = [];

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'tork-daemon-many-'));
  for (let i = 0; i < TORRENTS; i++)
    datasets.push(
      await ensureDataset(join(tmpdir(), 'tork-daemon-cache'), {
        size: 3 * 1024 * 1024 + i * 1111,
        files: 3,
        pieceLength: PIECE,
        seed: 100 + i,
      }),
    );
});
after(() => rm(work, { recursive: true, force: true }));

async function listed(daemon: RunningDaemon): Promise<TorrentSummaryBody[]> {
  const answer = await api(daemon.url, 'GET', '/api/v1/torrents');
  assert.equal(answer.status, 200);
  return torrentList.parse(answer.json).torrents;
}

describe('daemon: 20 torrents, SIGKILL half-way, restart', { timeout: 300_000 }, () => {
  it('completes all 20 byte-identical and resumes them without re-downloading verified pieces', async (t) => {
    const python = await requireLibtorrentPython(t);
    if (!python) return;
    const seeders: StartedProgram[] = [];
    t.after(() => Promise.all(seeders.map((seeder) => seeder.stop())));
    const ports: number[] = [];
    for (const dataset of datasets) {
      const seeder = await startLibtorrentSeeder(python, dataset.torrentPath, dataset.dataDir, {
        uploadLimit: UPLOAD_LIMIT,
      });
      seeders.push(seeder);
      ports.push(seeder.port);
    }
    const state = join(work, 'state');
    const out = join(work, 'out');
    const first = await startDaemon(['--state', state, '--download-dir', out]);
    t.after(() => first.program.stop());
    for (const [i, dataset] of datasets.entries()) {
      const answer = await api(first.url, 'POST', '/api/v1/torrents', {
        path: dataset.torrentPath,
        peers: [`127.0.0.1:${ports[i]}`],
      });
      assert.equal(answer.status, 201, JSON.stringify(answer.json));
      torrentSummary.parse(answer.json);
    }
    const total = datasets.reduce((sum, dataset) => sum + dataset.length, 0);
    const atKill = await waitFor('40 % of all bytes verified', 180_000, async () => {
      const torrents = await listed(first);
      const verified = torrents.reduce((sum, torrent) => sum + torrent.verifiedBytes, 0);
      return verified >= 0.4 * total ? torrents : undefined;
    });
    const verifiedAtKill = atKill.reduce((sum, torrent) => sum + torrent.verifiedBytes, 0);
    assert.ok(verifiedAtKill < total, 'killed before the end');
    process.kill(first.program.pid, 'SIGKILL');
    await first.program.stop();

    const second = await startDaemon(['--state', state, '--download-dir', out]);
    t.after(() => second.program.stop());
    const done = await waitFor('all 20 complete after the restart', 180_000, async () => {
      const torrents = await listed(second);
      assert.equal(torrents.length, TORRENTS);
      return torrents.every((torrent) => torrent.progress === 1) ? torrents : undefined;
    });
    let resumed = 0;
    for (const torrent of done) {
      resumed += torrent.resumedBytes;
      const missing = torrent.wantedBytes - torrent.resumedBytes;
      // Only what was missing came over the wire again (a piece of slack for a hash failure).
      assert.ok(
        torrent.downloadedBytes <= missing + PIECE,
        `${torrent.name}: downloaded ${torrent.downloadedBytes} after the restart, ${missing} were missing`,
      );
    }
    assert.ok(
      resumed >= verifiedAtKill - TORRENTS * IN_FLIGHT_PIECES * PIECE,
      `resumed ${resumed} bytes from disk; ${verifiedAtKill} were verified at the kill`,
    );
    for (const dataset of datasets) await assertSameFiles(dataset, out);
    t.diagnostic(
      `verified at the kill: ${(verifiedAtKill / 2 ** 20).toFixed(1)} MiB of ${(total / 2 ** 20).toFixed(1)}; ` +
        `resumed from disk after the restart: ${(resumed / 2 ** 20).toFixed(1)} MiB`,
    );
  });
});
