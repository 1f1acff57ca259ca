import { TorkError, TorkErrorCode, toTorkError } from '../errors.js';
import { createTrackerClient, type TrackerClientOptions } from '../tracker/create-tracker-client.js';
import { TierList } from '../tracker/tier-list.js';
import type { AnnounceEvent, AnnounceResponse, PeerAddress } from '../tracker/types.js';

export interface AnnouncerOptions {
  /** BEP 12 tiers from the metainfo. */
  readonly tiers: readonly (readonly string[])[];
  readonly infoHash: Uint8Array;
  /**
   * BEP 52: a hybrid's truncated v2 info-hash, announced beside `infoHash` with the same event to
   * the same tiers (libtorrent announces both hashes of a hybrid, so v2 peers find it); its peers
   * go to `onPeers` too, its failures are not reported (the `infoHash` announce's are). Default: none.
   */
  readonly alsoInfoHash?: Uint8Array;
  readonly peerId: Uint8Array;
  /** Port we listen on (0 when we do not accept connections). */
  readonly port: number;
  /** Current transfer totals, read at each announce. */
  readonly totals: () => { uploaded: number; downloaded: number; left: number };
  readonly onPeers: (peers: readonly PeerAddress[], url: string) => void;
  readonly onError: (error: TorkError) => void;
  /** Peers asked for per announce. Default: 200. */
  readonly numwant?: number;
  /**
   * Tracker client options. Default: UDP retransmissions after 2·2^n s with n ≤ 3 (about 30 s per
   * dead UDP tracker, not BEP 15's two hours, so one dead tracker cannot starve the tier walk),
   * HTTP defaults otherwise.
   */
  readonly clients?: TrackerClientOptions;
  /** First retry delay after every tracker failed, ms; doubles up to `maxRetryMs`. Default: 15,000. */
  readonly retryMs?: number;
  /** Longest retry delay, ms. Default: 600,000. */
  readonly maxRetryMs?: number;
  /** Shortest interval honoured whatever a tracker says, seconds. Default: 30. */
  readonly minIntervalSeconds?: number;
}

/**
 * Keeps a torrent announced: `started` once, re-announces at the tracker's interval, backs off
 * while every tracker fails, `completed` when done and `stopped` at the end.
 */
export class Announcer {
  readonly #options: AnnouncerOptions;
  readonly #tiers: TierList;
  #timer: NodeJS.Timeout | undefined;
  #inFlight: AbortController | undefined;
  #startedSent = false;
  #failures = 0;
  #stopped = false;
  #minIntervalMs = 0;
  #lastAnnounceAt = 0;
  /** Last successful response, for the progress view. */
  lastResponse: AnnounceResponse | undefined;

  constructor(options: AnnouncerOptions) {
    this.#options = options;
    const clients: TrackerClientOptions = options.clients ?? {
      udp: { baseTimeoutMs: 2_000, maxRetransmissions: 3 },
    };
    this.#tiers = new TierList(options.tiers, { clientFor: (url) => createTrackerClient(url, clients) });
  }

  get hasTrackers(): boolean {
    return this.#tiers.tiers.length > 0;
  }

  start(): void {
    if (this.hasTrackers) this.#schedule(0);
  }

  /** Ask for more peers soon (peer count is low), without going below the tracker's min interval. */
  requestPeers(now = Date.now()): void {
    if (!this.hasTrackers || this.#stopped || this.#inFlight || this.#failures > 0) return;
    const earliest = this.#lastAnnounceAt + Math.max(this.#minIntervalMs, 30_000);
    this.#schedule(Math.max(0, earliest - now));
  }

  completed(): void {
    if (this.hasTrackers && this.#startedSent && !this.#stopped) void this.#announce('completed');
  }

  /** Best-effort `stopped` within `timeoutMs`; never throws. */
  async stop(timeoutMs = 3_000): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#inFlight?.abort();
    if (this.hasTrackers && this.#startedSent) {
      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort(), timeoutMs);
      try {
        await Promise.all(
          this.#infoHashes().map((infoHash) =>
            this.#tiers.announce(this.#request('stopped', infoHash), controller.signal),
          ),
        );
      } catch {
        // A tracker that is down at shutdown must not hold up the exit.
      } finally {
        clearTimeout(timer);
      }
    }
    this.#tiers.close();
  }

  #infoHashes(): Uint8Array[] {
    const { infoHash, alsoInfoHash } = this.#options;
    return alsoInfoHash === undefined ? [infoHash] : [infoHash, alsoInfoHash];
  }

  #request(event: AnnounceEvent, infoHash: Uint8Array = this.#options.infoHash) {
    const totals = this.#options.totals();
    return {
      infoHash,
      peerId: this.#options.peerId,
      port: this.#options.port,
      uploaded: totals.uploaded,
      downloaded: totals.downloaded,
      left: totals.left,
      event,
      numwant: this.#options.numwant ?? 200,
    };
  }

  #schedule(delayMs: number): void {
    if (this.#stopped) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.#announce(this.#startedSent ? 'none' : 'started'), delayMs);
    this.#timer.unref();
  }

  async #announce(event: AnnounceEvent): Promise<void> {
    if (this.#stopped) return;
    this.#inFlight?.abort();
    const controller = new AbortController();
    this.#inFlight = controller;
    this.#lastAnnounceAt = Date.now();
    const also = this.#options.alsoInfoHash;
    if (also !== undefined) {
      this.#tiers.announce(this.#request(event, also), controller.signal).then(
        ({ url, response }) => {
          if (!this.#stopped && !controller.signal.aborted) this.#options.onPeers(response.peers, url);
        },
        () => {},
      );
    }
    try {
      const { url, response } = await this.#tiers.announce(this.#request(event), controller.signal);
      if (event === 'started') this.#startedSent = true;
      this.#failures = 0;
      this.lastResponse = response;
      this.#minIntervalMs = (response.minInterval ?? 0) * 1000;
      this.#options.onPeers(response.peers, url);
      const floor = (this.#options.minIntervalSeconds ?? 30) * 1000;
      this.#schedule(Math.max(floor, this.#minIntervalMs, response.interval * 1000));
    } catch (error) {
      if (controller.signal.aborted || this.#stopped) return;
      this.#failures++;
      const base = this.#options.retryMs ?? 15_000;
      const delay = Math.min(this.#options.maxRetryMs ?? 600_000, base * 2 ** (this.#failures - 1));
      const torkError = toTorkError(error, TorkErrorCode.TRACKER_ALL_FAILED);
      this.#options.onError(
        new TorkError(torkError.code, `${torkError.message} (retrying in ${Math.round(delay / 1000)} s)`, {
          ...torkError.details,
          retryMs: delay,
        }),
      );
      // `completed` is only a courtesy; what matters is that the next regular announce happens.
      this.#schedule(delay);
    } finally {
      if (this.#inFlight === controller) this.#inFlight = undefined;
    }
  }
}
