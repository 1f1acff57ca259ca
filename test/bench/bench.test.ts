import '../support/hermetic.js';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { requireLibtorrentPython } from '../download/support.js';
import { requireProgram } from '../support/programs.js';
import { bench, runBench, tork } from './support.js';

const SMALL = [
  '--size',
  '8MiB',
  '--files',
  '5',
  '--piece-size',
  '256KiB',
  '--peers',
  '3',
  '--runs',
  '1',
  '--json',
];

const FIGURES = ['wallSeconds', 'mbPerSecond', 'cpuSeconds', 'cpuSecondsPerGiB', 'peakRssMiB'] as const;

function checkReport(report: Record<string, unknown>, groups: readonly string[], stderr: string): void {
  assert.equal(report.tool, 'tork bench');
  assert.equal(report.schema, 1);
  assert.equal(report.ok, true, stderr);
  const runs = report.runs as Array<Record<string, unknown>>;
  // The groups alternate within each run: a, b, a, b for two runs.
  const rounds = (report.params as { runs: number }).runs;
  assert.deepEqual(
    runs.map((run) => run.group),
    Array.from({ length: rounds }, () => groups).flat(),
  );
  for (const run of runs) {
    assert.equal(run.verified, true, `${run.group}: every byte verified`);
    assert.equal(run.exitStatus, 0);
    for (const figure of FIGURES) {
      assert.equal(typeof run[figure], 'number', `${run.group}.${figure}`);
      assert.ok((run[figure] as number) > 0, `${run.group}.${figure} = ${run[figure]} is positive`);
    }
    assert.ok((run.seederCpuSeconds as number) >= 0);
    assert.equal(typeof run.seederCpuSecondsPerGiB, 'number', `${run.group}.seederCpuSecondsPerGiB`);
    assert.ok((run.seederCpuSecondsPerGiB as number) >= 0);
    if (run.client === 'tork' || run.client === 'tork-baseline' || run.client === 'tork-variant') {
      // The watchdog's figures: present, non-negative; no bound is asserted (timing).
      assert.equal(typeof run.coordinatorStallMs, 'number', `${run.group}.coordinatorStallMs`);
      assert.equal(typeof run.hostStallMs, 'number', `${run.group}.hostStallMs`);
      assert.ok((run.coordinatorStallMs as number) >= 0 && (run.hostStallMs as number) >= 0);
    } else {
      assert.equal(run.coordinatorStallMs, null);
    }
    assert.ok(Array.isArray(run.timeline));
    assert.equal((run.seederUploadedBytes as unknown[]).length, 3);
  }
  const medians = report.medians as Array<Record<string, unknown>>;
  assert.deepEqual(
    medians.map((m) => m.group),
    groups,
  );
}

