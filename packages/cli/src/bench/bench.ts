import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus, release, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { TORK_VERSION } from '@tork/core';
import { ensureDataset, verifyDownload } from '../demo/dataset.js';
import { formatBytes } from '../format.js';
import { type ClientName, type DownloadMeasure, measureDownload } from './download.js';
import { type FormatTorrent, formatTorrent, type TorrentFormat, torrentWithTracker } from './formats.js';
import { machineBusySeconds } from './proc.js';
import { drawSeederRates, type SeederRates } from './seeder-rates.js';
import { type PlotClient, renderPlot } from './svg.js';
import { type SeederKind, type Swarm, startSwarm } from './swarm.js';
import { tailFigures } from './tails.js';
import { type BenchTracker, startTracker } from './tracker.js';

export interface BenchOptions {
  readonly size: number;
  readonly files: number;
  readonly pieceLength: number;
  readonly peers: number;
  /** tork downloader's --workers; undefined: tork's default. */
  readonly workers?: number;
  readonly seeders: readonly SeederKind[];
  readonly compare: readonly ClientName[];
  /**
   * Torrent formats of the same data set, each downloaded by every client in every run, in this
   * order (v1, v2, hybrid, v1, …). Default: ['v1'].
   */
  readonly formats?: readonly TorrentFormat[];
  /** Another tork build downloading too (`tork-baseline`), alternating with this one. */
  readonly baseline?: Baseline;
  /** This build again with extra `download` flags, each a client of its own (`tork-variant[NAME]`). */
  readonly variants?: readonly Variant[];
  readonly runs: number;
  /**
   * `--warmup N`: N rounds of unmeasured downloads against each seeder swarm before the measured
   * runs, each round one download by tork and one by each `compare` client. A fresh tork seeder
   * compiles its serving path (V8's JIT) during its first downloads, and each downloader takes
   * paths of its own; warm-ups let the runs show the seeders' steady state. Downloaders are fresh
   * processes in every run whatever this is. Default: 0 (the first run meets fresh seeders).
   */
  readonly warmup?: number;
  readonly rateLimit: number;
  /**
   * `--seeder-rates LO..HI`: per-seeder upload caps drawn log-uniformly from LO..HI bytes/s with a
   * fixed seed (libtorrent seeders only). Default: none (every seeder at `rateLimit`).
   */
  readonly seederRates?: SeederRates;
  /** `--churn S`: every S seconds one libtorrent seeder leaves and the one that left before rejoins. Default: 0, none. */
  readonly churnSeconds?: number;
  readonly latencyMs: number;
  readonly scaling: boolean;
  readonly cacheDir: string;
  readonly plot?: string;
  readonly python?: string;
  readonly aria2c?: string;
  readonly timeoutMs: number;
  readonly log: (line: string) => void;
  /** Called after each run with its result (the human table prints as it goes). */
  readonly onRun?: (run: RunResult) => void;
}

/** `--variant NAME=ARGS`: tork with `args` added to its `download` command line. */
export interface Variant {
  readonly name: string;
  readonly args: readonly string[];
}

/** Another tork build: its CLI entry and the version it reports. */
export interface Baseline {
  readonly path: string;
  readonly version: string;
}

/** The figures of one download. Field names are stable (docs/performance.md). */
export interface Figures {
  readonly wallSeconds: number;
  readonly mbPerSecond: number;
  readonly cpuSeconds: number;
  readonly cpuSecondsPerGiB: number;
  readonly peakRssMiB: number;
  readonly seederCpuSeconds: number;
  /**
   * The seeders' CPU seconds per GiB they served: seederCpuSeconds ÷ the payload they uploaded
   * during the run (the data set's length when a seeder cannot tell).
   */
  readonly seederCpuSecondsPerGiB: number;
}

