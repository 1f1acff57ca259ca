import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { type Dataset, seederDataDir } from '../demo/dataset.js';
import { aria2SeederArgs, spawnOnFreePort, torkMain } from '../demo/seeders.js';
import { procCpuSeconds, stopChild, track } from './proc.js';

/** `tork-baseline`: `tork seed` of the `--baseline` build (its own hard-linked data dirs). */
export type SeederKind = 'tork' | 'tork-baseline' | 'libtorrent' | 'aria2c';

/** The python helpers shipped next to dist/ (dist/bench/swarm.js → python/). */
export const pythonDir = fileURLToPath(new URL('../../python/', import.meta.url));

/** A loopback swarm of seeders of one kind. */
export interface Swarm {
  readonly kind: SeederKind;
  readonly ports: readonly number[];
  readonly pids: readonly number[];
  /** CPU seconds (user + sys) the seeders' processes have used so far. */
  cpuSeconds(): number;
  /** Payload bytes uploaded so far per seeder; undefined where the client cannot tell (aria2c). */
  uploaded(): Promise<Array<number | undefined>>;
  stop(): Promise<void>;
}

export interface SwarmOptions {
  readonly count: number;
  /** Per-seeder upload cap in bytes/s (0: none). */
  readonly rateLimit: number;
  /** libtorrent only: seeder i's own cap, bytes/s (one per seeder; overrides rateLimit). Default: none. */
  readonly rates?: readonly number[];
  /** libtorrent only: every churnSeconds one seeder leaves and the last one away rejoins. Default: 0, none. */
  readonly churnSeconds?: number;
  readonly python?: string;
  readonly aria2c?: string;
  readonly host: string;
  readonly log: (line: string) => void;
  /** tork-baseline only: the other build's packages/cli/dist/main.js. Default: none. */
  readonly baselineMain?: string;
}

function sumCpu(pids: readonly number[]): number {
  let total = 0;
  for (const pid of pids) total += procCpuSeconds(pid) ?? 0;
  return total;
}

/** One python process hosting every libtorrent seeder (libtorrent-farm.py), each seeding every torrent. */
async function libtorrentSwarm(
  dataset: Dataset,
  torrents: readonly string[],
  options: SwarmOptions,
): Promise<Swarm> {
  const args = [
    `${pythonDir}libtorrent-farm.py`,
    torrents[0]!,
    dataset.dataDir,
    String(options.count),
    '--host',
    options.host,
    ...torrents.slice(1).flatMap((torrent) => ['--also', torrent]),
  ];
  if (options.rateLimit) args.push('--rate-limit', String(options.rateLimit));
  if (options.rates && options.rates.length > 0) args.push('--rates', options.rates.join(','));
  if (options.churnSeconds) args.push('--churn', String(options.churnSeconds));
  const child = track(spawn(options.python!, args, { stdio: ['pipe', 'pipe', 'pipe'] }));
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4096);
  });
  const waiting: Array<(uploaded: number[]) => void> = [];
  let lastUploaded: number[] = [];
  const ports = await new Promise<number[]>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('libtorrent farm not listening within 120 s')), 120_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`libtorrent farm exited with status ${code}: ${stderr.trim()}`));
    });
    createInterface({ input: child.stdout! }).on('line', (line) => {
      let document: { ports?: number[]; uploaded?: number[]; error?: string };
      try {
        document = JSON.parse(line) as typeof document;
      } catch {
        return;
      }
      if (document.ports) {
        clearTimeout(timer);
        resolve(document.ports);
      } else if (document.uploaded) {
        lastUploaded = document.uploaded;
        waiting.shift()?.(document.uploaded);
      } else if (document.error) reject(new Error(`libtorrent farm: ${line}`));
    });
  });
  return {
    kind: 'libtorrent',
    ports,
    pids: [child.pid!],
    cpuSeconds: () => sumCpu([child.pid!]),
    uploaded: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve(lastUploaded);
        waiting.push(resolve);
        child.stdin!.write('stats\n');
      }),
    stop: () => stopChild(child),
  };
}

