import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  type GateRow,
  gate,
  gateTable,
  loadSavedReport,
  looksLikeSavedReport,
  type SavedReport,
} from './gate.js';

const row = (group: string, client: string, mbPerSecond: number, cpuSecondsPerGiB: number) => ({
  group,
  set: 'compare',
  client,
  mbPerSecond,
  cpuSecondsPerGiB,
});

const saved: SavedReport = {
  tool: 'tork bench',
  schema: 1,
  medians: [row('tork@libtorrent', 'tork', 100, 10), row('libtorrent@libtorrent', 'libtorrent', 50, 5)],
};

const passes = (rows: readonly GateRow[]) => rows.map((r) => r.pass);

describe('regression gate', () => {
  it('passes within the margin and fails beyond it, on either figure', () => {
    const within = gate(saved, [row('tork@libtorrent', 'tork', 81, 11.9)], 20, 'saved.json');
    assert.equal(within.pass, true);
    assert.deepEqual(
      within.rows.map((r) => [r.metric, r.worsePct, r.pass]),
      [
        ['mbPerSecond', 19, true],
        ['cpuSecondsPerGiB', 19, true],
      ],
    );
    const slower = gate(saved, [row('tork@libtorrent', 'tork', 79, 10)], 20, 'saved.json');
    assert.equal(slower.pass, false);
    assert.deepEqual(passes(slower.rows), [false, true]);
    const costlier = gate(saved, [row('tork@libtorrent', 'tork', 200, 12.1)], 20, 'saved.json');
    assert.deepEqual(passes(costlier.rows), [true, false]);
    assert.match(
      gateTable(costlier),
      /tork@libtorrent\s+CPU s\/GiB\s+10\.00\s+12\.10\s+\+21\.0 %\s+20 %\s+FAIL/,
    );
    assert.match(gateTable(costlier), /gate: FAIL/);
  });

  it('says when the machine was much busier now than when the result was saved', () => {
    const busy = gate(
      { ...saved, runs: [{ client: 'tork', otherCpuSeconds: 1 }] },
      [row('tork@libtorrent', 'tork', 100, 10)],
      20,
      'saved.json',
      [
        { client: 'tork', otherCpuSeconds: 4 },
        { client: 'libtorrent', otherCpuSeconds: 0 },
      ],
    );
    assert.deepEqual(busy.otherCpuSeconds, { saved: 1, now: 4 });
    assert.equal(busy.loadDiffers, true);
    assert.match(gateTable(busy), /saved 1\.00, now 4\.00 — the load differs/);
    const calm = gate({ ...saved, runs: [{ client: 'tork', otherCpuSeconds: 1 }] }, saved.medians, 20, 's', [
      { client: 'tork', otherCpuSeconds: 2.5 },
    ]);
    assert.equal(calm.loadDiffers, false);
  });

  it('compares tork rows only, and fails when none of them is in the saved report', () => {
    const other = gate(saved, [row('libtorrent@libtorrent', 'libtorrent', 1, 100)], 20, 'saved.json');
    assert.equal(other.rows.length, 0);
    assert.equal(other.pass, false);
    const missing = gate(saved, [row('tork@tork', 'tork', 100, 10)], 20, 'saved.json');
    assert.deepEqual(missing.unmatched, ['tork@tork']);
    assert.equal(missing.pass, false);
    assert.match(gateTable(missing), /no tork row of this run is in the saved report/);
  });

  it('tells a saved report from a build, and refuses what is not one', (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'tork-gate-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const report = join(dir, 'report');
    writeFileSync(report, JSON.stringify(saved));
    const script = join(dir, 'main.js');
    writeFileSync(script, 'console.log(1)\n');
    assert.equal(looksLikeSavedReport(report), true);
    assert.equal(looksLikeSavedReport(script), false);
    assert.equal(looksLikeSavedReport(join(dir, 'x.json')), true);
    assert.deepEqual(loadSavedReport(report), saved);
    const noTork = join(dir, 'no-tork.json');
    writeFileSync(noTork, JSON.stringify({ ...saved, medians: [saved.medians[1]] }));
    assert.match(loadSavedReport(noTork) as string, /no tork rows/);
    assert.match(loadSavedReport(join(dir, 'x.json')) as string, /cannot read/);
  });
});