export interface RunResult extends Figures {
  /** `compare`, `scaling-workers` or `scaling-peers`. */
  readonly set: string;
  /** `client@seeders[ format=F][ workers=N][ peers=N]` (` format=F` unless the only format is v1). */
  readonly group: string;
  readonly client: ClientName;
  readonly seeders: SeederKind;
  /** The torrent format downloaded (`--format`). */
  readonly format: TorrentFormat;
  readonly peers: number;
  readonly workers: number | null;
  readonly run: number;
  readonly userSeconds: number;
  readonly sysSeconds: number;
  readonly measuredBy: 'wait4' | 'proc';
  readonly verified: boolean;
  readonly exitStatus: number | null;
  readonly benchCpuSeconds: number;
  /** CPU seconds the rest of the machine used during the run (all cores busy − downloader − seeders − bench): other load skews the figures. */
  readonly otherCpuSeconds: number;
  /** Payload bytes each seeder uploaded during this run (null: the seeder cannot tell). */
  readonly seederUploadedBytes: Array<number | null>;
  /** Payload bytes the downloader says it received (tork: `stopped` event; libtorrent: total_payload_download; aria2c: null). */
  readonly downloaderReceivedBytes: number | null;
  /** Bytes tork itself counted as wasted (duplicates, failed hashes); null for other clients. */
  readonly downloaderWastedBytes: number | null;
  /** Peers tork banned for sending data that failed the hash check (null for other clients). */
  readonly downloaderBannedPeers: number | null;
  /**
   * tork's watchdog: the longest event-loop stall of its coordinator thread and of its busiest
   * peer host during the download, ms (null for other clients).
   */
  readonly coordinatorStallMs: number | null;
  readonly hostStallMs: number | null;
  /**
   * tork's per-thread lag: each thread's longest event-loop stall, ms, coordinator and every peer
   * host (null for other clients).
   */
  readonly threadLagMs: { coordinator: number; hosts: number[] } | null;
  /** Seconds from start until one piece's worth of bytes was on disk (tails.ts; null: never). */
  readonly firstPieceSeconds: number | null;
  /** Seconds the last 1 % of the bytes took (from 99 % written to the end; null: not completed). */
  readonly lastPercentSeconds: number | null;
  /**
   * Bytes the seeders uploaded beyond the data set's length (duplicates, pieces sent twice, endgame
   * copies): every client's wasted bytes as the seeders saw them (null: a seeder cannot tell).
   */
  readonly excessUploadedBytes: number | null;
  /** [seconds, bytes written] every 100 ms (SAMPLE_MS). */
  readonly timeline: Array<[number, number]>;
  /** ms from the downloader's process start to its first connected peer / first verified piece (tork, libtorrent). */
  readonly firstPeerMs: number | null;
  readonly firstPieceMs: number | null;
}

/** One unmeasured `--warmup` download: enough to see what warming up cost and that it worked. */
export interface WarmupResult {
  readonly seeders: SeederKind;
  readonly client: ClientName;
  readonly wallSeconds: number;
  readonly mbPerSecond: number;
  readonly seederCpuSeconds: number;
  readonly verified: boolean;
}

export interface GroupSummary extends Figures {
  /** Medians of the runs that have the figure (null: none has). */
  readonly firstPieceSeconds: number | null;
  readonly lastPercentSeconds: number | null;
  readonly excessUploadedBytes: number | null;
  readonly group: string;
  readonly set: string;
  readonly client: ClientName;
  readonly seeders: SeederKind;
  readonly format: TorrentFormat;
  readonly peers: number;
  readonly workers: number | null;
  readonly runs: number;
}

export interface BenchReport {
  readonly tool: 'tork bench';
  readonly schema: 1;
  readonly torkVersion: string;
  readonly date: string;
  readonly machine: { cpus: number; cpuModel: string; memoryGiB: number; node: string; kernel: string };
  readonly params: {
    size: number;
    files: number;
    pieceLength: number;
    peers: number;
    workers: number | null;
    seeders: SeederKind[];
    compare: ClientName[];
    formats: TorrentFormat[];
    baseline: Baseline | null;
    variants: Variant[];
    runs: number;
    /** `--warmup`: unmeasured downloads against each swarm before the runs (0: none). */
    warmup: number;
    rateLimit: number;
    /** `--seeder-rates`: the range, its seed and the caps drawn for `peers` seeders (null: none). */
    seederRates: (SeederRates & { rates: number[] }) | null;
    /** `--churn`: seconds between one seeder leaving and the next (0: none). */
    churnSeconds: number;
    latencyMs: number;
    scaling: boolean;
  };
  readonly dataset: {
    name: string;
    length: number;
    files: number;
    cached: boolean;
    /** One per `--format`: the torrent each format downloads (pieces, a hybrid's pad files). */
    torrents: FormatTorrent[];
  };
  readonly runs: RunResult[];
  /** The `--warmup` downloads, in order: not in `runs` nor in any median. */
  readonly warmups: WarmupResult[];
  readonly medians: GroupSummary[];
  /** tork's median figure divided by the other client's, same seeders, format and set. */
  readonly ratios: Array<{ tork: string; other: string } & Record<keyof Figures, number>>;
  /**
   * The same downloader's median figure with tork (or tork-baseline) seeders divided by its median
   * with libtorrent seeders, same format and set (`group` ÷ `libtorrent`): the cost of serving.
   */
  readonly seederRatios: Array<{ group: string; libtorrent: string } & Record<keyof Figures, number>>;
  /**
   * With `--format` v1 and another format: that format's median figure divided by v1's, same
   * client, seeders and set (`group` ÷ `v1`). Empty without v1 or with it alone.
   */
  readonly formatRatios: Array<
    { group: string; v1: string; client: ClientName; format: TorrentFormat } & Record<keyof Figures, number>
  >;
  readonly ok: boolean;
}

