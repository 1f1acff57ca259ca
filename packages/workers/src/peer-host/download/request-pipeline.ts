import { BLOCK_LENGTH } from '@tork/core/internal/wire/messages.js';
import { RateMeter, type RateMeterOptions } from '../rate-meter.js';

export interface RequestPipelineOptions {
  /** Seconds of data, at the peer's measured rate, kept requested. Default: 3. */
  readonly pipelineSeconds?: number;
  /** Fewest block requests kept outstanding (unless snubbed). Default: 4. */
  readonly minQueueDepth?: number;
  /** Most block requests kept outstanding when the peer states no `reqq`. Default: 500. */
  readonly maxQueueDepth?: number;
  /**
   * Requests outstanding and no block for this long: the peer is snubbing us; its depth drops to 1
   * and the pieces it has not started are released. Default: 30,000 ms.
   */
  readonly snubTimeoutMs?: number;
  /** How the download rate is measured. */
  readonly rate?: RateMeterOptions;
}

/**
 * How many block requests a Downloader keeps in flight to one peer: enough for `pipelineSeconds` of
 * data at the peer's measured rate, so a fast peer never waits on a round trip, clamped to
 * [min, peer's `reqq` or max]; 1 while the peer snubs us. Also the snub detector.
 */
export class RequestPipeline {
  readonly meter: RateMeter;
  readonly #pipelineSeconds: number;
  readonly #min: number;
  readonly #max: number;
  readonly #snubTimeoutMs: number;
  #peerMax: number;
  #outstanding = 0;
  /** When we last got a block, or started waiting for one (the first request after none). */
  #waitingSince: number;
  #snubbed = false;

  constructor(now: number, options: RequestPipelineOptions = {}) {
    this.meter = new RateMeter(now, options.rate);
    this.#pipelineSeconds = options.pipelineSeconds ?? 3;
    this.#min = Math.max(1, options.minQueueDepth ?? 4);
    this.#max = Math.max(this.#min, options.maxQueueDepth ?? 500);
    this.#snubTimeoutMs = options.snubTimeoutMs ?? 30_000;
    this.#peerMax = this.#max;
    this.#waitingSince = now;
  }

  get outstanding(): number {
    return this.#outstanding;
  }

  /** How long requests may go unanswered before the peer counts as snubbing us, ms. */
  get snubTimeoutMs(): number {
    return this.#snubTimeoutMs;
  }

  get snubbed(): boolean {
    return this.#snubbed;
  }

  /** The peer's BEP 10 `reqq`: the most requests it queues. Never raises the cap above ours. */
  setPeerLimit(reqq: number): void {
    if (Number.isSafeInteger(reqq) && reqq > 0) this.#peerMax = Math.min(this.#max, Math.max(1, reqq));
  }

  /** The depth to aim for now. */
  target(now: number): number {
    if (this.#snubbed) return 1;
    const wanted = Math.floor((this.meter.rate(now) * this.#pipelineSeconds) / BLOCK_LENGTH);
    const max = this.#peerMax;
    return Math.max(Math.min(this.#min, max), Math.min(wanted, max));
  }

  requested(now: number): void {
    if (this.#outstanding === 0) this.#waitingSince = now;
    this.#outstanding++;
  }

  /** A requested block arrived. Returns true if this ended a snub. */
  received(bytes: number, now: number): boolean {
    if (this.#outstanding > 0) this.#outstanding--;
    this.meter.add(bytes, now);
    this.#waitingSince = now;
    const wasSnubbed = this.#snubbed;
    this.#snubbed = false;
    return wasSnubbed;
  }

  /** Requests dropped without a block (cancelled, rejected, voided by a choke). */
  voided(count: number): void {
    this.#outstanding = Math.max(0, this.#outstanding - count);
  }

  /** Checks for a snub; returns true exactly when the peer has just become snubbed. */
  checkSnub(now: number): boolean {
    if (this.#snubbed || this.#outstanding === 0) return false;
    if (now - this.#waitingSince < this.#snubTimeoutMs) return false;
    this.#snubbed = true;
    return true;
  }
}
