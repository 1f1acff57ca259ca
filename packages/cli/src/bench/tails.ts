/**
 * Tail figures of one download from its progress timeline ([seconds, bytes written] every 100 ms,
 * the same for every client): when the first piece's worth of bytes was on disk, and how long the
 * last 1 % took. Linear between samples; the download's end (wall time, every byte) closes the line.
 */
export interface TailFigures {
  /** Seconds from start until a piece length of bytes was written (null: never). */
  readonly firstPieceSeconds: number | null;
  /** Seconds from 99 % of the bytes written to the end of the download (null: never reached 99 %). */
  readonly lastPercentSeconds: number | null;
}

/** The time the cumulative line first reaches `target` bytes, interpolated; undefined if it never does. */
function crossing(points: ReadonlyArray<readonly [number, number]>, target: number): number | undefined {
  for (let i = 0; i < points.length; i++) {
    const [t, bytes] = points[i]!;
    if (bytes < target) continue;
    if (i === 0) return t;
    const [t0, bytes0] = points[i - 1]!;
    return bytes === bytes0 ? t : t0 + ((target - bytes0) / (bytes - bytes0)) * (t - t0);
  }
  return undefined;
}

export function tailFigures(
  samples: ReadonlyArray<readonly [number, number]>,
  wallSeconds: number,
  length: number,
  pieceLength: number,
  completed: boolean,
): TailFigures {
  // Bytes written can exceed the length (a rewrite, a resume file): cap at the length.
  const points: Array<readonly [number, number]> = samples
    .filter(([t]) => t <= wallSeconds)
    .map(([t, bytes]) => [t, Math.min(bytes, length)] as const);
  if (completed) points.push([wallSeconds, length]);
  const first = crossing(points, Math.min(pieceLength, length));
  const ninetyNine = crossing(points, 0.99 * length);
  const round = (v: number) => Number(v.toFixed(3));
  return {
    firstPieceSeconds: first === undefined ? null : round(first),
    lastPercentSeconds:
      ninetyNine === undefined || !completed ? null : round(Math.max(0, wallSeconds - ninetyNine)),
  };
}