const FIGURES: Array<keyof Figures> = [
  'wallSeconds',
  'mbPerSecond',
  'cpuSeconds',
  'cpuSecondsPerGiB',
  'peakRssMiB',
  'seederCpuSeconds',
  'seederCpuSecondsPerGiB',
];

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

const round = (value: number, digits = 3) => Number(value.toFixed(digits));

/** What the seeders served in a run: the sum of their uploads, or `fallback` when one cannot tell. */
export function servedBytes(uploaded: ReadonlyArray<number | null>, fallback: number): number {
  if (uploaded.length === 0 || uploaded.some((v) => v === null)) return fallback;
  const sum = uploaded.reduce((a: number, b) => a + (b ?? 0), 0);
  return sum > 0 ? sum : fallback;
}

/**
 * tork seeders report their upload totals in progress events about once a second: waits until the
 * last one after `ended` (ms since the epoch) has arrived. libtorrent seeders answer at once.
 */
async function seederTotalsSettled(swarm: { readonly kind: SeederKind }, ended: number): Promise<void> {
  if (swarm.kind === 'tork' || swarm.kind === 'tork-baseline')
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, ended + 1_500 - Date.now())));
}

/** The median of the values present; null when none is. */
function medianOrNull(values: ReadonlyArray<number | null>): number | null {
  const present = values.filter((v): v is number => v !== null);
  return present.length === 0 ? null : round(median(present));
}

/** What the downloader said it received, from the last lines of its output. */
function receivedBytes(output: string): {
  downloaderReceivedBytes: number | null;
  downloaderWastedBytes: number | null;
  downloaderBannedPeers: number | null;
  coordinatorStallMs: number | null;
  hostStallMs: number | null;
  threadLagMs: { coordinator: number; hosts: number[] } | null;
} {
  let threadLag: { coordinator: number; hosts: number[] } | null = null;
  let received: number | null = null;
  let wasted: number | null = null;
  let banned: number | null = null;
  let coordinatorStall: number | null = null;
  let hostStall: number | null = null;
  for (const line of output.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      const event = JSON.parse(line) as {
        event?: string;
        downloadedBytes?: number;
        wastedBytes?: number;
        downloaded?: number;
        peers?: { banned?: number };
        eventLoop?: { coordinatorMaxMs?: number; hostsMaxMs?: number[] };
      };
      if (event.event === 'stopped' && event.eventLoop) {
        coordinatorStall = event.eventLoop.coordinatorMaxMs ?? null;
        const hosts = event.eventLoop.hostsMaxMs ?? [];
        hostStall = hosts.length > 0 ? Math.max(...hosts) : null;
        if (typeof coordinatorStall === 'number')
          threadLag = { coordinator: coordinatorStall, hosts: [...hosts] };
      }
      if (typeof event.peers?.banned === 'number') banned = event.peers.banned;
      if (event.event === 'stopped' && typeof event.downloadedBytes === 'number') {
        received = event.downloadedBytes;
        wasted = typeof event.wastedBytes === 'number' ? event.wastedBytes : null;
      } else if (event.event === 'done' && typeof event.downloaded === 'number') received = event.downloaded;
    } catch {
      // a partial line at the start of the kept output
    }
  }
  return {
    downloaderReceivedBytes: received,
    downloaderWastedBytes: wasted,
    downloaderBannedPeers: banned,
    coordinatorStallMs: coordinatorStall,
    hostStallMs: hostStall,
    threadLagMs: threadLag,
  };
}

