/**
 * Hostile uTP peers next to a good seeder, through the CLI: a peer that answers the SYN and then
 * never acknowledges anything, one that advertises a zero window for ever, one that answers SYNs
 * with a bad version, an unknown type and an ack out of range with a 4 GiB window; and a SYN
 * flood from many ports against a tork seeder while a libtorrent peer downloads from it over uTP.
 * Each hostile peer is dropped with a reason, and every download completes, byte-identical.
 */
import '../support/hermetic.js';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { type Dataset, verifyDownload } from '@tork/cli';
import { interopDataset, type TorkEvent } from '../download/support.js';
import { requireLibtorrent, startTork } from '../seed/support.js';
import { startLibtorrentDownloader } from '../support/libtorrent-peer.js';
import { startUtpHostilePeer, synPacket, type UtpHostileBehaviour } from './utp-hostile-peer.js';

/** The half-open cap of the UDP host (`UTP_MAX_HALF_OPEN`). */
const MAX_HALF_OPEN = 64;

let work: string;
let dataset: Dataset;
before(async () => {
  work = await mkdtemp(join(tmpdir(), 'tork-utp-hostile-'));
  dataset = await interopDataset('utp-hostile');
});
after(() => rm(work, { recursive: true, force: true }));

async function goodSeeder(t: TestContext) {
  const seeder = await startTork('seed', [
    dataset.torrentPath,
    '--data',
    dataset.dataDir,
    '--no-trackers',
    '--no-dht',
    '--transport',
    'tcp',
  ]);
  t.after(() => seeder.stop());
  await seeder.waitFor('done', 60_000);
  return seeder;
}

async function scenario(t: TestContext, behaviour: UtpHostileBehaviour, seedSeconds: number) {
  const seeder = await goodSeeder(t);
  const hostile = await startUtpHostilePeer(behaviour);
  t.after(() => hostile.close());
  const out = join(work, behaviour);
  // The hostile peer first; seeding after the download keeps tork running until the hostile
  // connection has been judged (handshake and uTP timeouts).
  const tork = await startTork('download', [
    dataset.torrentPath,
    '--out',
    out,
    '--no-trackers',
    '--no-dht',
    '--peer',
    hostile.address,
    '--peer',
    `127.0.0.1:${seeder.port}`,
    '--seed',
    '--seed-time',
    String(seedSeconds),
  ]);
  t.after(() => tork.stop());
  const { status } = await tork.exited;
  assert.equal(status, 0, tork.transcript());
  assert.deepEqual(await verifyDownload(dataset, out), [], 'every file byte-identical');
  const drops = tork.events.filter(
    (event) => event.event === 'peer-disconnected' && event.address === hostile.address,
  );
  const stopped = tork.events.find((event) => event.event === 'stopped');
  t.diagnostic(
    `${behaviour}: ${hostile.syns} SYNs, ${hostile.datagrams} datagrams from tork; drops: ${drops
      .map((drop) => JSON.stringify(drop.reason))
      .join(' ')}; udp: ${JSON.stringify(stopped?.udp)}`,
  );
  assert.ok(hostile.syns >= 1, 'tork tried uTP (TCP to the hostile port is refused)');
  return { drops, stopped, transcript: tork.transcript() };
}

function reasons(drops: TorkEvent[]): string[] {
  return drops.map((drop) => String((drop.reason as { message?: unknown }).message ?? ''));
}

describe('hostile uTP peers next to a good seeder', { concurrency: 3, timeout: 180_000 }, () => {
  it('a peer that answers the SYN and never acknowledges anything: dropped, download completes', async (t) => {
    const { drops, transcript } = await scenario(t, 'never-acks', 14);
    assert.ok(
      reasons(drops).some((reason) => /handshake|acknowledg|answer/i.test(reason)),
      `dropped with a reason: ${reasons(drops).join(' | ')}\n${transcript}`,
    );
  });

  it('a peer that advertises a zero window for ever: dropped, download completes', async (t) => {
    const { drops, transcript } = await scenario(t, 'zero-window', 14);
    assert.ok(
      reasons(drops).some((reason) => /handshake|acknowledg|answer/i.test(reason)),
      `dropped with a reason: ${reasons(drops).join(' | ')}\n${transcript}`,
    );
  });

  it('SYNs answered with a bad version, an unknown type, an ack out of range and a 4 GiB window: no connection, download completes', async (t) => {
    const { drops, stopped, transcript } = await scenario(t, 'garbage', 6);
    assert.ok(
      reasons(drops).some((reason) => /could not connect/i.test(reason)),
      `dropped with a reason: ${reasons(drops).join(' | ')}\n${transcript}`,
    );
    const udp = stopped?.udp as { unknown: number; utp: number } | undefined;
    // Bad version and unknown type are not uTP to the demultiplexer; the bad ack reached the dial.
    assert.ok(udp && udp.unknown >= 2 && udp.utp >= 1, JSON.stringify(udp));
  });

  it('a SYN flood from 120 ports against a tork seeder: half-open connections bounded, a libtorrent uTP peer still gets every byte', async (t) => {
    const python = requireLibtorrent(t);
    if (!python) return;
    const seeder = await startTork('seed', [
      dataset.torrentPath,
      '--data',
      dataset.dataDir,
      '--no-trackers',
      '--no-dht',
      '--seed-time',
      '25',
    ]);
    t.after(() => seeder.stop());
    await seeder.waitFor('done', 60_000);
    const out = join(work, 'flooded');
    const leecher = await startLibtorrentDownloader(
      t,
      python,
      dataset,
      out,
      'disabled',
      [`127.0.0.1:${seeder.port}`],
      {
        transport: 'utp',
        timeoutSeconds: 150,
      },
    );
    await seeder.waitFor('peer-connected', 30_000);
    const flooders = await Promise.all(
      Array.from({ length: 120 }, async () => {
        const socket = dgram.createSocket('udp4');
        await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
        return socket;
      }),
    );
    t.after(() =>
      Promise.all(flooders.map((socket) => new Promise<void>((resolve) => socket.close(() => resolve())))),
    );
    for (const [index, socket] of flooders.entries()) {
      for (let n = 0; n < 2; n++) {
        const syn = synPacket((index * 2 + n) * 2);
        socket.send(syn, seeder.port, '127.0.0.1');
      }
    }
    await new Promise<void>((resolve) =>
      leecher.running() ? leecher.child.once('exit', () => resolve()) : resolve(),
    );
    assert.equal(leecher.child.exitCode, 0, leecher.output());
    assert.deepEqual(await verifyDownload(dataset, out), [], 'every file byte-identical');
    // It stops by itself after --seed-time, with its last counters in `stopped`.
    await seeder.exited;
    const stopped = seeder.events.find((event) => event.event === 'stopped');
    const udp = stopped?.udp as { utpAccepted: number; utpRefused: number } | undefined;
    t.diagnostic(`flood: ${JSON.stringify(udp)}`);
    assert.ok(udp, seeder.transcript());
    // The good peer, and at most the half-open cap of the 240 flooding SYNs; the rest refused.
    assert.ok(udp.utpAccepted <= 1 + MAX_HALF_OPEN, JSON.stringify(udp));
    assert.ok(udp.utpRefused >= 240 - MAX_HALF_OPEN, JSON.stringify(udp));
  });
});
