/**
 * Real clients download from `tork seed` on 127.0.0.1 and get byte-identical files: aria2c and
 * libtorrent, each from one tork seeder alone and from three, all found through opentracker
 * (http announce, whitelisted info-hash) from a torrent made by `tork create`. The swarm holds
 * only tork seeders and the one downloader under test. Every process is stopped by PID.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { waitForSeeders } from '../download/support.js';
import { type Opentracker, startOpentracker } from '../support/opentracker.js';
import { freePort, pidAlive, requireProgram } from '../support/programs.js';
import {
  compareSet,
  killOnExit,
  LIBTORRENT_DOWNLOADER,
  requireLibtorrent,
  SET_LENGTH,
  startTork,
  type TorkProcess,
  torkCreate,
  writeSeedSet,
} from './support.js';

/** This file's own torrent name, so its own info-hash (writeSeedSet). */
const NAME = 'seedset-interop';

/** Longest a downloader may take for the 24 MiB set on loopback. */
const DOWNLOAD_TIMEOUT_MS = 120_000;

let work: string;
let dataDir: string;
let sourceTop: string;
let infoHash: string;

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'tork-seed-interop-'));
  dataDir = join(work, 'data');
  sourceTop = await writeSeedSet(dataDir, NAME);
  // The info-hash does not depend on the announce URL: learn it first, to whitelist it.
  const probe = torkCreate(sourceTop, 'http://127.0.0.1:1/announce', join(work, 'probe.torrent'));
  infoHash = probe.infoHash;
  assert.equal(probe.length, SET_LENGTH);
  assert.equal(probe.fileCount, 6);
});
// TORK_KEEP_WORK=1 keeps the data, torrents, outputs and aria2c logs for a post-mortem.
after(() => (process.env.TORK_KEEP_WORK ? undefined : rm(work, { recursive: true, force: true })));

interface Swarm {
  tracker: Opentracker;
  torrent: string;
  seeders: TorkProcess[];
}

/**
 * opentracker whitelisting the set, a torrent for it made by `tork create`, and `count` tork
 * seeders announced to it (all read the same data dir). Everything is stopped in `t.after`.
 */
async function startSwarm(t: TestContext, opentracker: string, count: number, label: string): Promise<Swarm> {
  const tracker = await startOpentracker(opentracker, [infoHash]);
  const seeders: TorkProcess[] = [];
  t.after(async () => {
    await Promise.all(seeders.map((seeder) => seeder.stop()));
    await tracker.stop();
  });
  const torrent = join(work, `${label}.torrent`);
  const created = torkCreate(sourceTop, tracker.httpUrl, torrent);
  assert.equal(created.infoHash, infoHash, 'same info-hash whatever the announce URL');
  for (let i = 0; i < count; i++) {
    const seeder = await startTork('seed', [torrent, '--data', dataDir]);
    seeders.push(seeder);
    // A full check (`checked`) or a trusted resume snapshot (`resumed`), then `done`: it has it all.
    const done = await seeder.waitFor('done', 30_000);
    assert.equal(done.verifiedPieces, created.pieceCount, `seeder ${i} has every piece`);
    assert.equal(done.downloadedBytes, 0, `seeder ${i} downloaded nothing`);
  }
  await waitForSeeders(tracker.httpUrl, infoHash, count);
  return { tracker, torrent, seeders };
}

/** Stops the seeders with SIGINT; each exits 0 with a `stopped` event. Returns uploadedBytes each. */
async function stopSeeders(seeders: readonly TorkProcess[]): Promise<number[]> {
  await Promise.all(seeders.map((seeder) => seeder.stop()));
  const uploaded: number[] = [];
  for (const seeder of seeders) {
    const exit = await seeder.exited;
    assert.equal(exit.status, 0, `seeder exit after SIGINT (${exit.signal})\n${seeder.transcript()}`);
    const stopped = seeder.events.find((event) => event.event === 'stopped');
    assert.ok(stopped, `a stopped event\n${seeder.transcript()}`);
    uploaded.push(stopped.uploadedBytes as number);
  }
  return uploaded;
}

interface Finished {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Killed because nothing moved for {@link STALL_MS}. */
  stalled: boolean;
  seconds: number;
}

