#!/usr/bin/env node
// From a magnet link to the first piece and to completion: tork and libtorrent in turn on the same
// loopback swarm (libtorrent seeders; the magnet names them with x.pe), alternating, --runs times.
// Seconds from the downloader's start: metadata had, first piece verified, every piece verified.
// With --dht the magnet holds only the info-hash and the DHT is the only way to the seeders: a
// loopback DHT of libtorrent nodes (test/dht/libtorrent-dht.py, 127.0.0.10 and up; --seeders of
// them seed), each downloader a fresh node bootstrapping from node 0 with an empty routing table.
//
//   pnpm build && node scripts/magnet-bench.mjs [--size 256] [--files 40] [--seeders 8] [--runs 3] [--dht]
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ensureDataset } from '../packages/cli/dist/index.js';
import { parseMetainfo } from '../packages/core/dist/index.js';
import { startLibtorrentDht } from '../test/dist/dht/support.js';
import { freePort, startProgram, tcpPortOpen } from '../test/dist/support/programs.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const { values } = parseArgs({
  options: {
    size: { type: 'string', default: '256' },
    files: { type: 'string', default: '40' },
    seeders: { type: 'string', default: '8' },
    runs: { type: 'string', default: '3' },
    dht: { type: 'boolean', default: false },
  },
});
// No LSD multicast, no public DHT router: every tork this starts stays on loopback.
process.env.TORK_HERMETIC = '1';
const python = '/usr/bin/python3';
const dataset = await ensureDataset(join(tmpdir(), 'tork-interop-matrix-cache'), {
  size: Number.parseInt(values.size, 10) * 1024 * 1024,
  files: Number(values.files),
  pieceLength: 256 * 1024,
  seed: 11,
});
const infoHash = parseMetainfo(await readFile(dataset.torrentPath)).infoHashHex;
const seeders = [];
const dht = values.dht
  ? await startLibtorrentDht(python, Math.max(8, Number(values.seeders) + 1), {
      torrent: dataset.torrentPath,
      dataDir: dataset.dataDir,
      seeders: Number(values.seeders),
    })
  : undefined;
for (let i = 0; !dht && i < Number(values.seeders); i++) {
  const port = await freePort();
  seeders.push(
    Object.assign(
      await startProgram(
        python,
        [
          join(root, 'scripts/interop/libtorrent-peer.py'),
          'seed',
          dataset.torrentPath,
          dataset.dataDir,
          String(port),
        ],
        {
          ready: () => tcpPortOpen('127.0.0.1', port),
        },
      ),
      { port },
    ),
  );
}
const magnet = `magnet:?xt=urn:btih:${infoHash}${seeders.map((s) => `&x.pe=127.0.0.1:${s.port}`).join('')}`;
const work = await mkdtemp(join(tmpdir(), 'tork-magnet-bench-'));

/** Runs a downloader; `marks` maps its output lines to the moments measured. */
async function measure(command, args, parse) {
  const started = performance.now();
  const marks = {};
  const program = await startProgram(command, args);
  program.child.stdout.on('data', (chunk) => {
    for (const line of chunk.toString().split('\n')) {
      const mark = parse(line);
      if (mark && marks[mark] === undefined) marks[mark] = (performance.now() - started) / 1000;
    }
  });
  await new Promise((resolve) => (program.running() ? program.child.once('exit', resolve) : resolve()));
  if (program.child.exitCode !== 0)
    throw new Error(`${command} exited ${program.child.exitCode}: ${program.output().slice(-400)}`);
  return marks;
}

const tork = (out) =>
  measure(
    process.execPath,
    [
      join(root, 'packages/cli/dist/main.js'),
      'download',
      magnet,
      '--out',
      out,
      '--port',
      '0',
      '--listen-host',
      '127.0.0.1',
      '--json',
      '--no-trackers',
      ...(dht
        ? ['--dht-bootstrap', dht.bootstrap, '--dht-state', join(work, `dht-${Math.random()}.json`)]
        : ['--no-dht']),
    ],
    (line) => {
      if (line.includes('"event":"metadata-received"')) return 'metadata';
      if (line.includes('"event":"piece-verified"')) return 'firstPiece';
      if (line.includes('"event":"done"')) return 'done';
      return undefined;
    },
  );
const libtorrentDht = async (out) => {
  // TCP only, like tork and like the x.pe run's libtorrent (libtorrent prefers uTP by default).
  dht.send({ cmd: 'download', magnet, save: out, leave: true, tcp: true });
  const marks = {};
  marks.metadata = (await dht.next('download-metadata', 300_000)).seconds;
  marks.firstPiece = (await dht.next('download-first-piece', 300_000)).seconds;
  marks.done = (await dht.next('finished', 300_000)).seconds;
  return marks;
};
const libtorrent = async (out) => {
  const port = await freePort();
  return measure(
    python,
    [
      join(root, 'test/magnet/libtorrent-magnet.py'),
      magnet,
      out,
      String(port),
      `127.0.0.1:${seeders[0].port}`,
      '300',
    ],
    (line) => {
      if (line.includes('"event": "metadata"')) return 'metadata';
      if (line.includes('"event": "first-piece"')) return 'firstPiece';
      if (line.includes('"event": "done"')) return 'done';
      return undefined;
    },
  );
};

const rows = [];
for (let run = 1; run <= Number(values.runs); run++) {
  for (const [name, download] of [
    ['tork', tork],
    ['libtorrent', dht ? libtorrentDht : libtorrent],
  ]) {
    const out = join(work, `${name}-${run}`);
    const marks = await download(out);
    rows.push({ name, run, ...marks });
    process.stderr.write(
      `${name.padEnd(11)} run ${run}: metadata ${marks.metadata?.toFixed(2)} s, first piece ${marks.firstPiece?.toFixed(2)} s, done ${marks.done?.toFixed(2)} s\n`,
    );
    await rm(out, { recursive: true, force: true });
  }
}
for (const seeder of seeders) await seeder.stop();
await dht?.stop();
await rm(work, { recursive: true, force: true });
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
for (const name of ['tork', 'libtorrent']) {
  const mine = rows.filter((row) => row.name === name);
  process.stdout.write(
    `${name.padEnd(11)} median of ${mine.length}: metadata ${median(mine.map((r) => r.metadata)).toFixed(2)} s, first piece ${median(mine.map((r) => r.firstPiece)).toFixed(2)} s, done ${median(mine.map((r) => r.done)).toFixed(2)} s\n`,
  );
}
