export { validateAnnounceRequest } from './announce-request.js';
export type { CompactFamily } from './compact-peers.js';
export { decodeCompactPeers, encodeCompactPeers } from './compact-peers.js';
export type { TrackerClientOptions } from './create-tracker-client.js';
export { createTrackerClient } from './create-tracker-client.js';
export type { HttpTrackerClientOptions } from './http-client.js';
export {
  DEFAULT_HTTP_CONNECT_TIMEOUT_MS,
  DEFAULT_HTTP_MAX_REDIRECTS,
  DEFAULT_HTTP_TIMEOUT_MS,
  HttpTrackerClient,
  MAX_HTTP_SCRAPE_HASHES,
} from './http-client.js';
export type { HttpBodyLimits } from './http-codec.js';
export {
  buildAnnounceUrl,
  buildScrapeUrl,
  DEFAULT_HTTP_MAX_BODY_BYTES,
  parseAnnounceBody,
  parseScrapeBody,
  percentEncodeBytes,
  scrapeUrlFor,
} from './http-codec.js';
export { displayUrl as displayTrackerUrl } from './printable.js';
export type {
  TierAnnounceResult,
  TierListOptions,
  TrackerClientFactory,
  TrackerFailure,
} from './tier-list.js';
export { TierList } from './tier-list.js';
export type {
  AnnounceEvent,
  AnnounceRequest,
  AnnounceResponse,
  ByteCount,
  PeerAddress,
  ScrapeResponse,
  ScrapeStats,
  TrackerClient,
} from './types.js';
export type { ResolvedAddress, UdpTrackerClientOptions } from './udp-client.js';
export {
  DEFAULT_UDP_BASE_TIMEOUT_MS,
  DEFAULT_UDP_CONNECTION_ID_TTL_MS,
  DEFAULT_UDP_MAX_RETRANSMISSIONS,
  parseUdpTrackerUrl,
  UdpTrackerClient,
} from './udp-client.js';
export type { UdpRequest, UdpResponse } from './udp-codec.js';
export {
  decodeUdpRequest,
  decodeUdpResponse,
  encodeAnnounceRequest,
  encodeAnnounceResponse,
  encodeConnectRequest,
  encodeConnectResponse,
  encodeErrorResponse,
  encodeScrapeRequest,
  encodeScrapeResponse,
  MAX_UDP_SCRAPE_HASHES,
  UDP_PROTOCOL_ID,
  UdpAction,
} from './udp-codec.js';
