/**
 * BEP 12 multitracker: tiers tried in order, trackers within a tier in an order shuffled once;
 * a tracker that answers moves to the front of its tier.
 */
import { TorkError, TorkErrorCode } from '../errors.js';
import { createTrackerClient } from './create-tracker-client.js';
import { displayUrl, printableText } from './printable.js';
import type { AnnounceRequest, AnnounceResponse, TrackerClient } from './types.js';

export type TrackerClientFactory = (url: string) => TrackerClient;

export interface TierListOptions {
  /**
   * Makes the client of one tracker URL; called at most once per URL, on first use, because
   * clients keep state (UDP connection id, HTTP tracker id). May throw (e.g. TRACKER_URL for an
   * unknown scheme): that counts as this tracker failing. Default: `createTrackerClient` with its defaults.
   */
  readonly clientFor?: TrackerClientFactory;
  /** Uniform random numbers in [0, 1) for the one-time shuffle of each tier. Default: `Math.random`. */
  readonly random?: () => number;
}

export interface TierAnnounceResult {
  /** The tracker that answered. */
  readonly url: string;
  readonly response: AnnounceResponse;
}

/** One failed attempt, as collected into TRACKER_ALL_FAILED's details (`failures`, JSON). */
export interface TrackerFailure {
  readonly url: string;
  readonly code: string;
  readonly message: string;
}

/** Errors that are not the tracker's fault stop the walk instead of trying the next tracker. */
const STOP_CODES: ReadonlySet<string> = new Set([TorkErrorCode.ABORTED, TorkErrorCode.USAGE]);

export class TierList {
  private readonly tierUrls: string[][];
  private readonly clientFor: TrackerClientFactory;
  private readonly clients = new Map<string, TrackerClient>();

  /**
   * `tiers` is the metainfo's `announce-list` (or `[[announce]]`). Empty tiers are dropped and a
   * URL listed twice is kept only where it first appears.
   */
  constructor(tiers: readonly (readonly string[])[], options: TierListOptions = {}) {
    const random = options.random ?? Math.random;
    this.clientFor = options.clientFor ?? ((url) => createTrackerClient(url));
    const seen = new Set<string>();
    this.tierUrls = [];
    for (const tier of tiers) {
      const urls = tier.filter((url) => !seen.has(url) && seen.add(url));
      // Fisher–Yates, once: BEP 12 shuffles at load time and then keeps the order.
      for (let i = urls.length - 1; i > 0; i--) {
        const j = Math.min(i, Math.floor(random() * (i + 1)));
        [urls[i], urls[j]] = [urls[j]!, urls[i]!];
      }
      if (urls.length > 0) this.tierUrls.push(urls);
    }
  }

  /** The current order (a copy), first tier first. */
  get tiers(): string[][] {
    return this.tierUrls.map((tier) => [...tier]);
  }

  /**
   * Announces to the first tracker that answers, walking tier by tier. Throws ABORTED or USAGE at
   * once; TRACKER_ALL_FAILED (every reason in the message and in `details.failures`) when no
   * tracker answers.
   */
  async announce(request: AnnounceRequest, signal?: AbortSignal): Promise<TierAnnounceResult> {
    const failures: TrackerFailure[] = [];
    for (const tier of this.tierUrls) {
      for (let index = 0; index < tier.length; index++) {
        const url = tier[index]!;
        if (signal?.aborted) throw new TorkError(TorkErrorCode.ABORTED, 'tracker announce aborted');
        try {
          const response = await this.client(url).announce(request, signal);
          if (index > 0) {
            tier.splice(index, 1);
            tier.unshift(url);
          }
          return { url, response };
        } catch (error) {
          if (error instanceof TorkError && STOP_CODES.has(error.code)) throw error;
          failures.push({
            url: displayUrl(url),
            code: error instanceof TorkError ? error.code : TorkErrorCode.INTERNAL,
            message: printableText(error instanceof Error ? error.message : String(error), 300),
          });
        }
      }
    }
    const summary =
      failures.length === 0
        ? 'no trackers to announce to'
        : `all ${failures.length} trackers failed: ${failures
            // Clients name their URL in their messages already: say it once.
            .map(
              (f) =>
                `${f.url}: ${f.message.startsWith(`${f.url}: `) ? f.message.slice(f.url.length + 2) : f.message}`,
            )
            .join('; ')}`;
    throw new TorkError(TorkErrorCode.TRACKER_ALL_FAILED, summary, {
      trackers: failures.length,
      failures: JSON.stringify(failures),
    });
  }

  /** Closes every client made so far. */
  close(): void {
    for (const client of this.clients.values()) client.close?.();
    this.clients.clear();
  }

  private client(url: string): TrackerClient {
    let client = this.clients.get(url);
    if (!client) {
      client = this.clientFor(url);
      this.clients.set(url, client);
    }
    return client;
  }
}
