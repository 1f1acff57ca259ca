/**
 * 200 idle torrents in one daemon: small generated torrents added through the API, each with its
 * data as output directory, so each verifies and then seeds with no peers. The daemon's resident
 * memory (VmRSS of its process) grows by less than MAX_IDLE_TORRENT_BYTES per torrent
 * (docs/limits.md; the figures behind it: scripts/idle-memory-bench.mjs, docs/performance.md).
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type Dataset, ensureDataset, sessionBody, torrentList } from '@tork/cli';
import { api, startDaemon, waitFor } from './support.js';

const TORRENTS = 200;
/**
 * Memory one idle (seeding, no peers) torrent may cost a daemon: measured at ~110 KiB of RSS per
 * torrent with 200 of them (docs/performance.md), with a margin for the allocator's and the
 * garbage collector's moods.
 */
const MAX_IDLE_TORRENT_BYTES = 256 * 1024;

let work: string;
const datasets: Dataset[] = [];

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'tork-daemon-idle-'));
  for (let i = 0; i < TORRENTS; i++)
    datasets.push(
      await ensureDataset(join(tmpdir(), 'tork-idle-cache'), {
        size: 256 * 1024 + i,
        files: 3,
        pieceLength: 16 * 1024,
        seed: 5000 + i,
      }),
    );
});
after(() => rm(work, { recursive: true, force: true }));

async function rss(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) * 1024;
}

/**
 * The daemon's RSS once settled: the least of samples every 500 ms over SETTLE_MS. Why: a daemon
 * that has just added 200 torrents holds garbage the collector has not reached yet (the state
 * file rewritten whole per add, the adds' messages); a single sample 2 s after the adds read
 * 100–360 KiB per torrent for the same build, and 100–190 KiB 20 s later. V8's memory reducer
 * collects an idle heap within seconds, so the low point of a window is the live memory.
 */
const SETTLE_MS = 8_000;
async function settledRss(pid: number): Promise<number> {
  let least = Number.POSITIVE_INFINITY;
  for (let waited = 0; waited < SETTLE_MS; waited += 500) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    least = Math.min(least, await rss(pid));
  }
  return least;
}

describe('daemon: 200 idle torrents', { timeout: 120_000 }, () => {
  it(`costs less than ${MAX_IDLE_TORRENT_BYTES / 1024} KiB of RSS per seeding torrent`, async (t) => {
    const daemon = await startDaemon(['--state', join(work, 'state'), '--download-dir', join(work, 'out')]);
    t.after(() => daemon.program.stop());
    const session = async () => sessionBody.parse((await api(daemon.url, 'GET', '/api/v1/session')).json);
    // Warm: the API's code paths run once before the baseline.
    await session();
    const first = await api(daemon.url, 'POST', '/api/v1/torrents', {
      path: datasets[0]!.torrentPath,
      downloadDir: datasets[0]!.dataDir,
    });
    assert.equal(first.status, 201, JSON.stringify(first.json));
    await waitFor('the first torrent seeding', 30_000, async () => {
      const { torrents } = torrentList.parse((await api(daemon.url, 'GET', '/api/v1/torrents')).json);
      return torrents[0]?.state === 'seeding' ? true : undefined;
    });
    const before = await settledRss(daemon.program.pid);
    const heapBefore = (await session()).memory.heapUsedBytes;
    for (const dataset of datasets.slice(1)) {
      const added = await api(daemon.url, 'POST', '/api/v1/torrents', {
        path: dataset.torrentPath,
        downloadDir: dataset.dataDir,
      });
      assert.equal(added.status, 201, JSON.stringify(added.json));
    }
    const torrents = await waitFor(`all ${TORRENTS} seeding`, 60_000, async () => {
      const { torrents } = torrentList.parse((await api(daemon.url, 'GET', '/api/v1/torrents')).json);
      return torrents.every((torrent) => torrent.state === 'seeding') ? torrents : undefined;
    });
    assert.equal(torrents.length, TORRENTS);
    for (const torrent of torrents)
      assert.equal(torrent.progress, 1, `${torrent.name} verified from its data`);
    const grown = (await settledRss(daemon.program.pid)) - before;
    const heapGrown = (await session()).memory.heapUsedBytes - heapBefore;
    const perTorrent = grown / (TORRENTS - 1);
    t.diagnostic(
      `RSS grew ${(grown / 2 ** 20).toFixed(1)} MiB for ${TORRENTS - 1} torrents: ` +
        `${(perTorrent / 1024).toFixed(1)} KiB each (heap ${(heapGrown / (TORRENTS - 1) / 1024).toFixed(1)} KiB each)`,
    );
    assert.ok(
      perTorrent < MAX_IDLE_TORRENT_BYTES,
      `${(perTorrent / 1024).toFixed(1)} KiB per idle torrent, over ${MAX_IDLE_TORRENT_BYTES / 1024} KiB`,
    );
    // Still answering, and every one of them listed.
    assert.equal((await session()).torrents, TORRENTS);
  });
});
