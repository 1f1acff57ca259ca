import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { connect, createServer } from 'node:net';
import { delimiter, join } from 'node:path';

/** A seeder process of a real client on 127.0.0.1, stopped by PID. */
export interface Seeder {
  readonly client: string;
  readonly port: number;
  readonly pid: number;
  stop(): Promise<void>;
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

function stopper(child: ChildProcess): () => Promise<void> {
  return () =>
    new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      const timer = setTimeout(() => child.kill('SIGKILL'), 3_000);
      child.once('exit', () => {
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
  /** More aria2c arguments, e.g. `--max-upload-limit=2M`. Default: none. */
  readonly extraArgs?: readonly string[];
}

export async function startAria2Seeder(
  aria2c: string,
  torrentPath: string,
  dataDir: string,
  options: Aria2SeederOptions = {},
): Promise<Seeder> {
  const port = await freePort();
  const child = spawn(
    aria2c,
    [
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
    ],
    { stdio: 'ignore' },
  );
  await waitForPort(child, port, 15_000, 'aria2c');
  return { client: 'aria2c', port, pid: child.pid!, stop: stopper(child) };
}
