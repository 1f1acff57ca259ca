/**
 * What a datagram on the torrent port is, from its first bytes. One UDP socket serves the DHT
 * (KRPC, BEP 5) and, from the next issue on, uTP (BEP 29), as libtorrent does; the UDP host routes
 * each datagram by this and nothing else.
 *
 * - KRPC is a bencoded dictionary: byte 0 is `d` (0x64).
 * - uTP packets start with `type << 4 | version`: version 1 in the low nibble, type 0–4 (ST_DATA,
 *   ST_FIN, ST_STATE, ST_RESET, ST_SYN) in the high one, and a 20-byte header. `d` has 4 in its low
 *   nibble, so the two never overlap.
 *
 * A uTP branch plugs in by handling `'utp'` in the host's switch; nothing here changes.
 */
export type DatagramKind = 'krpc' | 'utp' | 'unknown';

/** Bytes of a uTP header (BEP 29). */
export const UTP_HEADER_BYTES = 20;

export function classifyDatagram(bytes: Uint8Array): DatagramKind {
  const first = bytes[0];
  if (first === undefined) return 'unknown';
  if (first === 0x64) return 'krpc';
  if ((first & 0x0f) === 1 && first >> 4 <= 4 && bytes.length >= UTP_HEADER_BYTES) return 'utp';
  return 'unknown';
}
