import { TorkError, TorkErrorCode } from '../errors.js';

/**
 * The uTP packet codec (BEP 29, version 1): a 20-byte header, an extension chain (only selective
 * ACK is understood; other extensions are skipped as the BEP asks), then the payload. Pure: no
 * state, no sockets; the UDP host decodes each datagram and hands the result to its connection.
 *
 * Header layout (big-endian): type (4 bits) | version (4 bits), first extension type (u8),
 * connection_id (u16), timestamp_microseconds (u32), timestamp_difference_microseconds (u32),
 * wnd_size (u32), seq_nr (u16), ack_nr (u16). Each extension: next extension type (u8), length
 * (u8), `length` bytes.
 */

/** Bytes of the fixed uTP header. */
export const UTP_HEADER_BYTES = 20;
/** The only uTP version there is (BEP 29's "version 1"). */
export const UTP_VERSION = 1;
/** Extension type of the selective ACK bitmask. */
export const UTP_EXTENSION_SACK = 1;
/**
 * Largest datagram decoded; checked before anything else. A UDP datagram cannot be larger, and no
 * uTP implementation sends more than its path MTU.
 */
export const UTP_MAX_DATAGRAM_BYTES = 64 * 1024;
/**
 * Extensions in one packet's chain beyond which it is refused. Real peers send at most two (SACK,
 * libtorrent's close reason); the cap stops a datagram of empty extensions from costing a loop.
 */
export const UTP_MAX_EXTENSIONS = 8;
/** Longest SACK bitmask we put in a packet: 256 packets past ack_nr + 1, as BEP 29 sizes it (×4). */
export const UTP_MAX_SENT_SACK_BYTES = 32;

/** Packet types (the high nibble of the first byte). */
export const UtpType = { data: 0, fin: 1, state: 2, reset: 3, syn: 4 } as const;
export type UtpType = (typeof UtpType)[keyof typeof UtpType];

export interface UtpPacket {
  readonly type: UtpType;
  /** u16. */
  readonly connectionId: number;
  /** u32: the sender's clock in µs (wraps). */
  readonly timestampMicros: number;
  /** u32: the sender's receive time of our last packet minus that packet's timestamp (wraps). */
  readonly timestampDifferenceMicros: number;
  /** u32: bytes the sender can still take in (its advertised receive window). */
  readonly windowSize: number;
  /** u16. */
  readonly seq: number;
  /** u16. */
  readonly ack: number;
  /**
   * Selective ACK bitmask: bit i (least significant bit of byte 0 first) stands for packet
   * ack + 2 + i. Decoded: a view into the datagram, 1..255 bytes. Encoded: must be 4..32 bytes, a
   * multiple of 4 (what BEP 29 prescribes and libutp expects).
   */
  readonly sack?: Uint8Array;
  /**
   * A view into the decoded datagram (no copy). Only ST_DATA carries meaning here: the decoder
   * accepts a payload on other types and the connection ignores it (libtorrent tolerates the same).
   */
  readonly payload: Uint8Array;
}

const EMPTY = new Uint8Array(0);

function refuse(reason: string, details: Record<string, number> = {}): never {
  throw new TorkError(TorkErrorCode.UTP, `uTP packet refused: ${reason}`, { reason, ...details });
}

/**
 * Decodes one datagram; throws only TorkError(UTP). The SACK and payload are views into `bytes`.
 *
 * The SACK length is accepted from 1 to 255 bytes, not only BEP 29's multiples of 4 up to 32:
 * libtorrent sends ceil(span / 8) bytes of bitmask, as many as its reorder buffer spans (up to its
 * MTU), so refusing those would drop every packet libtorrent sends while it waits for a lost one.
 * The u8 length field bounds the work: at most 2,040 bits per packet.
 */
