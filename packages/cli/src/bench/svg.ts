/**
 * A dependency-free SVG for `tork bench --plot`: throughput over time per client; CPU per GiB, peak
 * RSS, time to the first piece and of the last 1 % side by side; bytes per seeder. The set-up is in
 * the title. Legends are laid out from an estimate of each label's width and wrap into rows, so no
 * two labels overlap; every chart has its own legend below its axis labels. Every legend item
 * carries `data-box="x y w h"` and every plot area `data-plot="x y w h"` (the tests check them).
 */

/** One client (a median group) as drawn. */
export interface PlotClient {
  readonly label: string;
  /** The median run's [seconds, bytes written so far]. */
  readonly samples: ReadonlyArray<readonly [number, number]>;
  readonly cpuSecondsPerGiB: number;
  readonly peakRssMiB: number;
  readonly firstPieceSeconds: number | null;
  readonly lastPercentSeconds: number | null;
  /** Bytes each seeder uploaded during the median run (undefined: unknown). */
  readonly perSeeder: ReadonlyArray<number | undefined>;
}

export interface PlotSetup {
  /** First title line, e.g. the data set. */
  readonly title: string;
  /** Second line: seeders, runs, format, machine. */
  readonly subtitle: string;
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf'];
const WIDTH = 960;
const MARGIN = 20;
const FONT = 12;

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/**
 * Width of `text` in px at `size` in a sans-serif font, over-estimated a little (a label box a few
 * px too wide costs nothing; one too narrow overlaps its neighbour).
 */
export function textWidth(text: string, size = FONT): number {
  let em = 0;
  for (const char of text) {
    if ("iljtf.,:;|!'()[] ".includes(char)) em += 0.34;
    else if ('mwMW@%'.includes(char)) em += 0.95;
    else if (/[A-Z#&]/.test(char)) em += 0.72;
    else em += 0.58;
  }
  return Math.ceil(em * size);
}

/** MB/s over a sliding 1 s window of the cumulative samples. */
export function throughputSeries(samples: ReadonlyArray<readonly [number, number]>): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  let j = 0;
  for (let i = 1; i < samples.length; i++) {
    const [t, bytes] = samples[i]!;
    while (j < i - 1 && t - samples[j + 1]![0] >= 1) j++;
    const [t0, bytes0] = samples[j]!;
    if (t > t0) out.push([t, (bytes - bytes0) / 1e6 / (t - t0)]);
  }
  return out;
}

function niceMax(value: number): number {
  if (!(value > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) if (step * power >= value) return step * power;
  return 10 * power;
}

const n = (v: number) => +v.toFixed(1);

/** A laid-out legend: item boxes (swatch and label) in rows no wider than `width`. */
export interface LegendLayout {
  readonly items: Array<{ label: string; color: string; x: number; y: number; w: number; h: number }>;
  readonly height: number;
}

const ROW = 18;
const SWATCH = 12;
const GAP = 18;

export function layoutLegend(
  labels: readonly string[],
  colors: readonly string[],
  x0: number,
  y0: number,
  width: number,
): LegendLayout {
  const items: LegendLayout['items'] = [];
  let x = x0;
  let y = y0;
  labels.forEach((label, i) => {
    // A label longer than the whole row is cut: it still must not run into the next row's space.
    const room = width - SWATCH - 4;
    const shown = textWidth(label) > room ? cut(label, room) : label;
    const w = SWATCH + 4 + textWidth(shown);
    if (x > x0 && x + w > x0 + width) {
      x = x0;
      y += ROW;
    }
    items.push({ label: shown, color: colors[i % colors.length]!, x, y, w, h: ROW - 4 });
    x += w + GAP;
  });
  return { items, height: labels.length === 0 ? 0 : y - y0 + ROW };
}

function cut(label: string, room: number): string {
  let shown = label;
  while (shown.length > 1 && textWidth(`${shown}…`) > room) shown = shown.slice(0, -1);
  return `${shown}…`;
}

function drawLegend(parts: string[], legend: LegendLayout): void {
  for (const item of legend.items)
    parts.push(
      `<g class="legend-item" data-box="${item.x} ${item.y} ${item.w} ${item.h}">` +
        `<rect x="${item.x}" y="${item.y + 1}" width="${SWATCH}" height="${SWATCH}" fill="${item.color}"/>` +
        `<text x="${item.x + SWATCH + 4}" y="${item.y + 11}">${escapeXml(item.label)}</text></g>`,
    );
}

/** Horizontal grid lines and y labels of a plot area; returns y(value). */
function yAxis(
  parts: string[],
  box: { x: number; y: number; w: number; h: number },
  max: number,
): (v: number) => number {
  const y = (v: number) => box.y + box.h - (v / max) * box.h;
  for (let i = 0; i <= 5; i++) {
    const v = (max * i) / 5;
    parts.push(
      `<line x1="${box.x}" x2="${box.x + box.w}" y1="${n(y(v))}" y2="${n(y(v))}" stroke="#e3e3e3"/>`,
      `<text x="${box.x - 6}" y="${n(y(v) + 4)}" text-anchor="end" fill="#444">${+v.toPrecision(3)}</text>`,
    );
  }
  parts.push(
    `<rect x="${box.x}" y="${box.y}" width="${box.w}" height="${box.h}" fill="none" stroke="#333" data-plot="${box.x} ${box.y} ${box.w} ${box.h}"/>`,
  );
  return y;
}

/** One bar per client with its value above it; null values say n/a. Returns the bottom y. */
function barChart(
  parts: string[],
  name: string,
  heading: string,
  clients: readonly PlotClient[],
  value: (c: PlotClient) => number | null,
  unit: string,
  x0: number,
  y0: number,
  width: number,
): number {
  parts.push(`<g class="chart" data-chart="${name}">`);
  parts.push(`<text x="${x0}" y="${y0 + 12}" font-weight="bold">${escapeXml(heading)}</text>`);
  const box = { x: x0 + 50, y: y0 + 24, w: width - 50, h: 150 };
  const values = clients.map(value);
  const max = niceMax(Math.max(0, ...values.map((v) => v ?? 0)) * 1.1);
  const y = yAxis(parts, box, max);
  const slot = box.w / Math.max(1, clients.length);
  const barWidth = Math.min(60, slot * 0.6);
  values.forEach((v, i) => {
    const cx = box.x + slot * i + slot / 2;
    const color = COLORS[i % COLORS.length];
    if (v === null) {
      parts.push(`<text x="${n(cx)}" y="${box.y + box.h - 6}" text-anchor="middle" fill="#888">n/a</text>`);
      return;
    }
    parts.push(
      `<rect x="${n(cx - barWidth / 2)}" y="${n(y(v))}" width="${n(barWidth)}" height="${n(box.y + box.h - y(v))}" fill="${color}"/>`,
      `<text x="${n(cx)}" y="${n(y(v) - 4)}" text-anchor="middle">${+v.toPrecision(3)}${unit}</text>`,
    );
  });
  const legend = layoutLegend(
    clients.map((c) => c.label),
    COLORS,
    box.x,
    box.y + box.h + 10,
    box.w,
  );
  drawLegend(parts, legend);
  parts.push('</g>');
  return box.y + box.h + 10 + legend.height;
}

export function renderPlot(setup: PlotSetup, clients: readonly PlotClient[]): string {
  const parts: string[] = [];
  const inner = WIDTH - 2 * MARGIN;
  parts.push(
    `<text x="${WIDTH / 2}" y="24" text-anchor="middle" font-size="16" font-weight="bold">${escapeXml(setup.title)}</text>`,
    `<text x="${WIDTH / 2}" y="44" text-anchor="middle" fill="#444">${escapeXml(setup.subtitle)}</text>`,
  );
  const labels = clients.map((c) => c.label);

  // Throughput over time.
  let top = 64;
  parts.push('<g class="chart" data-chart="throughput">');
  parts.push(
    `<text x="${MARGIN}" y="${top + 12}" font-weight="bold">throughput, MB/s (1 s window) over seconds since start, median run of each client</text>`,
  );
  const box1 = { x: MARGIN + 50, y: top + 24, w: inner - 50, h: 260 };
  const series = clients.map((c) => throughputSeries(c.samples));
  const maxT = niceMax(Math.max(1, ...series.flatMap((s) => s.map((p) => p[0]))));
  const maxY = niceMax(Math.max(1, ...series.flatMap((s) => s.map((p) => p[1]))));
  const y1 = yAxis(parts, box1, maxY);
  const x1 = (t: number) => box1.x + (t / maxT) * box1.w;
  for (let i = 0; i <= 5; i++) {
    const t = (maxT * i) / 5;
    parts.push(
      `<text x="${n(x1(t))}" y="${box1.y + box1.h + 16}" text-anchor="middle" fill="#444">${+t.toFixed(1)}</text>`,
    );
  }
  series.forEach((points, i) => {
    if (points.length === 0) return;
    const d = points.map(([t, v], k) => `${k ? 'L' : 'M'}${n(x1(t))},${n(y1(v))}`).join('');
    parts.push(`<path d="${d}" fill="none" stroke="${COLORS[i % COLORS.length]}" stroke-width="1.8"/>`);
  });
  const legend1 = layoutLegend(labels, COLORS, box1.x, box1.y + box1.h + 26, box1.w);
  drawLegend(parts, legend1);
  parts.push('</g>');
  top = box1.y + box1.h + 26 + legend1.height + 16;

  // Four bar charts, two by two.
  const half = (inner - 40) / 2;
  const bars: Array<[string, string, (c: PlotClient) => number | null, string]> = [
    ['cpu', 'CPU seconds per GiB downloaded (user + sys)', (c) => c.cpuSecondsPerGiB, ''],
    ['rss', 'peak RSS, MiB', (c) => c.peakRssMiB, ''],
    ['first-piece', 'time to the first piece on disk, s', (c) => c.firstPieceSeconds, ''],
    ['last-percent', 'time of the last 1 %, s', (c) => c.lastPercentSeconds, ''],
  ];
  for (let row = 0; row < 2; row++) {
    let bottom = top;
    for (let col = 0; col < 2; col++) {
      const [name, heading, value, unit] = bars[row * 2 + col]!;
      bottom = Math.max(
        bottom,
        barChart(parts, name, heading, clients, value, unit, MARGIN + col * (half + 40), top, half),
      );
    }
    top = bottom + 16;
  }

  // Bytes per seeder: x labels right under the plot, the legend under them.
  parts.push('<g class="chart" data-chart="per-seeder">');
  parts.push(
    `<text x="${MARGIN}" y="${top + 12}" font-weight="bold">MiB uploaded by each seeder during the median run (x: seeder index)</text>`,
  );
  const box2 = { x: MARGIN + 50, y: top + 24, w: inner - 50, h: 200 };
  const seeders = Math.max(0, ...clients.map((c) => c.perSeeder.length));
  const maxB = niceMax(Math.max(1, ...clients.flatMap((c) => c.perSeeder.map((v) => (v ?? 0) / 2 ** 20))));
  const y2 = yAxis(parts, box2, maxB);
  if (seeders > 0 && clients.length > 0) {
    const group = box2.w / seeders;
    const barWidth = Math.max(1, (group * 0.8) / clients.length);
    clients.forEach((c, k) => {
      c.perSeeder.forEach((bytes, s) => {
        if (bytes === undefined) return;
        const v = bytes / 2 ** 20;
        parts.push(
          `<rect x="${n(box2.x + s * group + group * 0.1 + k * barWidth)}" y="${n(y2(v))}" width="${n(barWidth)}" height="${n(box2.y + box2.h - y2(v))}" fill="${COLORS[k % COLORS.length]}"/>`,
        );
      });
    });
    const step = Math.max(1, Math.ceil(seeders / 16));
    for (let s = 0; s < seeders; s += step)
      parts.push(
        `<text x="${n(box2.x + s * group + group / 2)}" y="${box2.y + box2.h + 16}" text-anchor="middle" fill="#444">${s}</text>`,
      );
  }
  const legend2 = layoutLegend(labels, COLORS, box2.x, box2.y + box2.h + 26, box2.w);
  drawLegend(parts, legend2);
  parts.push('</g>');
  const height = box2.y + box2.h + 26 + legend2.height + MARGIN;

  return `${[
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="sans-serif" font-size="${FONT}">`,
    `<title>${escapeXml(`${setup.title} — ${setup.subtitle}`)}</title>`,
    '<rect width="100%" height="100%" fill="white"/>',
    ...parts,
    '</svg>',
  ].join('\n')}\n`;
}
