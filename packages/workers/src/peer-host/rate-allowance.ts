import type { RateDirection } from '@tork/core/internal/engine/rate-governor.js';

/** A waiting host asks again after this long without a grant (the actor it named may have closed). */
export const RATE_REASK_MS = 250;

/**
 * One torrent's rate allowance in a peer host (see `RateGovernor` on the coordinator). Where the
 * torrent is capped, a session takes a block's worth before each request it sends (download) and
 * each block it serves (upload); when the allowance is spent, the session waits and the host asks
 * the coordinator for more, once (`rate-need`), until a grant comes. Uncapped, `take` is always
 * true and nothing is counted: no cost when no cap is set.
 */
export class RateAllowance {
  readonly #ask: (actorId: number, direction: RateDirection) => void;
  readonly #limited = { download: false, upload: false };
  readonly #bytes = { download: 0, upload: 0 };
  /** Sessions waiting (their wake-up, the actor to name when asking), in arrival order. */
  readonly #waiting = { download: new Map<() => void, number>(), upload: new Map<() => void, number>() };
  /** When we last asked and got nothing yet (0: not asking). */
  readonly #askedAt = { download: 0, upload: 0 };

  constructor(ask: (actorId: number, direction: RateDirection) => void) {
    this.#ask = ask;
  }

  limited(direction: RateDirection): boolean {
    return this.#limited[direction];
  }

  /** What the coordinator says is capped; a direction no longer capped wakes its waiters. */
  setLimits(download: boolean, upload: boolean): void {
    this.#limited.download = download;
    this.#limited.upload = upload;
    for (const direction of ['download', 'upload'] as const) {
      if (this.#limited[direction]) continue;
      this.#bytes[direction] = 0;
      this.#askedAt[direction] = 0;
      this.#wake(direction);
    }
  }

  /**
   * Takes `bytes` for `actorId`. False: spent; `wake` is called when more is granted (or the cap
   * is lifted), and the caller tries again then.
   */
  take(direction: RateDirection, bytes: number, actorId: number, wake: () => void): boolean {
    if (!this.#limited[direction]) return true;
    if (this.#bytes[direction] >= bytes) {
      this.#bytes[direction] -= bytes;
      return true;
    }
    this.#waiting[direction].set(wake, actorId);
    if (this.#askedAt[direction] === 0) {
      this.#askedAt[direction] = performance.now();
      this.#ask(actorId, direction);
    }
    return false;
  }

  /** Gives back what was taken and not spent (a shorter last block, nothing left to request). */
  refund(direction: RateDirection, bytes: number): void {
    if (this.#limited[direction]) this.#bytes[direction] += bytes;
  }

  /** The coordinator's grant: waiting sessions go on, in the order they waited. */
  grant(direction: RateDirection, bytes: number): void {
    if (!this.#limited[direction]) return;
    this.#bytes[direction] += bytes;
    this.#askedAt[direction] = 0;
    this.#wake(direction);
  }

  /** A session is gone: it waits no more. */
  forget(wake: () => void): void {
    this.#waiting.download.delete(wake);
    this.#waiting.upload.delete(wake);
  }

  /** Called by the host's tick: asks again when a grant is overdue and sessions still wait. */
  tick(now: number): void {
    for (const direction of ['download', 'upload'] as const) {
      const asked = this.#askedAt[direction];
      const first = this.#waiting[direction].values().next();
      if (asked === 0 || now - asked < RATE_REASK_MS || first.done) continue;
      this.#askedAt[direction] = now;
      this.#ask(first.value, direction);
    }
  }

  #wake(direction: RateDirection): void {
    const waiting = [...this.#waiting[direction].keys()];
    this.#waiting[direction].clear();
    for (const wake of waiting) wake();
  }
}
