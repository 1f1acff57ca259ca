/**
 * `tork download --trace` against real libtorrent seeders on loopback: the file is a valid Chrome
 * Trace Event JSON object (checked by a zod schema of the format here), with a track per thread
 * and per peer; `tork trace-summary` names the one seeder capped at a low upload rate as the
 * slowest peer.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type Dataset, ensureDataset } from '@tork/cli';
import * as z from 'zod';
import { requireLibtorrentPython, runTork, startLibtorrentSeeder, torkMain } from '../download/support.js';
import type { StartedProgram } from '../support/programs.js';

const FAST_SEEDERS = 3;
/** The fast seeders' cap: the download lasts a few seconds, so every seeder takes part. */
const FAST_LIMIT = 3 * 1024 * 1024;
/** The slowed seeder: about 1/30 of a fast one. */
const SLOW_LIMIT = 96 * 1024;

/** The Trace Event format as tork writes it (the JSON object form). */
const base = {
  name: z.string(),
  cat: z.string().optional(),
  ts: z.number().nonnegative(),
  pid: z.number().int().nonnegative(),
  tid: z.number().int().nonnegative(),
  args: z.record(z.string(), z.unknown()).optional(),
};
const TraceEventSchema = z.discriminatedUnion('ph', [
  z.object({ ...base, ph: z.literal('X'), dur: z.number().nonnegative() }).strict(),
  z.object({ ...base, ph: z.literal('i'), s: z.enum(['t', 'p', 'g']) }).strict(),
  z.object({ ...base, ph: z.literal('C'), args: z.record(z.string(), z.number()) }).strict(),
  z.object({ ...base, ph: z.literal('b'), id: z.string() }).strict(),
  z.object({ ...base, ph: z.literal('e'), id: z.string() }).strict(),
  z
    .object({
      ...base,
      ph: z.literal('M'),
      name: z.enum(['process_name', 'thread_name', 'process_sort_index', 'thread_sort_index']),
      args: z.union([z.object({ name: z.string() }), z.object({ sort_index: z.number() })]),
    })
    .strict(),
]);
const TraceFileSchema = z.object({
  traceEvents: z.array(TraceEventSchema).min(1),
  displayTimeUnit: z.enum(['ms', 'ns']),
  otherData: z.object({
    tool: z.literal('tork'),
    droppedEvents: z.number().int().nonnegative(),
    maxEvents: z.number(),
  }),
});

let work: string;
let dataset: Dataset;

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'tork-trace-'));
  dataset = await ensureDataset(join(tmpdir(), 'tork-trace-cache'), {
    size: 24 * 1024 * 1024 + 777,
    files: 3,
    pieceLength: 64 * 1024,
    seed: 17,
  });
});
after(() => rm(work, { recursive: true, force: true }));

