/**
 * Load: 200 simultaneous peer connections. 200 libtorrent seeders (one session each, one python
 * process: packages/cli/python/libtorrent-farm.py) on 127.0.0.1, each paced so that the download
 * lasts long enough for every connection to be up at once; tork downloads with --max-peers 250.
 * The peak of `peers.connected` must reach 190, the files must be byte-identical, and tork's peak
 * RSS (VmHWM, sampled from /proc until it exits) must stay under 500 MiB.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type Dataset, verifyDownload } from '@tork/cli';
import { libtorrentPython, root, runTork } from '../download/support.js';
import { loadDataset, loopbackDownloadArgs, procStatusKiB, skipOrFail } from '../faults/support.js';

const PEERS = 200;
/** Per-seeder upload cap: 200 × 96 KiB/s ≈ 19 MB/s, so 64 MiB take a few seconds. */
const RATE = 96 * 1024;
const RSS_LIMIT_MIB = 500;

let dataset: Dataset;
let work: string;

before(async () => {
  dataset = await loadDataset();
  work = await mkdtemp(join(tmpdir(), 'tork-manypeers-'));
});
after(() => rm(work, { recursive: true, force: true }));

describe('200 simultaneous peers', { timeout: 240_000 }, () => {
  it(`downloads from ${PEERS} libtorrent seeders at once, byte-identical, RSS < ${RSS_LIMIT_MIB} MiB`, async (t) => {
    const python = await libtorrentPython();
    if (!python) {
      skipOrFail(t, 'no python3 with libtorrent: apt-get install python3-libtorrent');
      return;
    }
    const farm = spawn(
      python,
      [
        join(root, 'packages/cli/python/libtorrent-farm.py'),
        dataset.torrentPath,
        dataset.dataDir,
        String(PEERS),
        '--rate-limit',
        String(RATE),
      ],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    );
    const farmExited = new Promise<void>((resolve) => farm.once('exit', () => resolve()));
    t.after(async () => {
      if (farm.exitCode === null && farm.signalCode === null) {
        farm.kill('SIGTERM');
        const timer = setTimeout(() => farm.kill('SIGKILL'), 5_000);
        await farmExited;
        clearTimeout(timer);
      }
    });
    let farmOutput = '';
    farm.stderr.on('data', (chunk: Buffer) => (farmOutput = (farmOutput + chunk.toString()).slice(-8192)));
    const farmStarted = Date.now();
    const ports = await new Promise<number[]>((resolve, reject) => {
      let text = '';
      const timer = setTimeout(() => reject(new Error(`farm not up after 90 s: ${farmOutput}`)), 90_000);
      farm.stdout.on('data', (chunk: Buffer) => {
        text += chunk.toString();
        const line = text.split('\n').find((l) => l.includes('"ports"') || l.includes('"error"'));
        if (!line) return;
        clearTimeout(timer);
        const parsed = JSON.parse(line) as { ports?: number[]; error?: string };
        if (parsed.ports) resolve(parsed.ports);
        else reject(new Error(`farm: ${line}`));
      });
      farm.once('exit', (code) => reject(new Error(`farm exited (${code}): ${farmOutput}`)));
    });
    t.diagnostic(
      `farm of ${PEERS} libtorrent sessions up in ${((Date.now() - farmStarted) / 1000).toFixed(1)} s`,
    );
    assert.equal(ports.length, PEERS, 'farm ports');

    let peakConnected = 0;
    let peakHwmKiB = 0;
    let samples = 0;
    let timer: NodeJS.Timeout | undefined;
    const started = Date.now();
    let allUpAfterMs = 0;
    const curve: string[] = [];
    const run = await runTork(
      [...loopbackDownloadArgs(dataset.torrentPath, join(work, 'out'), ports), '--max-peers', '250'],
      {
        timeoutMs: 180_000,
        onEvent: (event, pid) => {
          timer ??= setInterval(() => {
            const hwm = procStatusKiB(pid, 'VmHWM');
            if (hwm !== undefined) {
              peakHwmKiB = Math.max(peakHwmKiB, hwm);
              samples++;
            }
          }, 200);
          if (event.event === 'progress' || event.event === 'done') {
            const connected = (event.peers as { connected: number }).connected;
            if (connected > peakConnected) peakConnected = connected;
            curve.push(`${((Date.now() - started) / 1000).toFixed(1)}s:${connected}`);
            if (!allUpAfterMs && connected >= PEERS - 10) allUpAfterMs = Date.now() - started;
          }
          if (event.event === 'done') {
            const hwm = procStatusKiB(pid, 'VmHWM');
            if (hwm !== undefined) peakHwmKiB = Math.max(peakHwmKiB, hwm);
          }
        },
      },
    );
    clearInterval(timer);
    const done = run.events.find((event) => event.event === 'done');
    t.diagnostic(
      `tork: exit ${run.status} in ${run.seconds.toFixed(1)} s; peak connected ${peakConnected} ` +
        `(≥ ${PEERS - 10} after ${(allUpAfterMs / 1000).toFixed(1)} s); peak RSS (VmHWM) ${(peakHwmKiB / 1024).toFixed(0)} MiB ` +
        `(${samples} samples); downloaded ${done?.downloadedBytes} B, wasted ${done?.wastedBytes}, hash failures ${done?.hashFailures}`,
    );
    t.diagnostic(`connected over time: ${curve.join(' ')}`);
    assert.equal(run.status, 0, `${run.stderr}\n${JSON.stringify(run.events.slice(-3)).slice(0, 1500)}`);
    assert.ok(done);
    assert.ok(peakConnected >= 190, `peak connected ${peakConnected} < 190`);
    assert.ok(peakHwmKiB > 0, 'RSS sampled');
    assert.ok(peakHwmKiB / 1024 < RSS_LIMIT_MIB, `peak RSS ${(peakHwmKiB / 1024).toFixed(0)} MiB`);
    assert.deepEqual(await verifyDownload(dataset, join(work, 'out')), [], 'files differ from the data set');
  });
});
