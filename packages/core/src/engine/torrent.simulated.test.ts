import assert from 'node:assert/strict';
import { mkdirSync, rmSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import {
  type BuiltTorrent,
  buildTorrent,
  generateSwarm,
  type RunResult,
  SimulatedActorSystem,
  type SimulatedActorSystemOptions,
  type SimulatedPeer,
  tempDir,
} from '@tork/testkit';
import { TorkError, TorkErrorCode } from '../errors.js';
import { parseMetainfo } from '../metainfo/metainfo.js';
import { PieceScheduler } from '../scheduler/piece-scheduler.js';
import { createRng } from '../scheduler/rng.js';
import { Engine, type EngineOptions } from './engine.js';
import type { TorrentProgress } from './progress.js';
import type { Torrent } from './torrent.js';
import type { TorrentEventMap } from './torrent-events.js';
import type { TorrentOptions } from './torrent-options.js';

const KiB = 1024;
const MiB = 1024 * 1024;
const PEER_ID = new Uint8Array(20).fill(0x41);

interface SwarmRunOptions {
  readonly built: BuiltTorrent;
  readonly swarm: readonly SimulatedPeer[];
  readonly seed: number;
  /** Virtual seconds before the run is cut off. */
  readonly maxSeconds: number;
  readonly torrent?: Partial<Omit<TorrentOptions, 'meta' | 'outDir'>>;
  readonly engine?: Partial<Omit<EngineOptions, 'actors' | 'peerId'>>;
  readonly sim?: Partial<SimulatedActorSystemOptions>;
  /** Called after every step of the run, once the coordinator is quiet. */
  readonly onStep?: (torrent: Torrent, sim: SimulatedActorSystem, outDir: string) => void;
  /** Runs when the run has ended, before the engine is closed. */
  readonly afterRun?: (torrent: Torrent, sim: SimulatedActorSystem) => Promise<void>;
}

interface SwarmRun {
  readonly sim: SimulatedActorSystem;
  readonly torrent: Torrent;
  readonly outDir: string;
  readonly run: RunResult;
  /** The torrent's state when the run ended, before the engine was closed. */
  readonly state: Torrent['state'];
  readonly final: TorrentProgress;
  readonly peakBytesInFlight: number;
  /** The scheduler's documented bound on bytes in flight, for the options of the run. */
  readonly bytesInFlightBound: number;
  /** Longest virtual time between two pieces verified (from the first on), ms. */
  readonly longestGapMs: number;
  readonly disconnected: TorrentEventMap['peer-disconnected'][0][];
  readonly errors: TorrentEventMap['error'][0][];
  /** How `whenDone()` settled after the engine was closed. */
  readonly outcome: { done: TorrentProgress } | { error: unknown };
}

/**
 * One torrent in an Engine over a simulated swarm, on a virtual clock: node:test's mock timers
 * (Date and setInterval) are moved by the sim, so the Torrent's `Date.now()` and ticks follow
 * virtual time; files are really written to a temp dir.
 */
async function runSwarm(t: TestContext, options: SwarmRunOptions): Promise<SwarmRun> {
  t.mock.timers.enable({ apis: ['setInterval', 'Date'], now: 0 });
  const outDir = await tempDir('tork-sim-');
  const meta = parseMetainfo(options.built.bytes);
  const sim = new SimulatedActorSystem({
    seed: options.seed,
    peers: options.swarm,
    payload: options.built.data,
    advanceClock: (ms) => t.mock.timers.tick(ms),
    ...options.sim,
  });
  const engine = new Engine({ actors: sim, peerId: PEER_ID, ...options.engine });
  const torrentOptions: TorrentOptions = {
    meta,
    outDir,
    peers: options.swarm.map(({ host, port }) => ({ host, port })),
    useTrackers: false,
    seed: options.seed,
    ...options.torrent,
  };
  const disconnected: SwarmRun['disconnected'] = [];
  const errors: SwarmRun['errors'] = [];
  const torrent = await engine.add(torrentOptions, (torrent) => {
    torrent.on('peer-disconnected', (event) => disconnected.push(event));
    torrent.on('error', (event) => errors.push(event));
  });

  let peakBytesInFlight = 0;
  const sample = (progress: TorrentProgress): void => {
    peakBytesInFlight = Math.max(peakBytesInFlight, progress.bytesInFlight);
  };
  let verified = 0;
  let lastVerifiedAt = -1;
  let longestGapMs = 0;
  const run = await sim.run({
    maxMs: options.maxSeconds * 1000,
    until: () => torrent.state !== 'downloading',
    // Called after every event the coordinator handled: bytes in flight are sampled there too.
    busy: () => {
      if (torrent.state !== 'downloading') return false;
      const progress = torrent.progress();
      sample(progress);
      return progress.writtenBytes < progress.verifiedBytes;
    },
    onStep: (now) => {
      const progress = torrent.progress();
      sample(progress);
      if (progress.verifiedPieces > verified) {
        if (lastVerifiedAt >= 0) longestGapMs = Math.max(longestGapMs, now - lastVerifiedAt);
        lastVerifiedAt = now;
        verified = progress.verifiedPieces;
      }
      options.onStep?.(torrent, sim, outDir);
    },
  });
  const state = torrent.state;
  const final = torrent.progress();
  await options.afterRun?.(torrent, sim);
  await engine.close();
  const outcome = await torrent.whenDone().then(
    (done) => ({ done }),
    (error: unknown) => ({ error }),
  );
  const bound = new PieceScheduler({
    pieceCount: meta.pieceCount,
    pieceLength: meta.pieceLength,
    length: meta.length,
    rng: createRng(0),
    ...(torrentOptions.maxBytesInFlight === undefined
      ? {}
      : { maxBytesInFlight: torrentOptions.maxBytesInFlight }),
  }).bytesInFlightBound;
  return {
    sim,
    torrent,
    outDir,
    run,
    state,
    final,
    peakBytesInFlight,
    bytesInFlightBound: bound,
    longestGapMs,
    disconnected,
    errors,
    outcome,
  };
}

async function assertSameFiles(run: SwarmRun, built: BuiltTorrent, paths: readonly string[]): Promise<void> {
  assert.equal(paths.length, built.fileData.length);
  for (const [i, path] of paths.entries()) {
    const bytes = await readFile(join(run.outDir, path));
    assert.ok(Buffer.from(built.fileData[i]!).equals(bytes), `${path} differs from the payload`);
  }
}

function report(name: string, run: SwarmRun): void {
  const c = run.sim.counters;
  const pieces = run.final.pieceCount;
  console.log(
    `${name}: ${pieces} pieces of ${run.torrent.meta.pieceLength / KiB} KiB, state ${run.state} after ` +
      `${(run.run.nowMs / 1000).toFixed(1)} virtual s in ${Math.round(run.run.realMs)} ms real, ${run.run.steps} steps; ` +
      `assignments ${c.assignments} (${c.duplicateAssignments} endgame copies, max ${c.maxCopies} copies at once, ` +
      `max ${Math.max(...run.sim.assignsPerPiece)} assignments of one piece), ` +
      `deliveries ${c.deliveries} (${c.duplicateDeliveries} duplicate), cancelled copies ${c.cancelled} ` +
      `(${(c.cancelledBytes / MiB).toFixed(2)} MiB received before the cancel), hash failures ${c.hashFailures}, ` +
      `wasted (coordinator) ${(run.final.wastedBytes / MiB).toFixed(2)} MiB, ` +
      `partial pieces lost to chokes/drops ${(c.lostBytes / MiB).toFixed(2)} MiB, ` +
      `releases ${JSON.stringify(c.releases)}, peak in flight ${(run.peakBytesInFlight / MiB).toFixed(2)} MiB ` +
      `(bound ${(run.bytesInFlightBound / MiB).toFixed(2)} MiB), peak actors ${c.peakOpenActors}, ` +
      `connections ${c.connections}, refusals ${c.refusals}, drops ${c.drops}, ` +
      `longest gap ${(run.longestGapMs / 1000).toFixed(1)} s, ` +
      `banned ${run.disconnected.filter((d) => d.banned).length}, ` +
      `assignments to snubbed actors ${c.assignmentsToSnubbed}`,
  );
}

function assertClean(run: SwarmRun): void {
  assert.deepEqual(run.sim.violations, [], 'the coordinator broke no rule of the actor protocol');
  assert.ok(
    run.peakBytesInFlight <= run.bytesInFlightBound,
    `bytes in flight peaked at ${run.peakBytesInFlight} > bound ${run.bytesInFlightBound}`,
  );
}

/** Every piece came exactly once from the swarm, and endgame copies stayed within `maxShare` of the pieces. */
function assertFetchedOnce(run: SwarmRun, maxShare: number): void {
  const c = run.sim.counters;
  const pieces = run.final.pieceCount;
  assert.ok(
    run.sim.deliveriesPerPiece.every((count) => count === 1),
    'every piece was delivered once: a losing endgame copy is always cancelled before it completes',
  );
  assert.equal(c.duplicateDeliveries, 0);
  assert.ok(c.maxCopies <= 2, `${c.maxCopies} copies of one piece at once (endgame copies: 2)`);
  assert.ok(
    c.duplicateAssignments <= maxShare * pieces,
    `${c.duplicateAssignments} endgame copies for ${pieces} pieces (bound ${maxShare * pieces})`,
  );
  // Wasted bytes are the hash failures only: no duplicate ever reached the coordinator.
  assert.equal(run.final.wastedBytes, c.hashFailedBytes);
}

function isTorkError(code: TorkErrorCode): (error: unknown) => boolean {
  return (error: unknown) => error instanceof TorkError && error.code === code;
}

describe('Torrent over a simulated swarm', () => {
  it('downloads from 200 peers with choking, drops, stallers and corrupt peers through 80 connections', async (t) => {
    const pieceLength = 32 * KiB;
    const built = buildTorrent({
      length: 2000 * pieceLength - 10_000,
      pieceLength,
      seed: 7,
      name: 'big.bin',
    });
    const swarm = generateSwarm({
      seed: 11,
      peers: 200,
      seeds: 6,
      stallers: 3,
      corrupt: 2,
      refusing: 6,
      minRate: 4 * KiB,
      maxRate: 128 * KiB,
    });
    const maxPeers = 80;
    const run = await runSwarm(t, {
      built,
      swarm,
      seed: 1,
      maxSeconds: 3600,
      torrent: { maxPeers, maxBytesInFlight: 4 * MiB },
    });
    report('200 peers', run);
    assert.equal(run.state, 'done');
    assert.ok('done' in run.outcome);
    await assertSameFiles(run, built, ['big.bin']);
    assertClean(run);
    assertFetchedOnce(run, 0.1);
    const c = run.sim.counters;
    assert.ok(c.peakOpenActors <= maxPeers, `${c.peakOpenActors} connections at once`);
    assert.equal(c.peakOpenActors, maxPeers, 'the connection limit was reached');
    assert.ok(c.connections + c.refusals > maxPeers, 'peers were rotated or redialled');
    assert.ok(c.drops > 0 && (c.releases.choked ?? 0) > 0, 'drops and chokes happened');
    assert.ok(
      run.longestGapMs <= 10_000,
      `no stall: longest gap between verified pieces ${run.longestGapMs} ms`,
    );
    const corrupt = swarm
      .filter((peer) => peer.kind === 'corrupt')
      .map((peer) => `${peer.host}:${peer.port}`);
    const banned = run.disconnected.filter((event) => event.banned).map((event) => event.address);
    assert.deepEqual(banned.sort(), corrupt.sort());
  });

  it('makes no endgame copies while every holder keeps delivering (a fast, steady swarm)', async (t) => {
    const pieceLength = 64 * KiB;
    const built = buildTorrent({
      length: 800 * pieceLength - 321,
      pieceLength,
      seed: 41,
      name: 'steady.bin',
    });
    // Eight seeds, none choking, stalling or dropping: nothing ever gets stuck.
    const swarm = generateSwarm({
      seed: 43,
      peers: 8,
      seeds: 8,
      minRate: 4 * MiB,
      maxRate: 16 * MiB,
      chokeForever: 0,
      flaky: 0,
    });
    const run = await runSwarm(t, { built, swarm, seed: 9, maxSeconds: 600 });
    assert.equal(run.state, 'done');
    assertClean(run);
    assert.equal(run.sim.counters.duplicateAssignments, 0, 'no piece was fetched twice');
    assert.equal(run.final.duplicatePieces, 0);
  });

  it('sequential: pieces are written in order within the in-flight window, urgent ones first', async (t) => {
    const pieceLength = 64 * KiB;
    const built = buildTorrent({ length: 600 * pieceLength - 99, pieceLength, seed: 47, name: 'film.bin' });
    const swarm = generateSwarm({
      seed: 53,
      peers: 8,
      seeds: 8,
      minRate: 2 * MiB,
      maxRate: 8 * MiB,
      chokeForever: 0,
      flaky: 0,
    });
    const written: number[] = [];
    const budget = 4 * MiB;
    const urgent = [590, 591, 592];
    const run = await runSwarm(t, {
      built,
      swarm,
      seed: 11,
      maxSeconds: 600,
      torrent: { sequential: true, maxBytesInFlight: budget },
      onStep: (torrent) => {
        if (written.length === 0 && torrent.listenerCount('piece-written') === 0) {
          torrent.on('piece-written', ({ index }) => written.push(index));
          torrent.order.setUrgent(urgent);
        }
      },
    });
    assert.equal(run.state, 'done');
    assertClean(run);
    assert.equal(written.length, 600);
    // The urgent pieces came among the first written, far ahead of their place in order.
    for (const index of urgent)
      assert.ok(written.indexOf(index) < 60, `urgent ${index} at ${written.indexOf(index)}`);
    // Every other piece lies within the window of the pieces written before it.
    const window = budget / pieceLength + 4;
    written.forEach((index, at) => {
      if (!urgent.includes(index)) assert.ok(index < at + window, `piece ${index} written ${at}th`);
    });
  });

  it('chokes tit-for-tat: 4 slots to the fastest interested peers, one optimistic, seeds never', async (t) => {
    const pieceLength = 32 * KiB;
    const built = buildTorrent({ length: 1500 * pieceLength - 999, pieceLength, seed: 21, name: 'tft.bin' });
    const swarm = generateSwarm({
      seed: 31,
      peers: 30,
      seeds: 3,
      minRate: 8 * KiB,
      maxRate: 256 * KiB,
      chokeForever: 0,
      flaky: 0,
    });
    let rechokes = 0;
    let lastUnchokes = 0;
    let topMisses = 0;
    const optimistic = new Set<number>();
    const run = await runSwarm(t, {
      built,
      swarm,
      seed: 5,
      maxSeconds: 3600,
      torrent: { maxPeers: 30, uploadSlots: 4 },
      onStep: (torrent, sim) => {
        const unchoked = sim.unchoked();
        for (const id of unchoked) {
          const peer = sim.peerOf(id);
          assert.ok(peer && peer.have < 1, `actor ${id} is a seed (not interested) yet unchoked`);
        }
        const c = sim.counters;
        if (c.unchokes === lastUnchokes) return;
        lastUnchokes = c.unchokes;
        rechokes++;
        // Right after a rechoke: the regular slots hold the fastest interested peers as the
        // coordinator saw them; whoever else is unchoked is the optimistic one.
        const interested = torrent
          .peerViews()
          .filter((view) => (sim.peerOf(view.actorId)?.have ?? 1) < 1)
          .sort((a, b) => b.downloadRate - a.downloadRate || a.actorId - b.actorId);
        const top = interested.slice(0, 4).map((view) => view.actorId);
        for (const id of top) if (!unchoked.includes(id)) topMisses++;
        for (const id of unchoked) if (!top.includes(id)) optimistic.add(id);
      },
    });
    assert.equal(run.state, 'done');
    assertClean(run);
    const c = run.sim.counters;
    assert.ok(c.peakUnchoked <= 5, `${c.peakUnchoked} peers unchoked at once (4 slots + 1 optimistic)`);
    assert.equal(c.peakUnchoked, 5, 'every slot was used');
    assert.ok(rechokes >= 3, `${rechokes} rechokes`);
    // Stats arrive between rechokes; a slot may lag one stats update behind, rarely.
    assert.ok(
      topMisses * 2 <= rechokes,
      `the fastest peers missed a slot ${topMisses} times in ${rechokes} rechokes`,
    );
    assert.ok(optimistic.size >= 2, `the optimistic slot rotated among ${optimistic.size} peers`);
    t.diagnostic(
      `rechokes ${rechokes}, unchokes ${c.unchokes}, chokes ${c.chokes}, optimistic peers ${optimistic.size}, ` +
        `top-4 misses ${topMisses}, virtual ${(run.run.nowMs / 1000).toFixed(0)} s`,
    );
  });

  it('keeps bytes in flight under a 32 MiB budget with 4 MiB pieces and 120 peers', async (t) => {
    const pieceLength = 4 * MiB;
    const built = buildTorrent({ length: 24 * pieceLength - MiB, pieceLength, seed: 8, name: 'large.bin' });
    const swarm = generateSwarm({
      seed: 12,
      peers: 120,
      seeds: 8,
      stallers: 2,
      minRate: 64 * KiB,
      maxRate: 8 * MiB,
    });
    const maxBytesInFlight = 32 * MiB;
    const run = await runSwarm(t, {
      built,
      swarm,
      seed: 2,
      maxSeconds: 3600,
      torrent: { maxPeers: 80, maxBytesInFlight },
    });
    report('4 MiB pieces', run);
    assert.equal(run.state, 'done');
    await assertSameFiles(run, built, ['large.bin']);
    assertClean(run);
    // 24 pieces and room for 8 in flight: most pieces are fetched while fast idle peers may copy
    // pieces stuck on slow ones, so copies are bounded by the piece count, not a small share.
    assertFetchedOnce(run, 1);
    // max(32 MiB, 4 MiB) + endgame allowance max(8 MiB, 4 MiB)
    assert.equal(run.bytesInFlightBound, 40 * MiB);
    assert.ok(run.peakBytesInFlight >= maxBytesInFlight / 2, 'the budget was put to use');
  });

  it('bans corrupt peers and still completes byte-identical', async (t) => {
    const pieceLength = 16 * KiB;
    const built = buildTorrent({
      length: 300 * pieceLength - 1234,
      pieceLength,
      seed: 9,
      name: 'corrupt.bin',
    });
    const swarm = generateSwarm({
      seed: 13,
      peers: 34,
      seeds: 3,
      corrupt: 4,
      chokeForever: 0,
      flaky: 0,
      maxUnchokeAfter: 2,
      minRate: 16 * KiB,
      maxRate: 512 * KiB,
    });
    const run = await runSwarm(t, { built, swarm, seed: 3, maxSeconds: 3600 });
    report('corrupt peers', run);
    assert.equal(run.state, 'done');
    await assertSameFiles(run, built, ['corrupt.bin']);
    assertClean(run);
    assertFetchedOnce(run, 0.5);
    const corrupt = swarm
      .filter((peer) => peer.kind === 'corrupt')
      .map((peer) => `${peer.host}:${peer.port}`);
    const banned = run.disconnected.filter((event) => event.banned).map((event) => event.address);
    assert.deepEqual(banned.sort(), corrupt.sort(), 'every corrupt peer, and only those, was banned');
    for (const address of corrupt) {
      assert.equal(run.sim.connectsByPeer.get(address), 1, `${address} is never dialled again after its ban`);
    }
    assert.ok(run.sim.counters.hashFailures >= corrupt.length);
  });

  it('moves pieces held by stallers elsewhere and completes', async (t) => {
    const pieceLength = 16 * KiB;
    const built = buildTorrent({ length: 400 * pieceLength, pieceLength, seed: 10, name: 'stall.bin' });
    // Slow enough that the download outlasts the 30 s snub timeout.
    const swarm = generateSwarm({
      seed: 14,
      peers: 16,
      seeds: 4,
      stallers: 4,
      chokeForever: 0,
      flaky: 0,
      maxUnchokeAfter: 1,
      minRate: 8 * KiB,
      maxRate: 24 * KiB,
    });
    const run = await runSwarm(t, { built, swarm, seed: 4, maxSeconds: 3600 });
    report('stallers', run);
    assert.equal(run.state, 'done');
    await assertSameFiles(run, built, ['stall.bin']);
    assertClean(run);
    assertFetchedOnce(run, 0.5);
    const c = run.sim.counters;
    assert.ok((c.releases.snubbed ?? 0) > 0, 'stallers were snubbed and gave their pieces back');
  });

  it('does not give a snubbed staller new pieces: with room for one piece in flight it would hold it forever', async (t) => {
    // The real actor, once snubbed, keeps what it is given at depth 1 and never snubs again; a
    // staller that sends keep-alives is never closed for idleness. The staller dials first and
    // unchokes first, so it takes the only piece the budget allows; 30 s later it gives it back.
    const pieceLength = 1 * MiB;
    const built = buildTorrent({ length: 6 * pieceLength, pieceLength, seed: 14, name: 'snub.bin' });
    const peer = (i: number, kind: SimulatedPeer['kind'], unchokeAfter: number): SimulatedPeer => ({
      host: `10.0.0.${i}`,
      port: 6881,
      kind,
      have: 1,
      rate: 256 * KiB,
      unchokeAfter,
      chokeChance: 0,
      meanLifetime: null,
      gainChance: 0,
    });
    const swarm = [peer(1, 'staller', 0.01), peer(2, 'honest', 2), peer(3, 'honest', 2)];
    const run = await runSwarm(t, {
      built,
      swarm,
      seed: 8,
      maxSeconds: 3600,
      torrent: { maxBytesInFlight: pieceLength },
    });
    report('snubbed staller', run);
    assert.equal(run.state, 'done', 'the download completes');
    await assertSameFiles(run, built, ['snub.bin']);
    assertClean(run);
    // Its piece is rescued either by an idle peer's copy (nothing verified for 10 s) or by its own
    // snub release at 30 s, whichever comes first; never twice.
    assert.ok((run.sim.counters.releases.snubbed ?? 0) <= 1, 'the staller gave its piece back at most once');
    assert.equal(run.sim.counters.assignmentsToSnubbed, 0, 'and got nothing more');
  });

  it('rotates snubbed stallers out when they fill every connection slot', async (t) => {
    // Three stallers dial first and take all three slots; honest seeds wait in the pool.
    const pieceLength = 64 * KiB;
    const built = buildTorrent({ length: 40 * pieceLength, pieceLength, seed: 15, name: 'slots.bin' });
    const peer = (i: number, kind: SimulatedPeer['kind']): SimulatedPeer => ({
      host: `10.0.0.${i}`,
      port: 6881,
      kind,
      have: 1,
      rate: 256 * KiB,
      unchokeAfter: 0.5,
      chokeChance: 0,
      meanLifetime: null,
      gainChance: 0,
    });
    const swarm = [1, 2, 3].map((i) => peer(i, 'staller')).concat([4, 5, 6].map((i) => peer(i, 'honest')));
    const run = await runSwarm(t, { built, swarm, seed: 9, maxSeconds: 3600, torrent: { maxPeers: 3 } });
    report('staller slots', run);
    assert.equal(run.state, 'done', 'the download completes');
    await assertSameFiles(run, built, ['slots.bin']);
    assertClean(run);
    assert.ok(run.sim.counters.peakOpenActors <= 3);
  });

  it('does not let a slow peer pace the download while fast peers idle (budget of one piece)', async (t) => {
    const pieceLength = 4 * MiB;
    const built = buildTorrent({ length: 10 * pieceLength, pieceLength, seed: 16, name: 'slow.bin' });
    const peer = (i: number, rate: number, unchokeAfter: number): SimulatedPeer => ({
      host: `10.0.0.${i}`,
      port: 6881,
      kind: 'honest',
      have: 1,
      rate,
      unchokeAfter,
      chokeChance: 0,
      meanLifetime: null,
      gainChance: 0,
    });
    // The slow seed dials and unchokes first; two seeds 500 times faster wait behind it.
    const swarm = [peer(1, 4 * KiB, 0.01), peer(2, 2 * MiB, 1), peer(3, 2 * MiB, 1)];
    const run = await runSwarm(t, {
      built,
      swarm,
      seed: 10,
      maxSeconds: 3600,
      torrent: { maxBytesInFlight: pieceLength },
    });
    report('one-piece budget', run);
    assertClean(run);
    assert.equal(run.state, 'done');
    await assertSameFiles(run, built, ['slow.bin']);
    // 40 MiB at 2 MiB/s is 20 s; today it takes ~2,066 s (two 1,024 s pieces on the slow seed).
    assert.ok(run.run.nowMs <= 120_000, `took ${run.run.nowMs / 1000} virtual s`);
  });

  it('never completes, and does not crash, when every peer chokes forever; stop rejects with ABORTED', async (t) => {
    const pieceLength = 16 * KiB;
    const built = buildTorrent({ length: 100 * pieceLength, pieceLength, seed: 11, name: 'choked.bin' });
    const swarm = generateSwarm({ seed: 15, peers: 40, seeds: 0, chokeForever: 1, flaky: 0.2 });
    const maxPeers = 20;
    const run = await runSwarm(t, { built, swarm, seed: 5, maxSeconds: 600, torrent: { maxPeers } });
    report('choked forever', run);
    assert.equal(run.run.reason, 'time limit');
    assert.equal(run.state, 'downloading');
    assert.ok('error' in run.outcome && isTorkError(TorkErrorCode.ABORTED)(run.outcome.error));
    assertClean(run);
    const c = run.sim.counters;
    assert.equal(c.commands.assign, 0, 'nothing is assigned to a peer that chokes us');
    assert.ok(c.peakOpenActors <= maxPeers);
    assert.ok(c.connections > maxPeers, 'useless peers were rotated out for untried ones');
  });

  it('fails with TORK_ERR_IO when a file cannot be written mid-download, then assigns nothing more', async (t) => {
    const pieceLength = 16 * KiB;
    // Twelve files of ten pieces each: file f holds pieces 10f … 10f + 9.
    const files = Array.from({ length: 12 }, (_, f) => ({ path: [`f${f}.bin`], length: 10 * pieceLength }));
    const built = buildTorrent({ files, pieceLength, seed: 12, name: 'multi' });
    const swarm = generateSwarm({ seed: 16, peers: 20, seeds: 4, chokeForever: 0, maxUnchokeAfter: 1 });
    let replaced = -1;
    let writtenBeforeFailure = 0;
    let assignmentsAtFailure = 0;
    let assignmentsLater = 0;
    let openLater = -1;
    const run = await runSwarm(t, {
      built,
      swarm,
      seed: 6,
      maxSeconds: 3600,
      // Once 8 pieces are written, something replaces a file not written to yet (so the writer has
      // no handle open on it) with a directory: the next write there fails.
      onStep: (torrent, sim, outDir) => {
        if (replaced >= 0 || torrent.progress().writtenBytes < 8 * pieceLength) return;
        replaced = files.findIndex((_, f) =>
          sim.deliveriesPerPiece.subarray(10 * f, 10 * f + 10).every((n) => n === 0),
        );
        assert.ok(replaced >= 0, 'a file no piece was written to yet');
        const path = join(outDir, 'multi', `f${replaced}.bin`);
        rmSync(path);
        mkdirSync(path);
        writtenBeforeFailure = torrent.progress().writtenBytes;
      },
      // The swarm goes on for a minute: the failed torrent closed its connections and assigns nothing.
      afterRun: async (torrent, sim) => {
        assignmentsAtFailure = sim.counters.assignments;
        const result = await sim.run({ until: () => false, maxMs: sim.now + 60_000 });
        assert.equal(result.reason, 'time limit');
        assert.equal(torrent.state, 'failed');
        assignmentsLater = sim.counters.assignments;
        openLater = sim.openActors;
      },
    });
    report('disk failure', run);
    assert.ok(replaced >= 0 && writtenBeforeFailure >= 8 * pieceLength);
    assert.equal(run.state, 'failed');
    assert.equal(run.errors.length, 1, 'one error event');
    assert.equal(run.errors[0]!.error.code, TorkErrorCode.IO);
    assert.match(run.errors[0]!.error.message, new RegExp(`f${replaced}\\.bin`));
    assert.ok('error' in run.outcome && isTorkError(TorkErrorCode.IO)(run.outcome.error));
    assert.ok(run.final.writtenBytes < built.data.length);
    assert.deepEqual(run.sim.violations, []);
    assert.equal(assignmentsLater, assignmentsAtFailure, 'no assignment after the failure');
    assert.equal(openLater, 0, 'every connection was closed on the failure');
    assert.ok(run.disconnected.length >= 20);
  });

  it('reports TORK_ERR_IO when the files cannot be created', async (t) => {
    t.mock.timers.enable({ apis: ['setInterval', 'Date'], now: 0 });
    const built = buildTorrent({
      files: [{ path: ['a.bin'], length: 50_000 }],
      pieceLength: 16 * KiB,
      name: 'blocked',
    });
    const outDir = await tempDir('tork-sim-');
    // A plain file stands where the torrent's directory must go.
    await mkdir(outDir, { recursive: true });
    await writeFile(join(outDir, 'blocked'), 'in the way');
    const swarm = generateSwarm({ seed: 17, peers: 3 });
    const sim = new SimulatedActorSystem({ seed: 1, peers: swarm, payload: built.data });
    const engine = new Engine({ actors: sim, peerId: PEER_ID });
    const errors: TorrentEventMap['error'][0][] = [];
    let torrent: Torrent | undefined;
    await assert.rejects(
      engine.add({ meta: parseMetainfo(built.bytes), outDir, peers: swarm, useTrackers: false }, (added) => {
        torrent = added;
        added.on('error', (event) => errors.push(event));
      }),
      isTorkError(TorkErrorCode.IO),
    );
    assert.equal(errors[0]?.error.code, TorkErrorCode.IO);
    await assert.rejects(torrent!.whenDone(), isTorkError(TorkErrorCode.IO));
    assert.equal(engine.torrents.length, 0);
    await engine.close();
    assert.equal(sim.counters.commands.connect, 0);
  });

  it('is deterministic: the same seeds give the same commands and events at the same virtual times', async (t) => {
    const pieceLength = 16 * KiB;
    const built = buildTorrent({ length: 300 * pieceLength - 77, pieceLength, seed: 13, name: 'same.bin' });
    const swarm = generateSwarm({ seed: 18, peers: 60, seeds: 3, stallers: 1, corrupt: 1, refusing: 2 });
    const runs: SwarmRun[] = [];
    for (let i = 0; i < 2; i++) {
      await t.test(`run ${i + 1}`, async (sub) => {
        runs.push(
          await runSwarm(sub, { built, swarm, seed: 7, maxSeconds: 3600, torrent: { maxPeers: 30 } }),
        );
      });
    }
    const [first, second] = runs;
    assert.equal(first!.state, 'done');
    assert.equal(first!.sim.traceDigest(), second!.sim.traceDigest());
    assert.equal(first!.run.nowMs, second!.run.nowMs);
    // Everything but how commands were grouped into batches: a disk write completing before or
    // after the coordinator's setImmediate flush (real I/O) splits one batch in two, or not.
    // `have` commands too: pieces are announced once written, and real writes finish when they do.
    const strip = (counters: SwarmRun['sim']['counters']) => {
      const { batches: _batches, haveCommands: _haves, commands, ...rest } = counters;
      const { have: _have, ...otherCommands } = commands;
      return { ...rest, commands: otherCommands };
    };
    assert.deepEqual(strip(first!.sim.counters), strip(second!.sim.counters));
  });

  it('flags a batch of commands that breaks the schema', () => {
    const built = buildTorrent({ length: 50_000 });
    const sim = new SimulatedActorSystem({ seed: 1, peers: [], payload: built.data });
    sim.send([{ type: 'assign', actorId: 1, pieces: [] }]);
    sim.send([{ type: 'connect', actorId: 2, torrentId: 'not hex', host: '10.0.0.1', port: 6881 }]);
    assert.equal(sim.violations.length, 2);
    assert.match(sim.violations[0]!, /invalid command batch.*commands\.0\.pieces/);
    assert.match(sim.violations[1]!, /invalid command batch.*commands\.0\.torrentId/);
  });

  it('takes a lower maxPeers while running: the surplus closes at once and the download completes', async (t) => {
    const pieceLength = 64 * KiB;
    const built = buildTorrent({ length: 300 * pieceLength - 77, pieceLength, seed: 41, name: 'limit.bin' });
    const seeder = (i: number): SimulatedPeer => ({
      host: `10.0.1.${i}`,
      port: 6881,
      kind: 'honest',
      have: 1,
      rate: 96 * KiB,
      unchokeAfter: 0.2,
      chokeChance: 0,
      meanLifetime: null,
      gainChance: 0,
    });
    const swarm = Array.from({ length: 12 }, (_, i) => seeder(i + 1));
    let loweredAt: number | undefined;
    let openAfter = 0;
    let limitsSeen: unknown;
    const run = await runSwarm(t, {
      built,
      swarm,
      seed: 11,
      maxSeconds: 3600,
      torrent: { maxPeers: 10 },
      onStep: (torrent, sim) => {
        const now = Date.now();
        if (loweredAt === undefined && sim.openActors >= 10 && torrent.progress().verifiedPieces >= 20) {
          torrent.limits.set({ maxPeers: 2, uploadSlots: 1 });
          limitsSeen = torrent.limits.get();
          loweredAt = now;
        } else if (loweredAt !== undefined && now - loweredAt >= 1_000) {
          openAfter = Math.max(openAfter, sim.openActors);
        }
      },
    });
    report('maxPeers lowered', run);
    assert.notEqual(loweredAt, undefined, 'the limit was lowered mid-download');
    assert.deepEqual(limitsSeen, { maxPeers: 2, uploadSlots: 1 });
    assert.equal(run.state, 'done', 'the download completes');
    await assertSameFiles(run, built, ['limit.bin']);
    assert.equal(run.errors.length, 0);
    assert.ok(run.sim.counters.peakOpenActors >= 10, 'the old limit was used');
    assert.ok(openAfter <= 2, `${openAfter} connections open after the limit went down to 2`);
    const cut = run.disconnected.filter((event) => /peer limit lowered to 2/.test(event.reason.message));
    assert.ok(cut.length >= 8, `${cut.length} connections closed by the new limit`);
  });

  it('takes fewer upload slots while running: the next rechoke chokes the surplus', async (t) => {
    const pieceLength = 32 * KiB;
    const built = buildTorrent({
      length: 1500 * pieceLength - 999,
      pieceLength,
      seed: 21,
      name: 'slots2.bin',
    });
    const swarm = generateSwarm({
      seed: 31,
      peers: 30,
      seeds: 3,
      minRate: 8 * KiB,
      maxRate: 256 * KiB,
      chokeForever: 0,
      flaky: 0,
    });
    let changedAt: number | undefined;
    let unchokedAfter = 0;
    let unchokedBefore = 0;
    const run = await runSwarm(t, {
      built,
      swarm,
      seed: 5,
      maxSeconds: 3600,
      torrent: { maxPeers: 30, uploadSlots: 4 },
      onStep: (torrent, sim) => {
        const now = Date.now();
        if (changedAt === undefined) {
          unchokedBefore = Math.max(unchokedBefore, sim.unchoked().length);
          if (unchokedBefore === 5) {
            torrent.limits.set({ uploadSlots: 1 });
            changedAt = now;
          }
        } else if (now - changedAt >= 1_000) unchokedAfter = Math.max(unchokedAfter, sim.unchoked().length);
      },
    });
    assert.equal(run.state, 'done');
    assertClean(run);
    assert.notEqual(changedAt, undefined, 'all 4 + 1 slots were in use before the change');
    assert.ok(unchokedAfter <= 2, `${unchokedAfter} peers unchoked with 1 slot (+1 optimistic)`);
    assert.ok(unchokedAfter >= 1, 'the slot left is used');
  });

  it('admits no more connections over all torrents than the engine-wide maxPeers', async (t) => {
    const pieceLength = 64 * KiB;
    const built = buildTorrent({ length: 60 * pieceLength, pieceLength, seed: 42, name: 'global.bin' });
    const swarm = Array.from(
      { length: 8 },
      (_, i): SimulatedPeer => ({
        host: `10.0.2.${i + 1}`,
        port: 6881,
        kind: 'honest',
        have: 1,
        rate: 256 * KiB,
        unchokeAfter: 0.2,
        chokeChance: 0,
        meanLifetime: null,
        gainChance: 0,
      }),
    );
    const run = await runSwarm(t, { built, swarm, seed: 12, maxSeconds: 3600, engine: { maxPeers: 3 } });
    assert.equal(run.state, 'done');
    await assertSameFiles(run, built, ['global.bin']);
    assertClean(run);
    assert.equal(run.sim.counters.peakOpenActors, 3);
  });

  it("gives a torrent no more upload slots than its share of the engine's", async (t) => {
    const pieceLength = 32 * KiB;
    const built = buildTorrent({ length: 600 * pieceLength - 5, pieceLength, seed: 22, name: 'share.bin' });
    const swarm = generateSwarm({
      seed: 32,
      peers: 20,
      seeds: 3,
      minRate: 8 * KiB,
      maxRate: 256 * KiB,
      chokeForever: 0,
      flaky: 0,
    });
    const run = await runSwarm(t, {
      built,
      swarm,
      seed: 6,
      maxSeconds: 3600,
      torrent: { maxPeers: 20, uploadSlots: 4 },
      engine: { uploadSlots: 2 },
    });
    assert.equal(run.state, 'done');
    assertClean(run);
    // Its share of 2 (the only torrent with peers) plus the optimistic one; its own 4 would give 5.
    assert.equal(run.sim.counters.peakUnchoked, 3);
  });
});