describe('tork download --trace', { timeout: 90_000 }, () => {
  it('writes a Trace Event file with thread and peer tracks; trace-summary names the slowed seeder', async (t) => {
    const python = await requireLibtorrentPython(t);
    if (!python) return;
    const seeders: Array<StartedProgram & { port: number }> = [];
    t.after(() => Promise.all(seeders.map((seeder) => seeder.stop())));
    const peerArgs: string[] = [];
    let slowPort = 0;
    for (let i = 0; i <= FAST_SEEDERS; i++) {
      const slow = i === FAST_SEEDERS;
      const seeder = await startLibtorrentSeeder(python, dataset.torrentPath, dataset.dataDir, {
        uploadLimit: slow ? SLOW_LIMIT : FAST_LIMIT,
      });
      seeders.push(seeder);
      if (slow) slowPort = seeder.port;
      peerArgs.push('--peer', `127.0.0.1:${seeder.port}`);
    }
    const traceFile = join(work, 'out.json');
    const run = await runTork(
      [
        dataset.torrentPath,
        '--out',
        join(work, 'out'),
        ...peerArgs,
        '--no-dht',
        '--no-lsd',
        '--workers',
        '2',
        '--trace',
        traceFile,
      ],
      { timeoutMs: 60_000 },
    );
    assert.equal(run.status, 0, run.stderr);
    assert.ok(run.events.some((event) => event.event === 'done'));
    const written = run.events.find((event) => event.event === 'trace-written');
    assert.equal(written?.path, traceFile);

    const file = TraceFileSchema.parse(JSON.parse(await readFile(traceFile, 'utf8')));
    assert.equal(file.otherData.droppedEvents, 0);
    const events = file.traceEvents;
    const names = events.filter((event) => event.ph === 'M' && 'name' in event.args);
    const threadNames = names
      .filter((event) => event.name === 'thread_name' && event.pid === 1)
      .map((e) => (e.args as { name: string }).name);
    assert.ok(threadNames.includes('coordinator'), JSON.stringify(threadNames));
    assert.ok(
      threadNames.includes('peer host 0') && threadNames.includes('peer host 1'),
      JSON.stringify(threadNames),
    );
    // A busy sample and event batches on each thread's track.
    for (const tid of [0, 1, 2]) {
      assert.ok(
        events.some((event) => event.pid === 1 && event.tid === tid && event.ph === 'C'),
        `thread ${tid} samples`,
      );
    }
    assert.ok(
      events.some((event) => event.ph === 'X' && event.name === 'events → coordinator' && event.tid === 1),
    );
    // The hosts measured how long the coordinator's command batches waited (stamped while tracing).
    assert.ok(
      events.some(
        (event) => event.ph === 'C' && event.pid === 1 && event.tid >= 1 && 'commandQueueMaxMs' in event.args,
      ),
    );
    // One process per peer, named by its address, with its connection and its pieces.
    const peerNames = names.filter((event) => event.name === 'process_name' && event.pid >= 1000);
    for (const seeder of seeders) {
      // A seeder may have more than one connection (a failed dial retried): one of them shook hands.
      const pids = peerNames
        .filter((event) => (event.args as { name: string }).name.includes(`:${seeder.port}`))
        .map((event) => event.pid);
      assert.ok(pids.length > 0, `a track for seeder ${seeder.port}`);
      const disconnects = events.filter((event) => pids.includes(event.pid) && event.name === 'disconnect');
      assert.ok(
        events.some(
          (event) => pids.includes(event.pid) && event.ph === 'X' && event.name === 'connect + handshake',
        ),
        `seeder ${seeder.port} shook hands: ${JSON.stringify(disconnects)}`,
      );
    }
    const verified = events.filter((event) => event.ph === 'b' && event.args?.result === 'verified');
    const pieceCount = Math.ceil(dataset.length / (64 * 1024));
    assert.equal(
      new Set(verified.map((event) => (event.args as Record<string, unknown>).index)).size,
      pieceCount,
    );
    // Every async begin has its end.
    const ends = new Set(
      events.filter((event) => event.ph === 'e').map((event) => (event as { id: string }).id),
    );
    for (const begin of events.filter((event) => event.ph === 'b'))
      assert.ok(ends.has((begin as { id: string }).id));
    assert.ok(events.some((event) => event.name === 'disk queue' && event.ph === 'C'));
    assert.ok(events.some((event) => event.name === 'bytes in flight' && event.ph === 'C'));

    const summary = spawnSync(process.execPath, [torkMain, 'trace-summary', traceFile, '--json'], {
      encoding: 'utf8',
    });
    assert.equal(summary.status, 0, summary.stderr);
    const parsed = JSON.parse(summary.stdout) as {
      slowestPeers: Array<{ name: string; throughput: number; reasons: string[] }>;
      threads: Array<{ name: string; busyPercent: number | null }>;
      lastPercent: { seconds: number; pieces: unknown[] } | null;
    };
    const slowest = parsed.slowestPeers[0];
    assert.ok(slowest?.name.includes(`:${slowPort}`), `slowest: ${JSON.stringify(parsed.slowestPeers)}`);
    assert.ok(slowest && slowest.reasons.length > 0, JSON.stringify(slowest));
    assert.equal(parsed.threads[0]?.name, 'coordinator');
    assert.ok(parsed.lastPercent !== null);
    const text = spawnSync(process.execPath, [torkMain, 'trace-summary', traceFile], { encoding: 'utf8' });
    assert.equal(text.status, 0, text.stderr);
    t.diagnostic(text.stdout);
    assert.match(text.stdout, /slowest peers/);
    assert.match(text.stdout, new RegExp(`1\\. peer 127\\.0\\.0\\.1:${slowPort}`));
    assert.match(text.stdout, /last 1 %: /);
  });

  it('refuses a --trace file it could not write before starting (exit 2)', () => {
    const result = spawnSync(
      process.execPath,
      [
        torkMain,
        'download',
        dataset.torrentPath,
        '--out',
        join(work, 'never'),
        '--trace',
        join(work, 'no/such/dir/t.json'),
      ],
      { encoding: 'utf8' },
    );
    assert.equal(result.status, 2, result.stderr);
    assert.match(result.stderr, /--trace: cannot write in .*no\/such\/dir \[TORK_ERR_USAGE\]/);
  });
});