export function decodeUtpPacket(bytes: Uint8Array): UtpPacket {
  const length = bytes.length;
  if (length > UTP_MAX_DATAGRAM_BYTES) refuse('datagram too large', { length });
  if (length < UTP_HEADER_BYTES) refuse('shorter than the header', { length });
  const first = bytes[0]!;
  const version = first & 0x0f;
  if (version !== UTP_VERSION) refuse('unknown version', { version });
  const type = first >> 4;
  if (type > UtpType.syn) refuse('unknown type', { type });
  let extension = bytes[1]!;
  let at = UTP_HEADER_BYTES;
  let sack: Uint8Array | undefined;
  let count = 0;
  while (extension !== 0) {
    if (++count > UTP_MAX_EXTENSIONS) refuse('too many extensions', { max: UTP_MAX_EXTENSIONS });
    if (at + 2 > length) refuse('truncated extension header', { extension, at });
    const next = bytes[at]!;
    const extensionLength = bytes[at + 1]!;
    at += 2;
    if (at + extensionLength > length)
      refuse('extension overruns the datagram', { extension, extensionLength });
    if (extension === UTP_EXTENSION_SACK) {
      if (extensionLength === 0) refuse('empty SACK');
      if (sack !== undefined) refuse('two SACK extensions');
      sack = bytes.subarray(at, at + extensionLength);
    }
    at += extensionLength;
    extension = next;
  }
  // Plain reads rather than a DataView: this runs for every datagram (~70,000 a second).
  return {
    type: type as UtpType,
    connectionId: (bytes[2]! << 8) | bytes[3]!,
    timestampMicros: readU32(bytes, 4),
    timestampDifferenceMicros: readU32(bytes, 8),
    windowSize: readU32(bytes, 12),
    seq: (bytes[16]! << 8) | bytes[17]!,
    ack: (bytes[18]! << 8) | bytes[19]!,
    sack,
    payload: at === length ? EMPTY : bytes.subarray(at),
  };
}

function readU32(bytes: Uint8Array, at: number): number {
  return ((bytes[at]! << 24) | (bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!) >>> 0;
}

function writeU32(out: Uint8Array, at: number, value: number): void {
  out[at] = value >>> 24;
  out[at + 1] = value >>> 16;
  out[at + 2] = value >>> 8;
  out[at + 3] = value;
}

/**
 * Writes the 20-byte header at the start of `out` (no allocation, no validation): the connection's
 * send path, which fills one reused buffer per packet. u16 and u32 fields are taken modulo 2^16 and
 * 2^32.
 */
export function writeUtpHeader(
  out: Uint8Array,
  type: UtpType,
  firstExtension: number,
  connectionId: number,
  timestampMicros: number,
  timestampDifferenceMicros: number,
  windowSize: number,
  seq: number,
  ack: number,
): void {
  out[0] = (type << 4) | UTP_VERSION;
  out[1] = firstExtension;
  out[2] = connectionId >>> 8;
  out[3] = connectionId;
  writeU32(out, 4, timestampMicros);
  writeU32(out, 8, timestampDifferenceMicros);
  writeU32(out, 12, windowSize);
  out[16] = seq >>> 8;
  out[17] = seq;
  out[18] = ack >>> 8;
  out[19] = ack;
}

/** Bytes `packet` takes encoded. */
export function encodedUtpPacketBytes(packet: UtpPacket): number {
  return UTP_HEADER_BYTES + (packet.sack ? 2 + packet.sack.length : 0) + packet.payload.length;
}

/**
 * Encodes `packet`. With `into`, writes at its start and returns the view of the bytes written (no
 * allocation: the connection reuses one buffer for every packet it sends); `into` must be large
 * enough. Throws TorkError(UTP) for a SACK of the wrong size or a buffer too small: a bug of ours,
 * never caused by a peer. u16 and u32 fields are taken modulo 2^16 and 2^32.
 */
export function encodeUtpPacket(packet: UtpPacket, into?: Uint8Array): Uint8Array {
  const sack = packet.sack;
  if (
    sack !== undefined &&
    (sack.length < 4 || sack.length > UTP_MAX_SENT_SACK_BYTES || sack.length % 4 !== 0)
  )
    refuse('SACK to send must be 4..32 bytes, a multiple of 4', { length: sack.length });
  const size = encodedUtpPacketBytes(packet);
  if (size > UTP_MAX_DATAGRAM_BYTES) refuse('datagram too large', { length: size });
  const out = into ?? new Uint8Array(size);
  if (out.length < size) refuse('buffer too small', { length: out.length, needed: size });
  writeUtpHeader(
    out,
    packet.type,
    sack ? UTP_EXTENSION_SACK : 0,
    packet.connectionId,
    packet.timestampMicros,
    packet.timestampDifferenceMicros,
    packet.windowSize,
    packet.seq,
    packet.ack,
  );
  let at = UTP_HEADER_BYTES;
  if (sack) {
    out[at] = 0;
    out[at + 1] = sack.length;
    out.set(sack, at + 2);
    at += 2 + sack.length;
  }
  out.set(packet.payload, at);
  return into ? out.subarray(0, size) : out;
}
