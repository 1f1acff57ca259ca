import { TorkError, TorkErrorCode } from '../errors.js';
import { HttpTrackerClient, type HttpTrackerClientOptions } from './http-client.js';
import { displayUrl } from './printable.js';
import type { TrackerClient } from './types.js';
import { UdpTrackerClient, type UdpTrackerClientOptions } from './udp-client.js';

export interface TrackerClientOptions {
  /** Options for `udp://` trackers. Default: BEP 15 defaults (see UdpTrackerClientOptions). */
  readonly udp?: UdpTrackerClientOptions;
  /** Options for `http://` and `https://` trackers. Default: see HttpTrackerClientOptions. */
  readonly http?: HttpTrackerClientOptions;
}

/**
 * The client for one announce URL, chosen by scheme: `udp:` → BEP 15, `http:`/`https:` → BEP 3.
 * Anything else (e.g. `wss:` WebTorrent trackers) or a malformed URL: TorkError TRACKER_URL.
 */
export function createTrackerClient(url: string, options: TrackerClientOptions = {}): TrackerClient {
  let protocol: string;
  try {
    protocol = new URL(url).protocol;
  } catch {
    throw new TorkError(TorkErrorCode.TRACKER_URL, `not a tracker URL: ${displayUrl(url)}`, {
      url: displayUrl(url),
    });
  }
  switch (protocol) {
    case 'udp:':
      return new UdpTrackerClient(url, options.udp);
    case 'http:':
    case 'https:':
      return new HttpTrackerClient(url, options.http);
    default:
      throw new TorkError(
        TorkErrorCode.TRACKER_URL,
        `unsupported tracker scheme '${protocol.slice(0, 20)}' in ${displayUrl(url)}`,
        { url: displayUrl(url) },
      );
  }
}
