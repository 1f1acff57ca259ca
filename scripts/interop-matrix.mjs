#!/usr/bin/env node
// The interop matrix: each client seeds to tork and downloads from a tork seeder, and the same
// cells with libtorrent in tork's place, on one loopback machine; every download verified byte
// for byte; MB/s from the downloader's start to its completion (seeders are up and checked
// before). Clients: aria2c, libtorrent, transmission (transmission-cli), rtorrent, ctorrent,
// webtorrent (its library from WEBTORRENT_DIR: `npm i --ignore-scripts webtorrent@2 uint8-util@2.2.5`
// there; uint8-util 2.3 breaks webtorrent 2.8 parsing a .torrent).
//
//   pnpm build && node scripts/interop-matrix.mjs [--size 256MiB] [--files 40]
//       [--clients aria2c,libtorrent,transmission,rtorrent,ctorrent,webtorrent] [--runs 1] [--json]
//
// Everything runs on 127.0.0.x with DHT, LSD, PEX, UPnP and uTP off; peers meet through a loopback
// opentracker (HTTP). Transmission never dials a loopback peer, so its seeders dial it. Each
// client has its own address where it keeps one peer per IP (rtorrent .4, Transmission .5,
// ctorrent .6). Processes are stopped by PID.
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ensureDataset, startAria2Seeder } from '../packages/cli/dist/index.js';
import { decodeBencode, encodeBencode, parseMetainfo } from '../packages/core/dist/index.js';
import { compareTrees, linkTree, startRtorrent, startTransmission } from '../test/dist/clients/support.js';
import { startTork } from '../test/dist/seed/support.js';
import { startOpentracker } from '../test/dist/support/opentracker.js';
import { findProgram, freePort, startProgram, tcpPortOpen } from '../test/dist/support/programs.js';

// Every tork started here inherits this: its DHT never asks the public routers (nothing leaves the machine).
process.env.TORK_HERMETIC = '1';
const root = fileURLToPath(new URL('..', import.meta.url));
const torkMain = join(root, 'packages/cli/dist/main.js');
const { values } = parseArgs({
  options: {
    size: { type: 'string', default: '256MiB' },
    files: { type: 'string', default: '40' },
    clients: { type: 'string', default: 'aria2c,libtorrent,transmission,rtorrent,ctorrent,webtorrent' },
    runs: { type: 'string', default: '1' },
    json: { type: 'boolean', default: false },
  },
});
const TIMEOUT_MS = 300_000;

/** `256MiB`, `1GiB` or bytes. */
function parseMiB(text) {
  const match = /^(\d+)(MiB|GiB)?$/.exec(text);
  if (!match) throw new Error(`bad size ${text}`);
  return Number(match[1]) * (match[2] === 'GiB' ? 1024 ** 3 : match[2] === 'MiB' ? 1024 ** 2 : 1);
}
const python = '/usr/bin/python3';
const log = (line) => process.stderr.write(`${line}\n`);

const dataset = await ensureDataset(join(tmpdir(), 'tork-interop-matrix-cache'), {
  size: parseMiB(values.size),
  files: Number(values.files),
  pieceLength: 256 * 1024,
  seed: 11,
});
const infoHash = parseMetainfo(await readFile(dataset.torrentPath)).infoHashHex;
const work = await mkdtemp(join(tmpdir(), 'tork-matrix-'));
const meta = decodeBencode(await readFile(dataset.torrentPath));
const opentracker = findProgram('opentracker');
// A fresh tracker (and torrent naming it) per cell: no stale peers from an earlier cell, which
// clients that keep one peer per IP (rtorrent) would take for the live one.
let tracker;
let torrent;
async function freshSwarm() {
  await tracker?.stop();
  tracker = await startOpentracker(opentracker, [infoHash]);
  meta.announce = tracker.httpUrl;
  delete meta['announce-list'];
  torrent = join(work, `matrix-${cellIndex}.torrent`);
  await writeFile(torrent, encodeBencode(meta));
}
const source = join(dataset.dataDir, dataset.name);
let cellIndex = 0;

/** A directory for one cell's role: `data` (hard links to the set) or empty. */
async function dirFor(label, withData) {
  const dir = join(work, `${cellIndex}-${label}`);
  await mkdir(dir, { recursive: true });
  if (withData) await linkTree(dataset.dataDir, dir);
  return dir;
}

