/**
 * Shapes shared by every tracker client (UDP, HTTP(S)) and the multi-tracker tier list.
 * Protocol details stay in the codecs; these types are what the engine sees.
 */

/** The `event` of an announce. `'none'` is a regular (periodic) announce. */
export type AnnounceEvent = 'started' | 'completed' | 'stopped' | 'none';

/** A byte counter as sent to trackers: a non-negative safe integer or a bigint below 2^63. */
export type ByteCount = number | bigint;

export interface AnnounceRequest {
  /** SHA-1 info-hash, exactly 20 bytes. */
  readonly infoHash: Uint8Array;
  /** Our peer id, exactly 20 bytes. */
  readonly peerId: Uint8Array;
  /** The TCP port we accept peers on, 0–65535. */
  readonly port: number;
  readonly uploaded: ByteCount;
  readonly downloaded: ByteCount;
  readonly left: ByteCount;
  readonly event: AnnounceEvent;
  /** Peers wanted. Default: the tracker's choice (UDP sends -1, HTTP omits the parameter). */
  readonly numwant?: number;
  /** Random 32-bit key that lets a tracker recognise us across IP changes. Default: not sent (UDP: 0). */
  readonly key?: number;
  /** Our address, when it is not the one the tracker sees. Default: not sent (UDP: only an IPv4 literal is sent). */
  readonly ip?: string;
  /**
   * Tracker id to echo (HTTP only). Default: the one the HTTP client remembered from the last
   * response. A tracker id is an opaque byte string, held here one character per byte (latin1).
   */
  readonly trackerId?: string;
}

/** One peer address as learned from a tracker. `host` is an IP literal (or, from dict peers, a host name). */
export interface PeerAddress {
  readonly host: string;
  readonly port: number;
}

export interface AnnounceResponse {
  /** Seconds the tracker wants between regular announces. */
  readonly interval: number;
  /** Seconds below which the tracker refuses announces (HTTP `min interval`). */
  readonly minInterval?: number;
  /** IPv4 and IPv6 peers, port-0 entries removed. */
  readonly peers: readonly PeerAddress[];
  /** Seeders, as the tracker counts them. */
  readonly complete?: number;
  /** Leechers, as the tracker counts them. */
  readonly incomplete?: number;
  /** HTTP `tracker id` (one character per byte, latin1). */
  readonly trackerId?: string;
  /** HTTP `warning message`, made printable and shortened. */
  readonly warning?: string;
}

/** Counts for one torrent from a scrape. */
export interface ScrapeStats {
  /** Seeders. */
  readonly complete: number;
  /** Completed downloads ever reported (`downloaded` / BEP 15 `completed`). */
  readonly downloaded: number;
  /** Leechers. */
  readonly incomplete: number;
}

/**
 * Scrape result keyed by lowercase hex info-hash. A hash the tracker did not report is absent
 * (trackers leave out torrents they do not track).
 */
export type ScrapeResponse = ReadonlyMap<string, ScrapeStats>;

/** What the tier list needs from one tracker, whatever its protocol. */
export interface TrackerClient {
  /** The announce URL this client talks to. */
  readonly url: string;
  /** Announces; throws TorkError (TRACKER_*, LIMIT_EXCEEDED, ABORTED) on failure. */
  announce(request: AnnounceRequest, signal?: AbortSignal): Promise<AnnounceResponse>;
  /** Scrapes; absent when the protocol cannot. Throws TRACKER_URL when this tracker has no scrape URL. */
  scrape?(infoHashes: readonly Uint8Array[], signal?: AbortSignal): Promise<ScrapeResponse>;
  /** Releases sockets. Safe to call more than once. */
  close?(): void;
}
