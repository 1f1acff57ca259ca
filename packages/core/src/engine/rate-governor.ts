import { TokenBucket } from './token-bucket.js';

/** Which way bytes go: fetched from peers, or served to them. */
export type RateDirection = 'download' | 'upload';

/** Caps in bytes a second; a direction left out (or 0) is not limited. */
export interface RateLimits {
  /** Bytes a second fetched from peers (piece data). Default: unlimited. */
  readonly download?: number;
  /** Bytes a second served to peers (piece data). Default: unlimited. */
  readonly upload?: number;
}

/** The least a grant gives: one block (a host asks when it cannot afford the next one). */
export const RATE_MIN_GRANT_BYTES = 16 * 1024;
/** A grant is this many seconds of the rate (at least one block, at most `RATE_MAX_GRANT_BYTES`). */
export const RATE_GRANT_SECONDS = 0.05;
/** The most one grant gives: a host never holds much more than it can spend soon. */
export const RATE_MAX_GRANT_BYTES = 1024 * 1024;
/** The bucket holds this many seconds of the rate at most: how far a quiet spell is made up for. */
export const RATE_BURST_SECONDS = 0.25;
/** How often needs that could not be granted are tried again, ms. */
export const RATE_RETRY_MS = 20;

/** One scope's buckets (the engine's global caps, or one torrent's). */
export class RateLimiter {
  #download: TokenBucket | undefined;
  #upload: TokenBucket | undefined;
  #limits: RateLimits = {};

  constructor(limits: RateLimits = {}, now = performance.now()) {
    this.set(limits, now);
  }

  get limits(): RateLimits {
    return this.#limits;
  }

  /** New caps; a bucket restarts empty (no burst from the change). */
  set(limits: RateLimits, now = performance.now()): void {
    this.#limits = { ...limits };
    this.#download = bucket(limits.download, now);
    this.#upload = bucket(limits.upload, now);
  }

  bucket(direction: RateDirection): TokenBucket | undefined {
    return direction === 'download' ? this.#download : this.#upload;
  }
}

function bucket(rate: number | undefined, now: number): TokenBucket | undefined {
  if (rate === undefined || !(rate > 0)) return undefined;
  return new TokenBucket(rate, Math.max(2 * grantSize(rate), rate * RATE_BURST_SECONDS), now);
}

/** What one grant gives at this rate. */
export function grantSize(rate: number): number {
  return Math.min(
    RATE_MAX_GRANT_BYTES,
    Math.max(RATE_MIN_GRANT_BYTES, Math.floor(rate * RATE_GRANT_SECONDS)),
  );
}

export interface RateGovernorOptions {
  /** The engine's caps, shared by every torrent. Default: none. */
  readonly global?: RateLimiter;
  /** Milliseconds clock. Default: `performance.now`. */
  readonly now?: () => number;
}

/** An actor's host waiting for an allowance: its torrent's caps, and how to give it bytes. */
interface Need {
  readonly own: RateLimiter;
  readonly grant: (bytes: number) => void;
}

/**
 * The rate caps on the coordinator, applied across every peer host: a host spends an allowance
 * it was granted (a block's worth before each request it sends, or each block it serves) and asks
 * for more when it runs out (`rate-need`, naming the actor that waits); the governor grants from
 * the torrent's bucket and the engine's at once, first come first served across every torrent
 * (one torrent cannot starve another of the engine's cap), and retries what it could not grant
 * every `RATE_RETRY_MS`. Nothing is metered where no cap is set. One per engine.
 */
export class RateGovernor {
  readonly global: RateLimiter;
  readonly #now: () => number;
  /** Actors waiting, in the order they asked (actor ids are unique in an engine), per direction. */
  readonly #pending = { download: new Map<number, Need>(), upload: new Map<number, Need>() };
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: RateGovernorOptions = {}) {
    this.global = options.global ?? new RateLimiter();
    this.#now = options.now ?? (() => performance.now());
  }

  /** Whether hosts must meter this direction of a torrent with these caps. */
  limited(own: RateLimiter, direction: RateDirection): boolean {
    return own.bucket(direction) !== undefined || this.global.bucket(direction) !== undefined;
  }

  /** A host ran out of `direction` allowance for `actorId`'s torrent (whose caps are `own`). */
  need(own: RateLimiter, actorId: number, direction: RateDirection, grant: (bytes: number) => void): void {
    if (this.#closed) return;
    if (!this.#pending[direction].has(actorId)) this.#pending[direction].set(actorId, { own, grant });
    this.serve();
  }

  /** The actor is gone: a grant to it would be lost. */
  forget(actorId: number): void {
    this.#pending.download.delete(actorId);
    this.#pending.upload.delete(actorId);
  }

  /** Grants what the buckets allow now, in the order asked; schedules a retry for the rest. */
  serve(): void {
    const now = this.#now();
    for (const direction of ['download', 'upload'] as const) {
      const global = this.global.bucket(direction);
      for (const [actorId, need] of this.#pending[direction]) {
        const own = need.own.bucket(direction);
        if (!own && !global) {
          // The cap was lifted: hosts were told (`rate-limits`), and wake on their own.
          this.#pending[direction].delete(actorId);
          continue;
        }
        let size = Number.POSITIVE_INFINITY;
        if (global) size = Math.min(grantSize(global.rate), Math.floor(global.available(now)));
        // The engine's cap is spent: the first in line waits, and so does everyone after it.
        if (size < RATE_MIN_GRANT_BYTES) break;
        if (own) size = Math.min(size, grantSize(own.rate), Math.floor(own.available(now)));
        // This torrent's own cap is spent: others behind it may go on.
        if (size < RATE_MIN_GRANT_BYTES) continue;
        own?.take(size, now);
        global?.take(size, now);
        this.#pending[direction].delete(actorId);
        need.grant(size);
      }
    }
    const waiting = this.#pending.download.size + this.#pending.upload.size > 0;
    if (waiting && !this.#timer && !this.#closed) {
      this.#timer = setInterval(() => this.serve(), RATE_RETRY_MS);
      this.#timer.unref?.();
    } else if (!waiting && this.#timer) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }

  close(): void {
    this.#closed = true;
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#pending.download.clear();
    this.#pending.upload.clear();
  }
}