/** With no progress for this long, a downloader is killed and the test fails as stalled. */
const STALL_MS = 30_000;

/**
 * Runs a program to its end; SIGKILL by PID after `timeoutMs`, or once `progress()` has not grown
 * for {@link STALL_MS} (then `stalled` is set), and in `t.after` if still alive.
 */
function runToEnd(
  t: TestContext,
  command: string,
  args: readonly string[],
  timeoutMs: number,
  progress: () => number,
): Promise<Finished> {
  const started = Date.now();
  const child: ChildProcess = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  killOnExit(child);
  t.after(() => {
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      process.kill(child.pid, 'SIGKILL');
    }
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    stdout = (stdout + chunk.toString('utf8')).slice(-256 * 1024);
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString('utf8')).slice(-64 * 1024);
  });
  const kill = (): void => {
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      process.kill(child.pid, 'SIGKILL');
    }
  };
  const timer = setTimeout(kill, timeoutMs);
  let stalled = false;
  let lastProgress = progress();
  let lastChange = Date.now();
  const watch = setInterval(() => {
    const now = progress();
    if (now !== lastProgress) {
      lastProgress = now;
      lastChange = Date.now();
    } else if (Date.now() - lastChange > STALL_MS) {
      stalled = true;
      kill();
    }
  }, 1_000);
  return new Promise((resolve, reject) => {
    child.once('error', (error) => {
      clearTimeout(timer);
      clearInterval(watch);
      reject(error);
    });
    child.once('exit', (status, signal) => {
      clearTimeout(timer);
      clearInterval(watch);
      if (child.pid !== undefined && pidAlive(child.pid) && status === null && signal === null) {
        reject(new Error(`${command} (pid ${child.pid}) still alive`));
      }
      resolve({ status, signal, stdout, stderr, stalled, seconds: (Date.now() - started) / 1000 });
    });
  });
}

/** What the seeders have uploaded so far, by their latest `progress` events. */
function uploadedSoFar(seeders: readonly TorkProcess[]): number {
  let total = 0;
  for (const seeder of seeders) {
    const last = seeder.events.findLast((event) => event.event === 'progress');
    total += (last?.uploadedBytes as number | undefined) ?? 0;
  }
  return total;
}

function seedersSummary(seeders: readonly TorkProcess[], uploaded: readonly number[]): string {
  return seeders.map((seeder, i) => `127.0.0.1:${seeder.port} uploaded ${uploaded[i]}`).join(', ');
}

async function aria2Case(t: TestContext, seederCount: number): Promise<void> {
  const aria2c = requireProgram(t, 'aria2c', 'aria2');
  const opentracker = aria2c && requireProgram(t, 'opentracker', 'opentracker');
  if (!aria2c || !opentracker) return;
  const label = `aria2-${seederCount}`;
  const { torrent, seeders } = await startSwarm(t, opentracker, seederCount, label);
  const out = join(work, `out-${label}`);
  await mkdir(out, { recursive: true });
  const log = join(work, `${label}.aria2.log`);
  const run = await runToEnd(
    t,
    aria2c,
    [
      '--no-conf',
      '--seed-time=0',
      '--enable-dht=false',
      '--enable-dht6=false',
      '--bt-enable-lpd=false',
      '--enable-peer-exchange=false',
      '--file-allocation=none',
      '--disable-ipv6=true',
      `--listen-port=${await freePort()}`,
      '--summary-interval=0',
      '--show-console-readout=false',
      '--console-log-level=warn',
      `--log=${log}`,
      '--log-level=info',
      '--dir',
      out,
      torrent,
    ],
    DOWNLOAD_TIMEOUT_MS,
    () => uploadedSoFar(seeders),
  );
  const uploaded = await stopSeeders(seeders);
  const logTail = async () => {
    const text = await readFile(log, 'utf8').catch(() => '(no log)');
    // The wire conversation without the per-block lines: handshakes, bitfields, haves, errors.
    const lines = text.split('\n').filter((line) => !/ (piece|request) index=/.test(line));
    return lines.slice(-60).join('\n');
  };
  assert.equal(
    run.status,
    0,
    `aria2c exited ${run.status} (${run.signal}${run.stalled ? ', killed: stalled' : ''}) after ${run.seconds} s\n${run.stdout}\n${run.stderr}\n` +
      `--- aria2c log tail ---\n${await logTail()}\n--- seeders ---\n${seeders.map((s) => s.transcript()).join('\n')}`,
  );
  assert.deepEqual(await compareSet(sourceTop, join(out, NAME)), [], 'every file byte-identical');
  const total = uploaded.reduce((sum, bytes) => sum + bytes, 0);
  assert.ok(
    total >= SET_LENGTH,
    `tork seeders uploaded ${total} < ${SET_LENGTH}: ${seedersSummary(seeders, uploaded)}`,
  );
  t.diagnostic(`aria2c: ${run.seconds.toFixed(1)} s; ${seedersSummary(seeders, uploaded)}`);
  if (seederCount > 1) {
    const serving = uploaded.filter((bytes) => bytes > 0).length;
    assert.ok(serving >= 2, `aria2c got data from ${serving} of ${seederCount} tork seeders`);
  }
}

