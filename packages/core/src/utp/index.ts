export {
  UtpConnection,
  type UtpConnectionOptions,
  type UtpConnectionState,
  type UtpConnectionStats,
} from './utp-connection.js';
export * from './utp-limits.js';
export {
  decodeUtpPacket,
  encodedUtpPacketBytes,
  encodeUtpPacket,
  UTP_EXTENSION_SACK,
  UTP_HEADER_BYTES,
  UTP_MAX_DATAGRAM_BYTES,
  UTP_MAX_EXTENSIONS,
  UTP_MAX_SENT_SACK_BYTES,
  UTP_VERSION,
  type UtpPacket,
  UtpType,
} from './utp-packet.js';
