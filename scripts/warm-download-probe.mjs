// Cold and warm downloads, tork against libtorrent, from the same libtorrent seeders (issue 17).
//
//   node scripts/warm-download-probe.mjs [--size 256MiB] [--files 40] [--piece-size 16KiB]
//       [--seeders 8] [--rounds 5] [--workers N] [--cache DIR]
//
// `tork bench` starts every downloader as a fresh process, so its figures include what a fresh
// process pays before its hot paths run optimised: V8 compiling them, in each thread. A client that
// keeps running (`tork daemon`, an application embedding the engine) pays that once. This probe
// measures both: one tork Engine (in this process) and one libtorrent session (one python process)
// each download the bench's data set `--rounds` times in turn, from one libtorrent farm of
// `--seeders` seeders on 127.0.0.1 (peers given directly: no tracker, DHT, LSD, uTP). Round 1 of
// each client is cold; later rounds reuse the warm engine / session. Each download's CPU is its
// process's getrusage delta (all threads), so the engine's CPU here includes this script's.
//
// Not part of the tests: figures go to docs/performance.md with the command that produced them.
import { spawn } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { Engine, parseMetainfo } from '@tork/core';
import { ThreadActorSystem } from '@tork/workers';
import { defaultPeerHosts } from '@tork/workers/available-cores';
import { LIBTORRENT_SETTINGS, probeDataset, startFarm, swarmOptions } from './probe-swarm.mjs';

process.env.TORK_HERMETIC = '1';
const { values } = parseArgs({
  options: {
    ...swarmOptions,
    rounds: { type: 'string', default: '5' },
    workers: { type: 'string' },
  },
});
const rounds = Number(values.rounds);
const seeders = Number(values.seeders);
const workers = values.workers ? Number(values.workers) : defaultPeerHosts();
if (!(rounds >= 1 && rounds <= 50 && seeders >= 1 && seeders <= 64))
  throw new Error('--rounds 1..50, --seeders 1..64');

const dataset = await probeDataset(values);
const meta = parseMetainfo(await readFile(dataset.torrentPath));
const mb = dataset.length / 1e6;
const gib = dataset.length / 2 ** 30;
const work = join(tmpdir(), `tork-warm-probe-${process.pid}`);
const children = [];
process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

/** Starts a child and returns it with a reader of its stdout lines. */
function start(args) {
  const child = spawn(values.python, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  children.push(child);
  const lines = createInterface({ input: child.stdout });
  const queue = [];
  const waiting = [];
  lines.on('line', (line) => (waiting.length > 0 ? waiting.shift()(line) : queue.push(line)));
  const next = (ms) =>
    queue.length > 0
      ? Promise.resolve(queue.shift())
      : new Promise((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`no answer from ${args[0]} in ${ms} ms`)), ms);
          waiting.push((line) => {
            clearTimeout(timer);
            resolve(line);
          });
        });
  return { child, next };
}

const farm = await startFarm(values.python, dataset, seeders);
const { ports } = farm;
const peers = ports.map((port) => ({ host: '127.0.0.1', port }));

// One libtorrent session for every round: "download DIR" -> {"wall", "cpu"} once seeding.
const LIBTORRENT = `
import json, resource, sys, time, libtorrent as lt
torrent, ports = sys.argv[1], [int(p) for p in sys.argv[2].split(',')]
s = lt.session(${LIBTORRENT_SETTINGS})
info = lt.torrent_info(torrent)
print(json.dumps({'ready': True}), flush=True)
for line in sys.stdin:
    save = line.split(' ', 1)[1].strip()
    r0 = resource.getrusage(resource.RUSAGE_SELF); t0 = time.time()
    p = lt.add_torrent_params(); p.ti = info; p.save_path = save
    h = s.add_torrent(p)
    for port in ports: h.connect_peer(('127.0.0.1', port))
    while not h.status().is_seeding:
        if time.time() - t0 > 600: print(json.dumps({'error': 'timeout'}), flush=True); sys.exit(1)
        time.sleep(0.01)
    wall = time.time() - t0; r1 = resource.getrusage(resource.RUSAGE_SELF)
    s.remove_torrent(h)
    print(json.dumps({'wall': wall, 'cpu': r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime}), flush=True)
`;
const libtorrent = start(['-c', LIBTORRENT, dataset.torrentPath, ports.join(',')]);
await libtorrent.next(60_000);

const engine = new Engine({ actors: await ThreadActorSystem.start({ workers }), port: 0 });
const results = { tork: [], libtorrent: [] };
try {
  for (let round = 1; round <= rounds; round++) {
    const ltDir = join(work, `libtorrent-${round}`);
    libtorrent.child.stdin.write(`download ${ltDir}\n`);
    const lt = JSON.parse(await libtorrent.next(600_000));
    if (lt.error) throw new Error(`libtorrent: ${lt.error}`);
    results.libtorrent.push(lt);
    await rm(ltDir, { recursive: true, force: true });

    const torkDir = join(work, `tork-${round}`);
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const torrent = await engine.add({ meta, outDir: torkDir, peers, useTrackers: false });
    await torrent.whenDone();
    const wall = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    await engine.remove(meta.infoHashHex);
    await rm(torkDir, { recursive: true, force: true });
    results.tork.push({ wall, cpu: (cpu.user + cpu.system) / 1e6 });

    const line = (name, r) =>
      `${name} ${(mb / r.wall).toFixed(1)} MB/s, ${(r.cpu / gib).toFixed(2)} CPU s/GiB`;
    console.log(`round ${round}: ${line('libtorrent', lt)}; ${line('tork', results.tork.at(-1))}`);
  }
} finally {
  await engine.close();
  await rm(work, { recursive: true, force: true });
  farm.child.kill('SIGTERM');
  libtorrent.child.stdin.end();
}

const median = (list) => {
  const sorted = [...list].sort((a, b) => a - b);
  return sorted.length % 2
    ? sorted[sorted.length >> 1]
    : (sorted[sorted.length / 2 - 1] + sorted[sorted.length / 2]) / 2;
};
const summary = (list) => ({
  mbPerSecond: Number((mb / median(list.map((r) => r.wall))).toFixed(1)),
  cpuSecondsPerGiB: Number((median(list.map((r) => r.cpu)) / gib).toFixed(2)),
});
const report = {
  dataset: { name: dataset.name, length: dataset.length, pieceLength: meta.pieceLength },
  seeders,
  workers,
  node: process.version,
  cold: { tork: summary(results.tork.slice(0, 1)), libtorrent: summary(results.libtorrent.slice(0, 1)) },
  warm:
    rounds > 1
      ? { tork: summary(results.tork.slice(1)), libtorrent: summary(results.libtorrent.slice(1)) }
      : null,
  rounds: results,
};
console.log(JSON.stringify(report));