async function libtorrentCase(t: TestContext, seederCount: number): Promise<void> {
  const opentracker = requireProgram(t, 'opentracker', 'opentracker');
  const python = opentracker && requireLibtorrent(t);
  if (!opentracker || !python) return;
  const label = `lt-${seederCount}`;
  const { torrent, seeders } = await startSwarm(t, opentracker, seederCount, label);
  const out = join(work, `out-${label}`);
  await mkdir(out, { recursive: true });
  // Port 0: it only dials out, and a kernel-chosen port cannot be taken between pick and bind.
  const run = await runToEnd(
    t,
    python,
    [LIBTORRENT_DOWNLOADER, torrent, out, '0', String(DOWNLOAD_TIMEOUT_MS / 1000 - 10)],
    DOWNLOAD_TIMEOUT_MS,
    () => uploadedSoFar(seeders),
  );
  const uploaded = await stopSeeders(seeders);
  const lines = run.stdout.trim().split('\n').filter(Boolean);
  const last = lines.length > 0 ? (JSON.parse(lines.at(-1)!) as Record<string, unknown>) : undefined;
  assert.equal(
    run.status,
    0,
    `libtorrent exited ${run.status} (${run.signal}${run.stalled ? ', killed: stalled' : ''}) after ${run.seconds} s\n${lines.at(-1)}\n${run.stderr}\n` +
      `--- seeders ---\n${seeders.map((s) => s.transcript()).join('\n')}`,
  );
  assert.ok(last && last.event === 'done', String(lines.at(-1)));
  assert.equal(last.infoHash, infoHash, "libtorrent's info-hash equals tork's");
  assert.deepEqual(await compareSet(sourceTop, join(out, NAME)), [], 'every file byte-identical');
  const total = uploaded.reduce((sum, bytes) => sum + bytes, 0);
  assert.ok(
    total >= SET_LENGTH,
    `tork seeders uploaded ${total} < ${SET_LENGTH}: ${seedersSummary(seeders, uploaded)}`,
  );
  const peers = last.peers as Array<{ address: string; client: string; downloaded: number }>;
  t.diagnostic(
    `libtorrent: ${run.seconds.toFixed(1)} s; ${seedersSummary(seeders, uploaded)}; peers seen ${JSON.stringify(peers)}`,
  );
  // libtorrent's peer list is polled every 0.1 s and a fast download can finish between polls (its
  // peers then show no client or bytes yet); the seeders' upload totals above prove the source.
  const named = peers.filter((peer) => peer.client !== '');
  assert.ok(
    named.every((peer) => peer.client.startsWith('tork')),
    `libtorrent saw only tork peers: ${JSON.stringify(peers)}`,
  );
  if (seederCount > 1) {
    const serving = uploaded.filter((bytes) => bytes > 0).length;
    assert.ok(serving >= 2, `libtorrent got data from ${serving} of ${seederCount} tork seeders`);
  }
}

describe('real clients download from tork seeders via opentracker', () => {
  it('aria2c from tork alone', (t) => aria2Case(t, 1));
  it('aria2c from several tork seeders', (t) => aria2Case(t, 3));
  it('libtorrent from tork alone', (t) => libtorrentCase(t, 1));
  it('libtorrent from several tork seeders', (t) => libtorrentCase(t, 3));
});
