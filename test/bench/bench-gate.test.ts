/**
 * `tork bench --baseline FILE.json`, the regression gate: this build against its own saved report
 * passes (exit 0); a deliberately slowed build (TORK_TEST_INJECT_DELAY_MS, test-only: tork download
 * spins before it starts) fails with exit 3. A tiny data set over libtorrent seeders on 127.0.0.1.
 */
import '../support/hermetic.js';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { requireLibtorrentPython } from '../download/support.js';
import { bench } from './support.js';

const TINY = [
  '--size',
  '4MiB',
  '--files',
  '2',
  '--piece-size',
  '256KiB',
  '--peers',
  '2',
  '--seeders',
  'libtorrent',
  '--runs',
  '2',
];

interface GateJson {
  pass: boolean;
  marginPct: number;
  rows: Array<{ group: string; metric: string; saved: number; now: number; worsePct: number; pass: boolean }>;
}

describe('tork bench --baseline FILE.json (regression gate)', () => {
  it('passes against its own saved result and fails (exit 3) on a slowed build', async (t) => {
    const python = await requireLibtorrentPython(t);
    if (!python) return;
    const dir = mkdtempSync(join(tmpdir(), 'tork-bench-gate-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const common = [...TINY, '--cache', join(dir, 'cache')];
    const saved = await bench(t, [...common, '--json']);
    assert.equal(saved.status, 0, saved.stderr);
    const savedPath = join(dir, 'saved.json');
    writeFileSync(savedPath, saved.stdout);

    // The same build: within a wide margin (a 4 MiB run is mostly start-up, so noisy).
    const same = await bench(t, [...common, '--baseline', savedPath, '--gate-margin', '60', '--json']);
    assert.equal(same.status, 0, `same build: ${same.stderr}`);
    const sameGate = (JSON.parse(same.stdout) as { gate: GateJson }).gate;
    assert.equal(sameGate.pass, true);
    assert.equal(sameGate.marginPct, 60);
    assert.deepEqual(
      sameGate.rows.map((r) => [r.group, r.metric]),
      [
        ['tork@libtorrent', 'mbPerSecond'],
        ['tork@libtorrent', 'cpuSecondsPerGiB'],
      ],
    );
    // The verdict table, on stderr beside --json.
    assert.match(same.stderr, /regression gate against .*saved\.json/);
    assert.match(same.stderr, /tork@libtorrent\s+MB\/s\s.*pass/, same.stderr);
    assert.match(same.stderr, /gate: pass/);

    // Slowed: every download spins 6 s first (time and CPU), far beyond the margin in CPU per GiB.
    const slow = await bench(
      t,
      [...common, '--baseline', savedPath, '--gate-margin', '60', '--runs', '1', '--json'],
      90_000,
      { ...process.env, TORK_TEST_INJECT_DELAY_MS: '6000' },
    );
    assert.equal(slow.status, 3, `slowed build: exit 3, got ${slow.status}\n${slow.stderr}`);
    const slowGate = (JSON.parse(slow.stdout) as { gate: GateJson }).gate;
    assert.equal(slowGate.pass, false);
    const [throughput, cpu] = slowGate.rows;
    assert.ok(throughput!.now < throughput!.saved, `slower: ${JSON.stringify(throughput)}`);
    assert.equal(cpu!.pass, false, `CPU per GiB beyond the margin: ${JSON.stringify(cpu)}`);
    assert.match(slow.stderr, /tork@libtorrent\s+CPU s\/GiB\s.*FAIL/, slow.stderr);
    assert.match(slow.stderr, /gate: FAIL/);
    assert.match(slow.stderr, /regression: worse than .*saved\.json by more than 60 %/);
  });

  it('refuses a file that is not a saved report, and --gate-margin without one (exit 2)', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'tork-bench-gate-bad-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const notReport = join(dir, 'other.json');
    writeFileSync(notReport, '{"tool":"something else"}');
    const broken = join(dir, 'broken.json');
    writeFileSync(broken, '{"tool": "tork bench", ');
    for (const [args, message] of [
      [['--baseline', notReport], /not a `tork bench --json` report/],
      [['--baseline', broken], /cannot read a saved `tork bench --json` report/],
      [['--gate-margin', '10'], /--gate-margin needs --baseline FILE\.json/],
      [['--baseline', notReport, '--gate-margin', 'x'], /--gate-margin must be a percentage/],
    ] as const) {
      const { status, stdout, stderr } = await bench(t, [...args, '--runs', '1']);
      assert.equal(status, 2, `${args.join(' ')}: ${stderr}`);
      assert.equal(stdout, '');
      assert.match(stderr, message);
    }
  });
});
