/**
 * All peers gone for a while: the only seeder stops mid-download. tork must keep running (never exit
 * 0 incomplete), keep trying (the given address with backoff; the tracker with re-announces), and
 * finish byte-identical once a seeder is back.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { type Dataset, verifyDownload } from '@tork/cli';
import { encodeBencode, parseMetainfo } from '@tork/core';
import { runTork, type TorkEvent, withTrackers } from '../download/support.js';
import {
  loadDataset,
  loopbackDownloadArgs,
  startThrottledProxy,
  startTorkSeeder,
  type ThrottledProxy,
  type TorkSeeder,
} from './support.js';

const GONE_MS = 10_000;

let dataset: Dataset;
let work: string;

before(async () => {
  dataset = await loadDataset();
  work = await mkdtemp(join(tmpdir(), 'tork-peersgone-'));
});
after(() => rm(work, { recursive: true, force: true }));

/** Upload pace of the first seeder (through a proxy): the 64 MiB take ~8 s, so it stops mid-download. */
const FIRST_RATE = 8 * 1024 * 1024;

/** A tork seeder behind a pacing proxy: `port` is the proxy's, the address tork is given. */
interface PacedSeeder {
  readonly seeder: TorkSeeder;
  readonly proxy: ThrottledProxy;
  readonly port: number;
}

async function startPacedSeeder(
  torrent: string,
  proxyPort?: number,
  rate = FIRST_RATE,
): Promise<PacedSeeder> {
  const seeder = await startTorkSeeder(torrent, dataset.dataDir);
  const proxy = await startThrottledProxy({ targetPort: seeder.port, bytesPerSecond: rate, port: proxyPort });
  return { seeder, proxy, port: proxy.port };
}

/**
 * Stops the seeder: frozen at once (SIGSTOP: nothing more is sent), its proxy closed (the port now
 * refuses), then the seeder stops cleanly (SIGTERM).
 */
async function stopSeeder(peer: PacedSeeder): Promise<void> {
  if (!peer.seeder.running()) {
    await peer.proxy.close();
    return;
  }
  process.kill(peer.seeder.pid, 'SIGSTOP');
  await peer.proxy.close();
  const stopped = peer.seeder.stop();
  process.kill(peer.seeder.pid, 'SIGCONT');
  await stopped;
}

interface Scenario {
  readonly args: (out: string, seederPort: number) => string[];
  /** Brings a seeder back; returns it. */
  readonly comeBack: (firstPort: number) => Promise<PacedSeeder>;
  readonly onStopped?: () => void;
}

