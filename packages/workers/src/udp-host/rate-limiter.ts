export interface RateLimiterOptions {
  /** Tokens added per second, per key. */
  readonly rate: number;
  /** Most tokens a key holds (the burst it may send at once). */
  readonly burst: number;
  /** Keys remembered at once; the least recently seen is forgotten first. */
  readonly maxKeys: number;
  /** Milliseconds clock. Default: `performance.now`. */
  readonly now?: () => number;
}

/**
 * A token bucket per key (the source IP of a query): `allow` spends one token or says no. Memory is
 * bounded by `maxKeys`: a forgotten key starts again with a full bucket, which costs an attacker
 * `maxKeys` other addresses to achieve.
 */
export class PerKeyRateLimiter {
  readonly #rate: number;
  readonly #burst: number;
  readonly #maxKeys: number;
  readonly #now: () => number;
  readonly #buckets = new Map<string, { tokens: number; at: number }>();

  constructor(options: RateLimiterOptions) {
    this.#rate = options.rate;
    this.#burst = options.burst;
    this.#maxKeys = Math.max(1, options.maxKeys);
    this.#now = options.now ?? (() => performance.now());
  }

  /** Keys remembered now (≤ `maxKeys`). */
  get size(): number {
    return this.#buckets.size;
  }

  allow(key: string): boolean {
    const now = this.#now();
    let bucket = this.#buckets.get(key);
    if (bucket) {
      // Re-inserted below: the Map's order is least recently seen first.
      this.#buckets.delete(key);
      bucket.tokens = Math.min(this.#burst, bucket.tokens + ((now - bucket.at) / 1000) * this.#rate);
      bucket.at = now;
    } else {
      if (this.#buckets.size >= this.#maxKeys) {
        const oldest = this.#buckets.keys().next().value;
        if (oldest !== undefined) this.#buckets.delete(oldest);
      }
      bucket = { tokens: this.#burst, at: now };
    }
    this.#buckets.set(key, bucket);
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }
}
