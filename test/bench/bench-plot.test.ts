/**
 * `tork bench --plot` on a real tiny run (libtorrent seeders on 127.0.0.1, tork, a tork variant and
 * libtorrent downloading): the SVG parses as XML, every chart names each client once, no two legend
 * boxes overlap and none sits over a plot area or its axis labels, CPU and RSS charts are drawn.
 * The same run is heterogeneous (--seeder-rates, --churn): the tail fields are in the JSON.
 */
import '../support/hermetic.js';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { requireLibtorrentPython } from '../download/support.js';
import { bench, runBench } from './support.js';

type Box = [number, number, number, number];
type Node = Record<string, unknown>;

const box = (text: unknown): Box => {
  const numbers = String(text).split(' ').map(Number);
  assert.equal(numbers.length, 4, `a box of four numbers: ${text}`);
  return numbers as Box;
};
const overlap = (a: Box, b: Box) =>
  a[0] < b[0] + b[2] && b[0] < a[0] + a[2] && a[1] < b[1] + b[3] && b[1] < a[1] + a[3];
const list = (value: unknown): Node[] =>
  (value === undefined ? [] : Array.isArray(value) ? value : [value]) as Node[];

describe('tork bench --plot', () => {
  it('draws every chart with non-overlapping legends; tails of a heterogeneous swarm in the JSON', async (t) => {
    const python = await requireLibtorrentPython(t);
    if (!python) return;
    const dir = mkdtempSync(join(tmpdir(), 'tork-bench-plot-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const plot = join(dir, 'bench.svg');
    const { status, report, stderr } = await runBench(t, [
      ...['--size', '6MiB', '--files', '3', '--piece-size', '256KiB', '--peers', '3', '--runs', '1'],
      ...['--seeders', 'libtorrent', '--compare', 'libtorrent', '--variant', 'sequential=--sequential'],
      ...['--seeder-rates', '4MiB..40MiB@5', '--churn', '2', '--json', '--plot', plot],
    ]);
    assert.equal(status, 0, stderr);
    const labels = ['tork@libtorrent', 'tork-variant[sequential]@libtorrent', 'libtorrent@libtorrent'];

    // The heterogeneous swarm and the tail figures.
    const params = report.params as { seederRates: { rates: number[]; seed: number }; churnSeconds: number };
    assert.equal(params.seederRates.seed, 5);
    assert.equal(params.seederRates.rates.length, 3);
    for (const rate of params.seederRates.rates) assert.ok(rate >= 4 << 20 && rate <= 40 << 20, `${rate}`);
    assert.equal(params.churnSeconds, 2);
    for (const run of report.runs as Node[]) {
      assert.equal(typeof run.firstPieceSeconds, 'number', `${run.group}.firstPieceSeconds`);
      assert.equal(typeof run.lastPercentSeconds, 'number', `${run.group}.lastPercentSeconds`);
      assert.ok((run.firstPieceSeconds as number) <= (run.wallSeconds as number));
      assert.ok((run.lastPercentSeconds as number) >= 0);
      assert.equal(typeof run.excessUploadedBytes, 'number', `${run.group}.excessUploadedBytes`);
      for (const bytes of run.seederUploadedBytes as number[]) assert.ok(bytes >= 0, `uploaded ${bytes}`);
      if (run.client === 'libtorrent') assert.equal(run.threadLagMs, null);
      else {
        const lag = run.threadLagMs as { coordinator: number; hosts: number[] };
        assert.equal(typeof lag.coordinator, 'number');
        assert.ok(lag.hosts.length >= 1);
      }
    }
    for (const m of report.medians as Node[]) assert.equal(typeof m.lastPercentSeconds, 'number');

    // The SVG: well-formed, every chart there, each label once per chart, boxes apart.
    const svg = readFileSync(plot, 'utf8');
    assert.equal(XMLValidator.validate(svg), true);
    const root = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '' }).parse(svg).svg as Node;
    const charts = list(root.g);
    assert.deepEqual(
      charts.map((c) => c['data-chart']),
      ['throughput', 'cpu', 'rss', 'first-piece', 'last-percent', 'per-seeder'],
    );
    const allBoxes: Array<[string, Box]> = [];
    const plots: Box[] = [];
    for (const chart of charts) {
      const items = list(chart.g).filter((g) => g.class === 'legend-item');
      const shown = items.map((g) => String((g.text as Node)['#text'] ?? g.text));
      assert.deepEqual(shown.sort(), [...labels].sort(), `${chart['data-chart']}: each client once`);
      for (const item of items) allBoxes.push([String(chart['data-chart']), box(item['data-box'])]);
      const area = list(chart.rect).find((r) => r['data-plot'] !== undefined);
      assert.ok(area, `${chart['data-chart']} has a plot area`);
      plots.push(box(area['data-plot']));
      // The legend sits under the plot and its axis labels (16 px below it).
      const plotBox = box(area['data-plot']);
      for (const item of items)
        assert.ok(
          box(item['data-box'])[1] >= plotBox[1] + plotBox[3] + 8,
          `${chart['data-chart']}: legend under the axis`,
        );
    }
    for (let i = 0; i < allBoxes.length; i++) {
      for (let j = i + 1; j < allBoxes.length; j++)
        assert.ok(!overlap(allBoxes[i]![1], allBoxes[j]![1]), `legend boxes ${i} and ${j} overlap`);
      for (const area of plots) assert.ok(!overlap(allBoxes[i]![1], area), `legend box ${i} over a plot`);
    }
    // Inside the SVG's width.
    const width = Number(root.width);
    for (const [, b] of allBoxes) assert.ok(b[0] >= 0 && b[0] + b[2] <= width);
  });

  it('refuses bad --seeder-rates and --churn, and either with other seeders (exit 2)', async (t) => {
    for (const [args, message] of [
      [['--seeders', 'libtorrent', '--seeder-rates', '5MiB'], /--seeder-rates takes LO\.\.HI/],
      [['--seeders', 'libtorrent', '--seeder-rates', '9MiB..1MiB'], /HI at least LO/],
      [['--seeders', 'libtorrent', '--churn', '0'], /--churn must be seconds/],
      [['--seeder-rates', '1MiB..5MiB'], /need --seeders libtorrent/],
      [['--seeders', 'libtorrent', '--seeder-rates', '1MiB..5MiB', '--rate-limit', '1MiB'], /contradict/],
    ] as const) {
      const refused = await bench(t, [...args, '--runs', '1']);
      assert.equal(refused.status, 2, `${args.join(' ')}: ${refused.stderr}`);
      assert.match(refused.stderr, message);
    }
  });
});
