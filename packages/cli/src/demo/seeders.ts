import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { connect, createServer } from 'node:net';
import { delimiter, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { listensOn } from './listening-pid.js';

/** A seeder process of a real client on 127.0.0.1, stopped by PID. */
export interface Seeder {
  readonly client: string;
  readonly port: number;
  readonly pid: number;
  /** SIGTERM, then SIGKILL after 3 s; resolves when the process has exited. */
  stop(): Promise<void>;
  /** Bytes the seeder reported uploading when it stopped (tork seeders only, after `stop`). */
  uploadedBytes?(): number | undefined;
}

export function findProgram(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    const done = (open: boolean) => {
      socket.destroy();
      resolve(open);
    };
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
    socket.setTimeout(500, () => done(false));
  });
}

async function waitForPort(
  child: ChildProcess,
  port: number,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null)
      throw new Error(`${what} exited with status ${child.exitCode} before listening`);
    if (await portOpen(port)) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${what} did not listen on 127.0.0.1:${port} within ${timeoutMs} ms`);
}

/** Ports tried by `spawnOnFreePort` when the one picked turns out held by another process. */
export const SEEDER_PORT_ATTEMPTS = 5;

/**
 * Starts `start(port)` on a port from `pickPort` (default: a free loopback port) and waits until
 * that process itself listens there. A port picked free can be taken by another process before
 * the program binds it; aria2c then goes on without an IPv4 listener, and a connect to
 * 127.0.0.1:port reaches the other process. So the listener's owner is checked (/proc), and on a
 * stolen port the program is stopped and started again on another, up to SEEDER_PORT_ATTEMPTS.
 */
export async function spawnOnFreePort(
  start: (port: number) => ChildProcess,
  what: string,
  timeoutMs: number,
  pickPort: () => Promise<number> = freePort,
): Promise<{ child: ChildProcess; port: number }> {
  for (let attempt = 1; ; attempt++) {
    const port = await pickPort();
    const child = start(port);
    try {
      await waitForPort(child, port, timeoutMs, what);
    } catch (error) {
      await stopper(child)();
      throw error;
    }
    // undefined: /proc cannot tell (not Linux); the connect above is all there is.
    if (listensOn(child.pid!, port) !== false) return { child, port };
    await stopper(child)();
    if (attempt >= SEEDER_PORT_ATTEMPTS) {
      throw new Error(`${what}: 127.0.0.1:${port} was held by another process (${attempt} ports tried)`);
    }
  }
}

/** Stops `child` by PID: SIGTERM, SIGKILL after 3 s; waits for `exit` (or `close`: its output read too). */
function stopper(child: ChildProcess, until: 'exit' | 'close' = 'exit'): () => Promise<void> {
  let closed = false;
  child.once('close', () => {
    closed = true;
  });
  return () =>
    new Promise((resolve) => {
      if (until === 'close' ? closed : child.exitCode !== null || child.signalCode !== null) return resolve();
      const timer = setTimeout(() => child.kill('SIGKILL'), 3_000);
      child.once(until, () => {
        clearTimeout(timer);
        resolve();
      });
      child.kill('SIGTERM');
    });
}

/**
 * Starts an aria2c seeder of `torrentPath` with its data under `dataDir`, hermetic: no DHT, no
 * LPD, no PEX, no trackers; listening on a free loopback port.
 */
export interface Aria2SeederOptions {
  /** Announce to the torrent's trackers (HTTP only: aria2c speaks UDP trackers only through DHT). Default: false. */
  readonly useTrackers?: boolean;
  /** Picks the listen port (tests: a port already taken, to see another one tried). Default: a free loopback port. */
  readonly pickPort?: () => Promise<number>;
  /** More aria2c arguments, e.g. `--max-upload-limit=2M`. Default: none. */
  readonly extraArgs?: readonly string[];
}

/**
 * aria2c's command line for a hermetic seeder of `torrentPath` on `port`: no DHT, LPD or PEX, no
 * trackers unless `useTrackers`, data from `dataDir` trusted as complete, quiet; `extraArgs` last
 * before the torrent.
 */
export function aria2SeederArgs(
  port: number,
  torrentPath: string,
  dataDir: string,
  options: Pick<Aria2SeederOptions, 'useTrackers' | 'extraArgs'> = {},
): string[] {
  return [
    '--seed-ratio=0.0',
    '--bt-seed-unverified=true',
    '--enable-dht=false',
    '--enable-dht6=false',
    '--bt-enable-lpd=false',
    '--enable-peer-exchange=false',
    ...(options.useTrackers ? [] : ['--bt-exclude-tracker=*']),
    '--file-allocation=none',
    '--bt-max-peers=0',
    `--listen-port=${port}`,
    '--quiet=true',
    '--console-log-level=error',
    '--auto-save-interval=0',
    `--dir=${dataDir}`,
    ...(options.extraArgs ?? []),
    torrentPath,
  ];
}

export async function startAria2Seeder(
  aria2c: string,
  torrentPath: string,
  dataDir: string,
  options: Aria2SeederOptions = {},
): Promise<Seeder> {
  const { child, port } = await spawnOnFreePort(
    (port) => spawn(aria2c, aria2SeederArgs(port, torrentPath, dataDir, options), { stdio: 'ignore' }),
    'aria2c',
    15_000,
    options.pickPort,
  );
  return { client: 'aria2c', port, pid: child.pid!, stop: stopper(child) };
}

/** The built tork CLI next to this module (dist/demo/seeders.js → dist/main.js). */
export const torkMain = fileURLToPath(new URL('../main.js', import.meta.url));

export interface TorkSeederOptions {
  /** Worker threads of the seeder (peer actors and hash pool). Default: 1. */
  readonly workers?: number;
  /** How long to wait for the seeder to have checked its data and be seeding. Default: 120 s. */
  readonly timeoutMs?: number;
}

/** The last output kept per seeder, for error messages. */
const MAX_OUTPUT = 8 * 1024;

/**
 * Starts `tork seed` as a child process (its own event loop, threads and CPU accounting) on
 * a free loopback port chosen by the seeder itself (`--port 0`), no trackers. Resolves once the
 * seeder has checked its data and is seeding: every piece must verify, or it fails.
 */
export async function startTorkSeeder(
  torrentPath: string,
  dataDir: string,
  options: TorkSeederOptions = {},
): Promise<Seeder> {
  const child = spawn(
    process.execPath,
    [
      torkMain,
      'seed',
      torrentPath,
      '--data',
      dataDir,
      '--port',
      '0',
      '--listen-host',
      '127.0.0.1',
      '--no-trackers',
      '--no-lsd',
      '--no-dht',
      '--json',
      '--workers',
      String(options.workers ?? 1),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const stop = stopper(child, 'close');
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-MAX_OUTPUT);
  });
  let port = 0;
  let uploaded: number | undefined;
  const ready = new Promise<void>((resolve, reject) => {
    const timeoutMs = options.timeoutMs ?? 120_000;
    const timer = setTimeout(
      () => reject(new Error(`tork seeder (pid ${child.pid}) not seeding within ${timeoutMs} ms`)),
      timeoutMs,
    );
    const fail = (message: string) => {
      clearTimeout(timer);
      reject(new Error(`${message}${stderr ? `: ${stderr.trim()}` : ''}`));
    };
    child.once('error', (error) => fail(`tork seeder did not start: ${error.message}`));
    child.once('exit', (code, signal) =>
      fail(`tork seeder (pid ${child.pid}) exited with ${signal ?? `status ${code}`} before seeding`),
    );
    // Lines: `listening` {port}, `checked` {checked, verified}, `done` (seeding), then progress…
    createInterface({ input: child.stdout! }).on('line', (line) => {
      let event: { event?: string; [key: string]: unknown };
      try {
        event = JSON.parse(line) as typeof event;
      } catch {
        return;
      }
      if (event.event === 'listening') port = Number(event.port);
      else if (event.event === 'checked' && event.verified !== event.checked)
        fail(
          `tork seeder (pid ${child.pid}): only ${event.verified} of ${event.checked} pieces of its data verified`,
        );
      else if (event.event === 'done' && port > 0) {
        clearTimeout(timer);
        resolve();
      } else if (event.event === 'stopped') uploaded = Number(event.uploadedBytes);
      else if (event.event === 'error')
        fail(`tork seeder (pid ${child.pid}) failed: ${JSON.stringify(event.error ?? event)}`);
    });
  });
  try {
    await ready;
  } catch (error) {
    await stop();
    throw error;
  }
  return { client: 'tork', port, pid: child.pid!, stop, uploadedBytes: () => uploaded };
}
