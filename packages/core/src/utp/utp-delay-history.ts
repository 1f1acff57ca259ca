import { UTP_BASE_DELAY_MINUTES } from './utp-limits.js';

/**
 * LEDBAT's one-way queuing delay estimate (BEP 29's our_delay): each timestamp difference the
 * peer reports (its receive time minus our send time, u32 µs) minus the base delay, the least
 * difference seen over ~2 minutes (one minimum per minute, so a route change ages out). The hosts'
 * clock offset is in every sample and cancels out in the subtraction; u32 wrap-around is handled by
 * comparing signed 32-bit differences, never the raw values.
 */
export class UtpDelayHistory {
  /** Per-minute minima, oldest first; the last is the current minute's. */
  private readonly minima: number[] = [];
  private bucketStartedAt = 0;
  private readonly recent = new Float64Array(3);
  private count = 0;
  private delay = 0;

  /** The current estimate, µs (0 before any sample). */
  get delayMicros(): number {
    return this.delay;
  }

  /** Adds a timestamp difference (u32 µs) received at `nowMs`; returns the new estimate, µs. */
  add(sample: number, nowMs: number): number {
    const minima = this.minima;
    if (minima.length === 0 || nowMs - this.bucketStartedAt >= 60_000) {
      minima.push(sample);
      if (minima.length > UTP_BASE_DELAY_MINUTES + 1) minima.shift();
      this.bucketStartedAt = nowMs;
    } else if (microsDiff(sample, minima[minima.length - 1]!) < 0) {
      minima[minima.length - 1] = sample;
    }
    let base = minima[0]!;
    for (let i = 1; i < minima.length; i++) if (microsDiff(minima[i]!, base) < 0) base = minima[i]!;
    this.recent[this.count++ % 3] = Math.max(0, microsDiff(sample, base));
    // The least of the last three: one packet held up by the peer's scheduler is noise, not queue.
    const n = Math.min(this.count, 3);
    let delay = this.recent[0]!;
    for (let i = 1; i < n; i++) if (this.recent[i]! < delay) delay = this.recent[i]!;
    this.delay = delay;
    return delay;
  }
}

/** Signed distance a − b of two u32 microsecond clocks. */
function microsDiff(a: number, b: number): number {
  return (a - b) | 0;
}
