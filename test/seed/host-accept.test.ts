/**
 * On Node >= 22.12 (`reusePort`) the peer hosts accept on the engine's port themselves and serve
 * from their own sockets: no byte crosses the coordinator's relay. This machine may run Node 20,
 * so `tork seed` runs here under a Node 22.12 binary from the npm registry (see newer-node.ts);
 * the downloaders are libtorrent (plain handshake, found through opentracker) and tork on this
 * Node with `--encryption require` (an MSE handshake, answered by the host). Both get
 * byte-identical files, and the seeder's `stopped` event says the connections were accepted in
 * the hosts, none relayed. The Node 20 relay path is what the other seed tests run.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { torkMain, waitForSeeders } from '../download/support.js';
import { requireNewerNode } from '../support/newer-node.js';
import { startOpentracker } from '../support/opentracker.js';
import { requireProgram } from '../support/programs.js';
import {
  compareSet,
  killOnExit,
  LIBTORRENT_DOWNLOADER,
  requireLibtorrent,
  startTork,
  type TorkProcess,
  torkCreate,
  writeSeedSet,
} from './support.js';

/** This file's own torrent name, so its own info-hash (writeSeedSet). */
const NAME = 'seedset-host-accept';

const DOWNLOAD_TIMEOUT_MS = 90_000;

let work: string;
let dataDir: string;
let sourceTop: string;
let infoHash: string;

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'tork-host-accept-'));
  dataDir = join(work, 'data');
  sourceTop = await writeSeedSet(dataDir, NAME);
  infoHash = torkCreate(sourceTop, 'http://127.0.0.1:1/announce', join(work, 'probe.torrent')).infoHash;
});
after(() => (process.env.TORK_KEEP_WORK ? undefined : rm(work, { recursive: true, force: true })));

/** A seeder run by `node` with two peer hosts; stopped in `t.after`. */
async function startSeeder(
  t: TestContext,
  node: string,
  torrent: string,
  extra: string[] = [],
): Promise<TorkProcess> {
  const seeder = await startTork('seed', [torrent, '--data', dataDir, '--workers', '2', ...extra], { node });
  t.after(() => seeder.stop());
  await seeder.waitFor('done', 30_000);
  return seeder;
}

/** Stops the seeder and returns its `stopped` event's accept counters, checked for no relay. */
async function acceptedInHosts(seeder: TorkProcess): Promise<number> {
  await seeder.stop();
  const exit = await seeder.exited;
  assert.equal(exit.status, 0, `seeder exit (${exit.signal})\n${seeder.transcript()}`);
  const stopped = seeder.events.find((event) => event.event === 'stopped');
  assert.ok(stopped, `a stopped event\n${seeder.transcript()}`);
  const incoming = stopped.incoming as { relayed: number; inHosts: number } | undefined;
  assert.ok(incoming, `the stopped event counts incoming connections\n${seeder.transcript()}`);
  assert.equal(incoming.relayed, 0, `no connection went through the relay: ${JSON.stringify(incoming)}`);
  assert.ok((stopped.uploadedBytes as number) > 0, 'the seeder served the data');
  return incoming.inHosts;
}

describe('peer hosts accept themselves on Node >= 22.12 (reusePort)', { concurrency: false }, () => {
  it('libtorrent downloads from a tork seeder whose hosts accepted it: byte-identical, nothing relayed', async (t) => {
    const node = requireNewerNode(t);
    const python = requireLibtorrent(t);
    const opentracker = requireProgram(t, 'opentracker', 'opentracker');
    if (!node || !python || !opentracker) return;
    const tracker = await startOpentracker(opentracker, [infoHash]);
    t.after(() => tracker.stop());
    const torrent = join(work, 'lt.torrent');
    torkCreate(sourceTop, tracker.httpUrl, torrent);
    const seeder = await startSeeder(t, node, torrent);
    await waitForSeeders(tracker.httpUrl, infoHash, 1);
    const out = join(work, 'out-lt');
    await mkdir(out, { recursive: true });
    // Port 0: it only dials out, and a kernel-chosen port cannot be taken between pick and bind.
    const child = spawn(
      python,
      [LIBTORRENT_DOWNLOADER, torrent, out, '0', String(DOWNLOAD_TIMEOUT_MS / 1000 - 10)],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    killOnExit(child);
    t.after(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout = (stdout + chunk.toString('utf8')).slice(-64 * 1024);
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString('utf8')).slice(-16 * 1024);
    });
    const status = await new Promise<number | null>((resolve) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), DOWNLOAD_TIMEOUT_MS);
      child.once('exit', (code) => {
        clearTimeout(timer);
        resolve(code);
      });
    });
    const last = stdout.trim().split('\n').at(-1) ?? '';
    assert.equal(status, 0, `libtorrent exited ${status}\n${last}\n${stderr}\n${seeder.transcript()}`);
    assert.deepEqual(await compareSet(sourceTop, join(out, NAME)), [], 'every file byte-identical');
    const inHosts = await acceptedInHosts(seeder);
    assert.ok(inHosts >= 1, `libtorrent's connection was accepted in a peer host (${inHosts})`);
  });

  it('an MSE (RC4) handshake is answered by the host that accepted it: byte-identical, nothing relayed', async (t) => {
    const node = requireNewerNode(t);
    if (!node) return;
    const torrent = join(work, 'mse.torrent');
    torkCreate(sourceTop, 'http://127.0.0.1:1/announce', torrent);
    const seeder = await startSeeder(t, node, torrent, ['--no-trackers', '--encryption', 'require']);
    const out = join(work, 'out-mse');
    await mkdir(out, { recursive: true });
    // This Node (20 here) downloads: its outgoing connection is the seeder's incoming one.
    const downloader = await startTork('download', [
      torrent,
      '--out',
      out,
      '--no-trackers',
      '--peer',
      `127.0.0.1:${seeder.port}`,
      '--encryption',
      'require',
    ]);
    t.after(() => downloader.stop());
    await downloader.waitFor('done', DOWNLOAD_TIMEOUT_MS);
    const connected = await downloader.waitFor('peer-connected', 1_000);
    assert.equal(connected.encryption, 'rc4', `RC4 both ways\n${downloader.transcript()}`);
    await downloader.stop();
    assert.deepEqual(await compareSet(sourceTop, join(out, NAME)), [], 'every file byte-identical');
    const inHosts = await acceptedInHosts(seeder);
    assert.equal(inHosts, 1, 'the one connection was accepted in a peer host');
  });

  it('a second tork on the same fixed port still fails with "address in use" (reusePort would share it)', async (t) => {
    const node = requireNewerNode(t);
    if (!node) return;
    const torrent = join(work, 'port.torrent');
    torkCreate(sourceTop, 'http://127.0.0.1:1/announce', torrent);
    const first = await startSeeder(t, node, torrent, ['--no-trackers']);
    const second = spawnSync(
      node,
      [
        torkMain,
        'seed',
        torrent,
        '--data',
        dataDir,
        '--no-trackers',
        '--port',
        String(first.port),
        '--listen-host',
        '127.0.0.1',
        '--json',
      ],
      { encoding: 'utf8', timeout: 60_000 },
    );
    assert.notEqual(second.status, 0, `the second seeder exits non-zero\n${second.stdout}\n${second.stderr}`);
    assert.match(second.stderr, /address in use/);
  });
});
