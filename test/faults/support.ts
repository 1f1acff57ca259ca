/**
 * Helpers for the fault and load tests: `tork seed` child processes whose NDJSON events are kept,
 * tmpfs / bind mounts that skip with a reason where they cannot be made, piece checks against the
 * torrent's hashes, and peak-RSS sampling of a child by PID.
 */
import '../support/hermetic.js';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { type Dataset, ensureDataset } from '@tork/cli';
import type { Metainfo } from '@tork/core';
import { type TorkEvent, torkMain } from '../download/support.js';
import { pidAlive } from '../support/programs.js';

export interface TorkSeeder {
  readonly pid: number;
  readonly port: number;
  readonly events: TorkEvent[];
  readonly child: ChildProcess;
  output(): string;
  running(): boolean;
  /** SIGTERM, SIGKILL after 5 s; resolves with the exit status once the PID is gone. Idempotent. */
  stop(): Promise<number | null>;
}

const live = new Map<number, ChildProcess>();
process.once('exit', () => {
  for (const pid of live.keys()) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Gone already.
    }
  }
});

/**
 * Starts `tork seed TORRENT --data DIR --json --no-trackers --listen-host 127.0.0.1` and resolves once
 * it is listening and has checked its data (`done`: it holds every piece). `port` 0 picks a free one.
 */
export async function startTorkSeeder(
  torrentPath: string,
  dataDir: string,
  options: { port?: number; extraArgs?: readonly string[]; readyTimeoutMs?: number } = {},
): Promise<TorkSeeder> {
  const args = [
    torkMain,
    'seed',
    torrentPath,
    '--data',
    dataDir,
    '--port',
    String(options.port ?? 0),
    '--json',
    '--no-trackers',
    '--listen-host',
    '127.0.0.1',
    ...(options.extraArgs ?? []),
  ];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const pid = await new Promise<number>((resolve, reject) => {
    child.once('spawn', () => resolve(child.pid!));
    child.once('error', reject);
  });
  live.set(pid, child);
  const events: TorkEvent[] = [];
  let captured = '';
  let partial = '';
  let port = 0;
  let ready = false;
  let notify: (() => void) | undefined;
  child.stdout!.on('data', (chunk: Buffer) => {
    partial += chunk.toString('utf8');
    const lines = partial.split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      if (!line.trim()) continue;
      let event: TorkEvent;
      try {
        event = JSON.parse(line) as TorkEvent;
      } catch {
        captured += `${line}\n`;
        continue;
      }
      events.push(event);
      if (event.event === 'listening') port = event.port as number;
      if (event.event === 'done') ready = true;
      notify?.();
    }
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    captured = (captured + chunk.toString('utf8')).slice(-64 * 1024);
  });
  let exitStatus: number | null | undefined;
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (status) => {
      exitStatus = status;
      live.delete(pid);
      notify?.();
      resolve(status);
    });
  });
  const running = (): boolean => exitStatus === undefined;
  let stopping: Promise<number | null> | undefined;
  const stop = (): Promise<number | null> => {
    stopping ??= (async () => {
      if (running()) {
        process.kill(pid, 'SIGTERM');
        const timer = setTimeout(() => {
          if (running()) process.kill(pid, 'SIGKILL');
        }, 5_000);
        const status = await exited;
        clearTimeout(timer);
        return status;
      }
      return exitStatus ?? null;
    })();
    return stopping;
  };
  const deadline = Date.now() + (options.readyTimeoutMs ?? 60_000);
  while (!ready || port === 0) {
    if (!running() || Date.now() > deadline) {
      await stop();
      throw new Error(
        `tork seed ${args.slice(2).join(' ')} ${running() ? 'not ready in time' : `exited (${exitStatus})`}\n${captured}\n${JSON.stringify(events.slice(-3))}`,
      );
    }
    await new Promise<void>((resolve) => {
      notify = resolve;
      setTimeout(resolve, 200);
    });
  }
  notify = undefined;
  return {
    pid,
    get port() {
      return port;
    },
    events,
    child,
    output: () => captured,
    running,
    stop,
  };
}

/** Runs a command synchronously; returns its status and output (never throws). */
export function sh(command: string, args: readonly string[]): { status: number | null; output: string } {
  const result = spawnSync(command, args, { encoding: 'utf8' });
  return {
    status: result.status,
    output: `${result.stdout ?? ''}${result.stderr ?? ''}${result.error ? String(result.error) : ''}`.trim(),
  };
}

/**
 * Mounts a tmpfs of `size` (e.g. '12m') on `dir`. When that is impossible, the test is skipped with
 * the reason printed (also under CI=true: the kernel or the container forbids it, which no install
 * fixes); returns false then.
 */
