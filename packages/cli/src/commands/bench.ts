import { spawn, spawnSync } from 'node:child_process';
import { type Stats, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import {
  type Baseline,
  type BenchReport,
  inLatencyNamespace,
  type RunResult,
  runBench,
  type Variant,
} from '../bench/bench.js';
import type { ClientName } from '../bench/download.js';
import { TORRENT_FORMATS, type TorrentFormat } from '../bench/formats.js';
import {
  DEFAULT_GATE_MARGIN_PCT,
  type GateVerdict,
  gate,
  gateTable,
  loadSavedReport,
  looksLikeSavedReport,
  type SavedReport,
} from '../bench/gate.js';
import { parseSeederRates, type SeederRates } from '../bench/seeder-rates.js';
import { startupLines } from '../bench/startup-times.js';
import type { SeederKind } from '../bench/swarm.js';
import { findProgram } from '../demo/seeders.js';
import { parseSize } from '../format.js';
import { type CommandHelp, optionTokens, printedHelp } from '../help.js';
import { type CliIo, ExitCode } from '../io.js';
import { datasetHelp } from './demo.js';

export const benchUsage =
  'usage: tork bench [--size 2GiB] [--files 40] [--piece-size 1MiB] [--peers 32] [--workers N] [--seeders tork|tork-baseline|libtorrent|aria2c[,…]] [--compare aria2c,libtorrent] [--format v1[,v2,hybrid]] [--runs 3] [--warmup 0] [--scaling] [--latency ms] [--rate-limit 10MiB] [--seeder-rates 1MiB..50MiB[@SEED]] [--churn S] [--cache DIR] [--timeout 600] [--json] [--plot out.svg] [--baseline PATH|FILE.json] [--gate-margin PCT] [--variant NAME=ARGS]...';

const options = {
  size: { type: 'string', default: '2GiB' },
  files: { type: 'string', default: '40' },
  'piece-size': { type: 'string', default: '1MiB' },
  peers: { type: 'string', default: '32' },
  workers: { type: 'string' },
  seeders: { type: 'string', default: 'tork' },
  compare: { type: 'string', default: '' },
  format: { type: 'string', default: 'v1' },
  runs: { type: 'string', default: '3' },
  warmup: { type: 'string', default: '0' },
  scaling: { type: 'boolean', default: false },
  latency: { type: 'string' },
  'rate-limit': { type: 'string' },
  'seeder-rates': { type: 'string' },
  churn: { type: 'string' },
  cache: { type: 'string' },
  timeout: { type: 'string', default: '600' },
  json: { type: 'boolean', default: false },
  plot: { type: 'string' },
  baseline: { type: 'string' },
  'gate-margin': { type: 'string' },
  variant: { type: 'string', multiple: true },
} as const;

const DEFAULT_CACHE = join(tmpdir(), 'tork-bench-cache');

export const benchHelp: CommandHelp<typeof options> = {
  usage: benchUsage,
  summary:
    'benchmark: a cached data set, a loopback swarm, downloads by tork (and --compare clients)\n' +
    'measured for wall time, MB/s, CPU and peak RSS, every byte verified (docs/performance.md)',
  options,
  help: {
    ...datasetHelp,
    peers: { arg: 'N', text: 'seeders in the swarm, 1 to 256' },
    workers: { arg: 'N', text: "tork downloader's --workers, 1 to 64", default: "tork's own (the cores)" },
    seeders: {
      arg: 'KINDS',
      text: 'seeder kinds, comma-separated: tork, tork-baseline (`tork seed` of the --baseline build), libtorrent, aria2c (each its own swarm)',
    },
    compare: {
      arg: 'CLIENTS',
      text: 'also download with these clients, comma-separated: aria2c, libtorrent',
    },
    format: {
      arg: 'FORMATS',
      text:
        'torrent formats of the same data set, comma-separated: v1, v2 (BEP 52 only), hybrid (v1 + v2, with pad files); ' +
        'v2 and hybrid are made once by `tork create` and cached; every client downloads each format in every run, in this order. ' +
        'v2 and hybrid need a power-of-two --piece-size and libtorrent seeders (tork seeders: hybrid alone), and no aria2c',
    },
    runs: { arg: 'N', text: 'runs of every download, 1 to 100; clients alternate within a run' },
    warmup: {
      arg: 'N',
      text:
        'rounds of unmeasured downloads against each seeder swarm before the runs, 0 to 20, each round one by tork ' +
        "and one by each --compare client: the runs then measure warm seeders (a fresh tork seeder's JIT compiles " +
        'its serving path, for each kind of downloader, during its first downloads); the downloaders are fresh processes whatever N is',
    },
    scaling: {
      text: 'add tork alone with --workers 1, 2, … up to the cores, 4 and 8, and with 4 to 128 seeders',
    },
    latency: {
      arg: 'MS',
      text: 'delay every loopback packet by MS (root, ip and tc: a private network namespace)',
      default: 'none',
    },
    'rate-limit': {
      arg: 'SIZE',
      text: 'upload cap per second of each libtorrent or aria2c seeder',
      default: 'none',
    },
    'seeder-rates': {
      arg: 'LO..HI[@SEED]',
      text: 'a heterogeneous swarm: each libtorrent seeder capped at its own upload rate per second, drawn log-uniformly from LO..HI with a fixed seed (same caps every run)',
      default: 'none',
    },
    churn: {
      arg: 'S',
      text: 'every S seconds one libtorrent seeder leaves (paused) and the one that left before rejoins',
      default: 'none',
    },
    cache: { ...datasetHelp.cache, default: DEFAULT_CACHE },
    timeout: { arg: 'S', text: 'seconds a download may take before it is stopped' },
    json: { text: 'print one JSON report on stdout instead of the table (progress on stderr)' },
    plot: { arg: 'FILE', text: 'write an SVG of MB/s over time and bytes per seeder', default: 'none' },
    baseline: {
      arg: 'PATH',
      text:
        "another tork build's packages/cli/dist/main.js downloads too (tork-baseline), same flags; " +
        'or a saved `--json` report (a path ending in .json or a file that parses as one): the regression gate, ' +
        "this run's tork medians against the saved ones, exit 3 when MB/s or CPU s/GiB is worse by more than --gate-margin",
      default: 'none',
    },
    'gate-margin': {
      arg: 'PCT',
      text: 'the regression gate fails when a figure is worse than the saved one by more than PCT percent (measured noise: docs/performance.md)',
      default: `${DEFAULT_GATE_MARGIN_PCT}`,
    },
    variant: {
      arg: 'NAME=ARGS',
      text: "this build downloads again with ARGS added to its download flags (tork-variant[NAME], e.g. 'sequential=--sequential'), alternating with tork",
      default: 'none',
    },
  },
};

const SEEDERS: readonly SeederKind[] = ['tork', 'tork-baseline', 'libtorrent', 'aria2c'];
const CLIENTS: readonly ClientName[] = ['aria2c', 'libtorrent'];

/** A python 3 that can import libtorrent (Debian's /usr/bin/python3 first: pyenv shims lack it). */
async function pythonWith(module: string | undefined): Promise<string | undefined> {
  const candidates = [
    ...new Set(['/usr/bin/python3', findProgram('python3')].filter((p): p is string => Boolean(p))),
  ];
  for (const python of candidates) {
    const ok = await new Promise<boolean>((resolve) => {
      const child = spawn(python, ['-c', module ? `import ${module}` : 'import os; os.wait4'], {
        stdio: 'ignore',
      });
      child.once('exit', (code) => resolve(code === 0));
      child.once('error', () => resolve(false));
    });
    if (ok) return python;
  }
  return undefined;
}

const fixed = (value: number, digits: number) => value.toFixed(digits).padStart(8);
const maybe = (value: number | null, digits: number) =>
  value === null ? '-'.padStart(8) : fixed(value, digits);

function runLine(run: RunResult): string {
  return [
    `${run.group} #${run.run}`.padEnd(42),
    fixed(run.wallSeconds, 2),
    fixed(run.mbPerSecond, 1),
    fixed(run.cpuSeconds, 2),
    fixed(run.cpuSecondsPerGiB, 2),
    fixed(run.peakRssMiB, 0),
    fixed(run.seederCpuSeconds, 2),
    fixed(run.seederCpuSecondsPerGiB, 2),
    fixed(run.otherCpuSeconds, 2),
    maybe(run.firstPieceSeconds, 2),
    maybe(run.lastPercentSeconds, 2),
    maybe(run.excessUploadedBytes === null ? null : run.excessUploadedBytes / 2 ** 20, 1),
    run.verified ? '  ok' : '  BAD',
    // tork's watchdog: longest event-loop stall, coordinator / busiest peer host.
    run.coordinatorStallMs === null ? '' : `  stall ${run.coordinatorStallMs}/${run.hostStallMs ?? '?'} ms`,
  ].join(' ');
}

const HEADER = `${'download'.padEnd(42)} ${'wall s'.padStart(8)} ${'MB/s'.padStart(8)} ${'CPU s'.padStart(8)} ${'CPU s/GiB'.padStart(8)} ${'RSS MiB'.padStart(8)} ${'seed CPU'.padStart(8)} ${'seed/GiB'.padStart(8)} ${'othr CPU'.padStart(8)} ${'1st pc s'.padStart(8)} ${'last1% s'.padStart(8)} ${'xtra MiB'.padStart(8)}  verified  (tork: longest loop stall coordinator/host)`;

function table(report: BenchReport): string {
  const lines = ['', 'medians', HEADER];
  for (const m of report.medians)
    lines.push(
      [
        `${m.group} (${m.runs})`.padEnd(42),
        fixed(m.wallSeconds, 2),
        fixed(m.mbPerSecond, 1),
        fixed(m.cpuSeconds, 2),
        fixed(m.cpuSecondsPerGiB, 2),
        fixed(m.peakRssMiB, 0),
        fixed(m.seederCpuSeconds, 2),
        fixed(m.seederCpuSecondsPerGiB, 2),
        ''.padStart(8),
        maybe(m.firstPieceSeconds, 2),
        maybe(m.lastPercentSeconds, 2),
        maybe(m.excessUploadedBytes === null ? null : m.excessUploadedBytes / 2 ** 20, 1),
      ].join(' '),
    );
  lines.push(...startupLines(report.runs));
  if (report.ratios.length > 0) {
    lines.push('', 'ratios (tork / other, medians)');
    for (const r of report.ratios) lines.push(ratioLine(`${r.tork} / ${r.other}`, r));
  }
  if (report.seederRatios.length > 0) {
    lines.push('', 'seeders (tork seeders / libtorrent seeders, same downloader, medians)');
    for (const r of report.seederRatios) lines.push(ratioLine(`${r.group} / ${r.libtorrent}`, r));
  }
  if (report.formatRatios.length > 0) {
    lines.push('', 'formats (this format / v1, medians, same client and seeders)');
    for (const r of report.formatRatios) lines.push(ratioLine(r.group, r));
  }
  return `${lines.join('\n')}\n`;
}

type RatioFigures = Record<
  | 'wallSeconds'
  | 'mbPerSecond'
  | 'cpuSeconds'
  | 'cpuSecondsPerGiB'
  | 'peakRssMiB'
  | 'seederCpuSeconds'
  | 'seederCpuSecondsPerGiB',
  number
>;

/** One line of a ratio table: its label, then each figure to two places. */
function ratioLine(label: string, r: RatioFigures): string {
  const figures = [
    r.wallSeconds,
    r.mbPerSecond,
    r.cpuSeconds,
    r.cpuSecondsPerGiB,
    r.peakRssMiB,
    r.seederCpuSeconds,
    r.seederCpuSecondsPerGiB,
  ];
  return [label.padEnd(42), ...figures.map((value) => fixed(value, 2))].join(' ');
}

/**
 * `--format`: the formats, or why they cannot run with these seeders and clients. v2 and hybrid are
 * BEP 52 (16 KiB merkle leaves: a power-of-two piece length); aria2c speaks v1 only; a libtorrent
 * farm seeds every format at once, a tork seeder one torrent, and `tork seed` does not serve
 * v2-only torrents yet (issue 16).
 */
function checkFormats(
  text: string,
  pieceLength: number,
  seeders: readonly SeederKind[],
  compare: readonly ClientName[],
): { formats: TorrentFormat[] } | string {
  const formats = text.split(',').map((f) => f.trim()) as TorrentFormat[];
  if (
    formats.length === 0 ||
    formats.some((f) => !TORRENT_FORMATS.includes(f)) ||
    new Set(formats).size !== formats.length
  )
    return `--format takes v1, v2, hybrid (comma-separated, each once), got '${text}'`;
  const bep52 = formats.filter((f) => f !== 'v1');
  if (bep52.length === 0) return { formats };
  const which = bep52.join(' and ');
  if ((pieceLength & (pieceLength - 1)) !== 0)
    return `--format ${which} needs a power-of-two --piece-size (BEP 52), got ${pieceLength} bytes`;
  if (seeders.includes('aria2c') || compare.includes('aria2c'))
    return `--format ${which}: aria2c does not speak BitTorrent v2 (BEP 52); use --seeders libtorrent and --compare libtorrent`;
  if ((seeders.includes('tork') || seeders.includes('tork-baseline')) && formats.length > 1)
    return `--format ${formats.join(',')}: a tork seeder seeds one torrent; several formats need --seeders libtorrent`;
  return { formats };
}

/** What `--baseline` takes; said by every message about it. */
const BASELINE_PATH =
  "another tork build's CLI entry, …/packages/cli/dist/main.js, or a saved `tork bench --json` report, FILE.json";

/**
 * `--baseline PATH`: an existing file that answers `--version` as tork does (within 30 s); else the
 * one-line reason. Run with this Node, as every tork download of the bench is.
 */
function loadBaseline(path: string): Baseline | string {
  if (path === '') return `--baseline needs a PATH: ${BASELINE_PATH}`;
  const absolute = resolve(path);
  let info: Stats;
  try {
    info = statSync(absolute);
  } catch {
    return `--baseline ${path}: no such file (give ${BASELINE_PATH})`;
  }
  if (!info.isFile()) return `--baseline ${path}: not a file (give ${BASELINE_PATH})`;
  const answer = spawnSync(process.execPath, [absolute, '--version'], { encoding: 'utf8', timeout: 30_000 });
  const version = /^tork (\S+)\n?$/.exec(answer.stdout ?? '')?.[1];
  if (answer.status !== 0 || version === undefined)
    return `--baseline ${path}: not a tork CLI (\`node ${path} --version\` did not print 'tork VERSION')`;
  return { path: absolute, version };
}

/** Set-up fields that differ between the saved report and this run (the comparison is then weaker). */
function paramsDiffer(saved: SavedReport, report: BenchReport): string[] {
  const lines: string[] = [];
  const before = saved.params ?? {};
  for (const key of [
    'size',
    'files',
    'pieceLength',
    'peers',
    'workers',
    'seeders',
    'formats',
    'rateLimit',
    'latencyMs',
  ] as const) {
    const a = JSON.stringify(before[key] ?? null);
    const b = JSON.stringify((report.params as Record<string, unknown>)[key] ?? null);
    if (a !== b)
      lines.push(`the saved report has ${key} ${a}, this run ${b}: figures may differ for that reason`);
  }
  return lines;
}

export async function runBenchCommand(args: readonly string[], io: CliIo): Promise<ExitCode> {
  if (printedHelp(args, io, benchHelp)) return ExitCode.OK;
  // `--baseline` with no PATH after it: one line, as for a PATH that is not there (not parseArgs' three).
  if (
    optionTokens(args, options).some(
      (token) =>
        token.name === 'baseline' &&
        (token.value === undefined || (!token.inlineValue && token.value.startsWith('-'))),
    )
  ) {
    io.stderr(`tork bench: --baseline needs a PATH: ${BASELINE_PATH}\n`);
    return ExitCode.BAD_INPUT;
  }
  let values: ReturnType<typeof parseArgs<{ args: string[]; options: typeof options }>>['values'];
  try {
    values = parseArgs({ args: [...args], options, strict: true }).values;
  } catch (error) {
    io.stderr(`tork bench: ${(error as Error).message}\n${benchUsage}\n`);
    return ExitCode.BAD_INPUT;
  }
  const bad = (message: string) => {
    io.stderr(`tork bench: ${message}\n${benchUsage}\n`);
    return ExitCode.BAD_INPUT;
  };
  const size = parseSize(values.size);
  const pieceLength = parseSize(values['piece-size']);
  const files = Number(values.files);
  const peers = Number(values.peers);
  const runs = Number(values.runs);
  const warmup = Number(values.warmup);
  const workers = values.workers === undefined ? undefined : Number(values.workers);
  const latencyMs = values.latency === undefined ? 0 : Number(values.latency);
  const rateLimit = values['rate-limit'] === undefined ? 0 : parseSize(values['rate-limit']);
  const timeout = Number(values.timeout);
  if (!size || size < 1 << 20) return bad('--size must be at least 1MiB');
  if (!pieceLength || pieceLength < 16_384 || pieceLength > 64 << 20)
    return bad('--piece-size must be 16KiB..64MiB');
  if (!Number.isInteger(files) || files < 1 || files > 10_000) return bad('--files must be 1..10000');
  if (!Number.isInteger(peers) || peers < 1 || peers > 256) return bad('--peers must be 1..256');
  if (!Number.isInteger(runs) || runs < 1 || runs > 100) return bad('--runs must be 1..100');
  if (!Number.isInteger(warmup) || warmup < 0 || warmup > 20) return bad('--warmup must be 0..20');
  if (workers !== undefined && (!Number.isInteger(workers) || workers < 1 || workers > 64))
    return bad('--workers must be 1..64');
  if (!Number.isFinite(latencyMs) || latencyMs < 0 || latencyMs > 10_000)
    return bad('--latency must be 0..10000 (ms)');
  if (rateLimit === undefined || rateLimit < 0)
    return bad('--rate-limit must be a size per second, e.g. 10MiB');
  if (!Number.isFinite(timeout) || timeout < 1) return bad('--timeout must be seconds per download');
  const seeders = values.seeders.split(',').filter(Boolean) as SeederKind[];
  const compare = values.compare.split(',').filter(Boolean) as ClientName[];
  if (seeders.length === 0 || seeders.some((s) => !SEEDERS.includes(s)))
    return bad('--seeders takes tork, tork-baseline, libtorrent, aria2c (comma-separated)');
  if (compare.some((c) => !CLIENTS.includes(c)))
    return bad('--compare takes aria2c, libtorrent (comma-separated)');
  const formatError = checkFormats(values.format, pieceLength, seeders, compare);
  if (typeof formatError === 'string') return bad(formatError);
  const formats = formatError.formats;
  const variants: Variant[] = [];
  for (const text of values.variant ?? []) {
    const match = /^([A-Za-z0-9_-]{1,32})=(.*)$/s.exec(text);
    const variantArgs = (match?.[2] ?? '').split(/\s+/).filter(Boolean);
    if (!match || variantArgs.length === 0 || variants.some((v) => v.name === match[1]))
      return bad(
        `--variant must be NAME=ARGS with a new NAME (letters, digits, - and _) and tork download flags, got '${text}'`,
      );
    variants.push({ name: match[1]!, args: variantArgs });
  }
  const log = (line: string) => io.stderr(`${line}\n`);
  const gateMargin =
    values['gate-margin'] === undefined ? DEFAULT_GATE_MARGIN_PCT : Number(values['gate-margin']);
  if (!Number.isFinite(gateMargin) || gateMargin < 0 || gateMargin > 1000)
    return bad('--gate-margin must be a percentage, 0..1000');
  // `--baseline FILE.json`: the regression gate against a saved report; else another build.
  let saved: SavedReport | undefined;
  if (values.baseline !== undefined && looksLikeSavedReport(values.baseline)) {
    const loaded = loadSavedReport(values.baseline);
    if (typeof loaded === 'string') {
      io.stderr(`tork bench: ${loaded}\n`);
      return ExitCode.BAD_INPUT;
    }
    saved = loaded;
    log(
      `bench: regression gate against ${values.baseline} (tork ${saved.torkVersion ?? '?'}, ${saved.date ?? '?'}), margin ${gateMargin} %`,
    );
  } else if (values['gate-margin'] !== undefined)
    return bad('--gate-margin needs --baseline FILE.json (a saved `tork bench --json` report)');
  const baseline = values.baseline === undefined || saved ? undefined : loadBaseline(values.baseline);
  if (typeof baseline === 'string') {
    io.stderr(`tork bench: ${baseline}\n`);
    return ExitCode.BAD_INPUT;
  }
  if (baseline) log(`bench: baseline: tork ${baseline.version} at ${baseline.path} (tork-baseline)`);
  if (seeders.includes('tork-baseline') && !baseline)
    return bad(
      "--seeders tork-baseline needs --baseline PATH (another tork build's …/packages/cli/dist/main.js)",
    );

  let seederRates: SeederRates | undefined;
  if (values['seeder-rates'] !== undefined) {
    const parsedRates = parseSeederRates(values['seeder-rates']);
    if (typeof parsedRates === 'string') return bad(parsedRates);
    seederRates = parsedRates;
  }
  const churnSeconds = values.churn === undefined ? 0 : Number(values.churn);
  if (values.churn !== undefined && !(churnSeconds >= 0.5 && churnSeconds <= 3600))
    return bad('--churn must be seconds between leaves, 0.5..3600');
  if ((seederRates || churnSeconds) && seeders.some((s) => s !== 'libtorrent'))
    return bad(
      '--seeder-rates and --churn need --seeders libtorrent (its seeders take a cap and pause each)',
    );
  if (seederRates && rateLimit) return bad('--seeder-rates and --rate-limit contradict: give one');

  if (rateLimit && (seeders.includes('tork') || seeders.includes('tork-baseline')))
    return bad(
      '--rate-limit is not supported with tork seeders (tork seed has no upload cap): use --seeders libtorrent or aria2c',
    );

  if (latencyMs > 0 && !process.env.TORK_BENCH_NETNS) {
    if (process.getuid?.() !== 0 || !findProgram('ip') || !findProgram('tc')) {
      io.stderr(
        'tork bench: --latency needs root and the ip and tc programs (iproute2): the swarm runs in a private network namespace with netem on its loopback\n',
      );
      return ExitCode.FAILURE;
    }
    try {
      const status = await inLatencyNamespace(
        latencyMs,
        process.execPath,
        [...process.execArgv, process.argv[1]!, 'bench', ...args],
        log,
      );
      return status === 0 ? ExitCode.OK : ExitCode.FAILURE;
    } catch (error) {
      io.stderr(`tork bench: ${(error as Error).message}\n`);
      return ExitCode.FAILURE;
    }
  }

  const needLibtorrent = seeders.includes('libtorrent') || compare.includes('libtorrent');
  const python = await pythonWith(needLibtorrent ? 'libtorrent' : undefined);
  if (needLibtorrent && !python) {
    io.stderr(
      'tork bench: libtorrent seeders or downloads need python3 with libtorrent (Debian/Ubuntu: apt-get install python3-libtorrent)\n',
    );
    return ExitCode.FAILURE;
  }
  if (!python)
    log(
      'bench: no python3: CPU and peak RSS are read from /proc every 200 ms instead of os.wait4 (less exact)',
    );
  const aria2c = findProgram('aria2c');
  if (!aria2c && (seeders.includes('aria2c') || compare.includes('aria2c'))) {
    io.stderr('tork bench: aria2c is not installed (Debian/Ubuntu: apt-get install aria2)\n');
    return ExitCode.FAILURE;
  }
  if (seeders.length === 1 && seeders[0] === 'tork')
    log(
      'bench: the seeders are tork (the default); `--seeders libtorrent` costs the shared cores least and is the fair ground for comparisons',
    );

  let interrupted = false;
  const onSignal = () => {
    interrupted = true;
    io.stderr('tork bench: interrupted; stopping every process it started\n');
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  if (!values.json) io.stdout(`${HEADER}\n`);
  try {
    const report = await runBench({
      size,
      files,
      pieceLength,
      peers,
      workers,
      seeders,
      compare,
      formats,
      baseline,
      variants,
      runs,
      warmup,
      rateLimit,
      ...(seederRates ? { seederRates } : {}),
      churnSeconds,
      latencyMs,
      scaling: values.scaling,
      cacheDir: values.cache ?? DEFAULT_CACHE,
      plot: values.plot,
      python,
      aria2c,
      timeoutMs: timeout * 1000,
      log,
      onRun: values.json ? undefined : (run) => io.stdout(`${runLine(run)}\n`),
    });
    let verdict: GateVerdict | undefined;
    if (saved) {
      for (const line of paramsDiffer(saved, report)) log(`bench: gate: ${line}`);
      verdict = gate(saved, report.medians, gateMargin, values.baseline!, report.runs);
    }
    io.stdout(
      values.json
        ? `${JSON.stringify(verdict ? { ...report, gate: verdict } : report, null, 1)}\n`
        : table(report),
    );
    // The verdict on stdout with the table, on stderr with --json (stdout stays one JSON document).
    if (verdict) (values.json ? io.stderr : io.stdout)(gateTable(verdict));
    if (!report.ok) io.stderr('tork bench: some downloads failed or did not verify\n');
    if (!report.ok) return ExitCode.FAILURE;
    if (verdict && !verdict.pass) {
      io.stderr(`tork bench: regression: worse than ${values.baseline} by more than ${gateMargin} %\n`);
      return ExitCode.REGRESSION;
    }
    return ExitCode.OK;
  } catch (error) {
    if (!interrupted) io.stderr(`tork bench: ${(error as Error).stack ?? error}\n`);
    return ExitCode.FAILURE;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
