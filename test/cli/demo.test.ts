import '../support/hermetic.js';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { requireProgram } from '../support/programs.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const tork = join(root, 'packages/cli/dist/main.js');

interface DemoEvent {
  event: string;
  [key: string]: unknown;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Runs `tork demo … --json` to the end; returns its exit status and its NDJSON events. */
async function runDemo(
  t: TestContext,
  args: readonly string[],
  cacheDir?: string,
): Promise<{ status: number | null; events: DemoEvent[]; stderr: string }> {
  let cache = cacheDir;
  if (cache === undefined) {
    const fresh = mkdtempSync(join(tmpdir(), 'tork-demo-test-'));
    t.after(() => rmSync(fresh, { recursive: true, force: true }));
    cache = fresh;
  }
  const child = spawn(process.execPath, [tork, 'demo', ...args, '--cache', cache, '--json'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
  const status = await new Promise<number | null>((resolve) => child.once('close', resolve));
  clearTimeout(timer);
  const events = stdout
    .trim()
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line) as DemoEvent);
  return { status, events, stderr };
}

function checkRun(
  run: { status: number | null; events: DemoEvent[]; stderr: string },
  length: number,
  pieces: number,
  seederCount: number,
): DemoEvent {
  assert.equal(run.status, 0, run.stderr);
  const kinds = new Set(run.events.map((event) => event.event));
  for (const kind of [
    'dataset',
    'seeders',
    'started',
    'peer-connected',
    'piece-verified',
    'done',
    'seeders-stopped',
    'verified',
    'summary',
  ]) {
    assert.ok(kinds.has(kind), `missing ${kind} event`);
  }
  const seeders = run.events.find((event) => event.event === 'seeders')!;
  const pids = (seeders.seeders as Array<{ pid: number; port: number }>).map((s) => s.pid);
  assert.equal(pids.length, seederCount);
  // The demo stopped its seeders by PID before exiting: none is left running.
  for (const pid of pids) assert.equal(alive(pid), false, `seeder pid ${pid} still running`);
  const done = run.events.find((event) => event.event === 'done')!;
  assert.equal(done.verifiedPieces, pieces);
  assert.equal(done.length, length);
  assert.equal(done.wastedBytes, 0);
  const verified = run.events.find((event) => event.event === 'verified')!;
  assert.equal(verified.identical, true);
  assert.equal(verified.bytes, length);
  const summary = run.events.find((event) => event.event === 'summary')!;
  assert.equal(summary.length, length);
  assert.ok((summary.bytesPerSecond as number) > 0);
  assert.ok((summary.peakRssBytes as number) > 0);
  return summary;
}

describe('tork demo (the README main job)', () => {
  it('downloads a cached data set from a swarm of tork seeder processes and verifies every byte', async (t) => {
    const args = [
      '--size',
      '16MiB',
      '--files',
      '9',
      '--piece-size',
      '256KiB',
      '--seeders',
      '3',
      '--workers',
      '2',
    ];
    const first = await runDemo(t, args);
    const summary = checkRun(first, 16 * 1024 * 1024, 64, 3);
    const seeders = first.events.find((event) => event.event === 'seeders')!;
    assert.equal(seeders.client, 'tork');
    assert.equal(first.events.find((event) => event.event === 'dataset')!.cached, false);
    // Every seeder the downloader was given is a peer it connected to.
    const ports = (seeders.seeders as Array<{ port: number }>).map((s) => `127.0.0.1:${s.port}`);
    const connected = new Set(
      first.events.filter((event) => event.event === 'peer-connected').map((event) => event.address),
    );
    for (const port of ports) assert.ok(connected.has(port), `never connected to seeder ${port}`);
    t.diagnostic(
      `demo: ${((summary.elapsedMs as number) / 1000).toFixed(2)} s for 16 MiB, CPU ${(((summary.cpuUserMs as number) + (summary.cpuSystemMs as number)) / 1000).toFixed(2)} s`,
    );
  });

  it('reuses the cached data set on a second run', async (t) => {
    const cache = mkdtempSync(join(tmpdir(), 'tork-demo-test-cache-'));
    t.after(() => rmSync(cache, { recursive: true, force: true }));
    const args = ['--size', '4MiB', '--files', '21', '--piece-size', '64KiB', '--seeders', '2'];
    const first = await runDemo(t, args, cache);
    checkRun(first, 4 * 1024 * 1024, 64, 2);
    assert.equal(first.events.find((event) => event.event === 'dataset')!.cached, false);
    const second = await runDemo(t, args, cache);
    checkRun(second, 4 * 1024 * 1024, 64, 2);
    assert.equal(second.events.find((event) => event.event === 'dataset')!.cached, true);
  });

  it('rejects a bad seeder count as bad usage', async (t) => {
    const run = await runDemo(t, ['--size', '1MiB', '--seeders', '0']);
    assert.equal(run.status, 2);
    assert.match(run.stderr, /--seeders 1\.\.64/);
  });

  it('can use aria2c seeders instead (--aria2c)', async (t) => {
    if (!requireProgram(t, 'aria2c', 'aria2')) return;
    const args = [
      '--size',
      '12MiB',
      '--files',
      '7',
      '--piece-size',
      '256KiB',
      '--seeders',
      '2',
      '--workers',
      '2',
      '--aria2c',
    ];
    const run = await runDemo(t, args);
    checkRun(run, 12 * 1024 * 1024, 48, 2);
    assert.equal(run.events.find((event) => event.event === 'seeders')!.client, 'aria2c');
  });
});
