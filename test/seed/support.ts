/**
 * Helpers for the seeding tests: a deterministic multi-file data set, `tork create` / `tork seed`
 * run as a user would (NDJSON events parsed, stopped by PID), a libtorrent downloader script, and
 * a byte-for-byte comparison of two trees.
 */
import '../support/hermetic.js';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createCipheriv, createHash } from 'node:crypto';
import { mkdir, open, readFile, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { TestContext } from 'node:test';
import { root, type TorkEvent, torkMain } from '../download/support.js';
import { pidAlive } from '../support/programs.js';

export const SYSTEM_PYTHON = '/usr/bin/python3';
export const PIECE = 256 * 1024;

/** Name of the torrent (the top directory under the data dir). */
export const SET_NAME = 'seedset';

/**
 * 24 MiB + 777 bytes over 6 files: a zero-length file, one smaller than a block, a nested
 * directory, and no file size (nor the total) a multiple of the 256 KiB piece.
 */
export const SET_FILES: ReadonlyArray<{ path: string; size: number }> = [
  { path: 'alpha.bin', size: 7_340_033 },
  { path: 'empty.txt', size: 0 },
  { path: 'nested/deeper/beta.bin', size: 5_000_011 },
  { path: 'nested/small.txt', size: 1_000 },
  { path: 'nested/gamma.bin', size: 9_999_991 },
  { path: 'zeta.bin', size: 2_825_566 },
];
export const SET_LENGTH = SET_FILES.reduce((sum, file) => sum + file.size, 0);

/** Deterministic pseudo-random bytes for a file (AES-256-CTR keystream keyed by its path). */
async function writeDeterministic(path: string, size: number, label: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const key = createHash('sha256').update(`tork-seed-test:${label}`).digest();
  const cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  const handle = await open(path, 'w');
  try {
    const chunk = Buffer.alloc(1024 * 1024);
    for (let written = 0; written < size; ) {
      const length = Math.min(chunk.length, size - written);
      await handle.write(cipher.update(chunk.subarray(0, length)));
      written += length;
    }
  } finally {
    await handle.close();
  }
}

/**
 * Writes the data set as `dataDir/<name>/...`, the layout `tork seed --data dataDir` reads. Each
 * test file passes a name of its own: the name is in the info dict, so each file's swarm has its
 * own info-hash. With one info-hash for all, a libtorrent of one file that redialled an address
 * from its peer list, after the port had gone to another file's tork seeder, joined that swarm,
 * and PEX handed it on (CI29: seed-interop's libtorrent saw a libtorrent peer).
 */
export async function writeSeedSet(dataDir: string, name: string = SET_NAME): Promise<string> {
  const top = join(dataDir, name);
  for (const file of SET_FILES) await writeDeterministic(join(top, file.path), file.size, file.path);
  return top;
}

/** SHA-1 of a file. */
export async function sha1File(path: string): Promise<string> {
  return createHash('sha1')
    .update(await readFile(path))
    .digest('hex');
}

/** Differences between the set under `expectedTop` and under `actualTop` (empty: identical). */
export async function compareSet(expectedTop: string, actualTop: string): Promise<string[]> {
  const problems: string[] = [];
  for (const file of SET_FILES) {
    const actual = join(actualTop, file.path);
    const info = await stat(actual).catch(() => undefined);
    if (!info) {
      problems.push(`${file.path}: missing`);
      continue;
    }
    if (info.size !== file.size) {
      problems.push(`${file.path}: ${info.size} bytes, expected ${file.size}`);
      continue;
    }
    const [want, got] = await Promise.all([sha1File(join(expectedTop, file.path)), sha1File(actual)]);
    if (want !== got) problems.push(`${file.path}: sha1 ${got}, expected ${want}`);
  }
  return problems;
}

/** `tork create DIR --announce URL -o OUT --piece-size 256KiB --json`; returns its JSON summary. */
export function torkCreate(
  dir: string,
  announce: string,
  out: string,
): { infoHash: string; pieceCount: number; length: number; fileCount: number } {
  const result = spawnSync(
    process.execPath,
    [torkMain, 'create', dir, '--announce', announce, '-o', out, '--piece-size', '256KiB', '--json'],
    { encoding: 'utf8', timeout: 60_000 },
  );
  if (result.status !== 0) {
    throw new Error(`tork create exited ${result.status}: ${result.stderr}\n${result.stdout}`);
  }
  return JSON.parse(result.stdout.trim().split('\n').at(-1)!);
}

/** A running `tork seed|download … --json` with its events. */
export interface TorkProcess {
  readonly pid: number;
  readonly child: ChildProcess;
  readonly port: number;
  readonly events: TorkEvent[];
  stderr(): string;
  running(): boolean;
  /** Resolves with the exit status once the process is gone. */
  readonly exited: Promise<{ status: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves with the first event of this kind (rejects on exit or after `timeoutMs`). */
  waitFor(event: string, timeoutMs: number, match?: (e: TorkEvent) => boolean): Promise<TorkEvent>;
  /**
   * SIGINT by PID (tork's clean stop), SIGKILL after `graceMs`; resolves once the PID is gone.
   * Idempotent.
   */
  stop(graceMs?: number): Promise<void>;
  /** The events as NDJSON plus stderr, for failure messages. */
  transcript(maxEvents?: number): string;
}

const live = new Map<number, ChildProcess>();
process.once('exit', () => {
  for (const pid of live.keys()) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
});

/** SIGKILLs `child` when this test process exits, if it is still running then. */
export function killOnExit(child: ChildProcess): void {
  if (child.pid === undefined) return;
  const pid = child.pid;
  live.set(pid, child);
  child.once('exit', () => live.delete(pid));
}

/**
 * Starts `tork <command> …args --json` on loopback and waits for its `listening` event; run by
 * `options.node` (default: this Node). Returns
 * at once after that; the caller stops it (in an after hook) with `stop()`.
 */
export async function startTork(
  command: 'seed' | 'download' | 'stream',
  args: readonly string[],
  options: { listenTimeoutMs?: number; node?: string } = {},
): Promise<TorkProcess> {
  const child = spawn(
    options.node ?? process.execPath,
    [torkMain, command, ...args, '--port', '0', '--listen-host', '127.0.0.1', '--json'],
    { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const pid = await new Promise<number>((resolve, reject) => {
    child.once('spawn', () => resolve(child.pid!));
    child.once('error', reject);
  });
  live.set(pid, child);
  const events: TorkEvent[] = [];
  const waiters = new Set<() => void>();
  let stderr = '';
  let partial = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    partial += chunk.toString('utf8');
    const lines = partial.split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      if (!line.trim()) continue;
      try {
        events.push(JSON.parse(line) as TorkEvent);
      } catch {
        events.push({ event: 'unparsed-line', line });
      }
    }
    for (const waiter of waiters) waiter();
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString('utf8')).slice(-64 * 1024);
  });
  const exited = new Promise<{ status: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (status, signal) => {
      live.delete(pid);
      resolve({ status, signal });
      for (const waiter of waiters) waiter();
    });
  });
  const running = (): boolean => child.exitCode === null && child.signalCode === null;
  const transcript = (maxEvents = 40): string => {
    const shown = events.filter((event) => event.event !== 'progress');
    const progress = events.filter((event) => event.event === 'progress').at(-1);
    return [
      `tork ${command} ${args.join(' ')} (pid ${pid})`,
      ...shown.slice(-maxEvents).map((event) => JSON.stringify(event)),
      progress ? `last progress: ${JSON.stringify(progress)}` : 'no progress event',
      `stderr: ${stderr}`,
    ].join('\n');
  };
  const waitFor = (
    name: string,
    timeoutMs: number,
    match: (e: TorkEvent) => boolean = () => true,
  ): Promise<TorkEvent> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        const found = events.find((event) => event.event === name && match(event));
        if (found) {
          cleanup();
          resolve(found);
        } else if (!running()) {
          cleanup();
          reject(new Error(`tork exited before a '${name}' event\n${transcript()}`));
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`no '${name}' event after ${timeoutMs} ms\n${transcript()}`));
      }, timeoutMs);
      const cleanup = (): void => {
        clearTimeout(timer);
        waiters.delete(check);
      };
      waiters.add(check);
      check();
    });
  let stopping: Promise<void> | undefined;
  const stop = (graceMs = 10_000): Promise<void> => {
    stopping ??= (async () => {
      if (running()) {
        process.kill(pid, 'SIGINT');
        const timedOut = await Promise.race([
          exited.then(() => false),
          new Promise<boolean>((resolve) => setTimeout(() => resolve(true), graceMs).unref()),
        ]);
        if (timedOut && running()) process.kill(pid, 'SIGKILL');
      }
      await exited;
      live.delete(pid);
      if (pidAlive(pid)) throw new Error(`tork (pid ${pid}) is still alive after SIGKILL`);
    })();
    return stopping;
  };
  let listening: TorkEvent;
  try {
    listening = await waitFor('listening', options.listenTimeoutMs ?? 15_000);
  } catch (error) {
    await stop(1_000);
    throw error;
  }
  return {
    pid,
    child,
    port: listening.port as number,
    events,
    stderr: () => stderr,
    running,
    exited,
    waitFor,
    stop,
    transcript,
  };
}