interface Job {
  readonly set: string;
  readonly client: ClientName;
  readonly seeders: SeederKind;
  readonly format: TorrentFormat;
  readonly peers: number;
  readonly workers?: number;
  readonly variant?: Variant;
}

function groupName(job: Job, showFormat: boolean): string {
  let name = `${job.client}${job.variant ? `[${job.variant.name}]` : ''}@${job.seeders}`;
  if (showFormat) name += ` format=${job.format}`;
  if (job.set === 'scaling-workers') name += ` workers=${job.workers}`;
  if (job.set === 'scaling-peers') name += ` peers=${job.peers}`;
  return name;
}

export async function runBench(options: BenchOptions): Promise<BenchReport> {
  const log = options.log;
  const host = '127.0.0.1';
  log(
    `bench: data set of ${options.size} bytes in ${options.files} files, pieces of ${options.pieceLength} (cache ${options.cacheDir})`,
  );
  const t0 = Date.now();
  const dataset = await ensureDataset(options.cacheDir, {
    size: options.size,
    files: options.files,
    pieceLength: options.pieceLength,
  });
  log(
    dataset.cached
      ? 'bench: data set found in the cache'
      : `bench: data set generated in ${((Date.now() - t0) / 1000).toFixed(1)} s`,
  );
  const formats = options.formats && options.formats.length > 0 ? options.formats : (['v1'] as const);
  const showFormat = !(formats.length === 1 && formats[0] === 'v1');
  const formatTorrents: FormatTorrent[] = [];
  for (const format of formats)
    formatTorrents.push(await formatTorrent(dataset, options.pieceLength, format, log));
  for (const t of formatTorrents)
    if (t.format !== 'v1' || showFormat)
      log(
        `bench: ${t.format}: ${t.pieceCount} pieces over ${t.layoutBytes} bytes${t.padFiles ? ` (${t.padFiles} pads, ${t.padBytes} bytes of zeros aligning files to pieces: not on disk)` : ''}, info-hash ${t.infoHash}${t.infoHashV2 ? ` (v2 ${t.infoHashV2})` : ''}`,
      );
  const workDir = await mkdtemp(join(tmpdir(), 'tork-bench-'));
  const cleanupWork = () => rmSync(workDir, { recursive: true, force: true });
  process.once('exit', cleanupWork);
  const swarms = new Map<SeederKind, Swarm>();
  let tracker: BenchTracker | undefined;
  const runs: RunResult[] = [];
  const warmups: WarmupResult[] = [];
  try {
    tracker = await startTracker(host);
    const torrents = new Map<TorrentFormat, string>();
    for (const t of formatTorrents)
      torrents.set(
        t.format,
        await torrentWithTracker(
          t,
          tracker.url,
          join(workDir, t.format === 'v1' ? 'bench.torrent' : `bench.${t.format}.torrent`),
        ),
      );

    const swarmFor = async (kind: SeederKind, peers: number): Promise<Swarm> => {
      const current = swarms.get(kind);
      if (current && current.ports.length === peers) return current;
      if (current) {
        await current.stop();
        swarms.delete(kind);
      }
      log(`bench: starting ${peers} ${kind} seeders on ${host}…`);
      const started = Date.now();
      const swarm = await startSwarm(kind, dataset, [...torrents.values()], {
        count: peers,
        rateLimit: options.rateLimit,
        ...(kind === 'libtorrent' && options.seederRates
          ? { rates: drawSeederRates(options.seederRates, peers) }
          : {}),
        ...(kind === 'libtorrent' && options.churnSeconds ? { churnSeconds: options.churnSeconds } : {}),
        python: options.python,
        aria2c: options.aria2c,
        host,
        log,
        ...(options.baseline ? { baselineMain: options.baseline.path } : {}),
      });
      swarms.set(kind, swarm);
      log(
        `bench: ${peers} ${kind} seeders ready in ${((Date.now() - started) / 1000).toFixed(1)} s (pids ${swarm.pids.slice(0, 8).join(' ')}${swarm.pids.length > 8 ? ' …' : ''})`,
      );
      return swarm;
    };

    const runJob = async (job: Job, index: number): Promise<RunResult> => {
      const swarm = await swarmFor(job.seeders, job.peers);
      tracker!.setPorts(swarm.ports);
      const outDir = join(workDir, `out-${runs.length}`);
      await mkdir(outDir, { recursive: true });
      const uploadedBefore = await swarm.uploaded();
      const seederCpuBefore = swarm.cpuSeconds();
      const benchCpuBefore = process.cpuUsage();
      const machineBefore = machineBusySeconds();
      let measure: DownloadMeasure;
      try {
        measure = await measureDownload(
          {
            client: job.client,
            torrent: torrents.get(job.format)!,
            outDir,
            workers: job.workers,
            baseline: options.baseline?.path,
            ...(job.variant ? { extraArgs: job.variant.args } : {}),
            python: options.python,
            aria2c: options.aria2c,
            host,
            timeoutMs: options.timeoutMs,
          },
          options.python,
        );
      } catch (error) {
        await rm(outDir, { recursive: true, force: true });
        throw error;
      }
      const seederCpuSeconds = swarm.cpuSeconds() - seederCpuBefore;
      const machineSeconds = machineBusySeconds() - machineBefore;
      const ended = Date.now();
      const benchCpu = process.cpuUsage(benchCpuBefore);
      const bad =
        measure.status === 0 ? await verifyDownload(dataset, outDir) : ['(not run: download failed)'];
      await seederTotalsSettled(swarm, ended);
      const uploadedAfter = await swarm.uploaded();
      await rm(outDir, { recursive: true, force: true });
      if (bad.length > 0) {
        log(
          `bench: ${groupName(job, showFormat)} run ${index + 1}: exit ${measure.status}; ${bad.length} files differ (${bad.slice(0, 3).join(', ')})`,
        );
        log(measure.output.trim().split('\n').slice(-10).join('\n'));
      }
      const cpuSeconds = measure.userSeconds + measure.sysSeconds;
      const gib = dataset.length / 2 ** 30;
      const seederUploadedBytes = uploadedAfter.map((after, i) => {
        const before = uploadedBefore[i];
        return after === undefined || before === undefined ? null : after - before;
      });
      const tails = tailFigures(
        measure.samples,
        measure.wallSeconds,
        dataset.length,
        options.pieceLength,
        bad.length === 0,
      );
      const result: RunResult = {
        set: job.set,
        group: groupName(job, showFormat),
        client: job.client,
        seeders: job.seeders,
        format: job.format,
        peers: job.peers,
        workers: job.workers ?? null,
        run: index + 1,
        wallSeconds: round(measure.wallSeconds),
        mbPerSecond: round(dataset.length / 1e6 / measure.wallSeconds, 2),
        cpuSeconds: round(cpuSeconds),
        userSeconds: round(measure.userSeconds),
        sysSeconds: round(measure.sysSeconds),
        cpuSecondsPerGiB: round(cpuSeconds / gib),
        peakRssMiB: round(measure.peakRssKiB / 1024, 1),
        seederCpuSeconds: round(seederCpuSeconds, 2),
        seederCpuSecondsPerGiB: round(
          seederCpuSeconds / (servedBytes(seederUploadedBytes, dataset.length) / 2 ** 30),
        ),
        measuredBy: measure.source,
        verified: bad.length === 0,
        exitStatus: measure.status,
        benchCpuSeconds: round((benchCpu.user + benchCpu.system) / 1e6),
        otherCpuSeconds: round(
          Math.max(
            0,
            machineSeconds - cpuSeconds - seederCpuSeconds - (benchCpu.user + benchCpu.system) / 1e6,
          ),
          2,
        ),
        seederUploadedBytes,
        ...receivedBytes(measure.output),
        ...tails,
        excessUploadedBytes:
          seederUploadedBytes.length > 0 && seederUploadedBytes.every((v) => v !== null)
            ? Math.max(0, seederUploadedBytes.reduce((a: number, b) => a + (b ?? 0), 0) - dataset.length)
            : null,
        timeline: measure.samples.map(([t, bytes]) => [round(t, 2), bytes]),
        ...measure.startup,
      };
      runs.push(result);
      options.onRun?.(result);
      return result;
    };

    const peersDefault = options.peers;
    // `--warmup`: each swarm first serves unmeasured downloads (the first format) by every kind of
    // downloader the runs have, so that the measured runs meet seeders whose JIT has compiled the
    // serving path each of them takes. Warmed by tork alone, tork seeders served libtorrent's first
    // measured download at 1.6–1.8× the CPU per GiB of its next ones (docs/performance.md, "Issue
    // 17, 2026-12-05, sixth session"). tork-variant and tork-baseline download as tork does.
    const warmupCount = options.warmup ?? 0;
    const warmupClients: ClientName[] = ['tork', ...options.compare];
    for (const seeders of options.seeders)
      for (let w = 0; w < warmupCount; w++)
        for (const client of warmupClients) {
          const swarm = await swarmFor(seeders, peersDefault);
          tracker!.setPorts(swarm.ports);
          const outDir = join(workDir, `warmup-${warmups.length}`);
          await mkdir(outDir, { recursive: true });
          const seederCpuBefore = swarm.cpuSeconds();
          try {
            const measure = await measureDownload(
              {
                client,
                torrent: torrents.get(formats[0]!)!,
                outDir,
                workers: options.workers,
                python: options.python,
                aria2c: options.aria2c,
                host,
                timeoutMs: options.timeoutMs,
              },
              options.python,
            );
            const seederCpuSeconds = swarm.cpuSeconds() - seederCpuBefore;
            const ended = Date.now();
            const bad =
              measure.status === 0 ? await verifyDownload(dataset, outDir) : ['(not run: download failed)'];
            // The first run's upload counters start from here: without the wait they missed the
            // warm-up's last second, which then counted as that run's (1 GiB: 545 MiB "served" twice).
            await seederTotalsSettled(swarm, ended);
            const warmup: WarmupResult = {
              seeders,
              client,
              wallSeconds: round(measure.wallSeconds),
              mbPerSecond: round(dataset.length / 1e6 / measure.wallSeconds, 2),
              seederCpuSeconds: round(seederCpuSeconds, 2),
              verified: bad.length === 0,
            };
            warmups.push(warmup);
            log(
              `bench: warm-up ${w + 1}/${warmupCount} against ${seeders} seeders${client === 'tork' ? '' : ` by ${client}`}: ${warmup.mbPerSecond} MB/s, seeders' CPU ${warmup.seederCpuSeconds} s${bad.length > 0 ? `; exit ${measure.status}, ${bad.length} files differ` : ''}`,
            );
          } finally {
            await rm(outDir, { recursive: true, force: true });
          }
        }
    // The comparison: clients alternate within each run (tork, tork-baseline, aria2c, libtorrent, tork, …),
    // and within a run each format has its turn (v1 by every client, v2 by every client, hybrid …).
    const clients: Array<{ client: ClientName; variant?: Variant }> = [
      { client: 'tork' },
      ...(options.variants ?? []).map((variant) => ({ client: 'tork-variant' as const, variant })),
      ...(options.baseline ? [{ client: 'tork-baseline' as const }] : []),
      ...options.compare.map((client) => ({ client })),
    ];
    for (let r = 0; r < options.runs; r++)
      for (const seeders of options.seeders)
        for (const format of formats)
          for (const { client, variant } of clients)
            await runJob(
              {
                set: 'compare',
                client,
                seeders,
                format,
                peers: peersDefault,
                workers: options.workers,
                variant,
              },
              r,
            );

    if (options.scaling) {
      const seeders = options.seeders[0]!;
      // Scaling downloads the first format only.
      const format = formats[0]!;
      // Every count up to the cores, and 4 and 8 above them (issue 17's 1, 2, 4, 8 on 2 cores):
      // hosts beyond the cores must not cost more than a few percent.
      const workerCounts = [
        ...new Set([...Array.from({ length: availableParallelism() }, (_, i) => i + 1), 4, 8]),
      ].sort((a, b) => a - b);
      for (let r = 0; r < options.runs; r++)
        for (const workers of workerCounts)
          await runJob(
            { set: 'scaling-workers', client: 'tork', seeders, format, peers: peersDefault, workers },
            r,
          );
      for (const peers of [4, 16, 64, 128]) {
        if (seeders === 'tork' && peers > 64) {
          log(
            `bench: scaling to ${peers} peers skipped with tork seeders (one process each): use --seeders libtorrent`,
          );
          continue;
        }
        for (let r = 0; r < options.runs; r++)
          await runJob(
            { set: 'scaling-peers', client: 'tork', seeders, format, peers, workers: options.workers },
            r,
          );
      }
    }
  } finally {
    await Promise.all([...swarms.values()].map((swarm) => swarm.stop()));
    await tracker?.close();
    cleanupWork();
    process.off('exit', cleanupWork);
  }

  const groups = new Map<string, RunResult[]>();
  for (const run of runs)
    groups.set(`${run.set}|${run.group}`, [...(groups.get(`${run.set}|${run.group}`) ?? []), run]);
  const medians: GroupSummary[] = [...groups.values()].map((list) => {
    const first = list[0]!;
    const figures = Object.fromEntries(
      FIGURES.map((f) => [f, round(median(list.map((run) => run[f])), 3)]),
    ) as unknown as Figures;
    return {
      group: first.group,
      set: first.set,
      client: first.client,
      seeders: first.seeders,
      format: first.format,
      peers: first.peers,
      workers: first.workers,
      runs: list.length,
      ...figures,
      firstPieceSeconds: medianOrNull(list.map((run) => run.firstPieceSeconds)),
      lastPercentSeconds: medianOrNull(list.map((run) => run.lastPercentSeconds)),
      excessUploadedBytes: medianOrNull(list.map((run) => run.excessUploadedBytes)),
    };
  });
  const ratios: BenchReport['ratios'] = [];
  for (const tork of medians.filter((m) => m.set === 'compare' && m.client === 'tork'))
    for (const other of medians.filter(
      (m) =>
        m.set === 'compare' && m.client !== 'tork' && m.seeders === tork.seeders && m.format === tork.format,
    ))
      ratios.push({
        tork: tork.group,
        other: other.group,
        ...(Object.fromEntries(FIGURES.map((f) => [f, other[f] ? round(tork[f] / other[f]) : 0])) as Record<
          keyof Figures,
          number
        >),
      });

  const seederRatios: BenchReport['seederRatios'] = [];
  const withoutSeeders = (group: string) => group.replace(/@\S+/, '');
  for (const summary of medians.filter((m) => m.seeders === 'tork' || m.seeders === 'tork-baseline')) {
    const other = medians.find(
      (m) =>
        m.seeders === 'libtorrent' &&
        m.set === summary.set &&
        m.client === summary.client &&
        m.format === summary.format &&
        withoutSeeders(m.group) === withoutSeeders(summary.group),
    );
    if (!other) continue;
    seederRatios.push({
      group: summary.group,
      libtorrent: other.group,
      ...(Object.fromEntries(FIGURES.map((f) => [f, other[f] ? round(summary[f] / other[f]) : 0])) as Record<
        keyof Figures,
        number
      >),
    });
  }

  const formatRatios: BenchReport['formatRatios'] = [];
  const withoutFormat = (group: string) => group.replace(/ format=\S+/, '');
  for (const summary of medians.filter((m) => m.format !== 'v1')) {
    const v1 = medians.find(
      (m) =>
        m.format === 'v1' && m.set === summary.set && withoutFormat(m.group) === withoutFormat(summary.group),
    );
    if (!v1) continue;
    formatRatios.push({
      group: summary.group,
      v1: v1.group,
      client: summary.client,
      format: summary.format,
      ...(Object.fromEntries(FIGURES.map((f) => [f, v1[f] ? round(summary[f] / v1[f]) : 0])) as Record<
        keyof Figures,
        number
      >),
    });
  }

  if (options.plot) {
    const clients: PlotClient[] = [];
    for (const summary of medians.filter((m) => m.set === 'compare')) {
      const list = runs.filter((run) => run.set === 'compare' && run.group === summary.group);
      // The run whose wall time is the median (the lower middle one for an even count).
      const chosen = [...list].sort((a, b) => a.wallSeconds - b.wallSeconds)[(list.length - 1) >> 1]!;
      clients.push({
        label: summary.group,
        samples: chosen.timeline,
        cpuSecondsPerGiB: summary.cpuSecondsPerGiB,
        peakRssMiB: summary.peakRssMiB,
        firstPieceSeconds: summary.firstPieceSeconds,
        lastPercentSeconds: summary.lastPercentSeconds,
        perSeeder: chosen.seederUploadedBytes.map((v) => v ?? undefined),
      });
    }
    const pieces = formatTorrents[0]?.pieceCount;
    const extras = [
      options.rateLimit ? `upload cap ${formatBytes(options.rateLimit)}/s per seeder` : '',
      options.seederRates ? `seeder caps ${options.seederRates.text}` : '',
      options.churnSeconds ? `churn every ${options.churnSeconds} s` : '',
      options.latencyMs ? `${options.latencyMs} ms latency` : '',
    ].filter(Boolean);
    await writeFile(
      options.plot,
      renderPlot(
        {
          title: `tork bench: ${formatBytes(options.size)} in ${options.files} files, ${formatBytes(options.pieceLength)} pieces${pieces ? ` (${pieces})` : ''}`,
          subtitle: [
            `${options.peers} ${options.seeders.join('/')} seeders`,
            `${options.runs} run${options.runs === 1 ? '' : 's'} (median shown)`,
            `format ${formats.join(', ')}`,
            ...extras,
            `tork ${TORK_VERSION}, node ${process.version}, ${availableParallelism()} cores`,
            new Date().toISOString().slice(0, 10),
          ].join(' · '),
        },
        clients,
      ),
    );
    log(`bench: plot written to ${options.plot}`);
  }

  return {
    tool: 'tork bench',
    schema: 1,
    torkVersion: TORK_VERSION,
    date: new Date().toISOString(),
    machine: {
      cpus: availableParallelism(),
      cpuModel: cpus()[0]?.model ?? 'unknown',
      memoryGiB: round(totalmem() / 2 ** 30, 1),
      node: process.version,
      kernel: release(),
    },
    params: {
      size: options.size,
      files: options.files,
      pieceLength: options.pieceLength,
      peers: options.peers,
      workers: options.workers ?? null,
      seeders: [...options.seeders],
      compare: [...options.compare],
      formats: [...formats],
      baseline: options.baseline ?? null,
      variants: [...(options.variants ?? [])],
      runs: options.runs,
      warmup: options.warmup ?? 0,
      rateLimit: options.rateLimit,
      seederRates: options.seederRates
        ? { ...options.seederRates, rates: drawSeederRates(options.seederRates, options.peers) }
        : null,
      churnSeconds: options.churnSeconds ?? 0,
      latencyMs: options.latencyMs,
      scaling: options.scaling,
    },
    dataset: {
      name: dataset.name,
      length: dataset.length,
      files: dataset.files.length,
      cached: dataset.cached ?? false,
      torrents: formatTorrents,
    },
    runs,
    warmups,
    medians,
    ratios,
    seederRatios,
    formatRatios,
    ok: runs.length > 0 && runs.every((run) => run.verified) && warmups.every((warmup) => warmup.verified),
  };
}

