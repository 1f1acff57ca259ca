export {
  HostListenOptions,
  HostStats,
  PeerActorSettings,
  PeerHostSettings,
  PeerHostWorkerData,
  PieceReaderSettings,
} from './control-plane.js';
export { HashJob, HashJobResult, MAX_HASH_JOB_PIECES, PieceSpanOnDiskSchema } from './hash-job.js';
export { HostCommand, HostCommandBatch, HostFile, MAX_TORRENT_PEERS, SwarmPeer } from './host-command.js';
export {
  ActorStats,
  HostEvent,
  HostEventBatch,
  MAX_PIECE_BATCH_BYTES,
  MAX_PIECES_PER_EVENT,
  ReleaseReason,
  SMALL_PIECE_EVENT_BYTES,
} from './host-event.js';
export {
  MAX_HOST_FILES,
  RELAY_WINDOW_BYTES,
} from './message-limits.js';
export { PlainTorkErrorSchema } from './plain-error.js';
export { RelayMessage } from './relay-message.js';
export {
  DhtBootstrapAddress,
  DhtNodeSettings,
  UdpHostCommand,
  UdpHostEvent,
  UdpHostStats,
  UdpHostWorkerData,
  UtpHostSettings,
} from './udp-host.js';
export {
  MAX_EVENTS_PER_BATCH,
  parseHashJob,
  parseHashJobResult,
  parseHostCommandBatch,
  parseHostEventBatch,
  parseHostEvents,
  parseHostListenOptions,
  parseHostStats,
  parsePeerHostWorkerData,
  parsePlainError,
  parseRelayMessage,
  parseUdpHostCommand,
  parseUdpHostEvent,
  parseUdpHostWorkerData,
} from './validate.js';