/**
 * The system python with libtorrent (the `python3` on PATH may lack it). Like requireProgram:
 * skip with the reason, except under CI=true where it fails.
 */
export function requireLibtorrent(t: TestContext): string | undefined {
  const probe = spawnSync(SYSTEM_PYTHON, ['-c', 'import libtorrent'], { encoding: 'utf8' });
  if (probe.status === 0) return SYSTEM_PYTHON;
  const reason = `libtorrent for ${SYSTEM_PYTHON} not installed: apt-get install python3-libtorrent`;
  if (process.env.CI === 'true') throw new Error(`${reason} (required when CI=true)`);
  t.skip(reason);
  return undefined;
}

export const LIBTORRENT_DOWNLOADER = join(root, 'test/seed/libtorrent-download.py');

/**
 * Waits for `tork` to exit on its own; after `timeoutMs` it is stopped and this fails with its
 * transcript, so a download that never ends fails its own test (not the whole file's timeout).
 */
export async function exitWithin(
  tork: TorkProcess,
  timeoutMs: number,
): Promise<{ status: number | null; signal: NodeJS.Signals | null }> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => resolve('late'), timeoutMs);
  });
  const result = await Promise.race([tork.exited, late]);
  clearTimeout(timer);
  if (result !== 'late') return result;
  const transcript = tork.transcript();
  await tork.stop();
  throw new Error(`tork did not finish within ${timeoutMs} ms\n${transcript}`);
}