/** Runs `command` in a fresh network namespace whose loopback delays every packet by `latencyMs` (root, ip, tc). */
export async function inLatencyNamespace(
  latencyMs: number,
  command: string,
  args: readonly string[],
  log: (line: string) => void,
): Promise<number> {
  const { runQuick } = await import('./proc.js');
  const ns = `tork-bench-${process.pid}`;
  const must = async (cmd: string, cmdArgs: string[]) => {
    const result = await runQuick(cmd, cmdArgs);
    if (result.status !== 0)
      throw new Error(`${cmd} ${cmdArgs.join(' ')}: ${result.stderr.trim() || `status ${result.status}`}`);
  };
  await must('ip', ['netns', 'add', ns]);
  const remove = async () => {
    await runQuick('ip', ['netns', 'del', ns]);
  };
  const onExit = () => {
    spawn('ip', ['netns', 'del', ns], { stdio: 'ignore', detached: true }).unref();
  };
  process.once('exit', onExit);
  try {
    await must('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    await must('ip', [
      'netns',
      'exec',
      ns,
      'tc',
      'qdisc',
      'add',
      'dev',
      'lo',
      'root',
      'netem',
      'delay',
      `${latencyMs}ms`,
    ]);
    log(
      `bench: network namespace ${ns}: loopback delays every packet by ${latencyMs} ms (round trip ${2 * latencyMs} ms)`,
    );
    const ignore = () => {};
    process.on('SIGINT', ignore);
    process.on('SIGTERM', ignore);
    try {
      return await new Promise<number>((resolve) => {
        const child = spawn('ip', ['netns', 'exec', ns, command, ...args], {
          stdio: 'inherit',
          env: { ...process.env, TORK_BENCH_NETNS: ns },
        });
        child.once('error', () => resolve(1));
        child.once('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
      });
    } finally {
      process.off('SIGINT', ignore);
      process.off('SIGTERM', ignore);
    }
  } finally {
    await remove();
    process.off('exit', onExit);
  }
}
