/**
 * At most `limit` events per window of `windowMs`, the first window opening at the first event
 * (not at the clock's origin: `performance.now()` starts at the process's start in every thread,
 * and a window anchored there cut a burst near the process's first second in two, letting through
 * up to twice the limit). A fixed window, not a token bucket: a budget for answering floods, where
 * a burst of `limit` at each window's edge is acceptable and the state is two numbers.
 */
export class WindowBudget {
  readonly #limit: number;
  readonly #windowMs: number;
  #windowStart = Number.NEGATIVE_INFINITY;
  #used = 0;

  /** `windowMs` default: 1,000. */
  constructor(limit: number, windowMs = 1_000) {
    this.#limit = limit;
    this.#windowMs = windowMs;
  }

  /** Spends one event at time `now` (ms) if the current window has room; false when it has none. */
  take(now: number): boolean {
    if (now - this.#windowStart >= this.#windowMs) {
      this.#windowStart = now;
      this.#used = 0;
    }
    if (this.#used >= this.#limit) return false;
    this.#used++;
    return true;
  }
}