async function runScenario(t: TestContext, first: PacedSeeder, scenario: Scenario) {
  const meta = parseMetainfo(await readFile(dataset.torrentPath));
  const out = await mkdtemp(join(work, 'out-'));
  let stoppedAt = 0;
  let verifiedAtStop = 0;
  let backAt = 0;
  let reconnectedAt = 0;
  let exitedEarly: string | undefined;
  let second: PacedSeeder | undefined;
  let stopping: Promise<unknown> | undefined;
  const firstPort = first.port;
  const timeline: string[] = [];
  const run = runTork(scenario.args(out, firstPort), {
    timeoutMs: 200_000,
    onEvent: (event: TorkEvent) => {
      const verified = (event.verifiedPieces as number | undefined) ?? 0;
      if (!stopping && (event.event === 'pieces-verified' || event.event === 'progress') && verified > 0) {
        stoppedAt = Date.now();
        verifiedAtStop = verified;
        stopping = stopSeeder(first).then(() => scenario.onStopped?.());
      }
      if (
        event.event === 'peer-connected' ||
        event.event === 'peer-disconnected' ||
        event.event === 'tracker-error'
      )
        timeline.push(
          `+${((Date.now() - (stoppedAt || Date.now())) / 1000).toFixed(1)} s ${event.event} ${event.address ?? ''}`,
        );
      if (backAt && !reconnectedAt && event.event === 'peer-connected') reconnectedAt = Date.now();
    },
  });
  run.then((result) => {
    if (!backAt) exitedEarly = `tork exited (status ${result.status}) while no peer was there`;
  });
  // Wait until the seeder is stopped, then GONE_MS with no peer at all.
  while (!stopping) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    if (exitedEarly) break;
  }
  await stopping;
  await new Promise((resolve) => setTimeout(resolve, GONE_MS));
  if (!exitedEarly) {
    second = await scenario.comeBack(firstPort);
    t.after(async () => {
      await second!.proxy.close();
      await second!.seeder.stop();
    });
    backAt = Date.now();
  }
  const result = await run;
  const done = result.events.find((event) => event.event === 'done');
  const last = result.events.findLast((event) => event.event === 'progress');
  t.diagnostic(
    `verified ${verifiedAtStop}/${meta.pieceCount} pieces when the seeder stopped; ` +
      `seeder back ${backAt ? ((backAt - stoppedAt) / 1000).toFixed(1) : '-'} s later; ` +
      `tork reconnected ${reconnectedAt ? ((reconnectedAt - backAt) / 1000).toFixed(1) : 'never'} s after that; ` +
      `exit ${result.status} after ${result.seconds.toFixed(1)} s`,
  );
  t.diagnostic(`timeline: ${timeline.join('; ').slice(0, 1500)}`);
  assert.equal(exitedEarly, undefined, exitedEarly);
  assert.ok(verifiedAtStop < meta.pieceCount, 'the seeder stopped mid-download');
  assert.ok(
    !(result.status === 0 && !done),
    `tork exited 0 without a done event (incomplete): ${JSON.stringify(last).slice(0, 600)}`,
  );
  assert.ok(
    reconnectedAt > 0,
    `tork never reconnected to the returned seeder: ${result.stderr.slice(0, 800)}`,
  );
  assert.equal(
    result.status,
    0,
    `${result.stderr}\n${JSON.stringify(result.events.slice(-3)).slice(0, 1500)}`,
  );
  assert.ok(done);
  assert.deepEqual(await verifyDownload(dataset, out), [], 'files differ from the data set');
  return { reconnectS: (reconnectedAt - backAt) / 1000 };
}

describe('all peers gone for a while', { timeout: 400_000 }, () => {
  it('a --peer seeder stops mid-download and comes back on the same port: tork reconnects and finishes', async (t) => {
    const first = await startPacedSeeder(dataset.torrentPath);
    t.after(() => stopSeeder(first));
    await runScenario(t, first, {
      args: (out, port) => loopbackDownloadArgs(dataset.torrentPath, out, [port]),
      comeBack: (port) => startPacedSeeder(dataset.torrentPath, port, 1 << 30),
    });
  });

  it('the tracker lists no peer for a while, then a new seeder: tork re-announces and finishes', async (t) => {
    // A tiny HTTP tracker: interval 1800 s as real trackers say, min interval 5 s, peers we control.
    let listed: number[] = [];
    const announces: number[] = [];
    const server = createServer((request, response) => {
      announces.push(Date.now());
      const peers = Buffer.alloc(listed.length * 6);
      listed.forEach((port, i) => {
        peers.set([127, 0, 0, 1], i * 6);
        peers.writeUInt16BE(port, i * 6 + 4);
      });
      response.end(Buffer.from(encodeBencode({ interval: 1800, 'min interval': 5, peers })));
      void request;
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const port = (server.address() as { port: number }).port;
    const torrent = await withTrackers(
      dataset,
      [[`http://127.0.0.1:${port}/announce`]],
      join(work, 'tracked.torrent'),
    );
    const first = await startPacedSeeder(torrent);
    t.after(() => stopSeeder(first));
    listed = [first.port];
    let stoppedAt = 0;
    let backAt = 0;
    await runScenario(t, first, {
      args: (out) => [torrent, '--out', out, '--port', '0', '--listen-host', '127.0.0.1'],
      onStopped: () => {
        listed = [];
        stoppedAt = Date.now();
      },
      comeBack: async () => {
        const second = await startPacedSeeder(torrent, undefined, 1 << 30);
        listed = [second.port];
        backAt = Date.now();
        return second;
      },
    }).finally(() => {
      t.diagnostic(
        `announces (s after the seeder stopped): ${announces.map((at) => ((at - stoppedAt) / 1000).toFixed(1)).join(', ')}; seeder back at ${((backAt - stoppedAt) / 1000).toFixed(1)} s`,
      );
    });
  });
});
