/**
 * Helpers for interop tests that run real programs (opentracker, aria2c, libtorrent scripts, …)
 * on loopback: find the program, skip or fail when it is missing, pick free ports, start it and
 * wait until it answers, and stop it by PID on teardown — always, even when the test fails.
 *
 * Typical use:
 *
 * ```ts
 * test('talks to X', async (t) => {
 *   const bin = requireProgram(t, 'x', 'x-debian-package');
 *   if (!bin) return; // skipped (never under CI=true: there a missing program fails the test)
 *   const port = await freePort();
 *   const x = await startProgram(bin, ['--port', String(port)], {
 *     ready: () => tcpPortOpen('127.0.0.1', port),
 *   });
 *   t.after(() => x.stop());
 *   ...
 * });
 * ```
 */
import { type ChildProcess, spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { accessSync, constants, statSync } from 'node:fs';
import net from 'node:net';
import { delimiter, join } from 'node:path';
import type { TestContext } from 'node:test';
import { listensOn } from '@tork/cli';

/** Output kept per program (stdout and stderr interleaved), for error messages. */
export const MAX_CAPTURED_OUTPUT = 64 * 1024;

/** The absolute path of an executable `name` on `PATH`, or undefined. */
export function findProgram(name: string, searchPath: string = process.env.PATH ?? ''): string | undefined {
  for (const dir of searchPath.split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      // Not here: keep looking.
    }
  }
  return undefined;
}

/**
 * The rule for tests that need a real program: return its path when it is installed; when it is
 * not, skip the test with an install hint — except under CI (`CI=true`), where a missing program
 * is a broken environment and fails the test (a skipped interop test must not pass CI silently).
 * Callers return at once on undefined.
 */
export function requireProgram(t: TestContext, name: string, aptPackage: string): string | undefined {
  const path = findProgram(name);
  if (path) return path;
  const reason = `${name} not installed: apt-get install ${aptPackage}`;
  if (process.env.CI === 'true') throw new Error(`${reason} (required when CI=true)`);
  t.skip(reason);
  return undefined;
}

/**
 * A port that was free on `host` for every protocol in `protocols` a moment ago (bound to port 0
 * by the kernel, then released). Another process can still take it before the caller binds: start
 * programs with `retry` around port choice and start-up.
 */
export async function freePort(
  options: { host?: string; protocols?: ReadonlyArray<'tcp' | 'udp'> } = {},
): Promise<number> {
  const host = options.host ?? '127.0.0.1';
  const protocols = options.protocols ?? ['tcp', 'udp'];
  for (let attempt = 0; attempt < 50; attempt++) {
    const server = net.createServer();
    const port = await new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, host, () => resolve((server.address() as net.AddressInfo).port));
    });
    try {
      if (!protocols.includes('udp') || (await udpPortFree(host, port))) return port;
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  }
  throw new Error(`no port free for ${protocols.join('+')} on ${host} after 50 attempts`);
}

async function udpPortFree(host: string, port: number): Promise<boolean> {
  const socket = dgram.createSocket(net.isIPv6(host) ? 'udp6' : 'udp4');
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(port, host, () => resolve());
    });
    return true;
  } catch {
    return false;
  } finally {
    socket.close();
  }
}

