import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ensureDataset, seederDataDir, verifyDownload } from '../demo/dataset.js';
import { findProgram, type Seeder, startAria2Seeder, startTorkSeeder } from '../demo/seeders.js';
import { formatBytes, parseSize } from '../format.js';
import { type CommandHelp, type OptionHelp, PEER_HOSTS, printedHelp } from '../help.js';
import { type CliIo, ExitCode } from '../io.js';
import { formatRate } from '../progress/render.js';
import { runDownload } from './download.js';

export const demoUsage =
  'usage: tork demo [--size 1GiB] [--files 24] [--piece-size 1MiB] [--seeders 4] [--workers N] [--seeder-workers 1] [--aria2c] [--cache DIR] [--keep] [--json] [--quiet]';

const options = {
  size: { type: 'string', default: '1GiB' },
  files: { type: 'string', default: '24' },
  'piece-size': { type: 'string', default: '1MiB' },
  seeders: { type: 'string', default: '4' },
  workers: { type: 'string' },
  'seeder-workers': { type: 'string', default: '1' },
  aria2c: { type: 'boolean', default: false },
  cache: { type: 'string' },
  keep: { type: 'boolean', default: false },
  json: { type: 'boolean', default: false },
  quiet: { type: 'boolean', short: 'q', default: false },
} as const;

const DEFAULT_CACHE = join(tmpdir(), 'tork-demo-cache');

/** The data-set options `tork demo` and `tork bench` share (their defaults differ). */
export const datasetHelp = {
  size: { arg: 'SIZE', text: 'data set size, at least 1MiB' },
  files: { arg: 'N', text: 'files in the data set, 1 to 10000' },
  'piece-size': { arg: 'SIZE', text: 'piece length, 16KiB to 64MiB' },
  cache: { arg: 'DIR', text: 'where the data set is kept between runs' },
} as const satisfies Record<string, OptionHelp>;

export const demoHelp: CommandHelp<typeof options> = {
  usage: demoUsage,
  summary:
    'the main job on one machine: a cached data set, a loopback swarm of tork seeders,\n' +
    'a download with progress, and a byte-for-byte check',
  options,
  help: {
    ...datasetHelp,
    seeders: { arg: 'N', text: 'seeder processes, 1 to 64' },
    workers: {
      arg: 'N',
      text: "the downloader's worker threads, 1 to 64",
      default: PEER_HOSTS,
    },
    'seeder-workers': { arg: 'N', text: "each tork seeder's worker threads, 1 to 64" },
    aria2c: { text: 'seed with aria2c processes instead of tork' },
    cache: { ...datasetHelp.cache, default: DEFAULT_CACHE },
    keep: { text: 'keep the downloaded copy (its directory is printed)' },
    json: { text: 'print NDJSON events on stdout instead of text' },
    quiet: { text: 'print nothing but errors' },
  },
};

/**
 * The main job, end to end on one machine: a deterministic multi-file data set (cached between
 * runs), a loopback swarm of `tork seed` child processes (or aria2c with `--aria2c`), a download
 * in this process with the normal progress display, a byte-for-byte check, and the downloader's
 * throughput, CPU and peak memory. The seeders run in their own processes, so the CPU and memory
 * figures are the downloader's alone.
 */
