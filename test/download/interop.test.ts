/**
 * tork downloads a multi-file torrent from real clients on 127.0.0.1 and the output is
 * byte-identical: aria2c and libtorrent seeders announced through opentracker, and faults in the
 * swarm (a seeder killed mid-download, a peer sending corrupt data, a tracker that is down).
 * Every program is started on a free port and stopped by PID.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { type Dataset, type Seeder, startAria2Seeder, verifyDownload } from '@tork/cli';
import { parseMetainfo } from '@tork/core';
import { startOpentracker } from '../support/opentracker.js';
import { freePort, requireProgram } from '../support/programs.js';
import {
  interopDataset,
  requireLibtorrentPython,
  root,
  runTork,
  scrapeCounts,
  startCorruptPeer,
  startLibtorrentSeeder,
  type TorkRun,
  throughput,
  waitForSeeders,
  withTrackers,
} from './support.js';

let dataset: Dataset;
let infoHashHex: string;
let work: string;

before(async () => {
  dataset = await interopDataset('download-interop');
  infoHashHex = parseMetainfo(readFileSync(dataset.torrentPath)).infoHashHex;
  work = await mkdtemp(join(tmpdir(), 'tork-interop-'));
});
after(() => rm(work, { recursive: true, force: true }));

async function assertComplete(t: TestContext, run: TorkRun, outDir: string): Promise<void> {
  assert.equal(run.status, 0, `tork exited ${run.status} (${run.signal}): ${run.stderr}`);
  const done = run.events.find((event) => event.event === 'done');
  assert.ok(done, 'a done event');
  assert.equal(done.verifiedPieces, done.pieceCount);
  assert.equal(done.writtenBytes, dataset.length);
  assert.deepEqual(
    await verifyDownload(dataset, outDir),
    [],
    'every file byte-identical (the empty one too)',
  );
  t.diagnostic(`throughput: ${throughput(run)}, wasted ${done.wastedBytes} bytes`);
}

function aria2(t: TestContext): string | undefined {
  return requireProgram(t, 'aria2c', 'aria2');
}

async function stopAll(seeders: ReadonlyArray<{ stop(): Promise<void> }>): Promise<void> {
  await Promise.all(seeders.map((seeder) => seeder.stop()));
}

describe('tork downloads from real clients via opentracker', () => {
  it('from three aria2c seeders announced over HTTP', async (t) => {
    const aria2c = aria2(t);
    const opentracker = aria2c && requireProgram(t, 'opentracker', 'opentracker');
    if (!aria2c || !opentracker) return;
    const tracker = await startOpentracker(opentracker, [infoHashHex]);
    const seeders: Seeder[] = [];
    t.after(async () => {
      await stopAll(seeders);
      await tracker.stop();
    });
    const torrent = await withTrackers(dataset, [[tracker.httpUrl]], join(work, 'aria2-http.torrent'));
    for (let i = 0; i < 3; i++) {
      seeders.push(await startAria2Seeder(aria2c, torrent, dataset.dataDir, { useTrackers: true }));
    }
    await waitForSeeders(tracker.httpUrl, infoHashHex, 3);
    const out = join(work, 'out-aria2');
    const run = await runTork([torrent, '--out', out, '--port', '0']);
    await assertComplete(t, run, out);
    const peers = run.events.filter((event) => event.event === 'peer-connected');
    assert.ok(peers.length >= 2, `connected to ${peers.length} aria2c seeders`);
    assert.ok(peers.every((event) => String(event.client).startsWith('aria2')));
    assert.ok(run.events.some((event) => event.event === 'tracker-peers'));
  });

  it('from three libtorrent seeders announced over UDP', async (t) => {
    const opentracker = requireProgram(t, 'opentracker', 'opentracker');
    if (!opentracker) return;
    const python = await requireLibtorrentPython(t);
    if (!python) return;
    const tracker = await startOpentracker(opentracker, [infoHashHex]);
    const seeders: Array<{ stop(): Promise<void> }> = [];
    t.after(async () => {
      await stopAll(seeders);
      await tracker.stop();
    });
    const torrent = await withTrackers(dataset, [[tracker.udpUrl]], join(work, 'lt-udp.torrent'));
    for (let i = 0; i < 3; i++) seeders.push(await startLibtorrentSeeder(python, torrent, dataset.dataDir));
    await waitForSeeders(tracker.httpUrl, infoHashHex, 3);
    const out = join(work, 'out-lt');
    const run = await runTork([torrent, '--out', out, '--port', '0']);
    await assertComplete(t, run, out);
    const clients = run.events
      .filter((event) => event.event === 'peer-connected')
      .map((event) => event.client);
    assert.ok(
      clients.length >= 2 && clients.every((client) => String(client).startsWith('libtorrent')),
      String(clients),
    );
  });

  it('Ctrl-C stops cleanly: exit 1, and the tracker hears `stopped`', async (t) => {
    const aria2c = aria2(t);
    const opentracker = aria2c && requireProgram(t, 'opentracker', 'opentracker');
    if (!aria2c || !opentracker) return;
    const tracker = await startOpentracker(opentracker, [infoHashHex]);
    const seeders: Seeder[] = [];
    t.after(async () => {
      await stopAll(seeders);
      await tracker.stop();
    });
    const torrent = await withTrackers(dataset, [[tracker.httpUrl]], join(work, 'sigint.torrent'));
    // Slow enough that the interrupt lands mid-download.
    seeders.push(
      await startAria2Seeder(aria2c, torrent, dataset.dataDir, {
        useTrackers: true,
        extraArgs: ['--max-upload-limit=2M'],
      }),
    );
    await waitForSeeders(tracker.httpUrl, infoHashHex, 1);
    let interrupted = false;
    const run = await runTork([torrent, '--out', join(work, 'out-sigint'), '--port', '0'], {
      onEvent: (event, pid) => {
        if (event.event === 'piece-verified' && !interrupted) {
          interrupted = true;
          process.kill(pid, 'SIGINT');
        }
      },
      timeoutMs: 60_000,
    });
    assert.ok(interrupted, 'a piece arrived before the interrupt');
    assert.equal(run.status, 1, `exit status after SIGINT (${run.stderr})`);
    assert.match(run.stderr, /stopped by signal/);
    assert.ok(!run.events.some((event) => event.event === 'done'));
    const counts = await scrapeCounts(tracker.httpUrl, infoHashHex);
    assert.equal(counts?.incomplete ?? 0, 0, 'tork announced stopped: no leecher left on the tracker');
    assert.equal(counts?.complete, 1);
  });
});

describe('faults in the swarm', () => {
  it('a seeder killed mid-download: the others finish the job', async (t) => {
    const aria2c = aria2(t);
    if (!aria2c) return;
    const seeders: Seeder[] = [];
    t.after(() => stopAll(seeders));
    for (let i = 0; i < 3; i++) {
      seeders.push(
        await startAria2Seeder(aria2c, dataset.torrentPath, dataset.dataDir, {
          extraArgs: ['--max-upload-limit=8M'],
        }),
      );
    }
    const victim = seeders[0]!;
    let killed = false;
    const out = join(work, 'out-kill');
    const args = [dataset.torrentPath, '--out', out, '--no-trackers'];
    for (const seeder of seeders) args.push('--peer', `127.0.0.1:${seeder.port}`);
    const run = await runTork(args, {
      onEvent: (event) => {
        if (event.event === 'piece-verified' && !killed) {
          killed = true;
          process.kill(victim.pid, 'SIGKILL');
        }
      },
    });
    assert.ok(killed);
    await assertComplete(t, run, out);
    const gone = run.events.find(
      (event) => event.event === 'peer-disconnected' && event.address === `127.0.0.1:${victim.port}`,
    );
    assert.ok(gone, 'the killed seeder was seen to go');
  });

  it('a peer sending corrupt data is banned; the download completes from the others', async (t) => {
    const aria2c = aria2(t);
    if (!aria2c) return;
    const meta = parseMetainfo(readFileSync(dataset.torrentPath));
    const corrupt = await startCorruptPeer(meta.infoHash, meta.pieceCount);
    const seeders: Seeder[] = [];
    t.after(async () => {
      await stopAll(seeders);
      await corrupt.close();
    });
    // The honest seeder is rate-limited so that the corrupt peer gets pieces to spoil.
    seeders.push(
      await startAria2Seeder(aria2c, dataset.torrentPath, dataset.dataDir, {
        extraArgs: ['--max-upload-limit=16M'],
      }),
    );
    const out = join(work, 'out-corrupt');
    const run = await runTork([
      dataset.torrentPath,
      '--out',
      out,
      '--no-trackers',
      '--peer',
      `127.0.0.1:${corrupt.port}`,
      '--peer',
      `127.0.0.1:${seeders[0]!.port}`,
    ]);
    await assertComplete(t, run, out);
    // The scripted corrupt peer speaks no MSE: tork's first, encrypted, dial ends in the MSE
    // handshake (phase 'mse') and the plain retry is the connection that gets banned.
    const banned = run.events.find(
      (event) =>
        event.event === 'peer-disconnected' &&
        event.address === `127.0.0.1:${corrupt.port}` &&
        (event.reason as { details: { phase?: string } }).details.phase !== 'mse',
    );
    assert.ok(banned, 'the corrupt peer was dropped');
    assert.equal(banned.banned, true, JSON.stringify(banned));
    assert.match(String((banned.reason as { message: string }).message), /hash/);
  });

  it('the tracker is down while --peer works: completes, and says the tracker failed', async (t) => {
    const aria2c = aria2(t);
    if (!aria2c) return;
    const seeders: Seeder[] = [];
    t.after(() => stopAll(seeders));
    seeders.push(await startAria2Seeder(aria2c, dataset.torrentPath, dataset.dataDir));
    const closed = await freePort();
    const torrent = await withTrackers(
      dataset,
      [[`http://127.0.0.1:${closed}/announce`]],
      join(work, 'dead-tracker.torrent'),
    );
    const out = join(work, 'out-dead-tracker');
    const run = await runTork([torrent, '--out', out, '--peer', `127.0.0.1:${seeders[0]!.port}`]);
    await assertComplete(t, run, out);
    const failure = run.events.find((event) => event.event === 'tracker-error');
    assert.ok(failure, 'a tracker-error event');
    assert.match(JSON.stringify(failure), /TORK_ERR_TRACKER/);
  });
});

describe('an aria2c seeder on a port another process took', () => {
  it('is started again on another port, and the download comes from aria2c', async (t) => {
    const aria2c = aria2(t);
    if (!aria2c) return;
    // The port is held before aria2c starts on it: aria2c's IPv4 bind fails, it keeps running on
    // IPv6 alone, and 127.0.0.1:port answers from this server, not from aria2c.
    const thief = createServer((socket) => socket.destroy());
    thief.listen(0, '127.0.0.1');
    await once(thief, 'listening');
    const taken = (thief.address() as AddressInfo).port;
    t.after(() => thief.close());
    const picks = [taken];
    const seeders: Seeder[] = [];
    t.after(() => stopAll(seeders));
    seeders.push(
      await startAria2Seeder(aria2c, dataset.torrentPath, dataset.dataDir, {
        pickPort: async () => picks.shift() ?? freePort(),
      }),
    );
    assert.notEqual(seeders[0]!.port, taken);
    const out = join(work, 'out-stolen-port');
    const run = await runTork([
      dataset.torrentPath,
      '--out',
      out,
      '--no-trackers',
      '--peer',
      `127.0.0.1:${seeders[0]!.port}`,
    ]);
    await assertComplete(t, run, out);
  });
});

describe('the library example in the README', () => {
  it('examples/library-download.mjs downloads from a peer', async (t) => {
    const aria2c = aria2(t);
    if (!aria2c) return;
    const seeders: Seeder[] = [];
    t.after(() => stopAll(seeders));
    seeders.push(await startAria2Seeder(aria2c, dataset.torrentPath, dataset.dataDir));
    const out = join(work, 'out-library');
    const { spawnSync } = await import('node:child_process');
    const result = spawnSync(
      process.execPath,
      [
        join(root, 'examples/library-download.mjs'),
        dataset.torrentPath,
        out,
        `127.0.0.1:${seeders[0]!.port}`,
      ],
      { cwd: root, encoding: 'utf8', timeout: 120_000 },
    );
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /connected to 127\.0\.0\.1:\d+ \(aria2/);
    assert.match(result.stdout, /done: \d+ bytes/);
    assert.deepEqual(await verifyDownload(dataset, out), []);
  });
});
