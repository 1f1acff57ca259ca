/**
 * The regression gate of `tork bench --baseline FILE.json`: this run's medians against a saved
 * `--json` report, tork's rows only, throughput and CPU per GiB, each within a margin.
 */
import { readFileSync } from 'node:fs';

/**
 * Default margin, percent: the spread of repeated runs of one build (docs/performance.md "Regression
 * gate"): 5 runs of 128 MiB / 4 libtorrent seeders on the shared 2-core machine spread by up to
 * about this much in MB/s and CPU s/GiB, so a smaller margin would fail on noise alone.
 */
export const DEFAULT_GATE_MARGIN_PCT = 25;

/** The fields of a saved report the gate reads (a `tork bench --json` document, schema 1). */
export interface SavedReport {
  readonly tool: 'tork bench';
  readonly schema: number;
  readonly torkVersion?: string;
  readonly date?: string;
  readonly params?: Record<string, unknown>;
  readonly medians: ReadonlyArray<{
    readonly group: string;
    readonly set: string;
    readonly client: string;
    readonly mbPerSecond: number;
    readonly cpuSecondsPerGiB: number;
    readonly runs?: number;
  }>;
  /** Per-run figures; the gate reads how busy the rest of the machine was. */
  readonly runs?: ReadonlyArray<{ readonly client?: string; readonly otherCpuSeconds?: number }>;
}

/** One line of the verdict: a tork group's metric, saved and now. */
export interface GateRow {
  readonly group: string;
  readonly metric: 'mbPerSecond' | 'cpuSecondsPerGiB';
  readonly saved: number;
  readonly now: number;
  /** Percent worse (positive) or better (negative) than saved. */
  readonly worsePct: number;
  readonly marginPct: number;
  readonly pass: boolean;
}

export interface GateVerdict {
  readonly file: string;
  readonly marginPct: number;
  readonly rows: GateRow[];
  /** tork groups of this run the saved report lacks (not compared). */
  readonly unmatched: string[];
  /**
   * Median CPU seconds the rest of the machine used per tork run, saved and now (null: unknown):
   * a large difference means the verdict may measure the machine's load, not tork.
   */
  readonly otherCpuSeconds: { saved: number | null; now: number | null };
  /** True when one of the two is more than twice the other plus 1 s. */
  readonly loadDiffers: boolean;
  readonly pass: boolean;
}

function medianOther(runs: SavedReport['runs']): number | null {
  const values = (runs ?? [])
    .filter((run) => isTorkRow(run) && typeof run.otherCpuSeconds === 'number')
    .map((run) => run.otherCpuSeconds!)
    .sort((a, b) => a - b);
  if (values.length === 0) return null;
  const mid = values.length >> 1;
  return values.length % 2 ? values[mid]! : (values[mid - 1]! + values[mid]!) / 2;
}

/** True when `path` names a saved report rather than another build: `.json`, or a file that parses as one. */
export function looksLikeSavedReport(path: string): boolean {
  if (path.toLowerCase().endsWith('.json')) return true;
  try {
    const text = readFileSync(path, 'utf8');
    if (!text.trimStart().startsWith('{')) return false;
    return (JSON.parse(text) as { tool?: unknown }).tool === 'tork bench';
  } catch {
    return false;
  }
}

/** Reads and checks a saved `--json` report; a string is the one-line reason it cannot be used. */
export function loadSavedReport(path: string): SavedReport | string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    return `--baseline ${path}: cannot read a saved \`tork bench --json\` report (${(error as Error).message})`;
  }
  const report = parsed as Partial<SavedReport> | null;
  if (report?.tool !== 'tork bench' || !Array.isArray(report.medians))
    return `--baseline ${path}: not a \`tork bench --json\` report (no "tool": "tork bench" and "medians")`;
  const tork = report.medians.filter(isTorkRow);
  if (tork.length === 0) return `--baseline ${path}: the saved report has no tork rows to compare with`;
  for (const row of tork)
    if (typeof row.mbPerSecond !== 'number' || typeof row.cpuSecondsPerGiB !== 'number')
      return `--baseline ${path}: row ${row.group} lacks mbPerSecond or cpuSecondsPerGiB`;
  return report as SavedReport;
}