/** `tork seed` child processes, one per seeder, each on its own hard-linked data dir (resume lock). */
async function torkSwarm(
  dataset: Dataset,
  torrent: string,
  options: SwarmOptions,
  kind: 'tork' | 'tork-baseline',
): Promise<Swarm> {
  const main = kind === 'tork' ? torkMain : options.baselineMain;
  if (!main) throw new Error('tork-baseline seeders need --baseline PATH (another build)');
  const children: ChildProcess[] = [];
  const uploaded: number[] = [];
  const ports: number[] = [];
  const start = async (index: number) => {
    const dir = await seederDataDir(dataset, index, kind === 'tork' ? 'seeder' : 'baseline-seeder');
    const child = track(
      spawn(
        process.execPath,
        [
          // Node flags for the seeders alone, e.g. '--cpu-prof --cpu-prof-dir=DIR' (NODE_OPTIONS refuses it).
          ...(process.env.TORK_BENCH_SEEDER_NODE_ARGS ?? '').split(/\s+/).filter(Boolean),
          main,
          'seed',
          torrent,
          '--data',
          dir,
          '--port',
          '0',
          '--listen-host',
          options.host,
          '--no-trackers',
          '--no-lsd',
          '--no-dht',
          '--json',
          '--workers',
          '1',
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      ),
    );
    children[index] = child;
    uploaded[index] = 0;
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-4096);
    });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`tork seeder ${index} not seeding within 600 s`)),
        600_000,
      );
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`tork seeder ${index} exited (${signal ?? code}) before seeding: ${stderr.trim()}`));
      });
      createInterface({ input: child.stdout! }).on('line', (line) => {
        let event: {
          event?: string;
          port?: number;
          uploadedBytes?: number;
          checked?: number;
          verified?: number;
        };
        try {
          event = JSON.parse(line) as typeof event;
        } catch {
          return;
        }
        if (event.event === 'listening') ports[index] = Number(event.port);
        else if (event.event === 'checked' && event.verified !== event.checked)
          reject(
            new Error(`tork seeder ${index}: only ${event.verified} of ${event.checked} pieces verified`),
          );
        else if (event.event === 'done' && ports[index]) {
          clearTimeout(timer);
          resolve();
        }
        if (typeof event.uploadedBytes === 'number') uploaded[index] = event.uploadedBytes;
      });
    });
  };
  const stop = () =>
    Promise.all(children.filter(Boolean).map((child) => stopChild(child))).then(() => undefined);
  try {
    // Two at a time: a seeder without clean resume state hashes all its data first.
    for (let i = 0; i < options.count; i += 2) {
      await Promise.all([start(i), ...(i + 1 < options.count ? [start(i + 1)] : [])]);
      if (i === 0 || (i + 2) % 16 === 0)
        options.log(`tork seeders ready: ${Math.min(i + 2, options.count)}/${options.count}`);
    }
  } catch (error) {
    await stop();
    throw error;
  }
  const pids = children.map((child) => child.pid!);
  return {
    kind,
    ports,
    pids,
    cpuSeconds: () => sumCpu(pids),
    // tork seed --json reports its totals in its periodic progress events (about once a second).
    uploaded: async () => [...uploaded],
    stop,
  };
}

/** aria2c seeders, one process each, no trackers (`--bt-exclude-tracker=*`). */
async function aria2Swarm(dataset: Dataset, torrent: string, options: SwarmOptions): Promise<Swarm> {
  const children: ChildProcess[] = [];
  const ports: number[] = [];
  const pids: number[] = [];
  const stop = () => Promise.all(children.map((child) => stopChild(child))).then(() => undefined);
  try {
    // Started together; each waits until it listens on its port itself (spawnOnFreePort).
    const started = Array.from({ length: options.count }, () =>
      spawnOnFreePort(
        (port) => {
          const child = track(
            spawn(
              options.aria2c!,
              aria2SeederArgs(port, torrent, dataset.dataDir, {
                extraArgs: options.rateLimit ? [`--max-upload-limit=${options.rateLimit}`] : [],
              }),
              { stdio: 'ignore' },
            ),
          );
          // Every child started is stopped by `stop`, a replaced one (stolen port) too.
          children.push(child);
          return child;
        },
        'aria2c seeder',
        30_000,
      ),
    );
    // Settled, not raced: a seeder still starting when another fails is stopped too.
    for (const outcome of await Promise.allSettled(started)) {
      if (outcome.status === 'rejected') throw outcome.reason;
      ports.push(outcome.value.port);
      pids.push(outcome.value.child.pid!);
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    kind: 'aria2c',
    ports,
    pids,
    cpuSeconds: () => sumCpu(pids),
    uploaded: async () => ports.map(() => undefined),
    stop,
  };
}

/**
 * Seeders of `kind` for `torrents` (the same data set in one or more formats). libtorrent seeders
 * seed them all from one farm; tork and aria2c seeders take one torrent (`tork bench` refuses more).
 */
export function startSwarm(
  kind: SeederKind,
  dataset: Dataset,
  torrents: readonly string[],
  options: SwarmOptions,
): Promise<Swarm> {
  if (kind === 'libtorrent') return libtorrentSwarm(dataset, torrents, options);
  if (torrents.length !== 1) throw new Error(`${kind} seeders seed one torrent, not ${torrents.length}`);
  const torrent = torrents[0]!;
  if (kind === 'aria2c') return aria2Swarm(dataset, torrent, options);
  return torkSwarm(dataset, torrent, options, kind);
}
