/**
 * A loopback DHT of libtorrent nodes (libtorrent-dht.py, one Python process hosting every
 * session): node i on 127.0.0.(10+i), nothing pointed beyond 127.0.0.0/8. Stopped by PID.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { root } from '../download/support.js';
import { killOnExit } from '../seed/support.js';
import { pidAlive } from '../support/programs.js';

export interface DhtNodeAddress {
  readonly host: string;
  readonly port: number;
}

export interface LibtorrentDhtEvent {
  readonly event: string;
  readonly [key: string]: unknown;
}

export interface LibtorrentDht {
  readonly pid: number;
  readonly nodes: readonly DhtNodeAddress[];
  /** `host:port` of node 0, the one everybody bootstraps from. */
  readonly bootstrap: string;
  send(command: Record<string, unknown>): void;
  /** The first event named `name` (after `from` events) matching `match`; rejects on exit or timeout. */
  next(
    name: string,
    timeoutMs: number,
    match?: (event: LibtorrentDhtEvent) => boolean,
  ): Promise<LibtorrentDhtEvent>;
  output(): string;
  stop(): Promise<void>;
}

/**
 * Starts `nodes` libtorrent DHT nodes; when `seed` is given, nodes 1..seeders seed it. Resolves
 * once the swarm is ready (the seeders found in the DHT by node 0's get_peers).
 */
export async function startLibtorrentDht(
  python: string,
  nodes: number,
  seed?: { torrent: string; dataDir: string; seeders: number },
): Promise<LibtorrentDht> {
  const args = [join(root, 'test/dht/libtorrent-dht.py'), String(nodes)];
  if (seed) args.push(seed.torrent, seed.dataDir, String(seed.seeders));
  const child = spawn(python, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  killOnExit(child);
  const pid = await new Promise<number>((resolve, reject) => {
    child.once('spawn', () => resolve(child.pid!));
    child.once('error', reject);
  });
  const events: LibtorrentDhtEvent[] = [];
  const waiters = new Set<() => void>();
  let output = '';
  let partial = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-64 * 1024);
    partial += chunk.toString('utf8');
    const lines = partial.split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) if (line.startsWith('{')) events.push(JSON.parse(line) as LibtorrentDhtEvent);
    for (const wake of waiters) wake();
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-64 * 1024);
  });
  const running = () => child.exitCode === null && child.signalCode === null;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  void exited.then(() => {
    for (const wake of waiters) wake();
  });
  let consumed = 0;
  const next = (
    name: string,
    timeoutMs: number,
    match: (event: LibtorrentDhtEvent) => boolean = () => true,
  ) =>
    new Promise<LibtorrentDhtEvent>((resolve, reject) => {
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`libtorrent DHT: no '${name}' after ${timeoutMs} ms\n${output}`));
      }, timeoutMs);
      const check = () => {
        const index = events.findIndex((event, i) => i >= consumed && event.event === name && match(event));
        if (index >= 0) {
          consumed = index + 1;
          clearTimeout(timer);
          waiters.delete(check);
          resolve(events[index]!);
        } else if (!running() || events.some((event) => event.event === 'error')) {
          clearTimeout(timer);
          waiters.delete(check);
          reject(new Error(`libtorrent DHT ended or failed before '${name}'\n${output}`));
        }
      };
      waiters.add(check);
      check();
    });
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      if (running()) {
        process.kill(pid, 'SIGTERM');
        const late = await Promise.race([
          exited.then(() => false),
          new Promise<boolean>((resolve) => setTimeout(() => resolve(true), 5_000).unref()),
        ]);
        if (late && running()) process.kill(pid, 'SIGKILL');
      }
      await exited;
      if (pidAlive(pid)) throw new Error(`libtorrent DHT (pid ${pid}) still alive after SIGKILL`);
    })();
    return stopping;
  };
  try {
    const ready = await next('ready', 120_000);
    const list = ready.nodes as DhtNodeAddress[];
    return {
      pid,
      nodes: list,
      bootstrap: `${list[0]!.host}:${list[0]!.port}`,
      send: (command) => child.stdin!.write(`${JSON.stringify(command)}\n`),
      next,
      output: () => output,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
