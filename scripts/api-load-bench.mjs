#!/usr/bin/env node
// What API load costs a download: one `tork daemon` per run downloads the same torrent from the
// same libtorrent seeders on loopback (uncapped), once quiet and once under API load, interleaved
// (quiet/load, then load/quiet, …), --runs times each. Under load, bursts of --requests concurrent
// requests (GET list, detail, session, /metrics, malformed JSON, unknown routes) follow each other
// for the whole download. Throughput: the torrent's bytes over its own elapsed time from its start
// to its `done` event (read from the event stream).
//
//   pnpm build && node scripts/api-load-bench.mjs [--size 256] [--seeders 4] [--runs 3] [--requests 1000]
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { Agent, request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ensureDataset } from '../packages/cli/dist/index.js';
import { startDaemon } from '../test/dist/daemon/support.js';
import { libtorrentPython, startLibtorrentSeeder } from '../test/dist/download/support.js';

const { values } = parseArgs({
  options: {
    size: { type: 'string', default: '256' },
    seeders: { type: 'string', default: '4' },
    runs: { type: 'string', default: '3' },
    requests: { type: 'string', default: '1000' },
    json: { type: 'boolean', default: false },
  },
});
process.env.TORK_HERMETIC = '1';
const REQUESTS = Number(values.requests);
const python = await libtorrentPython();
if (!python) throw new Error('no python3 with libtorrent: apt-get install python3-libtorrent');
const dataset = await ensureDataset(join(tmpdir(), 'tork-api-load-bench-cache'), {
  size: Number(values.size) * 1024 * 1024,
  files: 8,
  pieceLength: 256 * 1024,
  seed: 23,
});
const seeders = [];
for (let i = 0; i < Number(values.seeders); i++)
  seeders.push(await startLibtorrentSeeder(python, dataset.torrentPath, dataset.dataDir));
const peers = seeders.map((seeder) => `127.0.0.1:${seeder.port}`);

const _timeout = () => AbortSignal.timeout(60_000);
// The load comes through node:http with keep-alive: fetch (undici) costs the bench ~1.6 ms of CPU
// a request, which on a 2-core machine is taken from the download it measures.
const agent = new Agent({ keepAlive: true, maxSockets: 2_000 });
function send(url, method, path, body) {
  return new Promise((resolve) => {
    const request = httpRequest(`${url}${path}`, { method, agent, timeout: 60_000 }, (response) => {
      response.resume();
      response.on('end', () => resolve(response.statusCode));
      response.on('error', () => resolve(0));
    });
    request.on('error', () => resolve(0));
    request.on('timeout', () => request.destroy());
    if (body !== undefined) request.setHeader('content-type', 'application/json');
    request.end(body);
  });
}
/** One request of the mix: [name, share in 1,000, request]. */
const MIX = [
  ['list', 300, (url) => send(url, 'GET', '/api/v1/torrents')],
  ['detail', 250, (url, id) => send(url, 'GET', `/api/v1/torrents/${id}`)],
  ['session', 200, (url) => send(url, 'GET', '/api/v1/session')],
  ['metrics', 100, (url) => send(url, 'GET', '/metrics')],
  ['malformed', 75, (url) => send(url, 'POST', '/api/v1/torrents', '{"magnet": ')],
  ['unknown', 75, (url) => send(url, 'GET', '/api/v1/nothing')],
];
const plan = [];
for (const [, share, request] of MIX)
  for (let i = 0; i < Math.round((share * REQUESTS) / 1000); i++) plan.push(request);

/** Bursts of REQUESTS concurrent requests until `done()`; counts answers by status class. */
async function load(url, id, done) {
  const tally = { bursts: 0, ok: 0, clientError: 0, other: 0, burstMs: [] };
  while (!done()) {
    const began = performance.now();
    await Promise.all(
      plan.map(async (request) => {
        const status = await request(url, id);
        if (status >= 200 && status < 300) tally.ok++;
        else if (status >= 400 && status < 500) tally.clientError++;
        else tally.other++;
      }),
    );
    tally.bursts++;
    tally.burstMs.push(performance.now() - began);
  }
  return tally;
}

