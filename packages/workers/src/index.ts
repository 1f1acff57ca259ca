export { type NodeMessageTarget, nodeEndpoint } from './comlink-node-adapter.js';
export type { PieceSpan } from './hash-job.js';
export { HashPool, type HashPoolOptions, type HashResult } from './hash-pool.js';
export type { PeerActorOptions } from './peer-actor.js';
export type { HostErrorReporter, HostStats, PeerHostOptions } from './peer-host.js';
export type { PeerHostApi, PeerHostWorkerData } from './peer-host-api.js';
export type { RateMeterOptions } from './rate-meter.js';
export type { RequestPipelineOptions } from './request-pipeline.js';
export { ThreadActorSystem, type ThreadActorSystemOptions } from './thread-actor-system.js';
