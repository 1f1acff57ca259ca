/**
 * Time to first peer and to first verified piece, per download, from the downloader's own output:
 * tork's `--json` `startup` event, libtorrent-download.py's `startup` field (its first
 * peer_connected_alert and piece_finished_alert). Both in ms since the downloader's process started.
 */
export interface StartupFigures {
  readonly firstPeerMs: number | null;
  readonly firstPieceMs: number | null;
}

/** Reads a downloader's stdout as it comes (lines may span chunks); only the first figures count. */
export class StartupWatch {
  #partial = '';
  #firstPeerMs: number | null = null;
  #firstPieceMs: number | null = null;

  feed(chunk: Buffer | string): void {
    const lines = (this.#partial + chunk.toString()).split('\n');
    this.#partial = lines.pop() ?? '';
    // Bounded: a line without a newline is kept up to 64 KiB (the startup lines are ~300 bytes).
    if (this.#partial.length > 65_536) this.#partial = '';
    for (const line of lines) this.#line(line);
  }

  #line(line: string): void {
    if (!line.includes('"startup"')) return;
    try {
      const document = JSON.parse(line) as {
        event?: string;
        firstPeerMs?: number;
        firstPieceMs?: number;
        startup?: { firstPeerMs?: number; firstPieceMs?: number };
      };
      const figures = document.event === 'startup' ? document : document.startup;
      if (!figures) return;
      this.#firstPeerMs ??= figures.firstPeerMs ?? null;
      this.#firstPieceMs ??= figures.firstPieceMs ?? null;
    } catch {
      // Not JSON: some other line that names "startup".
    }
  }

  figures(): StartupFigures {
    return { firstPeerMs: this.#firstPeerMs, firstPieceMs: this.#firstPieceMs };
  }
}

function median(values: number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** Per group, the medians of time to first peer and first verified piece (runs without a figure left out). */
export function startupMedians(
  runs: ReadonlyArray<{ group: string } & StartupFigures>,
): Array<{ group: string; runs: number } & StartupFigures> {
  const groups = new Map<string, Array<{ group: string } & StartupFigures>>();
  for (const run of runs) groups.set(run.group, [...(groups.get(run.group) ?? []), run]);
  return [...groups.entries()].map(([group, list]) => ({
    group,
    runs: list.length,
    firstPeerMs: median(list.flatMap((run) => (run.firstPeerMs === null ? [] : [run.firstPeerMs]))),
    firstPieceMs: median(list.flatMap((run) => (run.firstPieceMs === null ? [] : [run.firstPieceMs]))),
  }));
}

/** The text table `tork bench` prints under the medians. */
export function startupLines(runs: ReadonlyArray<{ group: string } & StartupFigures>): string[] {
  const medians = startupMedians(runs).filter((m) => m.firstPeerMs !== null || m.firstPieceMs !== null);
  if (medians.length === 0) return [];
  const ms = (value: number | null) => (value === null ? '-' : value.toFixed(0)).padStart(12);
  return [
    '',
    'start-up (medians, ms since the downloader process started)',
    `${'download'.padEnd(42)} ${'first peer'.padStart(12)} ${'first piece'.padStart(12)}`,
    ...medians.map(
      (m) => `${`${m.group} (${m.runs})`.padEnd(42)} ${ms(m.firstPeerMs)} ${ms(m.firstPieceMs)}`,
    ),
  ];
}
