#!/usr/bin/env node
// What an idle torrent costs a daemon in memory: one `tork daemon`, small generated torrents added
// through the API in steps (0, 50, 100, 200), either seeding with no peers (complete: each added
// with its data as output directory, so it verifies and seeds) or paused. After each step, once
// every torrent is in its state and 2 s have passed: the daemon's VmRSS (/proc/PID/status) and
// its V8 heap in use (GET /api/v1/session, memory). Per torrent: the growth over the step at 0.
//
//   pnpm build && node scripts/idle-memory-bench.mjs [--mode seeding|paused] [--steps 0,50,100,200]
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ensureDataset } from '../packages/cli/dist/index.js';
import { startDaemon } from '../test/dist/daemon/support.js';

const { values } = parseArgs({
  options: {
    mode: { type: 'string', default: 'seeding' },
    steps: { type: 'string', default: '0,50,100,200' },
  },
});
process.env.TORK_HERMETIC = '1';
const steps = values.steps.split(',').map(Number);
const total = Math.max(...steps);
const datasets = [];
for (let i = 0; i < total; i++)
  datasets.push(
    await ensureDataset(join(tmpdir(), 'tork-idle-cache'), {
      size: 256 * 1024 + i,
      files: 3,
      pieceLength: 16 * 1024,
      seed: 5000 + i,
    }),
  );
const work = await mkdtemp(join(tmpdir(), 'tork-idle-bench-'));
const daemon = await startDaemon(['--state', join(work, 'state'), '--download-dir', join(work, 'out')]);
const get = async (path) => (await fetch(`${daemon.url}${path}`)).json();
/** The daemon's CPU seconds (all threads). */
const cpuSeconds = async () => {
  const fields = (await readFile(`/proc/${daemon.program.pid}/stat`, 'utf8')).split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
};
const rss = async () =>
  Number(/VmRSS:\s+(\d+) kB/.exec(await readFile(`/proc/${daemon.program.pid}/status`, 'utf8'))[1]) * 1024;
try {
  let added = 0;
  const rows = [];
  for (const step of steps) {
    for (; added < step; added++) {
      const dataset = datasets[added];
      const response = await fetch(`${daemon.url}/api/v1/torrents`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          path: dataset.torrentPath,
          downloadDir: dataset.dataDir,
          paused: values.mode === 'paused',
        }),
      });
      if (response.status !== 201) throw new Error(`add: ${response.status} ${await response.text()}`);
    }
    const want = values.mode === 'paused' ? 'paused' : 'seeding';
    for (let tries = 0; ; tries++) {
      const { torrents } = await get('/api/v1/torrents');
      if (torrents.every((torrent) => torrent.state === want)) break;
      if (tries > 600)
        throw new Error(
          `not all ${want}: ${JSON.stringify(torrents.filter((t) => t.state !== want).slice(0, 2))}`,
        );
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const cpu0 = await cpuSeconds();
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const idleCpu = ((await cpuSeconds()) - cpu0) / 2;
    const session = await get('/api/v1/session');
    const row = {
      torrents: step,
      rssBytes: await rss(),
      heapUsedBytes: session.memory.heapUsedBytes,
      idleCpu,
    };
    rows.push(row);
    const base = rows[0];
    const per = (key) =>
      step > base.torrents ? ((row[key] - base[key]) / (step - base.torrents) / 1024).toFixed(1) : '-';
    console.log(
      `${values.mode} ${String(step).padStart(4)} torrents: RSS ${(row.rssBytes / 2 ** 20).toFixed(1)} MiB, heap ${(row.heapUsedBytes / 2 ** 20).toFixed(1)} MiB; per torrent RSS ${per('rssBytes')} KiB, heap ${per('heapUsedBytes')} KiB; idle CPU ${(row.idleCpu * 100).toFixed(0)} %`,
    );
  }
} finally {
  await daemon.program.stop();
  await rm(work, { recursive: true, force: true });
}
