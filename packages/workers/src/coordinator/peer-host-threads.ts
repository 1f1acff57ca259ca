/**
 * Starting peer host threads, apart from ThreadActorSystem so that `tork download` can start them
 * before it has loaded the rest of its code (main.js imports only this module, its imports are
 * Node built-ins): a thread then loads its code on one core while the coordinator loads its own on
 * the other, and start-up waits for the slower of the two instead of their sum.
 */
import type { Worker } from 'node:worker_threads';
import type { PeerHostSettings, PeerHostWorkerData } from '@tork/core/internal/messages/control-plane.js';
import { HOST_THREAD_YOUNG_GENERATION_MB, startWorker } from '../shared/start-worker.js';
import { threadEntry } from '../shared/thread-entry.js';
import { availableCores, defaultPeerHosts } from './available-cores.js';

/** Spare piece buffers kept by all hosts together (see BufferPool), and the least one host keeps. */
export const SYSTEM_POOL_BYTES = 64 * 1024 * 1024;
export const MIN_HOST_POOL_BYTES = 8 * 1024 * 1024;

/** A peer host thread as started: its exit is recorded from the first moment, so none is missed. */
export interface PeerHostThread {
  readonly worker: Worker;
  /** What it was started with: a prestarted thread is adopted only if this equals what is asked. */
  readonly workerData: PeerHostWorkerData;
  /** Resolves with the exit code when the thread ends (also before anyone adopted it). */
  readonly exited: Promise<number>;
  /** The first 'error' the thread raised (a failed module load), if any. */
  readonly error: () => Error | undefined;
}

/**
 * The data host `index` starts with: the system's buffer budget split between the `sharing` hosts
 * that start at once (`min(workers, onDemandFrom)`); a host started on demand later gets the same
 * share, so the budget grows with the hosts that actually run, not with `--workers`.
 */
export function peerHostWorkerData(
  index: number,
  sharing: number,
  host?: PeerHostSettings,
): PeerHostWorkerData {
  return {
    index,
    options: {
      bufferPoolBytes: Math.max(MIN_HOST_POOL_BYTES, Math.floor(SYSTEM_POOL_BYTES / sharing)),
      ...host,
    },
  };
}

/** The peer host entry this build runs (bundled when the build wrote it). */
export function peerHostEntry(): URL {
  return threadEntry('peer-host-worker.js', 'peer-host/peer-host-worker.js');
}

/**
 * Starts one host thread. Its 'error' is caught here (an unheard 'error' event would crash the
 * process) and kept for whoever adopts it.
 */
export function startPeerHostThread(entry: URL, workerData: PeerHostWorkerData): PeerHostThread {
  // The process's flags, less those a worker refuses (startWorker); a small young generation.
  const worker = startWorker(entry, {
    workerData,
    resourceLimits: { maxYoungGenerationSizeMb: HOST_THREAD_YOUNG_GENERATION_MB },
  });
  let error: Error | undefined;
  worker.on('error', (raised) => {
    error ??= raised;
  });
  const exited = new Promise<number>((resolve) => worker.once('exit', resolve));
  return { worker, workerData, exited, error: () => error };
}

/**
 * Starts the first `started` of `count` hosts (default: `defaultPeerHosts()`, all of them) with
 * default settings, unreferenced until ThreadActorSystem adopts them
 * (`ThreadActorSystemOptions.prestarted`): a command that ends before (a usage error, `--help`)
 * exits without waiting for them, and main.js terminates those not adopted.
 */
export function prestartPeerHosts(count = defaultPeerHosts(), started = count): PeerHostThread[] {
  const entry = peerHostEntry();
  const threads: PeerHostThread[] = [];
  for (let index = 0; index < Math.min(count, started); index++) {
    const thread = startPeerHostThread(entry, peerHostWorkerData(index, Math.min(count, started)));
    thread.worker.unref();
    threads.push(thread);
  }
  return threads;
}

/**
 * The hosts `tork download` starts at once for `--workers N` (default `defaultPeerHosts()`): N when
 * the cores can run them all; for more than the cores, the default (the cores less the
 * coordinator's), and the rest start on demand (`ThreadActorSystemOptions.onDemandFrom`). Why not
 * the cores then: a host on the coordinator's core costs more than it brings, so asking for more
 * threads than cores must not buy one. On 2 cores, `--workers 4` and `8` started 2 hosts and took
 * 4.6 and 8.4 % longer than `--workers 1` on the 2 GiB / 32-seeder set (docs/performance.md,
 * "Issue 17, 2026-12-05, sixth session"). N up to the cores is taken as asked.
 */
export function eagerPeerHosts(workers = defaultPeerHosts()): number {
  return workers <= availableCores() ? workers : defaultPeerHosts();
}

/**
 * `--workers N` / `--workers=N` from a command line, if it is a whole number from 1 to 64 (the
 * option's range), else undefined: the command's own parser reports a bad value.
 */
export function workersFromArgs(args: readonly string[]): number | undefined {
  let value: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--') break;
    if (arg === '--workers') value = args[i + 1];
    else if (arg.startsWith('--workers=')) value = arg.slice('--workers='.length);
  }
  if (value === undefined || !/^\d+$/.test(value)) return undefined;
  const count = Number(value);
  return count >= 1 && count <= 64 ? count : undefined;
}