/** True when a TCP connection to host:port is accepted within `timeoutMs`. */
export function tcpPortOpen(host: string, port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (open: boolean): void => {
      socket.destroy();
      resolve(open);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** Runs `attempt` up to `times` times, returning its first success; rethrows the last failure. */
export async function retry<T>(times: number, attempt: (index: number) => Promise<T>): Promise<T> {
  let last: unknown;
  for (let index = 0; index < times; index++) {
    try {
      return await attempt(index);
    } catch (error) {
      last = error;
    }
  }
  throw last;
}

export interface StartProgramOptions {
  /** Working directory. Default: the test's. */
  readonly cwd?: string;
  /** Environment. Default: `process.env`. */
  readonly env?: NodeJS.ProcessEnv;
  /**
   * Resolves true once the program serves; polled until then, with its output so far (a program
   * with no TCP port to probe may say it is ready). Default: ready as soon as spawned.
   */
  readonly ready?: (output: string) => Promise<boolean>;
  /** Longest wait for `ready`, in ms. Default: 10,000. */
  readonly readyTimeoutMs?: number;
  /** Pause between two `ready` polls, in ms. Default: 50. */
  readonly pollIntervalMs?: number;
  /** Wait after SIGTERM before SIGKILL when stopping, in ms. Default: 3,000. */
  readonly stopGraceMs?: number;
  /**
   * The TCP port (on `address`, default 127.0.0.1) the program must listen on itself. Once `ready`
   * says yes, /proc must show this PID holding that listener: a program whose port another process
   * took may still start without it, and a probe of the port then reaches the other process. Such
   * a start fails (`PORT_HELD_MESSAGE`): the caller retries on another port. Default: not checked.
   */
  readonly listens?: { readonly port: number; readonly address?: string };
}

/** How a start fails when `listens` finds its port held by another process. */
export const PORT_HELD_MESSAGE = 'is held by another process';

export interface StartedProgram {
  readonly pid: number;
  readonly child: ChildProcess;
  /** The program's output so far (last {@link MAX_CAPTURED_OUTPUT} bytes). */
  output(): string;
  /** True while the process has not exited. */
  running(): boolean;
  /** SIGTERM, then SIGKILL after the grace period; resolves once the PID is gone. Idempotent. */
  stop(): Promise<void>;
}

/** Every program started and not yet known dead: killed on exit if a test forgot to. */
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

/** True while a process with this PID exists (signal 0 probes without signalling). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else (e.g. dropped to nobody — we are root then).
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Spawns `command` (no shell), captures its output, and waits until `ready()` holds. If the program
 * exits first or is not ready in time, it is killed and the error carries its output.
 */
export async function startProgram(
  command: string,
  args: readonly string[],
  options: StartProgramOptions = {},
): Promise<StartedProgram> {
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const pid = await new Promise<number>((resolve, reject) => {
    child.once('spawn', () => resolve(child.pid!));
    child.once('error', reject);
  });
  live.set(pid, child);
  let captured = '';
  const capture = (chunk: Buffer): void => {
    captured = (captured + chunk.toString('utf8')).slice(-MAX_CAPTURED_OUTPUT);
  };
  child.stdout!.on('data', capture);
  child.stderr!.on('data', capture);
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
  const running = (): boolean => child.exitCode === null && child.signalCode === null;
  const describe = `${command} ${args.join(' ')}`;

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      const grace = options.stopGraceMs ?? 3000;
      if (running()) {
        process.kill(pid, 'SIGTERM');
        const timedOut = await Promise.race([
          exited.then(() => false),
          new Promise<boolean>((resolve) => setTimeout(() => resolve(true), grace).unref()),
        ]);
        if (timedOut && running()) process.kill(pid, 'SIGKILL');
        await exited;
      }
      live.delete(pid);
      if (pidAlive(pid)) throw new Error(`${describe} (pid ${pid}) is still alive after SIGKILL`);
    })();
    return stopping;
  };
  const program: StartedProgram = { pid, child, output: () => captured, running, stop };

  const deadline = performance.now() + (options.readyTimeoutMs ?? 10_000);
  try {
    for (;;) {
      if (!running())
        throw new Error(`${describe} exited (code ${child.exitCode}, signal ${child.signalCode})`);
      if (!options.ready || (await options.ready(captured))) {
        const listens = options.listens;
        if (listens && listensOn(pid, listens.port, listens.address) === false)
          throw new Error(`port ${listens.port} on ${listens.address ?? '127.0.0.1'} ${PORT_HELD_MESSAGE}`);
        return program;
      }
      if (performance.now() > deadline)
        throw new Error(`${describe} not ready after ${options.readyTimeoutMs ?? 10_000} ms`);
      await new Promise((resolve) => setTimeout(resolve, options.pollIntervalMs ?? 50));
    }
  } catch (error) {
    await stop();
    throw new Error(`${(error as Error).message}\n--- output ---\n${captured}`, { cause: error });
  }
}

/**
 * The port in a program's `{"event": "ready", "port": N}` line (the test's libtorrent scripts
 * print one once they listen), or undefined until it has printed it.
 */
export function readyPort(output: string): number | undefined {
  for (const line of output.split('\n')) {
    if (!line.includes('"ready"')) continue;
    try {
      const event = JSON.parse(line) as { event?: unknown; port?: unknown };
      if (event.event === 'ready' && typeof event.port === 'number') return event.port;
    } catch {
      // A partial line: not ready yet.
    }
  }
  return undefined;
}

/**
 * Starts a program that listens on a port of its own choosing (port 0: no race with a port picked
 * here and released before it binds) and names it in its output; ready once `portFrom` finds it.
 * A program that exits first (e.g. a libtorrent script that could not get one port for TCP and
 * uTP, see test/support/libtorrent_listen.py) is started again, up to `attempts` times.
 */
export async function startListeningProgram(
  command: string,
  args: readonly string[],
  options: Omit<StartProgramOptions, 'ready'> & {
    /** The port the program says it listens on, from its output so far; undefined until then. */
    readonly portFrom: (output: string) => number | undefined;
    /** Starts before giving up. Default: 5. */
    readonly attempts?: number;
  },
): Promise<StartedProgram & { readonly port: number }> {
  return retry(options.attempts ?? 5, async () => {
    const program = await startProgram(command, args, {
      ...options,
      ready: async (output) => options.portFrom(output) !== undefined,
    });
    return Object.assign(program, { port: options.portFrom(program.output())! });
  });
}
