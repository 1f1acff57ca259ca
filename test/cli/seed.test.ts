/**
 * `tork seed` and `tork download --seed` as a user runs them: real processes on 127.0.0.1,
 * stopped by PID.
 */
import '../support/hermetic.js';
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const torkMain = join(root, 'packages/cli/dist/main.js');

interface Event {
  readonly event: string;
  readonly [key: string]: unknown;
}

/** A tork process with its NDJSON events; `exited` settles when it ends. */
class Tork {
  readonly events: Event[] = [];
  readonly child: ChildProcess;
  readonly exited: Promise<{ status: number | null; signal: NodeJS.Signals | null }>;
  stderr = '';
  #waiters: Array<() => void> = [];

  constructor(args: readonly string[]) {
    this.child = spawn(process.execPath, [torkMain, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let partial = '';
    this.child.stdout!.on('data', (chunk: Buffer) => {
      partial += chunk.toString('utf8');
      const lines = partial.split('\n');
      partial = lines.pop() ?? '';
      // Commands without --json print text: only JSON lines are events.
      for (const line of lines) if (line.startsWith('{')) this.events.push(JSON.parse(line) as Event);
      for (const wake of this.#waiters.splice(0)) wake();
    });
    this.child.stderr!.on('data', (chunk: Buffer) => (this.stderr += chunk.toString('utf8')));
    this.exited = new Promise((resolve) =>
      this.child.once('exit', (status, signal) => {
        for (const wake of this.#waiters.splice(0)) wake();
        resolve({ status, signal });
      }),
    );
    // Never outlive the test, whatever happens.
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 120_000);
    void this.exited.then(() => clearTimeout(timer));
  }

  async event(name: string, timeoutMs = 30_000): Promise<Event> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.events.find((event) => event.event === name);
      if (found) return found;
      if (this.child.exitCode !== null || this.child.signalCode !== null) {
        throw new Error(`tork exited without a ${name} event: ${this.stderr}`);
      }
      if (Date.now() > deadline) throw new Error(`no ${name} event within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve);
        setTimeout(resolve, 100);
      });
    }
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
    await this.exited;
  }
}

function run(args: readonly string[]): Promise<{ status: number | null; stderr: string }> {
  const tork = new Tork(args);
  return tork.exited.then(({ status }) => ({ status, stderr: tork.stderr }));
}

const sha1 = async (path: string) =>
  createHash('sha1')
    .update(await readFile(path))
    .digest('hex');

let work: string;
let torrent: string;
const files: Array<[string, number]> = [
  ['a.bin', 3_000_000],
  ['nested/b.bin', 1_234_567],
  ['nested/deeper/c.bin', 70_001],
  ['empty', 0],
];

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'tork-seed-'));
  let seed = 7;
  for (const [path, length] of files) {
    const bytes = Buffer.alloc(length);
    for (let i = 0; i < length; i++) {
      seed = (seed * 1103515245 + 12345) >>> 0;
      bytes[i] = seed >>> 24;
    }
    await mkdir(join(work, 'data', 'set', path, '..'), { recursive: true });
    await writeFile(join(work, 'data', 'set', path), bytes);
  }
  torrent = join(work, 'set.torrent');
  const created = await run([
    'create',
    join(work, 'data', 'set'),
    '--announce',
    'http://127.0.0.1:9/announce',
    '--piece-size',
    '64KiB',
    '-o',
    torrent,
  ]);
  assert.equal(created.status, 0, created.stderr);
});
after(() => rm(work, { recursive: true, force: true }));

async function sameFiles(out: string): Promise<void> {
  for (const [path] of files) {
    assert.equal(await sha1(join(out, 'set', path)), await sha1(join(work, 'data', 'set', path)), path);
  }
}

describe('tork seed and download --seed', { timeout: 180_000 }, () => {
  it('refuses bad usage with exit 2', async () => {
    assert.equal((await run(['seed', torrent])).status, 2, 'seed without --data');
    assert.equal((await run(['seed', torrent, '--data', work, '--out', work])).status, 2, 'seed with --out');
    const ratio = await run(['download', torrent, '--out', join(work, 'x'), '--seed-ratio', '1']);
    assert.equal(ratio.status, 2, '--seed-ratio without --seed');
    assert.match(ratio.stderr, /--seed-ratio and --seed-time need --seed/);
    const time = await run(['download', torrent, '--out', join(work, 'x'), '--seed', '--seed-time', 'soon']);
    assert.equal(time.status, 2);
  });

  it('a seed with a damaged file fetches the bad pieces from another seed first, then serves them', async () => {
    const seeder = new Tork([
      'seed',
      torrent,
      '--data',
      join(work, 'data'),
      '--port',
      '0',
      '--no-trackers',
      '--json',
    ]);
    try {
      const { port } = await seeder.event('listening');
      await seeder.event('done');
      // A second data directory with one byte changed in the middle of a.bin.
      const damaged = join(work, 'damaged');
      for (const [path] of files) {
        await mkdir(join(damaged, 'set', path, '..'), { recursive: true });
        await writeFile(join(damaged, 'set', path), await readFile(join(work, 'data', 'set', path)));
      }
      const bytes = await readFile(join(damaged, 'set', 'a.bin'));
      bytes[1_500_000]! ^= 0xff;
      await writeFile(join(damaged, 'set', 'a.bin'), bytes);

      const second = new Tork([
        'seed',
        torrent,
        '--data',
        damaged,
        '--port',
        '0',
        '--no-trackers',
        '--peer',
        `127.0.0.1:${port}`,
        '--json',
      ]);
      try {
        const resumed = await second.event('resumed');
        const pieces = Math.ceil(files.reduce((sum, [, length]) => sum + length, 0) / 65_536);
        assert.equal(resumed.verified, pieces - 1, 'exactly the damaged piece failed its check');
        const done = await second.event('done');
        assert.equal(done.verifiedPieces, pieces);
        assert.equal(done.downloadedBytes, 65_536, 'only the damaged piece was fetched');
        assert.equal(done.state, 'seeding');
        await sameFiles(damaged);
      } finally {
        await second.stop();
      }
      assert.equal((await second.exited).status, 0, 'a stopped seed exits 0');
    } finally {
      await seeder.stop();
    }
  });

  it('download --seed --seed-ratio 1 serves a second downloader, then exits 0 by itself', async () => {
    const seeder = new Tork([
      'seed',
      torrent,
      '--data',
      join(work, 'data'),
      '--port',
      '0',
      '--no-trackers',
      '--json',
    ]);
    try {
      const { port: seedPort } = await seeder.event('listening');
      await seeder.event('done');
      const first = new Tork([
        'download',
        torrent,
        '--out',
        join(work, 'first'),
        '--seed',
        '--seed-ratio',
        '1',
        '--port',
        '0',
        '--no-trackers',
        '--peer',
        `127.0.0.1:${seedPort}`,
        '--json',
      ]);
      try {
        const { port: firstPort } = await first.event('listening');
        await first.event('done');
        await sameFiles(join(work, 'first'));
        // The original seed goes away: the second downloader can only get the data from `first`.
        await seeder.stop();
        const second = await run([
          'download',
          torrent,
          '--out',
          join(work, 'second'),
          '--port',
          '0',
          '--no-trackers',
          '--peer',
          `127.0.0.1:${firstPort}`,
          '--json',
        ]);
        assert.equal(second.status, 0, second.stderr);
        await sameFiles(join(work, 'second'));
        const ended = await first.exited;
        assert.equal(ended.status, 0, `the seeding downloader ended by itself: ${first.stderr}`);
        const stopped = first.events.find((event) => event.event === 'stopped');
        assert.ok(stopped);
        const length = files.reduce((sum, [, size]) => sum + size, 0);
        assert.ok(
          (stopped.uploadedBytes as number) >= length,
          `uploaded ${stopped.uploadedBytes} of ${length}`,
        );
      } finally {
        await first.stop();
      }
    } finally {
      await seeder.stop();
    }
  });
  it('a seed whose stdout reader goes away (`| head -1`) stops in order and exits 0, no EPIPE crash', async () => {
    const seeder = new Tork([
      'seed',
      torrent,
      '--data',
      join(work, 'data'),
      '--port',
      '0',
      '--listen-host',
      '127.0.0.1',
      '--no-trackers',
      '--json',
    ]);
    try {
      await seeder.event('done');
      // The reader exits, as `head -1` does: the seed's next line (its progress, once a second)
      // meets a closed pipe.
      seeder.child.stdout!.destroy();
      const ended = await Promise.race([
        seeder.exited,
        new Promise<'running'>((resolve) => setTimeout(() => resolve('running'), 20_000).unref()),
      ]);
      assert.notEqual(ended, 'running', 'the seed still ran 20 s after its output closed');
      assert.doesNotMatch(seeder.stderr, /Unhandled|EPIPE|at /, 'no crash, no stack trace');
      assert.deepEqual(ended, { status: 0, signal: null }, seeder.stderr);
    } finally {
      await seeder.stop();
    }
  });
});
