/**
 * The DHT from the command line: on by default for a public torrent (its UDP socket on the TCP
 * port's number, shared with uTP), never for a private one (the socket serves uTP only, or is not
 * opened with --transport tcp), off with --no-dht; TORK_HERMETIC=1
 * empties the default bootstrap list and keeps no routing table unless told where; bad options
 * are usage errors. Every run bootstraps from nothing or from loopback only.
 */
import '../support/hermetic.js';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import { access, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type Dataset, ensureDataset } from '@tork/cli';
import { decodeBencode, encodeBencode } from '@tork/core';
import { torkMain } from '../download/support.js';
import { startTork, type TorkProcess } from '../seed/support.js';

let work: string;
let dataset: Dataset;
let privateTorrent: string;
before(async () => {
  work = await mkdtemp(join(tmpdir(), 'tork-dht-cli-'));
  dataset = await ensureDataset(join(tmpdir(), 'tork-dht-cli-cache'), {
    size: 2 * 1024 * 1024 + 77,
    files: 2,
    pieceLength: 64 * 1024,
    seed: 9,
  });
  const torrent = decodeBencode(await readFile(dataset.torrentPath)) as { info: Record<string, unknown> };
  torrent.info.private = 1;
  privateTorrent = join(work, 'private.torrent');
  await writeFile(privateTorrent, encodeBencode(torrent));
});
after(() => rm(work, { recursive: true, force: true }));

/** True when UDP 127.0.0.1:port can be bound (nobody holds it). */
async function udpFree(port: number): Promise<boolean> {
  const socket = dgram.createSocket('udp4');
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(port, '127.0.0.1', () => resolve());
    });
    return true;
  } catch {
    return false;
  } finally {
    socket.close();
  }
}

async function seed(
  t: { after(fn: () => Promise<void>): void },
  torrent: string,
  args: string[],
): Promise<TorkProcess> {
  const tork = await startTork('seed', [torrent, '--data', dataset.dataDir, '--no-trackers', ...args]);
  t.after(() => tork.stop());
  await tork.waitFor('done', 60_000);
  return tork;
}

function restore(name: string, value: string | undefined): void {
  if (value === undefined) delete process.env[name];
  else process.env[name] = value;
}

function runCli(args: string[], env: NodeJS.ProcessEnv = process.env) {
  return spawnSync(process.execPath, [torkMain, ...args], { encoding: 'utf8', env, timeout: 30_000 });
}

describe('tork download/seed and the DHT', () => {
  it('a public torrent gets a DHT socket on the TCP port number; the table is saved where told', async (t) => {
    const state = join(work, 'public-dht.json');
    const tork = await seed(t, dataset.torrentPath, ['--dht-bootstrap=', '--dht-state', state]);
    const listening = await tork.waitFor('dht-listening', 30_000);
    assert.equal(listening.port, tork.port);
    assert.equal(await udpFree(tork.port), false, 'the DHT holds UDP on the torrent port');
    await tork.stop();
    await tork.waitFor('dht-saved', 1_000);
    await access(state);
  });

  it('a private torrent runs no DHT node (the UDP socket serves uTP only); with --transport tcp there is no socket', async (t) => {
    const state = join(work, 'private-dht.json');
    const tcpOnly = await seed(t, privateTorrent, [
      '--dht-bootstrap=',
      '--dht-state',
      state,
      '--transport',
      'tcp',
    ]);
    assert.equal(await udpFree(tcpOnly.port), true, 'no UDP socket on the torrent port');
    await tcpOnly.stop();
    assert.ok(!tcpOnly.events.some((event) => event.event.startsWith('dht-')), tcpOnly.transcript());
    const tork = await seed(t, privateTorrent, ['--dht-bootstrap=', '--dht-state', state]);
    // The UDP host starts beside the download (nobody waits for it under `both`): its event says when.
    const utpListening = await tork.waitFor('utp-listening', 30_000);
    assert.equal(utpListening.port, tork.port);
    assert.equal(await udpFree(tork.port), false, 'uTP holds UDP on the torrent port');
    await tork.stop();
    assert.ok(!tork.events.some((event) => event.event.startsWith('dht-')), tork.transcript());
    // A DHT started at all, even not yet listening, saves its table at exit: none was.
    await assert.rejects(access(state));
  });

  it('--no-dht runs none for a public torrent either (and with --transport tcp opens no socket)', async (t) => {
    const tork = await seed(t, dataset.torrentPath, ['--no-dht', '--transport', 'tcp']);
    assert.equal(await udpFree(tork.port), true);
    await tork.stop();
    assert.ok(!tork.events.some((event) => event.event.startsWith('dht-')));
    const withUtp = await seed(t, dataset.torrentPath, ['--no-dht']);
    await withUtp.stop();
    assert.ok(!withUtp.events.some((event) => event.event.startsWith('dht-')), withUtp.transcript());
    const stopped = withUtp.events.find((event) => event.event === 'stopped');
    assert.equal((stopped?.udp as { nodes: number } | undefined)?.nodes, 0, 'no DHT node in the UDP host');
  });

  it('TORK_HERMETIC=1: no default bootstrap, and no routing table kept in the cache directory', async (t) => {
    const cache = join(work, 'xdg-cache');
    // startTork passes this process's environment on: set it for that one spawn.
    const saved = { hermetic: process.env.TORK_HERMETIC, cache: process.env.XDG_CACHE_HOME };
    process.env.TORK_HERMETIC = '1';
    process.env.XDG_CACHE_HOME = cache;
    let tork: TorkProcess;
    try {
      // Nobody to download from (no trackers, no peers): only the DHT runs, with no router to ask.
      tork = await startTork('download', [
        dataset.torrentPath,
        '--out',
        join(work, 'hermetic-out'),
        '--no-trackers',
      ]);
    } finally {
      restore('TORK_HERMETIC', saved.hermetic);
      restore('XDG_CACHE_HOME', saved.cache);
    }
    t.after(() => tork.stop());
    const done = await tork.waitFor('dht-lookup-done', 30_000);
    assert.equal(done.nodes, 0, 'no router was asked');
    await tork.stop();
    assert.ok(!tork.events.some((event) => event.event === 'dht-saved'), tork.transcript());
    await assert.rejects(access(join(cache, 'tork', 'dht.json')));
  });

  it('refuses bad DHT options as usage errors, and documents them in --help', () => {
    for (const bad of [
      '--dht-bootstrap=nohost',
      '--dht-bootstrap=[::1]:6881',
      '--dht-bootstrap=a:0',
      '--dht-bootstrap=a:70000',
    ]) {
      const result = runCli(['download', dataset.torrentPath, '--out', work, bad]);
      assert.equal(result.status, 2, `${bad}: ${result.stderr}`);
      assert.match(result.stderr, /--dht-bootstrap must be host:port/);
    }
    const both = runCli(['seed', dataset.torrentPath, '--data', work, '--no-dht', '--dht-bootstrap=a:1']);
    assert.equal(both.status, 2);
    assert.match(both.stderr, /need the DHT/);
    const help = runCli(['download', '--help']);
    for (const flag of [
      '--no-dht',
      '--dht-bootstrap',
      '--dht-state',
      'TORK_HERMETIC=1',
      'router.bittorrent.com:6881',
    ]) {
      assert.ok(help.stdout.includes(flag), `--help mentions ${flag}`);
    }
  });
});
