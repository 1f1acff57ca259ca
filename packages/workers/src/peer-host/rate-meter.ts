import { DOUBLE_ZERO } from '@tork/core/internal/double-zero.js';

export interface RateMeterOptions {
  /** Span the rate is averaged over, ms. Default: 5,000. */
  readonly windowMs?: number;
  /** Buckets the window is split into (its time resolution). Default: 20. */
  readonly buckets?: number;
  /**
   * Shortest span a rate is divided by, ms: right after the first bytes the elapsed time is tiny
   * and the rate would be wildly high. Default: 1,000.
   */
  readonly minElapsedMs?: number;
}

/**
 * Bytes per second over a sliding window of time buckets. O(1) per `add` and per `rate`
 * (a running sum), no allocation after construction: it is called once per received block.
 */
export class RateMeter {
  readonly #bucketMs: number;
  readonly #buckets: Float64Array;
  readonly #minElapsedMs: number;
  readonly #created: number;
  #head = 0;
  #headStart: number;
  // Doubles from the start (DOUBLE_ZERO): the buckets are a Float64Array, and the first bucket
  // subtracted made #sum a double, deprecating the class mid-download.
  #sum = DOUBLE_ZERO;
  #total = DOUBLE_ZERO;

  constructor(now: number, options: RateMeterOptions = {}) {
    const windowMs = Math.max(1, options.windowMs ?? 5_000);
    const buckets = Math.max(1, Math.floor(options.buckets ?? 20));
    this.#bucketMs = windowMs / buckets;
    this.#buckets = new Float64Array(buckets);
    this.#minElapsedMs = Math.max(1, options.minElapsedMs ?? 1_000);
    this.#created = now;
    this.#headStart = now;
  }

  /** Every byte ever added. */
  get total(): number {
    return this.#total + 0;
  }

  add(bytes: number, now: number): void {
    this.#advance(now);
    this.#buckets[this.#head]! += bytes;
    this.#sum += bytes;
    this.#total += bytes;
  }

  /** Bytes per second over the window (or since creation, when that is shorter). */
  rate(now: number): number {
    this.#advance(now);
    const count = this.#buckets.length;
    const covered = (count - 1) * this.#bucketMs + (now - this.#headStart);
    const elapsed = Math.max(this.#minElapsedMs, Math.min(covered, now - this.#created));
    return (this.#sum * 1000) / elapsed + 0;
  }

  #advance(now: number): void {
    const steps = Math.floor((now - this.#headStart) / this.#bucketMs);
    if (steps <= 0) return;
    const count = this.#buckets.length;
    if (steps >= count) {
      this.#buckets.fill(0);
      this.#sum = 0;
    } else {
      for (let step = 0; step < steps; step++) {
        this.#head = (this.#head + 1) % count;
        this.#sum -= this.#buckets[this.#head]!;
        this.#buckets[this.#head] = 0;
      }
    }
    this.#headStart += steps * this.#bucketMs;
    // Float drift: the sum of what is left is never negative.
    if (this.#sum < 0) this.#sum = 0;
  }
}
