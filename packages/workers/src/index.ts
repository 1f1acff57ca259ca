/** Defined by core's schemas (they cross a thread); re-exported where the threads are. */
export type { HostStats, PeerHostSettings, PeerHostWorkerData } from '@tork/core';
export {
  type AvailableCoresSources,
  availableCores,
  cgroupCpuLimit,
  cgroupV1CpuLimit,
  defaultPeerHosts,
} from './coordinator/available-cores.js';
export { DhtService, type DhtServiceEvent, type DhtServiceOptions } from './coordinator/dht-service.js';
export {
  defaultDhtBootstrap,
  defaultDhtStatePath,
  isHermetic,
  loadDhtState,
  PUBLIC_DHT_ROUTERS,
  saveDhtState,
} from './coordinator/dht-state-file.js';
export { HashPool, type HashPoolOptions, type HashResult } from './coordinator/hash-pool.js';
export {
  type IncomingPeer,
  Listener,
  type ListenerOptions,
  type ListenerStats,
} from './coordinator/listener.js';
export {
  LocalServiceDiscovery,
  type LocalServiceDiscoveryOptions,
  LSD_ANNOUNCE_INTERVAL_MS,
  LSD_MAX_MESSAGES_PER_SECOND,
  LSD_MAX_SOURCES_PER_SECOND,
  LSD_MIN_ANNOUNCE_INTERVAL_MS,
  LSD_MULTICAST_TTL,
  type LsdStats,
} from './coordinator/lsd.js';
export {
  eagerPeerHosts,
  type PeerHostThread,
  peerHostWorkerData,
  prestartPeerHosts,
  startPeerHostThread,
  workersFromArgs,
} from './coordinator/peer-host-threads.js';
export {
  type BatchTrace,
  GROW_BUSY_SHARE,
  type HostedIncoming,
  type HostTraffic,
  hasReusePort,
  ThreadActorSystem,
  type ThreadActorSystemOptions,
  type UtpDialer,
} from './coordinator/thread-actor-system.js';
export {
  type UdpHostClosed,
  type UdpHostListener,
  type UdpHostPart,
  UdpHostThread,
  type UdpHostThreadOptions,
} from './coordinator/udp-host-thread.js';
export { UtpService, type UtpServiceOptions, type UtpServiceStats } from './coordinator/utp-service.js';
export type { DownloaderOptions } from './peer-host/download/downloader.js';
export type { RequestPipelineOptions } from './peer-host/download/request-pipeline.js';
export type { HostErrorReporter, PeerHostOptions } from './peer-host/peer-host.js';
export type { PeerHostApi } from './peer-host/peer-host-api.js';
export type { RateMeterOptions } from './peer-host/rate-meter.js';
export type { PeerActorOptions, PeerSessionOptions } from './peer-host/session/peer-session-options.js';
export type { PieceReaderOptions } from './peer-host/upload/piece-reader.js';
export type { UploaderOptions } from './peer-host/upload/uploader.js';
export { type NodeMessageTarget, nodeEndpoint } from './shared/comlink-node-adapter.js';
export { type ThreadCode, threadCode, threadEntry } from './shared/thread-entry.js';
export { classifyDatagram, type DatagramKind } from './udp-host/datagram-demux.js';
export { UdpHost, type UdpHostEmit, type UdpHostOptions } from './udp-host/udp-host.js';
export {
  UTP_HALF_OPEN_TIMEOUT_MS,
  UTP_MAX_CONNECTIONS,
  UTP_MAX_HALF_OPEN,
  UTP_RESETS_PER_SECOND,
} from './udp-host/utp-host.js';