describe('tork bench', () => {
  it('a short run with tork seeders completes, verifies and prints valid JSON', async (t) => {
    const plotDir = mkdtempSync(join(tmpdir(), 'tork-bench-plot-'));
    t.after(() => rmSync(plotDir, { recursive: true, force: true }));
    const plot = join(plotDir, 'bench.svg');
    const { status, report, stderr } = await runBench(t, [...SMALL, '--plot', plot]);
    assert.equal(status, 0, stderr);
    checkReport(report, ['tork@tork'], stderr);
    const svg = readFileSync(plot, 'utf8');
    assert.match(svg, /^<svg [^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    assert.match(svg, /<\/svg>\n$/);
  });

  it('with libtorrent seeders compares aria2c and libtorrent', async (t) => {
    const aria2c = requireProgram(t, 'aria2c', 'aria2');
    if (!aria2c) return;
    const python = await requireLibtorrentPython(t);
    if (!python) return;
    const { status, report, stderr } = await runBench(t, [
      ...SMALL,
      '--seeders',
      'libtorrent',
      '--compare',
      'aria2c,libtorrent',
    ]);
    assert.equal(status, 0, stderr);
    checkReport(report, ['tork@libtorrent', 'aria2c@libtorrent', 'libtorrent@libtorrent'], stderr);
    const ratios = report.ratios as Array<Record<string, unknown>>;
    assert.deepEqual(
      ratios.map((r) => r.other),
      ['aria2c@libtorrent', 'libtorrent@libtorrent'],
    );
    for (const ratio of ratios) for (const figure of FIGURES) assert.ok((ratio[figure] as number) > 0);
    // libtorrent seeders count what they upload: together, at least the whole data set per run.
    for (const run of report.runs as Array<Record<string, unknown>>) {
      const total = (run.seederUploadedBytes as number[]).reduce((a, b) => a + b, 0);
      assert.ok(total >= 8 << 20, `${run.group}: seeders uploaded ${total} bytes`);
    }
  });

  it('--baseline: another build (here this very one) downloads too, alternating, with a ratio', async (t) => {
    const { status, report, stderr } = await runBench(t, [...SMALL, '--runs', '2', '--baseline', tork]);
    assert.equal(status, 0, stderr);
    checkReport(report, ['tork@tork', 'tork-baseline@tork'], stderr);
    const params = report.params as { baseline: { path: string; version: string } | null };
    assert.equal(params.baseline?.path, tork);
    assert.match(params.baseline?.version ?? '', /^\d+\.\d+\.\d+/);
    const medians = report.medians as Array<Record<string, unknown>>;
    assert.deepEqual(
      medians.map((m) => [m.client, m.runs]),
      [
        ['tork', 2],
        ['tork-baseline', 2],
      ],
    );
    const ratios = report.ratios as Array<Record<string, unknown>>;
    assert.deepEqual(
      ratios.map((r) => [r.tork, r.other]),
      [['tork@tork', 'tork-baseline@tork']],
    );
    for (const figure of FIGURES) assert.ok((ratios[0]![figure] as number) > 0, `ratio ${figure}`);
  });

  it('--variant: this build with extra download flags downloads too, alternating, with a ratio', async (t) => {
    const { status, report, stderr } = await runBench(t, [...SMALL, '--variant', 'sequential=--sequential']);
    assert.equal(status, 0, stderr);
    checkReport(report, ['tork@tork', 'tork-variant[sequential]@tork'], stderr);
    const params = report.params as { variants: Array<{ name: string; args: string[] }> };
    assert.deepEqual(params.variants, [{ name: 'sequential', args: ['--sequential'] }]);
    const ratios = report.ratios as Array<Record<string, unknown>>;
    assert.deepEqual(
      ratios.map((r) => [r.tork, r.other]),
      [['tork@tork', 'tork-variant[sequential]@tork']],
    );
    for (const args of [
      ['--variant', 'sequential'],
      ['--variant', 'a b=--x'],
      ['--variant', 'x='],
    ]) {
      const refused = await bench(t, [...args, '--runs', '1']);
      assert.equal(refused.status, 2, `${args.join(' ')}: ${refused.stderr}`);
      assert.match(refused.stderr, /--variant must be NAME=ARGS/);
    }
  });

  it('--baseline without a PATH, or with one that is not there, exits 2 with one line', async (t) => {
    const missing = join(tmpdir(), `tork-no-such-build-${process.pid}`, 'packages/cli/dist/main.js');
    for (const args of [['--baseline'], ['--baseline', '--json'], ['--baseline='], ['--baseline', missing]]) {
      const { status, stdout, stderr } = await bench(t, [...args, '--runs', '1']);
      assert.equal(status, 2, `${args.join(' ')}: ${stderr}`);
      assert.equal(stdout, '');
      const lines = stderr.trimEnd().split('\n');
      assert.equal(lines.length, 1, `${args.join(' ')}: one line, got ${JSON.stringify(stderr)}`);
      assert.match(lines[0]!, /^tork bench: --baseline .*packages\/cli\/dist\/main\.js/);
    }
  });

  it('tork-baseline seeders: the other build seeds too, and each tork swarm is held against libtorrent seeders', async (t) => {
    const python = await requireLibtorrentPython(t);
    if (!python) return;
    const { status, report, stderr } = await runBench(t, [
      ...SMALL,
      '--seeders',
      'tork,tork-baseline,libtorrent',
      '--compare',
      'libtorrent',
      '--baseline',
      tork,
    ]);
    assert.equal(status, 0, stderr);
    const groups = ['tork', 'tork-baseline', 'libtorrent'].flatMap((seeders) =>
      ['tork', 'tork-baseline', 'libtorrent'].map((client) => `${client}@${seeders}`),
    );
    checkReport(report, groups, stderr);
    for (const run of report.runs as Array<Record<string, unknown>>) {
      // Every seeder kind here counts its uploads: CPU per GiB is per GiB they served.
      const served = (run.seederUploadedBytes as number[]).reduce((a, b) => a + b, 0);
      assert.ok(served >= 8 << 20, `${run.group}: seeders uploaded ${served} bytes`);
      // CPU is read in 10 ms clock ticks: libtorrent serves 8 MiB in less than one (CI18 read 0),
      // tork seeders (Node processes) never do.
      const perGiB = run.seederCpuSecondsPerGiB as number;
      assert.equal(typeof perGiB, 'number', `${run.group}: seeder CPU per GiB`);
      if (String(run.group).endsWith('@libtorrent')) assert.ok(perGiB >= 0, `${run.group}: ${perGiB}`);
      else assert.ok(perGiB > 0, `${run.group}: seeder CPU per GiB ${perGiB}`);
    }
    const seederRatios = report.seederRatios as Array<Record<string, unknown>>;
    assert.deepEqual(
      seederRatios.map((r) => [r.group, r.libtorrent]),
      ['tork', 'tork-baseline'].flatMap((seeders) =>
        ['tork', 'tork-baseline', 'libtorrent'].map((client) => [
          `${client}@${seeders}`,
          `${client}@libtorrent`,
        ]),
      ),
    );
    const medianOf = (group: unknown) =>
      (report.medians as Array<Record<string, unknown>>).find((m) => m.group === group)
        ?.seederCpuSecondsPerGiB as number;
    for (const ratio of seederRatios) {
      // A ratio over libtorrent seeders that read 0 ticks is reported as 0 (undefined).
      if (medianOf(ratio.libtorrent) > 0) assert.ok((ratio.seederCpuSecondsPerGiB as number) > 0);
      else assert.equal(ratio.seederCpuSecondsPerGiB, 0, JSON.stringify(ratio));
    }
  });

  it('--warmup: each swarm first serves unmeasured downloads, reported apart from the runs', async (t) => {
    const { status, report, stderr } = await runBench(t, [...SMALL, '--warmup', '2']);
    assert.equal(status, 0, stderr);
    // The runs and medians are exactly those of a run without warm-ups.
    checkReport(report, ['tork@tork'], stderr);
    assert.equal((report.params as { warmup: number }).warmup, 2);
    const warmups = report.warmups as Array<Record<string, unknown>>;
    assert.equal(warmups.length, 2);
    for (const warmup of warmups) {
      assert.equal(warmup.seeders, 'tork');
      assert.equal(warmup.client, 'tork');
      assert.equal(warmup.verified, true, JSON.stringify(warmup));
      assert.ok((warmup.mbPerSecond as number) > 0 && (warmup.wallSeconds as number) > 0);
      assert.ok((warmup.seederCpuSeconds as number) >= 0);
    }
    assert.match(stderr, /warm-up 1\/2 against tork seeders: [0-9.]+ MB\/s/);
    assert.match(stderr, /warm-up 2\/2 against tork seeders/);
    // The runs meet the very seeders that served the warm-ups: one swarm, started once.
    assert.equal(stderr.match(/starting 3 tork seeders/g)?.length, 1, stderr);
    // And count only their own bytes: the seeders' totals after the last warm-up had settled
    // before the first run began (they once missed its last second, counted as the run's).
    for (const run of report.runs as Array<Record<string, unknown>>)
      assert.ok(
        (run.excessUploadedBytes as number) < 8 * 2 ** 20 * 0.25,
        `${run.group}: seeders uploaded ${run.excessUploadedBytes} bytes beyond the set`,
      );
  });

  it('--warmup with --compare: each round warms the swarm with every downloader of the runs', async (t) => {
    const python = await requireLibtorrentPython(t);
    if (!python) return;
    const { status, report, stderr } = await runBench(t, [
      ...SMALL,
      '--compare',
      'libtorrent',
      '--warmup',
      '1',
    ]);
    assert.equal(status, 0, stderr);
    checkReport(report, ['tork@tork', 'libtorrent@tork'], stderr);
    const warmups = report.warmups as Array<Record<string, unknown>>;
    // A tork seeder's serving path for libtorrent's requests is compiled before the runs too.
    assert.deepEqual(
      warmups.map((warmup) => [warmup.seeders, warmup.client, warmup.verified]),
      [
        ['tork', 'tork', true],
        ['tork', 'libtorrent', true],
      ],
    );
    assert.match(stderr, /warm-up 1\/1 against tork seeders: [0-9.]+ MB\/s/);
    assert.match(stderr, /warm-up 1\/1 against tork seeders by libtorrent: [0-9.]+ MB\/s/);
  });

  it('refuses --warmup outside 0..20', async (t) => {
    const { status, stderr } = await bench(t, ['--warmup', '21', '--runs', '1']);
    assert.equal(status, 2, stderr);
    assert.match(stderr, /--warmup must be 0\.\.20/);
  });

  it('refuses tork-baseline seeders without --baseline PATH', async (t) => {
    const { status, stderr } = await bench(t, ['--seeders', 'tork-baseline', '--runs', '1']);
    assert.equal(status, 2, stderr);
    assert.match(stderr, /--seeders tork-baseline needs --baseline PATH/);
  });

  it('refuses --rate-limit with tork seeders', async (t) => {
    const { status, stderr } = await bench(t, ['--rate-limit', '1MiB', '--runs', '1']);
    assert.equal(status, 2, stderr);
    assert.match(stderr, /--rate-limit is not supported with tork seeders/);
  });
});
