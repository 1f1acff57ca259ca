/**
 * A token bucket in bytes: `rate` bytes a second flow in, at most `burst` wait. Pure: the caller
 * passes the time (ms), so tests need no clock.
 */
export class TokenBucket {
  #tokens: number;
  #at: number;

  constructor(
    /** Bytes a second. */
    readonly rate: number,
    /** Most bytes held at once: how far a quiet spell may be made up for. */
    readonly burst: number,
    now: number,
    /** Tokens at the start. Default: none (no burst before the first second). */
    initial = 0,
  ) {
    if (!(rate > 0) || !(burst > 0)) throw new RangeError('a token bucket needs a rate and a burst > 0');
    this.#tokens = Math.min(burst, initial);
    this.#at = now;
  }

  /** Bytes available now. */
  available(now: number): number {
    this.#refill(now);
    return this.#tokens;
  }

  /** Takes up to `max` bytes (what is there); returns how many were taken. */
  take(max: number, now: number): number {
    this.#refill(now);
    const taken = Math.max(0, Math.min(max, Math.floor(this.#tokens)));
    this.#tokens -= taken;
    return taken;
  }

  #refill(now: number): void {
    if (now <= this.#at) return;
    this.#tokens = Math.min(this.burst, this.#tokens + ((now - this.#at) / 1000) * this.rate);
    this.#at = now;
  }
}
