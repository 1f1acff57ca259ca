import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { torkMain } from '../demo/seeders.js';
import { procCpuSeconds, procPeakRssKiB, procWriteBytes, stopChild, track } from './proc.js';
import { type StartupFigures, StartupWatch } from './startup-times.js';
import { pythonDir } from './swarm.js';

/**
 * `tork-baseline`: another tork build (`--baseline`), run exactly as tork is. `tork-variant`: this
 * build with extra `download` flags (`--variant NAME=ARGS`).
 */
export type ClientName = 'tork' | 'tork-baseline' | 'tork-variant' | 'aria2c' | 'libtorrent';

/** Progress sampling period, ms: fine enough for the time to the first piece and of the last 1 % (tails.ts). */
export const SAMPLE_MS = 100;

export interface DownloadSpec {
  readonly client: ClientName;
  readonly torrent: string;
  readonly outDir: string;
  /** tork only: --workers. */
  readonly workers?: number;
  /** tork-baseline: the other build's CLI entry (…/packages/cli/dist/main.js). */
  readonly baseline?: string;
  /** tork-variant: the flags added to tork's command line. */
  readonly extraArgs?: readonly string[];
  readonly python?: string;
  readonly aria2c?: string;
  readonly host: string;
  readonly timeoutMs: number;
}

export interface DownloadMeasure {
  readonly status: number | null;
  readonly wallSeconds: number;
  readonly userSeconds: number;
  readonly sysSeconds: number;
  readonly peakRssKiB: number;
  /** How the CPU and memory figures were taken: `wait4` (exact) or `proc` (last /proc sample). */
  readonly source: 'wait4' | 'proc';
  /** [seconds since start, bytes written so far] every SAMPLE_MS (page-cache bytes dirtied: /proc/<pid>/io write_bytes). */
  readonly samples: Array<[number, number]>;
  readonly output: string;
  /** Time to first peer and first verified piece (tork, libtorrent; null where not printed). */
  readonly startup: StartupFigures;
}

/** The downloader's command line (without the rusage wrapper). */
export function downloadCommand(spec: DownloadSpec): [string, string[]] {
  switch (spec.client) {
    case 'tork':
    case 'tork-variant':
    case 'tork-baseline':
      return [
        process.execPath,
        [
          spec.client === 'tork-baseline' ? spec.baseline! : torkMain,
          'download',
          spec.torrent,
          '--out',
          spec.outDir,
          '--port',
          '0',
          '--listen-host',
          spec.host,
          '--json',
          // No DHT (the baseline may predate the flag: it gets TORK_HERMETIC=1 from measureDownload).
          ...(spec.client === 'tork-baseline' ? [] : ['--no-dht']),
          ...(spec.workers ? ['--workers', String(spec.workers)] : []),
          ...(spec.client === 'tork-variant' ? (spec.extraArgs ?? []) : []),
        ],
      ];
    case 'aria2c':
      return [
        spec.aria2c!,
        [
          '--seed-time=0',
          '--enable-dht=false',
          '--enable-dht6=false',
          '--bt-enable-lpd=false',
          '--enable-peer-exchange=false',
          '--file-allocation=none',
          '--bt-max-peers=0',
          '--auto-save-interval=0',
          '--summary-interval=0',
          '--console-log-level=warn',
          `--dir=${spec.outDir}`,
          spec.torrent,
        ],
      ];
    case 'libtorrent':
      return [spec.python!, [`${pythonDir}libtorrent-download.py`, spec.torrent, spec.outDir]];
  }
}

/**
 * Runs one download to completion and measures it: wall time, CPU (user + sys) and peak RSS of
 * the downloader's process tree exactly (rusage.py: os.wait4) when `python` is given, else from
 * its last /proc sample; progress every SAMPLE_MS from /proc/<pid>/io.
 */
export async function measureDownload(
  spec: DownloadSpec,
  python: string | undefined,
): Promise<DownloadMeasure> {
  const [command, args] = downloadCommand(spec);
  const wrapped = python !== undefined;
  // Whatever a downloader could reach beyond this machine (a tork build's DHT defaults, LSD
  // multicast) stays off: TORK_HERMETIC=1 works for a baseline build too, which may predate the flags.
  const env = { ...process.env, TORK_HERMETIC: '1' };
  const child = track(
    wrapped
      ? spawn(python, [`${pythonDir}rusage.py`, '--', command, ...args], {
          stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
          env,
        })
      : spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env }),
  );
  const started = performance.now();
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-8192);
  };
  child.stdout!.on('data', keep);
  const startupWatch = new StartupWatch();
  child.stdout!.on('data', (chunk: Buffer) => startupWatch.feed(chunk));
  child.stderr!.on('data', keep);
  let pid = wrapped ? 0 : child.pid!;
  let usage: { status: number; wall: number; user: number; sys: number; maxrssKiB: number } | undefined;
  if (wrapped) {
    createInterface({ input: child.stdio[3] as Readable }).on('line', (line) => {
      const document = JSON.parse(line) as { pid?: number } & Partial<NonNullable<typeof usage>>;
      if (document.pid) pid = document.pid;
      else usage = document as NonNullable<typeof usage>;
    });
  }
  const samples: Array<[number, number]> = [[0, 0]];
  let lastCpu = 0;
  let lastRss = 0;
  const sample = () => {
    if (!pid) return;
    const bytes = procWriteBytes(pid);
    if (bytes !== undefined) samples.push([(performance.now() - started) / 1000, bytes]);
    lastCpu = procCpuSeconds(pid) ?? lastCpu;
    lastRss = procPeakRssKiB(pid) ?? lastRss;
  };
  const sampler = setInterval(sample, SAMPLE_MS);
  const timeout = setTimeout(() => {
    output += `\n[bench: timed out after ${spec.timeoutMs} ms]`;
    void stopChild(child);
  }, spec.timeoutMs);
  const closed = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  const status = await closed;
  clearInterval(sampler);
  clearTimeout(timeout);
  const wallSeconds = (performance.now() - started) / 1000;
  if (usage) {
    return {
      status: usage.status,
      wallSeconds: usage.wall,
      userSeconds: usage.user,
      sysSeconds: usage.sys,
      peakRssKiB: usage.maxrssKiB,
      source: 'wait4',
      samples,
      output,
      startup: startupWatch.figures(),
    };
  }
  return {
    status,
    wallSeconds,
    userSeconds: lastCpu,
    sysSeconds: 0,
    peakRssKiB: lastRss,
    source: 'proc',
    samples,
    output,
    startup: startupWatch.figures(),
  };
}
