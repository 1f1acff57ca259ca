import { type TorkError, TorkErrorCode } from '@tork/core';
import type { MiddlewareHandler } from 'hono';
import { apiError, errorResponse } from './api-errors.js';

/** The pacer's own refusals (a full queue), told apart from errors of the handlers it ran. */
const refusals = new WeakSet<object>();

function refusal(message: string): TorkError {
  const error = apiError(TorkErrorCode.LIMIT_EXCEEDED, message);
  refusals.add(error);
  return error;
}

/**
 * Share of the coordinator's time the API may take while a torrent downloads: the API runs on the
 * coordinator's thread, and 1,000 requests a second took 40 % off a loopback download's throughput
 * (docs/performance.md, "API load"). Requests beyond it wait their turn.
 */
export const API_BUSY_SHARE = 0.05;
/** Coordinator time (ms) the API may spend at once before pacing starts: ~300 small requests. */
export const API_BURST_MS = 50;
/** Cost of one request outside its handler (accepting, parsing, writing), ms; measured at ~0.1 ms. */
export const API_REQUEST_OVERHEAD_MS = 0.15;
/** Cost of accepting one connection, ms: charged when one opens (measured at ~0.5 ms). */
export const API_CONNECTION_OVERHEAD_MS = 0.5;
/** Requests waiting for their turn at most; one more is refused with a 503 (TORK_ERR_LIMIT_EXCEEDED). */
export const MAX_API_WAITING = 10_000;

export interface ApiPacerOptions {
  /** Whether pacing applies now (a torrent downloads). */
  readonly busy: () => boolean;
  /** Default `API_BUSY_SHARE`. */
  readonly share?: number;
  /** Default `API_BURST_MS`. */
  readonly burstMs?: number;
  /** Default `API_REQUEST_OVERHEAD_MS`. */
  readonly overheadMs?: number;
  /** Default `MAX_API_WAITING`. */
  readonly maxWaiting?: number;
  /** Clock, ms. Default `performance.now`. */
  readonly now?: () => number;
}

/**
 * Keeps the API to a share of the coordinator's time while a torrent downloads: a credit of
 * milliseconds refills at `share` of the wall clock (up to `burstMs`); each request is charged its
 * handler's synchronous time plus a fixed overhead. With no credit left, requests wait in arrival order (a
 * closed-loop client then slows down with them). When nothing downloads, nothing waits.
 */
export class ApiPacer {
  readonly #busy: () => boolean;
  readonly #share: number;
  readonly #burstMs: number;
  readonly #overheadMs: number;
  readonly #maxWaiting: number;
  readonly #now: () => number;
  #credit: number;
  #at: number;
  /** What an admitted request is charged until it finishes (the mean of recent costs). */
  #estimate: number;
  readonly #waiting: Array<() => void> = [];
  #timer: NodeJS.Timeout | undefined;

  constructor(options: ApiPacerOptions) {
    this.#busy = options.busy;
    this.#share = options.share ?? API_BUSY_SHARE;
    this.#burstMs = options.burstMs ?? API_BURST_MS;
    this.#overheadMs = options.overheadMs ?? API_REQUEST_OVERHEAD_MS;
    this.#maxWaiting = options.maxWaiting ?? MAX_API_WAITING;
    this.#now = options.now ?? (() => performance.now());
    this.#credit = this.#burstMs;
    this.#at = this.#now();
    this.#estimate = this.#overheadMs;
  }

  /** Requests waiting for their turn. */
  get waiting(): number {
    return this.#waiting.length;
  }

  /** Runs `work` when its turn comes (at once when nothing downloads); rejects when too many wait. */
  async run<T>(work: () => Promise<T>): Promise<T> {
    if (!this.#busy() && this.#waiting.length === 0) return work();
    await this.#admit();
    const charged = this.#estimate;
    // Charged: the handler's synchronous run (its CPU up to its first wait) and the fixed
    // overhead. Time spent waiting (a body arriving, a shared /metrics render, other requests
    // running meanwhile) is not the API's use of the thread and is not charged.
    const began = this.#now();
    let running: Promise<T>;
    try {
      running = work();
    } finally {
      const cost = this.#now() - began + this.#overheadMs;
      this.#credit += charged - cost;
      this.#estimate = this.#estimate * 0.9 + cost * 0.1;
    }
    return running;
  }

  /** Charges work done outside a request's handler (accepting a connection) while pacing applies. */
  charge(ms: number): void {
    if (this.#busy()) this.#credit -= ms;
  }

  /**
   * The hono middleware: every request through `run`; a full queue is a 503. Only that refusal is
   * answered here: any other error goes on to the app's error handler (its own status).
   */
  middleware(): MiddlewareHandler {
    return async (c, next) => {
      try {
        await this.run(next);
      } catch (error) {
        if (refusals.has(error as object)) return errorResponse(c, error, 503);
        throw error;
      }
    };
  }

  close(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const release of this.#waiting.splice(0)) release();
  }

  #refill(): void {
    const now = this.#now();
    this.#credit = Math.min(this.#burstMs, this.#credit + (now - this.#at) * this.#share);
    this.#at = now;
  }

  #admit(): Promise<void> {
    this.#refill();
    if (this.#waiting.length === 0 && this.#credit > 0) {
      this.#credit -= this.#estimate;
      return Promise.resolve();
    }
    if (this.#waiting.length >= this.#maxWaiting)
      return Promise.reject(refusal(`${this.#maxWaiting} API requests already wait their turn`));
    return new Promise((resolve) => {
      this.#waiting.push(resolve);
      this.#schedule();
    });
  }

  #schedule(): void {
    if (this.#timer !== undefined || this.#waiting.length === 0) return;
    // Woken at least every 100 ms: when the download ends meanwhile, whoever waits goes at once.
    const wait = this.#credit > 0 ? 0 : Math.min(100, Math.max(1, -this.#credit / this.#share));
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#refill();
      // Pacing ends as soon as the download does: whoever waits goes now.
      const free = !this.#busy();
      while (this.#waiting.length > 0 && (free || this.#credit > 0)) {
        this.#credit -= this.#estimate;
        this.#waiting.shift()!();
      }
      this.#schedule();
    }, wait);
    // Waiting requests keep their sockets (and so the process) alive; the timer need not.
    this.#timer.unref();
  }
}
