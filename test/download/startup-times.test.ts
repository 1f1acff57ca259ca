/**
 * `tork download --json` start-up times (issue 17, "Fast start"): for a real download from a
 * libtorrent seeder on 127.0.0.1, the first `peer-connected` and the first `piece-verified` carry
 * `sinceStartMs`, and one `startup` event lists every phase, in the order the phases happen.
 * Behaviour, not speed: the times are checked for presence and order only.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { type Dataset, ensureDataset } from '@tork/cli';
import { requireLibtorrentPython, runTork, startLibtorrentSeeder } from './support.js';

let work: string;
let dataset: Dataset;
before(async () => {
  work = await mkdtemp(join(tmpdir(), 'tork-startup-times-'));
  dataset = await ensureDataset(join(tmpdir(), 'tork-startup-times-cache'), {
    size: 4 * 1024 * 1024 + 777,
    files: 5,
    pieceLength: 256 * 1024,
    seed: 17,
  });
});
after(() => rm(work, { recursive: true, force: true }));

it('prints start-up times, ordered, for a download from a libtorrent seeder', async (t) => {
  const python = await requireLibtorrentPython(t);
  if (!python) return;
  const seeder = await startLibtorrentSeeder(python, dataset.torrentPath, dataset.dataDir);
  t.after(() => seeder.stop());
  const run = await runTork(
    [
      dataset.torrentPath,
      '--out',
      join(work, 'out'),
      '--no-trackers',
      '--no-dht',
      '--no-lsd',
      '--listen-host',
      '127.0.0.1',
      '--peer',
      `127.0.0.1:${seeder.port}`,
    ],
    { timeoutMs: 60_000 },
  );
  assert.equal(run.status, 0, `tork exited ${run.status} (${run.signal}): ${run.stderr}`);
  const ms = (value: unknown, what: string): number => {
    assert.equal(typeof value, 'number', `${what} is a number`);
    assert.ok((value as number) > 0, `${what} > 0`);
    return value as number;
  };

  const listening = run.events.find((event) => event.event === 'listening');
  const firstPeer = run.events.find((event) => event.event === 'peer-connected');
  const firstPiece = run.events.find((event) => event.event === 'piece-verified');
  assert.ok(listening && firstPeer && firstPiece, 'listening, peer-connected and piece-verified events');
  const listeningMs = ms(listening.sinceStartMs, 'listening sinceStartMs');
  const peerMs = ms(firstPeer.sinceStartMs, 'first peer-connected sinceStartMs');
  const pieceMs = ms(firstPiece.sinceStartMs, 'first piece-verified sinceStartMs');
  assert.ok(listeningMs <= peerMs && peerMs <= pieceMs, `${listeningMs} ≤ ${peerMs} ≤ ${pieceMs}`);
  // Only the first of each carries it.
  const laterPieces = run.events.filter((event) => event.event === 'piece-verified').slice(1);
  assert.ok(laterPieces.every((event) => event.sinceStartMs === undefined));

  const startups = run.events.filter((event) => event.event === 'startup');
  assert.equal(startups.length, 1, 'one startup event');
  const startup = startups[0]!;
  // The phases a download from a known peer passes through, in this order.
  const order = [
    'modulesLoadedMs',
    'parsedMs',
    'listeningMs',
    'threadsStartedMs',
    'engineReadyMs',
    'firstPeerMs',
    'firstPieceMs',
  ];
  const times = order.map((key) => ms(startup[key], `startup.${key}`));
  for (let i = 1; i < times.length; i++)
    assert.ok(times[i - 1]! <= times[i]!, `${order[i - 1]} ${times[i - 1]} ≤ ${order[i]} ${times[i]}`);
  // `added` (storage open, resume check) comes after the engine, whether or not before the first peer.
  assert.ok(ms(startup.addedMs, 'startup.addedMs') >= (startup.engineReadyMs as number));
  assert.equal(startup.firstPeerMs, peerMs);
  assert.equal(startup.firstPieceMs, pieceMs);
  // The startup event follows the first verified piece.
  assert.ok(run.events.indexOf(startup) > run.events.indexOf(firstPiece));
});
