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
export { parseRelayMessage, RELAY_WINDOW_BYTES, RelayMessage } from './relay-message.js';
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
  parseHostStats,
  parsePeerHostWorkerData,
  parsePlainError,
  parseUdpHostCommand,
  parseUdpHostEvent,
  parseUdpHostWorkerData,
  precompileCoordinatorParsers,
  precompileHostCommandParser,
} from './validate.js';
