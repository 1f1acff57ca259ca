export * from './bencode/index.js';
export { Bitfield } from './bitfield.js';
export * from './dht/index.js';
export type { DiskFileHandle, DiskFs, DiskStats } from './disk/disk-fs.js';
export { nodeDiskFs } from './disk/disk-fs.js';
export type { DiskFile, DiskLayout } from './disk/disk-layout.js';
export {
  DEFAULT_MAX_CONCURRENT_WRITES,
  DEFAULT_MAX_OPEN_FILES,
  DEFAULT_MAX_QUEUED_BYTES,
  DiskWriter,
  type DiskWriterOptions,
} from './disk/disk-writer.js';
export { HandleCache, type HandleLease } from './disk/handle-cache.js';
export {
  HASH_READ_CHUNK_BYTES,
  type HashPiecesOptions,
  hashPiecesOnDisk,
  type PiecesOnDiskHashes,
} from './disk/hash-pieces-on-disk.js';
export { PART_COPY_CHUNK_BYTES, PART_DIR_NAME } from './disk/part-file.js';
export { type PieceSpanOnDisk, type ReadableHandle, readFully } from './disk/piece-span.js';
export { DOUBLE_ZERO } from './double-zero.js';
export type { ActorSystem } from './engine/actor-system.js';
export { Announcer, type AnnouncerOptions } from './engine/announcer.js';
export {
  type ChokeDecision,
  Choker,
  type ChokerOptions,
  type ChokerPeer,
  DEFAULT_UPLOAD_SLOTS,
} from './engine/choker.js';
export {
  DEFAULT_ENGINE_MAX_PEERS,
  Engine,
  type EngineOptions,
  type EnginePeerLimits,
  type MagnetTorrentOptions,
} from './engine/engine.js';
export {
  DEFAULT_METADATA_TIMEOUT_MS,
  type FetchedMetadata,
  METADATA_FETCHERS,
  MetadataFetch,
  type MetadataFetchEventMap,
  type MetadataFetchOptions,
  torrentFile,
} from './engine/metadata-fetch.js';
export {
  DEFAULT_MAX_CONNECTING,
  DEFAULT_MAX_PEERS,
  DEFAULT_USELESS_AFTER_SECONDS,
  type IncomingConnection,
  PeerBook,
  type PeerBookContext,
  type PeerBookOptions,
} from './engine/peer-book.js';
export {
  type DiscoveryHandle,
  type DiscoveryTorrent,
  type PeerDiscovery,
  TorrentDiscovery,
} from './engine/peer-discovery.js';
export { PeerPool, type PeerPoolOptions, type PeerSource, peerKey } from './engine/peer-pool.js';
export { PeerRecord } from './engine/peer-record.js';
export {
  type FetchedPieceLayers,
  HASH_REQUESTS_PER_PEER,
  HYBRID_LAYER_PATIENCE_MS,
  LAYER_GATHER_MS,
  missingPieceLayers,
  PieceLayerFetch,
  type PieceLayerFetchEventMap,
  type PieceLayerFetchOptions,
  withPieceLayers,
} from './engine/piece-layer-fetch.js';
export type { PeerView, TorrentProgress, TorrentState } from './engine/progress.js';
export {
  grantSize,
  RATE_BURST_SECONDS,
  RATE_GRANT_SECONDS,
  RATE_MAX_GRANT_BYTES,
  RATE_MIN_GRANT_BYTES,
  RATE_RETRY_MS,
  type RateDirection,
  RateGovernor,
  type RateGovernorOptions,
  RateLimiter,
  type RateLimits,
} from './engine/rate-governor.js';
export { TokenBucket } from './engine/token-bucket.js';
export { Torrent } from './engine/torrent.js';
export type { TorrentEventMap } from './engine/torrent-events.js';
export { type FilePriorityHook, TorrentFiles } from './engine/torrent-files.js';
export type { PeerLimits, TorrentContext, TorrentMeta, TorrentOptions } from './engine/torrent-options.js';
export { TorrentRates } from './engine/torrent-rates.js';
export {
  DEFAULT_TRANSPORT_POLICY,
  dialTransportKind,
  isTransportFailure,
  type PeerTransportKind,
  TRANSPORT_POLICIES,
  type TransportPolicy,
} from './engine/transport-policy.js';
export * from './errors.js';
export * from './lsd/index.js';
export * from './messages/index.js';
export * from './metainfo/index.js';
export * from './mse/index.js';
export * from './resume/index.js';
export {
  AssignmentPolicy,
  type AssignmentPolicyOptions,
  DEFAULT_ENDGAME_QUIET_MS,
  DEFAULT_STALL_COPY_MS,
  type PolicyPeer,
} from './scheduler/assignment-policy.js';
export { forEachSet, unitOf } from './scheduler/bit-scan.js';
export { MAX_URGENT_PIECES, PieceOrder, type PieceOrderOptions } from './scheduler/piece-order.js';
export {
  type AssignOptions,
  DEFAULT_BAN_AFTER_FAILURES,
  DEFAULT_ENDGAME_COPIES,
  DEFAULT_INITIAL_RANDOM_PIECES,
  DEFAULT_MAX_BYTES_IN_FLIGHT,
  type EndgameOptions,
  PieceScheduler,
  type PieceSchedulerOptions,
  type PieceSchedulerState,
  PieceState,
  type VerifiedResult,
} from './scheduler/piece-scheduler.js';
export { type PiecesForRateOptions, piecesForRate } from './scheduler/pieces-for-rate.js';
export {
  checkPriorities,
  type PiecePriority,
  PRIORITY_HIGH,
  PRIORITY_LOW,
  PRIORITY_NORMAL,
  PRIORITY_SKIP,
} from './scheduler/priority-tiers.js';
export { createRng, type Rng, randomInt } from './scheduler/rng.js';
export * from './selection/index.js';
export * from './trace/index.js';
export * from './tracker/index.js';
export * from './utp/index.js';
export { peerIdVersionDigits, TORK_CLIENT_NAME, TORK_VERSION } from './version.js';
export * from './webseed/index.js';
export * from './wire/index.js';
