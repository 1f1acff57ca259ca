export { HashPool, type HashPoolOptions, type HashResult } from './coordinator/hash-pool.js';
export {
  type IncomingPeer,
  Listener,
  type ListenerOptions,
  type ListenerStats,
} from './coordinator/listener.js';
export { ThreadActorSystem, type ThreadActorSystemOptions } from './coordinator/thread-actor-system.js';
export type { PieceSpan } from './hash-worker/hash-job.js';
export type { RequestPipelineOptions } from './peer-host/download/request-pipeline.js';
export type { HostErrorReporter, HostStats, PeerHostOptions } from './peer-host/peer-host.js';
export type { RateMeterOptions } from './peer-host/rate-meter.js';
export type { PeerActorOptions } from './peer-host/session/peer-actor.js';
export type { PieceReaderOptions } from './peer-host/upload/piece-reader.js';
export { type NodeMessageTarget, nodeEndpoint } from './shared/comlink-node-adapter.js';
export type { PeerHostApi, PeerHostWorkerData } from './shared/peer-host-api.js';