export async function runDemo(args: readonly string[], io: CliIo): Promise<ExitCode> {
  if (printedHelp(args, io, demoHelp)) return ExitCode.OK;
  let values: ReturnType<typeof parseArgs<{ args: string[]; options: typeof options }>>['values'];
  try {
    values = parseArgs({ args: [...args], options, strict: true }).values;
  } catch (error) {
    io.stderr(`tork demo: ${(error as Error).message}\n${demoUsage}\n`);
    return ExitCode.BAD_INPUT;
  }
  const size = parseSize(values.size);
  const pieceLength = parseSize(values['piece-size']);
  const files = Number(values.files);
  const seederCount = Number(values.seeders);
  const seederWorkers = Number(values['seeder-workers']);
  if (!size || size < 1 << 20 || !pieceLength || pieceLength < 16_384 || pieceLength > 64 << 20) {
    io.stderr(`tork demo: --size must be at least 1MiB and --piece-size 16KiB..64MiB\n${demoUsage}\n`);
    return ExitCode.BAD_INPUT;
  }
  if (
    !Number.isInteger(files) ||
    files < 1 ||
    files > 10_000 ||
    !Number.isInteger(seederCount) ||
    seederCount < 1 ||
    seederCount > 64 ||
    !Number.isInteger(seederWorkers) ||
    seederWorkers < 1 ||
    seederWorkers > 64
  ) {
    io.stderr(
      `tork demo: --files must be 1..10000, --seeders 1..64 and --seeder-workers 1..64\n${demoUsage}\n`,
    );
    return ExitCode.BAD_INPUT;
  }
  const aria2c = values.aria2c ? findProgram('aria2c') : undefined;
  if (values.aria2c && !aria2c) {
    io.stderr(
      'tork demo: --aria2c needs aria2c on the PATH (Debian/Ubuntu: apt-get install aria2); without --aria2c the seeders are tork\n',
    );
    return ExitCode.FAILURE;
  }
  const client = aria2c ? 'aria2c' : 'tork';
  const say = (text: string) => {
    if (!values.json && !values.quiet) io.stdout(`${text}\n`);
  };
  const emit = (event: string, data: object) => {
    if (values.json) io.stdout(`${JSON.stringify({ event, time: Date.now(), ...data })}\n`);
  };

  const cacheDir = values.cache ?? DEFAULT_CACHE;
  say(`demo: data set of ${formatBytes(size)} in ${files} files (cached in ${cacheDir})…`);
  const datasetStart = Date.now();
  const dataset = await ensureDataset(cacheDir, { size, files, pieceLength });
  say(
    dataset.cached
      ? 'demo: data set found in the cache'
      : `demo: data set generated in ${((Date.now() - datasetStart) / 1000).toFixed(1)} s`,
  );
  emit('dataset', {
    name: dataset.name,
    length: dataset.length,
    files: dataset.files.length,
    torrent: dataset.torrentPath,
    cached: dataset.cached ?? false,
  });

  const seeders: Seeder[] = [];
  // Should this process die without the finally below, its seeders die with it.
  const killSeeders = () => {
    for (const seeder of seeders) {
      try {
        process.kill(seeder.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  };
  process.once('exit', killSeeders);
  let stopped = false;
  const stopSeeders = async () => {
    if (stopped) return;
    stopped = true;
    await Promise.all(seeders.map((seeder) => seeder.stop()));
  };
  const outDir = await mkdtemp(join(tmpdir(), 'tork-demo-out-'));
  try {
    say(
      `demo: starting ${seederCount} ${client} seeders on 127.0.0.1${client === 'tork' ? ' (ready once each has checked its data)' : ''}…`,
    );
    const seedersStart = Date.now();
    const started = await Promise.allSettled(
      Array.from({ length: seederCount }, async (_, i) =>
        aria2c
          ? startAria2Seeder(aria2c, dataset.torrentPath, dataset.dataDir)
          : startTorkSeeder(dataset.torrentPath, await seederDataDir(dataset, i), { workers: seederWorkers }),
      ),
    );
    for (const result of started) if (result.status === 'fulfilled') seeders.push(result.value);
    const failed = started.find((result) => result.status === 'rejected');
    if (failed) {
      io.stderr(`tork demo: a seeder did not start: ${(failed.reason as Error).message}\n`);
      return ExitCode.FAILURE;
    }
    say(
      `demo: ${seederCount} ${client} seeders ready in ${((Date.now() - seedersStart) / 1000).toFixed(1)} s: ` +
        seeders.map((s) => `127.0.0.1:${s.port} (pid ${s.pid})`).join(', '),
    );
    emit('seeders', {
      client,
      seeders: seeders.map((s) => ({ pid: s.pid, port: s.port })),
    });

    // The downloader listens on a free loopback port too: nothing of the demo is reachable from outside.
    // No DHT, no LSD: the demo must run, and stay on this machine, without a network.
    const downloadArgs = [dataset.torrentPath, '--out', outDir, '--no-trackers', '--no-lsd', '--no-dht'];
    downloadArgs.push('--port', '0', '--listen-host', '127.0.0.1');
    for (const seeder of seeders) downloadArgs.push('--peer', `127.0.0.1:${seeder.port}`);
    if (values.workers !== undefined) downloadArgs.push('--workers', values.workers);
    if (values.json) downloadArgs.push('--json');
    if (values.quiet) downloadArgs.push('--quiet');
    const cpuStart = process.cpuUsage();
    const downloadStart = performance.now();
    const status = await runDownload(downloadArgs, io);
    const elapsedMs = performance.now() - downloadStart;
    const cpu = process.cpuUsage(cpuStart);
    const peakRss = process.resourceUsage().maxRSS * 1024;

    await stopSeeders();
    const uploads = seeders.map((s) => s.uploadedBytes?.());
    emit('seeders-stopped', {
      seeders: seeders.map((s, i) => ({ pid: s.pid, port: s.port, uploadedBytes: uploads[i] ?? null })),
    });
    if (uploads.every((bytes) => bytes !== undefined))
      say(
        `demo: seeders stopped (by PID); uploaded, as each counted it: ${uploads.map((bytes) => formatBytes(bytes!)).join(', ')}`,
      );
    else say('demo: seeders stopped (by PID)');
    if (status !== ExitCode.OK) return status;

    const verifyStart = Date.now();
    const bad = await verifyDownload(dataset, outDir);
    if (bad.length > 0) {
      emit('verified', { files: dataset.files.length, identical: false, differing: bad });
      io.stderr(`tork demo: ${bad.length} files differ from the data set: ${bad.slice(0, 5).join(', ')}\n`);
      return ExitCode.FAILURE;
    }
    say(
      `demo: verified byte for byte: all ${dataset.files.length} files (${formatBytes(dataset.length)}) identical to the data set ` +
        `(${((Date.now() - verifyStart) / 1000).toFixed(1)} s)`,
    );
    emit('verified', { files: dataset.files.length, bytes: dataset.length, identical: true });
    const seconds = elapsedMs / 1000;
    const cpuSeconds = (cpu.user + cpu.system) / 1e6;
    say(
      `demo: downloaded ${formatBytes(dataset.length)} from ${seederCount} ${client} seeders in ${seconds.toFixed(1)} s ` +
        `(${formatRate(dataset.length / Math.max(seconds, 0.001))}, including start-up); ` +
        `downloader CPU ${cpuSeconds.toFixed(1)} s (user ${(cpu.user / 1e6).toFixed(1)} s, system ${(cpu.system / 1e6).toFixed(1)} s, ` +
        `${((cpuSeconds / Math.max(seconds, 0.001)) * 100).toFixed(0)}% of one core), peak RSS ${formatBytes(peakRss)}`,
    );
    emit('summary', {
      client,
      seeders: seederCount,
      length: dataset.length,
      elapsedMs: Math.round(elapsedMs),
      bytesPerSecond: Math.round(dataset.length / Math.max(seconds, 0.001)),
      cpuUserMs: Math.round(cpu.user / 1000),
      cpuSystemMs: Math.round(cpu.system / 1000),
      peakRssBytes: peakRss,
    });
    return ExitCode.OK;
  } finally {
    await stopSeeders();
    process.off('exit', killSeeders);
    if (!values.keep) await rm(outDir, { recursive: true, force: true });
    else say(`demo: download kept in ${outDir}`);
  }
}