export function mountTmpfs(t: TestContext, dir: string, size: string): boolean {
  const result = sh('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir]);
  if (result.status === 0) return true;
  const root = process.getuid?.() === 0;
  const reason = `cannot mount a tmpfs on ${dir} (${root ? 'root' : 'not root'}): ${result.output || `status ${result.status}`}`;
  console.log(`# skip: ${reason}`);
  t.skip(reason);
  return false;
}

/** Unmounts `dir` (lazily if busy); for after hooks. */
export function unmount(dir: string): void {
  if (sh('umount', [dir]).status !== 0) sh('umount', ['-l', dir]);
}

/** Reads piece `index` of a multi-file torrent downloaded into `out` (`out/<name>/…`); missing bytes read as absent. */
export async function readPiece(meta: Metainfo, out: string, index: number): Promise<Buffer> {
  const start = index * meta.pieceLength;
  const end = Math.min(start + meta.pieceLength, meta.length);
  const parts: Buffer[] = [];
  for (const file of meta.files) {
    const fileStart = file.offset;
    const fileEnd = file.offset + file.length;
    if (fileEnd <= start || fileStart >= end || file.length === 0) continue;
    const from = Math.max(start, fileStart) - fileStart;
    const to = Math.min(end, fileEnd) - fileStart;
    const path = meta.isMultiFile ? join(out, meta.name, ...file.path) : join(out, meta.name);
    const handle = await open(path, 'r');
    try {
      const bytes = Buffer.alloc(to - from);
      const { bytesRead } = await handle.read(bytes, 0, bytes.length, from);
      parts.push(bytes.subarray(0, bytesRead));
    } finally {
      await handle.close();
    }
  }
  return Buffer.concat(parts);
}

/** True when piece `index` in `out` matches the torrent's SHA-1. */
export async function pieceValid(meta: Metainfo, out: string, index: number): Promise<boolean> {
  const bytes = await readPiece(meta, out, index).catch(() => undefined);
  if (!bytes) return false;
  const digest = createHash('sha1').update(bytes).digest();
  return Buffer.from(meta.pieceHashes.subarray(index * 20, index * 20 + 20)).equals(digest);
}

/** A /proc/<pid>/status field in KiB (VmHWM, VmRSS), or undefined when the process is gone. */
export function procStatusKiB(pid: number, field: 'VmHWM' | 'VmRSS'): number | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text);
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** Skip (or fail under CI=true) with a reason. */
export function skipOrFail(t: TestContext, reason: string): void {
  if (process.env.CI === 'true') throw new Error(`${reason} (required when CI=true)`);
  console.log(`# skip: ${reason}`);
  t.skip(reason);
}

export { pidAlive };

export interface ThrottledProxy {
  readonly port: number;
  /** Stops listening and drops every connection (the port then refuses, like a stopped peer). */
  close(): Promise<void>;
}

/**
 * A TCP proxy on 127.0.0.1 in front of a peer: bytes from the peer are paced to `bytesPerSecond` per
 * connection (uploads from the peer then take long enough to interrupt). `port` 0 picks a free one.
 */
export async function startThrottledProxy(options: {
  targetPort: number;
  bytesPerSecond: number;
  port?: number;
}): Promise<ThrottledProxy> {
  const { createServer, connect } = await import('node:net');
  const sockets = new Set<import('node:net').Socket>();
  const server = createServer((client) => {
    const upstream = connect({ host: '127.0.0.1', port: options.targetPort });
    sockets.add(client);
    sockets.add(upstream);
    const started = Date.now();
    let sent = 0;
    const end = (): void => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', end);
    upstream.on('error', end);
    client.on('close', end);
    upstream.on('close', end);
    client.pipe(upstream);
    upstream.on('data', (chunk: Buffer) => {
      client.write(chunk);
      sent += chunk.length;
      const dueMs = (sent / options.bytesPerSecond) * 1000 - (Date.now() - started);
      if (dueMs > 0) {
        upstream.pause();
        setTimeout(() => upstream.resume(), dueMs);
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', resolve);
  });
  const port = (server.address() as { port: number }).port;
  let closing: Promise<void> | undefined;
  return {
    port,
    close: () => {
      closing ??= new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      });
      return closing;
    },
  };
}

/**
 * `tork download` arguments for a download on loopback from the given peers only (no trackers,
 * an ephemeral listening port): what every fault and load test runs.
 */
export function loopbackDownloadArgs(torrentPath: string, out: string, peers: readonly number[]): string[] {
  return [
    torrentPath,
    '--out',
    out,
    ...peers.flatMap((port) => ['--peer', `127.0.0.1:${port}`]),
    '--no-trackers',
    '--port',
    '0',
    '--listen-host',
    '127.0.0.1',
  ];
}

/** The 64 MiB, 8-file data set the peers-gone and many-peers tests share (cached between runs). */
export function loadDataset(): Promise<Dataset> {
  return ensureDataset(join(tmpdir(), 'tork-faults-cache'), {
    size: 64 * 1024 * 1024 + 999,
    files: 8,
    pieceLength: 256 * 1024,
    seed: 23,
  });
}