/** The daemon's event stream; `done(id)` resolves with that torrent's `done` event data. */
function openEvents(url) {
  return new Promise((resolve, reject) => {
    const waiters = new Map();
    const seen = new Map();
    const request = httpRequest(`${url}/api/v1/events`, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk) => {
        text += chunk;
        const blocks = text.split('\n\n');
        text = blocks.pop() ?? '';
        for (const block of blocks) {
          if (!/^event: done$/m.test(block)) continue;
          const data = JSON.parse(/^data: (.*)$/m.exec(block)[1]);
          seen.set(data.torrentId, data);
          waiters.get(data.torrentId)?.(data);
        }
      });
      resolve({
        done: (id) =>
          new Promise((resolveDone, rejectDone) => {
            if (seen.has(id)) resolveDone(seen.get(id));
            waiters.set(id, resolveDone);
            setTimeout(() => rejectDone(new Error('no done event in 10 minutes')), 600_000).unref();
          }),
        close: () => request.destroy(),
      });
    });
    request.on('error', reject);
    request.end();
  });
}

/** CPU seconds (user + system) of a process (`/proc/PID/stat`) or one of its threads (`task/TID/stat`). */
async function cpuSeconds(path) {
  const fields = (await readFile(path, 'utf8')).split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

async function run(mode) {
  const work = await mkdtemp(join(tmpdir(), 'tork-api-load-bench-'));
  const daemon = await startDaemon(['--state', join(work, 'state'), '--download-dir', join(work, 'out')]);
  try {
    const pid = daemon.program.pid;
    const cpu = () =>
      Promise.all([cpuSeconds(`/proc/${pid}/stat`), cpuSeconds(`/proc/${pid}/task/${pid}/stat`)]);
    const [daemonCpu0, mainCpu0] = await cpu();
    const benchCpu0 = process.cpuUsage();
    // The end as the daemon saw it: the torrent's `done` event (its own elapsed time), read from
    // the event stream, which the API's pacing does not hold back (polling would wait its turn).
    const events = await openEvents(daemon.url);
    const began = performance.now();
    const added = await fetch(`${daemon.url}/api/v1/torrents`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ path: dataset.torrentPath, peers }),
    });
    const { id } = await added.json();
    let finished = false;
    const loading = mode === 'load' ? load(daemon.url, id, () => finished) : undefined;
    const done = await events.done(id);
    events.close();
    const seconds = done.elapsedMs / 1000;
    const wallSeconds = (performance.now() - began) / 1000;
    const [daemonCpu1, mainCpu1] = await cpu();
    const bench = process.cpuUsage(benchCpu0);
    finished = true;
    const tally = await loading;
    return {
      mode,
      seconds,
      wallSeconds,
      mbPerSecond: dataset.length / 1e6 / seconds,
      daemonCpuSeconds: daemonCpu1 - daemonCpu0,
      coordinatorCpuSeconds: mainCpu1 - mainCpu0,
      benchCpuSeconds: (bench.user + bench.system) / 1e6,
      ...(tally ? { load: tally } : {}),
    };
  } finally {
    await daemon.program.stop();
    await rm(work, { recursive: true, force: true });
  }
}

const results = [];
try {
  for (let i = 0; i < Number(values.runs); i++) {
    for (const mode of i % 2 === 0 ? ['quiet', 'load'] : ['load', 'quiet']) {
      const result = await run(mode);
      results.push(result);
      const extra = result.load
        ? ` bursts ${result.load.bursts} (median ${median(result.load.burstMs).toFixed(0)} ms), answers 2xx ${result.load.ok} 4xx ${result.load.clientError} other ${result.load.other}`
        : '';
      console.log(
        `run ${i + 1} ${mode.padEnd(5)} ${result.seconds.toFixed(2)} s ${result.mbPerSecond.toFixed(1)} MB/s (wall ${result.wallSeconds.toFixed(2)} s); CPU s: daemon ${result.daemonCpuSeconds.toFixed(2)} (coordinator ${result.coordinatorCpuSeconds.toFixed(2)}), bench ${result.benchCpuSeconds.toFixed(2)}${extra}`,
      );
    }
  }
} finally {
  await Promise.all(seeders.map((seeder) => seeder.stop()));
}

function median(list) {
  const sorted = [...list].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}
const quiet = median(results.filter((r) => r.mode === 'quiet').map((r) => r.mbPerSecond));
const loaded = median(results.filter((r) => r.mode === 'load').map((r) => r.mbPerSecond));
console.log(
  `median quiet ${quiet.toFixed(1)} MB/s, under load ${loaded.toFixed(1)} MB/s: ` +
    `${(((quiet - loaded) / quiet) * 100).toFixed(1)} % slower (${values.size} MiB, ${values.seeders} libtorrent seeders, ${REQUESTS} requests a burst)`,
);
if (values.json) console.log(JSON.stringify({ quiet, loaded, results }));
