/**
 * rtorrent (Debian's `rtorrent` 0.9.8 on libtorrent-rakshasa, an implementation independent of
 * libtorrent-rasterbar) against tork, both ways, through opentracker over HTTP, on the interop
 * data set (64 MiB in 12 files: a zero-length file, one smaller than a block, a run of small files
 * one piece spans, a short last piece). rtorrent ignores the `reqq` tork advertises and keeps
 * ~1,200 requests outstanding: it stalled at 235 of 256 pieces when tork dropped the excess
 * silently, and it dials from an ephemeral port while a tracker lists its listen port.
 */
import '../support/hermetic.js';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Dataset } from '@tork/cli';
import { parseMetainfo } from '@tork/core';
import { interopDataset, runTork, waitForSeeders, withTrackers } from '../download/support.js';
import { startTork } from '../seed/support.js';
import { type Opentracker, startOpentracker } from '../support/opentracker.js';
import { findProgram, requireProgram } from '../support/programs.js';
import { compareTrees, linkTree, RTORRENT_ADDRESS, startRtorrent } from './support.js';

const TIMEOUT_MS = 120_000;

describe('rtorrent and tork', { timeout: 300_000 }, () => {
  let work: string;
  let dataset: Dataset;
  let tracker: Opentracker | undefined;
  let torrent: string;
  let infoHash: string;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'tork-rtorrent-'));
    dataset = await interopDataset('rtorrent');
    const opentracker = findProgram('opentracker');
    if (!opentracker || !findProgram('rtorrent')) return; // each test skips (or fails under CI)
    infoHash = parseMetainfo(await readFile(dataset.torrentPath)).infoHashHex;
    tracker = await startOpentracker(opentracker, [infoHash]);
    torrent = await withTrackers(dataset, [[tracker.httpUrl]], join(work, 'rt.torrent'));
  });
  after(async () => {
    await tracker?.stop();
    await rm(work, { recursive: true, force: true });
  });

  it('rtorrent downloads from a tork seeder at full speed, byte-identical, and tork never dials it while connected', async (t) => {
    const bin = requireProgram(t, 'rtorrent', 'rtorrent');
    if (!bin || !requireProgram(t, 'opentracker', 'opentracker')) return;
    const seedData = join(work, 'tork-seed');
    await linkTree(dataset.dataDir, seedData);
    const seeder = await startTork('seed', [torrent, '--data', seedData]);
    t.after(() => seeder.stop());
    await seeder.waitFor('done', 60_000);
    await waitForSeeders(tracker!.httpUrl, infoHash, 1);
    const rtWork = join(work, 'rt-leech');
    const rtorrent = await startRtorrent(bin, rtWork, torrent, join(rtWork, 'data'));
    t.after(() => rtorrent.stop());
    const started = Date.now();
    await rtorrent.waitFinished(TIMEOUT_MS);
    const seconds = (Date.now() - started) / 1000;
    t.diagnostic(
      `rtorrent from tork: ${dataset.length} bytes in ${seconds.toFixed(1)} s (${(dataset.length / seconds / 1e6).toFixed(1)} MB/s, from start-up)`,
    );
    assert.deepEqual(
      await compareTrees(join(dataset.dataDir, dataset.name), join(rtWork, 'data', dataset.name)),
      [],
    );
    // Its listen address was never dialled while its own connection to us lasted.
    const listen = `${RTORRENT_ADDRESS}:${rtorrent.port}`;
    const redials = seeder.events.filter(
      (event) =>
        event.event === 'peer-connected' &&
        event.address === listen &&
        (event.time as number) < started + seconds * 1000,
    );
    assert.deepEqual(redials, [], seeder.transcript());
    await rtorrent.stop();
  });

  it('tork downloads from an rtorrent seeder, byte-identical', async (t) => {
    const bin = requireProgram(t, 'rtorrent', 'rtorrent');
    if (!bin || !requireProgram(t, 'opentracker', 'opentracker')) return;
    const rtWork = join(work, 'rt-seed');
    await linkTree(dataset.dataDir, join(rtWork, 'data'));
    const rtorrent = await startRtorrent(bin, rtWork, torrent, join(rtWork, 'data'));
    t.after(() => rtorrent.stop());
    // rtorrent hashes the data, then announces as a seed.
    await waitForSeeders(tracker!.httpUrl, infoHash, 1);
    const out = join(work, 'tork-out');
    const run = await runTork([torrent, '--out', out, '--port', '0', '--listen-host', '127.0.0.1'], {
      timeoutMs: TIMEOUT_MS,
    });
    assert.equal(run.status, 0, run.stderr);
    assert.deepEqual(await compareTrees(join(dataset.dataDir, dataset.name), join(out, dataset.name)), []);
    const done = run.events.find((event) => event.event === 'done')!;
    t.diagnostic(
      `tork from rtorrent: ${((done.length as number) / ((done.elapsedMs as number) / 1000) / 1e6).toFixed(1)} MB/s`,
    );
  });
});