/** This build's rows: `tork` and its variants (not tork-baseline: another build). */
function isTorkRow(row: { client?: unknown }): boolean {
  return row.client === 'tork' || row.client === 'tork-variant';
}

const round = (value: number, digits = 1) => Number(value.toFixed(digits));

/** Compares this run's tork medians with the saved ones, group by group (same set and group name). */
export function gate(
  saved: SavedReport,
  now: SavedReport['medians'],
  marginPct: number,
  file: string,
  nowRuns?: SavedReport['runs'],
): GateVerdict {
  const rows: GateRow[] = [];
  const unmatched: string[] = [];
  for (const current of now.filter(isTorkRow)) {
    const before = saved.medians.find((m) => m.set === current.set && m.group === current.group);
    if (!before || !isTorkRow(before)) {
      unmatched.push(current.group);
      continue;
    }
    // Throughput: lower is worse; CPU per GiB: higher is worse.
    const throughputWorse = before.mbPerSecond > 0 ? (1 - current.mbPerSecond / before.mbPerSecond) * 100 : 0;
    const cpuWorse =
      before.cpuSecondsPerGiB > 0 ? (current.cpuSecondsPerGiB / before.cpuSecondsPerGiB - 1) * 100 : 0;
    for (const [metric, worse] of [
      ['mbPerSecond', throughputWorse],
      ['cpuSecondsPerGiB', cpuWorse],
    ] as const)
      rows.push({
        group: current.group,
        metric,
        saved: before[metric],
        now: current[metric],
        worsePct: round(worse),
        marginPct,
        pass: worse <= marginPct,
      });
  }
  const other = { saved: medianOther(saved.runs), now: medianOther(nowRuns) };
  const loadDiffers =
    other.saved !== null &&
    other.now !== null &&
    (other.now > 2 * other.saved + 1 || other.saved > 2 * other.now + 1);
  return {
    file,
    marginPct,
    rows,
    unmatched,
    otherCpuSeconds: other,
    loadDiffers,
    pass: rows.length > 0 && rows.every((r) => r.pass),
  };
}

/** The verdict as a table: metric, saved, now, change, margin, pass/fail. */
export function gateTable(verdict: GateVerdict): string {
  const lines = [
    '',
    `regression gate against ${verdict.file} (worse by more than ${verdict.marginPct} % fails)`,
    `${'group'.padEnd(32)} ${'metric'.padEnd(10)} ${'saved'.padStart(9)} ${'now'.padStart(9)} ${'change'.padStart(9)} ${'margin'.padStart(8)}  verdict`,
  ];
  for (const row of verdict.rows) {
    // Change as the reader sees it: + is more of the figure (good for MB/s, bad for CPU s/GiB).
    const change = row.saved ? (row.now / row.saved - 1) * 100 : 0;
    lines.push(
      [
        row.group.padEnd(32),
        (row.metric === 'mbPerSecond' ? 'MB/s' : 'CPU s/GiB').padEnd(10),
        row.saved.toFixed(2).padStart(9),
        row.now.toFixed(2).padStart(9),
        `${change >= 0 ? '+' : ''}${change.toFixed(1)} %`.padStart(9),
        `${row.marginPct} %`.padStart(8),
        row.pass ? ' pass' : ' FAIL',
      ].join(' '),
    );
  }
  const { saved, now } = verdict.otherCpuSeconds;
  if (saved !== null && now !== null)
    lines.push(
      `machine load (other CPU s per tork run, median): saved ${saved.toFixed(2)}, now ${now.toFixed(2)}` +
        (verdict.loadDiffers ? ' — the load differs: the verdict may measure the machine, not tork' : ''),
    );
  for (const group of verdict.unmatched)
    lines.push(`${group.padEnd(32)} (not in the saved report: not compared)`);
  lines.push(
    verdict.rows.length === 0
      ? 'gate: FAIL (no tork row of this run is in the saved report)'
      : `gate: ${verdict.pass ? 'pass' : 'FAIL'}`,
  );
  return `${lines.join('\n')}\n`;
}
