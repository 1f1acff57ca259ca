export * from './dht-limits.js';
export {
  DhtContact,
  DhtId,
  DhtStateFile,
  Ipv4Host,
  parseDhtState,
  UdpPort,
} from './dht-state.js';
export {
  COMPACT_NODE_BYTES,
  COMPACT_PEER_BYTES,
  KRPC_QUERIES,
  type KrpcQueryName,
  type KrpcSanitizeOptions,
  type SanitizedKrpc,
  sanitizeKrpc,
} from './krpc.js';
