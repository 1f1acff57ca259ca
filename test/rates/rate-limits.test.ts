/**
 * Rate caps through the CLI, across two peer host threads: a download capped at 8 MiB/s from
 * three libtorrent seeders, and a seeder capped at 4 MiB/s serving two libtorrent downloaders.
 * Each rate is measured over 20 s from tork's own progress events (after a 3 s start) and must be
 * within ±5 % of the cap.
 */
import '../support/hermetic.js';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type Dataset, ensureDataset } from '@tork/cli';
import { type TorkEvent, torkMain } from '../download/support.js';
import { requireLibtorrent, startTork } from '../seed/support.js';
import { startLibtorrentDownloader, startLibtorrentSeeder } from '../support/libtorrent-peer.js';

const MiB = 1024 * 1024;
const WINDOW_MS = 20_000;

let work: string;
let dataset: Dataset;
before(async () => {
  work = await mkdtemp(join(tmpdir(), 'tork-rates-'));
  // 256 MiB: more than 20 s of either cap, so the window never reaches the end of the transfer.
  dataset = await ensureDataset(join(tmpdir(), 'tork-interop-matrix-cache'), {
    size: 256 * MiB,
    files: 40,
    pieceLength: 256 * 1024,
    seed: 11,
  });
});
after(() => rm(work, { recursive: true, force: true }));

/** The progress events of WINDOW_MS, starting 3 s after the first with `field` above 0. */
function window(events: TorkEvent[], field: 'verifiedBytes' | 'uploadedBytes'): TorkEvent[] {
  const progress = events.filter((event) => event.event === 'progress' && (event[field] as number) > 0);
  const t0 = progress[0]?.time as number;
  const from = progress.findIndex((event) => (event.time as number) - t0 >= 3_000);
  assert.ok(from >= 0, 'progress events');
  const start = progress[from]!;
  const to = progress.findIndex((event) => (event.time as number) - (start.time as number) >= WINDOW_MS);
  assert.ok(to > from, `${WINDOW_MS / 1000} s of progress events`);
  return progress.slice(from, to + 1);
}

/** Bytes a second of `field` from the first to the last of `events`. */
function rateOf(events: TorkEvent[], field: 'verifiedBytes' | 'uploadedBytes'): number {
  const start = events[0]!;
  const end = events[events.length - 1]!;
  return (
    ((end[field] as number) - (start[field] as number)) /
    (((end.time as number) - (start.time as number)) / 1000)
  );
}

function measured(events: TorkEvent[], field: 'verifiedBytes' | 'uploadedBytes'): number {
  return rateOf(window(events, field), field);
}

async function waitFor(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timeout: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

describe('rate caps, across two peer host threads', { timeout: 180_000 }, () => {
  it('a download capped at 8 MiB/s from three seeders: within ±5 % over 20 s', async (t) => {
    const python = requireLibtorrent(t);
    if (!python) return;
    const peers: string[] = [];
    for (let i = 0; i < 3; i++) {
      const { port } = await startLibtorrentSeeder(t, python, dataset, 'disabled');
      peers.push(`127.0.0.1:${port}`);
    }
    const tork = await startTork('download', [
      dataset.torrentPath,
      '--out',
      join(work, 'capped-download'),
      '--no-trackers',
      '--no-dht',
      '--workers',
      '2',
      '--max-download',
      '8MiB',
      ...peers.flatMap((peer) => ['--peer', peer]),
    ]);
    t.after(() => tork.stop());
    await waitFor(
      () => tork.events.filter((event) => event.event === 'progress').length > 26,
      60_000,
      '26 s of progress',
    );
    const rate = measured(tork.events, 'verifiedBytes');
    t.diagnostic(`download capped at 8 MiB/s: ${(rate / MiB).toFixed(3)} MiB/s over 20 s`);
    assert.ok(Math.abs(rate - 8 * MiB) / (8 * MiB) <= 0.05, `${(rate / MiB).toFixed(3)} MiB/s`);
    const connected = tork.events.filter((event) => event.event === 'peer-connected');
    assert.equal(connected.length, 3, 'three peers: both host threads carry some (least-loaded placement)');
  });

  it('a seeder capped at 4 MiB/s serving two downloaders: within ±5 % over 20 s', async (t) => {
    const python = requireLibtorrent(t);
    if (!python) return;
    const seeder = await startTork('seed', [
      dataset.torrentPath,
      '--data',
      dataset.dataDir,
      '--no-trackers',
      '--no-dht',
      '--workers',
      '2',
      '--max-upload',
      '4MiB',
    ]);
    t.after(() => seeder.stop());
    await seeder.waitFor('done', 120_000);
    for (let i = 0; i < 2; i++) {
      const out = join(work, `leecher-${i}`);
      await startLibtorrentDownloader(t, python, dataset, out, 'disabled', [`127.0.0.1:${seeder.port}`]);
    }
    await waitFor(
      () =>
        seeder.events.filter((event) => event.event === 'progress' && (event.uploadedBytes as number) > 0)
          .length > 26,
      60_000,
      '26 s of uploading',
    );
    const events = window(seeder.events, 'uploadedBytes');
    const rate = rateOf(events, 'uploadedBytes');
    // Second by second too: each host's counters reach the torrent once per tick (`report-stats`).
    // Each host kept its own 1 s timer before, and a progress event saw 0, 2, 4, 6 or 8 MiB more
    // on this steady 4 MiB/s: the 20 s total then missed by up to two hosts' seconds (-5 %).
    const seconds = events.slice(1).map((event, i) => rateOf([events[i]!, event], 'uploadedBytes') / MiB);
    t.diagnostic(
      `upload capped at 4 MiB/s: ${(rate / MiB).toFixed(3)} MiB/s over 20 s; each second: ${seconds.map((value) => value.toFixed(1)).join(' ')}`,
    );
    assert.ok(Math.abs(rate - 4 * MiB) / (4 * MiB) <= 0.05, `${(rate / MiB).toFixed(3)} MiB/s`);
    const unsteady = seconds.filter((value) => Math.abs(value - 4) > 1);
    assert.ok(unsteady.length <= 1, `seconds off the cap by more than 1 MiB/s: ${unsteady.join(', ')}`);
    const leechers = seeder.events.filter((event) => event.event === 'peer-connected');
    assert.equal(leechers.length, 2);
  });

  it('refuses a rate that is not one, and --max-download for a seeder, as usage errors', () => {
    for (const [args, message] of [
      [
        ['download', dataset.torrentPath, '--out', work, '--max-download', '5'],
        /--max-download must be a rate/,
      ],
      [
        ['download', dataset.torrentPath, '--out', work, '--max-upload', 'fast'],
        /--max-upload must be a rate/,
      ],
      [['seed', dataset.torrentPath, '--data', work, '--max-download', '1MiB'], /downloads nothing/],
    ] as const) {
      const run = spawnSync(process.execPath, [torkMain, ...args], { encoding: 'utf8', timeout: 30_000 });
      assert.equal(run.status, 2, run.stderr);
      assert.match(run.stderr, message);
    }
  });
});