async function waitFile(path, program, what) {
  const deadline = Date.now() + TIMEOUT_MS;
  while (!existsSync(path)) {
    if (program && !program.running()) throw new Error(`${what} exited: ${program.output().slice(-500)}`);
    if (Date.now() > deadline) throw new Error(`${what}: no completion after ${TIMEOUT_MS} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Resolves when the program prints `word` (a line), or rejects when it exits first. */
async function waitOutput(program, word, what) {
  const deadline = Date.now() + TIMEOUT_MS;
  while (!program.output().split('\n').includes(word)) {
    if (!program.running()) throw new Error(`${what} exited: ${program.output().slice(-500)}`);
    if (Date.now() > deadline) throw new Error(`${what}: no '${word}' after ${TIMEOUT_MS} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

// Each client: seed(dir, dialTo) → { address, port, stop }, leech(dir) → { address, port, done(), stop }.
const clients = {
  tork: {
    async seed(dir, dialTo) {
      const args = [torrent, '--data', dir, ...(dialTo ? ['--peer', dialTo] : [])];
      const seeder = await startTork('seed', args);
      await seeder.waitFor('done', TIMEOUT_MS);
      return { address: '127.0.0.1', port: seeder.port, stop: () => seeder.stop() };
    },
    async leech(dir, seeder) {
      const child = await startProgram(process.execPath, [
        torkMain,
        'download',
        torrent,
        '--out',
        dir,
        '--port',
        '0',
        '--listen-host',
        '127.0.0.1',
        '--quiet',
        '--peer',
        `${seeder.address}:${seeder.port}`,
      ]);
      return {
        done: async () => {
          await new Promise((resolve) => (child.running() ? child.child.once('exit', resolve) : resolve()));
          if (child.child.exitCode !== 0)
            throw new Error(`tork exited ${child.child.exitCode}: ${child.output().slice(-500)}`);
        },
        stop: () => child.stop(),
      };
    },
  },
  libtorrent: {
    async seed(dir, dialTo) {
      const port = await freePort();
      const p = await startProgram(
        python,
        [
          join(root, 'scripts/interop/libtorrent-peer.py'),
          'seed',
          torrent,
          dir,
          String(port),
          ...(dialTo ? [dialTo] : []),
        ],
        {
          ready: () => tcpPortOpen('127.0.0.1', port),
        },
      );
      return { address: '127.0.0.1', port, stop: () => p.stop() };
    },
    async leech(dir) {
      const port = await freePort();
      const p = await startProgram(python, [
        join(root, 'scripts/interop/libtorrent-peer.py'),
        'leech',
        torrent,
        dir,
        String(port),
      ]);
      return { done: () => waitOutput(p, 'done', 'libtorrent'), stop: () => p.stop() };
    },
  },
  aria2c: {
    async seed(dir) {
      // The package's aria2c seeder: the same hermetic flags, and restarted on another port if
      // the one picked was taken before aria2c bound it (it would answer from IPv6 alone).
      const seeder = await startAria2Seeder(findProgram('aria2c'), torrent, dir, { useTrackers: true });
      return { address: '127.0.0.1', port: seeder.port, stop: () => seeder.stop() };
    },
    async leech(dir) {
      const port = await freePort();
      const p = await startProgram(findProgram('aria2c'), [
        '--seed-time=0',
        '--enable-dht=false',
        '--enable-dht6=false',
        '--bt-enable-lpd=false',
        '--enable-peer-exchange=false',
        '--file-allocation=none',
        '--bt-max-peers=0',
        `--listen-port=${port}`,
        '--auto-save-interval=0',
        '--summary-interval=0',
        '--console-log-level=error',
        `--dir=${dir}`,
        torrent,
      ]);
      return {
        done: async () => {
          await new Promise((resolve) => (p.running() ? p.child.once('exit', resolve) : resolve()));
          if (p.child.exitCode !== 0) throw new Error(`aria2c exited ${p.child.exitCode}`);
        },
        stop: () => p.stop(),
      };
    },
  },
  transmission: {
    mustBeDialled: true,
    allowMissingEmpty: true,
    async seed(dir) {
      const client = await startTransmission(
        findProgram('transmission-cli'),
        join(dir, '..', `${cellIndex}-tr-state`),
        torrent,
        dir,
      );
      // It checks the data, then announces as a seed.
      await waitSeeders(1);
      return { address: client.address, port: client.port, stop: () => client.stop() };
    },
    async leech(dir) {
      const client = await startTransmission(
        findProgram('transmission-cli'),
        join(dir, '..', `${cellIndex}-tr-state`),
        torrent,
        dir,
      );
      return {
        address: client.address,
        port: client.port,
        done: () => client.waitFinished(TIMEOUT_MS),
        stop: () => client.stop(),
      };
    },
  },
  rtorrent: {
    async seed(dir) {
      const client = await startRtorrent(
        findProgram('rtorrent'),
        join(dir, '..', `${cellIndex}-rt-state`),
        torrent,
        dir,
      );
      await waitSeeders(1);
      return { address: client.address, port: client.port, stop: () => client.stop() };
    },
    async leech(dir) {
      const client = await startRtorrent(
        findProgram('rtorrent'),
        join(dir, '..', `${cellIndex}-rt-state`),
        torrent,
        dir,
      );
      return { done: () => client.waitFinished(TIMEOUT_MS), stop: () => client.stop() };
    },
  },
  ctorrent: {
    async seed(dir) {
      const port = await freePort({ host: '127.0.0.6', protocols: ['tcp'] });
      const p = await startProgram(
        findProgram('ctorrent'),
        [
          '-i',
          '127.0.0.6',
          '-p',
          String(port),
          '-s',
          join(dir, dataset.name),
          '-e',
          '1',
          '-M',
          '100',
          torrent,
        ],
        {
          ready: () => tcpPortOpen('127.0.0.6', port),
          readyTimeoutMs: 120_000,
        },
      );
      await waitSeeders(1);
      return { address: '127.0.0.6', port, stop: () => p.stop() };
    },
    async leech(dir) {
      const port = await freePort({ host: '127.0.0.6', protocols: ['tcp'] });
      const flag = join(dir, '..', `${cellIndex}-ctorrent-finished`);
      const p = await startProgram(findProgram('ctorrent'), [
        '-i',
        '127.0.0.6',
        '-p',
        String(port),
        '-s',
        join(dir, dataset.name),
        '-e',
        '0',
        '-X',
        `touch ${flag}`,
        torrent,
      ]);
      return { done: () => waitFile(flag, p, 'ctorrent'), stop: () => p.stop() };
    },
  },
  webtorrent: {
    async seed(dir, dialTo) {
      const port = await freePort();
      const p = await startProgram(process.execPath, [
        join(root, 'scripts/interop/webtorrent-peer.mjs'),
        'seed',
        torrent,
        dir,
        String(port),
        ...(dialTo ? [dialTo] : []),
      ]);
      await waitOutput(p, 'ready', 'webtorrent');
      return { address: '127.0.0.1', port, stop: () => p.stop() };
    },
    async leech(dir, seeder) {
      const port = await freePort();
      const p = await startProgram(process.execPath, [
        join(root, 'scripts/interop/webtorrent-peer.mjs'),
        'leech',
        torrent,
        dir,
        String(port),
        `${seeder.address}:${seeder.port}`,
      ]);
      return { done: () => waitOutput(p, 'done', 'webtorrent'), stop: () => p.stop() };
    },
  },
};

async function waitSeeders(count) {
  const { waitForSeeders } = await import('../test/dist/download/support.js');
  await waitForSeeders(tracker.httpUrl, infoHash, count);
}

/** One download: `from` seeds, `to` downloads; MB/s from the downloader's start to completion. */
async function cell(from, to) {
  cellIndex++;
  await freshSwarm();
  const seedDir = await dirFor(`${from}-seed`, true);
  const leechDir = await dirFor(`${to}-leech`, false);
  const stops = [];
  try {
    let leecher;
    let started;
    if (clients[to].mustBeDialled) {
      started = Date.now();
      leecher = await clients[to].leech(leechDir);
      stops.push(leecher.stop);
      const seeder = await clients[from].seed(seedDir, `${leecher.address}:${leecher.port}`);
      stops.push(seeder.stop);
    } else {
      const seeder = await clients[from].seed(seedDir);
      stops.push(seeder.stop);
      started = Date.now();
      leecher = await clients[to].leech(leechDir, seeder);
      stops.push(leecher.stop);
    }
    await leecher.done();
    const seconds = (Date.now() - started) / 1000;
    const problems = await compareTrees(source, join(leechDir, dataset.name), {
      allowMissingEmpty: Boolean(clients[to].allowMissingEmpty),
    });
    if (problems.length > 0) throw new Error(`not byte-identical: ${problems.slice(0, 3).join('; ')}`);
    return { from, to, ok: true, seconds, mbPerSecond: dataset.length / seconds / 1e6 };
  } catch (error) {
    return { from, to, ok: false, error: String(error.message ?? error).split('\n')[0] };
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => {});
    await rm(seedDir, { recursive: true, force: true });
    await rm(leechDir, { recursive: true, force: true });
  }
}

const results = [];
const names = values.clients.split(',').filter(Boolean);
for (let run = 1; run <= Number(values.runs); run++) {
  for (const name of names) {
    if (!clients[name]) throw new Error(`unknown client ${name}`);
    for (const [from, to] of [
      [name, 'tork'],
      [name, 'libtorrent'],
      ['tork', name],
      ['libtorrent', name],
    ]) {
      if (from === to) continue;
      const result = await cell(from, to);
      results.push({ run, ...result });
      log(
        `${`${from} → ${to}`.padEnd(28)} ${result.ok ? `${result.mbPerSecond.toFixed(1).padStart(6)} MB/s  (${result.seconds.toFixed(1)} s)` : `FAIL ${result.error}`}`,
      );
    }
  }
}
await tracker.stop();
await rm(work, { recursive: true, force: true });
if (values.json)
  process.stdout.write(
    `${JSON.stringify({ dataset: { size: dataset.length, files: dataset.files.length }, results }, null, 2)}\n`,
  );
process.exitCode = results.every((result) => result.ok) ? 0 : 1;
