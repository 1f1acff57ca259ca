/** A dependency-free SVG for `tork bench --plot`: throughput over time per client, and bytes per seeder. */

export interface PlotLine {
  readonly label: string;
  /** [seconds, bytes written so far]. */
  readonly samples: ReadonlyArray<readonly [number, number]>;
}

export interface PlotBars {
  readonly label: string;
  /** Bytes each seeder uploaded during the run (undefined: unknown). */
  readonly perSeeder: ReadonlyArray<number | undefined>;
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf'];

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
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

export function renderPlot(title: string, lines: readonly PlotLine[], bars: readonly PlotBars[]): string {
  const width = 900;
  const chartHeight = 300;
  const left = 60;
  const right = 20;
  const plotWidth = width - left - right;
  const parts: string[] = [];
  const height = 40 + chartHeight + 70 + chartHeight + 60;
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${width / 2}" y="20" text-anchor="middle" font-size="15">${escapeXml(title)}</text>`,
  );

  // Chart 1: throughput over time.
  const top1 = 40;
  const series = lines.map((line) => ({ label: line.label, points: throughputSeries(line.samples) }));
  const maxT = niceMax(Math.max(1, ...series.flatMap((s) => s.points.map((p) => p[0]))));
  const maxY = niceMax(Math.max(1, ...series.flatMap((s) => s.points.map((p) => p[1]))));
  const x = (t: number) => left + (t / maxT) * plotWidth;
  const y1 = (v: number) => top1 + chartHeight - (v / maxY) * chartHeight;
  parts.push(`<text x="${left}" y="${top1 - 6}">throughput (MB/s, 1 s window) over time (s)</text>`);
  for (let i = 0; i <= 5; i++) {
    const v = (maxY * i) / 5;
    const t = (maxT * i) / 5;
    parts.push(
      `<line x1="${left}" x2="${left + plotWidth}" y1="${y1(v)}" y2="${y1(v)}" stroke="#ddd"/>`,
      `<text x="${left - 6}" y="${y1(v) + 4}" text-anchor="end">${+v.toFixed(1)}</text>`,
      `<text x="${x(t)}" y="${top1 + chartHeight + 16}" text-anchor="middle">${+t.toFixed(1)}</text>`,
    );
  }
  parts.push(
    `<rect x="${left}" y="${top1}" width="${plotWidth}" height="${chartHeight}" fill="none" stroke="#333"/>`,
  );
  series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length];
    if (s.points.length > 0) {
      const d = s.points
        .map(([t, v], k) => `${k ? 'L' : 'M'}${x(t).toFixed(1)},${y1(v).toFixed(1)}`)
        .join('');
      parts.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="1.5"/>`);
    }
    parts.push(
      `<rect x="${left + 10 + i * 160}" y="${top1 + chartHeight + 26}" width="12" height="12" fill="${color}"/>`,
      `<text x="${left + 26 + i * 160}" y="${top1 + chartHeight + 36}">${escapeXml(s.label)}</text>`,
    );
  });

  // Chart 2: bytes contributed per seeder, grouped by seeder, one bar per client.
  const top2 = top1 + chartHeight + 70;
  const seeders = Math.max(0, ...bars.map((b) => b.perSeeder.length));
  const maxB = niceMax(Math.max(1, ...bars.flatMap((b) => b.perSeeder.map((v) => (v ?? 0) / 2 ** 20))));
  const y2 = (v: number) => top2 + chartHeight - (v / maxB) * chartHeight;
  parts.push(
    `<text x="${left}" y="${top2 - 6}">MiB uploaded per seeder during the run (x: seeder index)</text>`,
  );
  for (let i = 0; i <= 5; i++) {
    const v = (maxB * i) / 5;
    parts.push(
      `<line x1="${left}" x2="${left + plotWidth}" y1="${y2(v)}" y2="${y2(v)}" stroke="#ddd"/>`,
      `<text x="${left - 6}" y="${y2(v) + 4}" text-anchor="end">${+v.toFixed(1)}</text>`,
    );
  }
  parts.push(
    `<rect x="${left}" y="${top2}" width="${plotWidth}" height="${chartHeight}" fill="none" stroke="#333"/>`,
  );
  if (seeders > 0 && bars.length > 0) {
    const group = plotWidth / seeders;
    const barWidth = Math.max(1, (group * 0.8) / bars.length);
    bars.forEach((b, c) => {
      const color = COLORS[c % COLORS.length];
      b.perSeeder.forEach((bytes, s) => {
        if (bytes === undefined) return;
        const v = bytes / 2 ** 20;
        const bx = left + s * group + group * 0.1 + c * barWidth;
        parts.push(
          `<rect x="${bx.toFixed(1)}" y="${y2(v).toFixed(1)}" width="${barWidth.toFixed(1)}" height="${(top2 + chartHeight - y2(v)).toFixed(1)}" fill="${color}"/>`,
        );
      });
      parts.push(
        `<rect x="${left + 10 + c * 160}" y="${top2 + chartHeight + 10}" width="12" height="12" fill="${color}"/>`,
        `<text x="${left + 26 + c * 160}" y="${top2 + chartHeight + 20}">${escapeXml(b.label)}</text>`,
      );
    });
    const step = Math.max(1, Math.ceil(seeders / 16));
    for (let s = 0; s < seeders; s += step)
      parts.push(
        `<text x="${(left + s * group + group / 2).toFixed(1)}" y="${top2 + chartHeight + 40}" text-anchor="middle" fill="#666">${s}</text>`,
      );
  }
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}
