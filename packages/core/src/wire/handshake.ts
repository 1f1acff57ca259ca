/**
 * The BEP 3 handshake: `<19>"BitTorrent protocol"<8 reserved><20 info-hash><20 peer id>`, 68 bytes.
 */
import { TorkError, TorkErrorCode } from '../errors.js';
import {
  DEFAULT_RESERVED_FLAGS,
  decodeReserved,
  encodeReserved,
  RESERVED_LENGTH,
  ReservedBits,
  type ReservedFlags,
  setReservedBit,
} from './reserved-bits.js';

export const PROTOCOL_STRING = 'BitTorrent protocol';
/** The protocol string's bytes (ASCII). */
export const PROTOCOL_BYTES: Uint8Array = Uint8Array.from(PROTOCOL_STRING, (char) => char.charCodeAt(0));
/** Bytes in a handshake. */
export const HANDSHAKE_LENGTH = 68;

/** Offsets inside the handshake. */
const RESERVED_AT = 20;
const INFO_HASH_AT = 28;
const PEER_ID_AT = 48;
const ID_LENGTH = 20;

export interface HandshakeOptions {
  /** 20-byte SHA-1 info-hash (BEP 52 v2 torrents: the truncated SHA-256). */
  readonly infoHash: Uint8Array;
  /** 20-byte peer id. */
  readonly peerId: Uint8Array;
  /**
   * The 8 reserved bytes to start from, copied. Default: tork's own, `DEFAULT_RESERVED_FLAGS`
   * (extension protocol and fast extension, no DHT). The flags below, when given, then set or
   * clear their bit on top of it.
   */
  readonly reserved?: Uint8Array;
  /** Advertise BEP 10 (extension protocol). Default: as in `reserved` (true when it is absent). */
  readonly extensionProtocol?: boolean;
  /** Advertise BEP 6 (fast extension). Default: as in `reserved` (true when it is absent). */
  readonly fastExtension?: boolean;
  /** Advertise BEP 5 (DHT). Default: as in `reserved` (false when it is absent). */
  readonly dht?: boolean;
  /**
   * Advertise BEP 52 (v2). Default: as in `reserved` (false when it is absent). Only for a v2 or
   * hybrid torrent: libtorrent drops a peer that sets it for a torrent it knows to be v1-only.
   */
  readonly v2?: boolean;
}

/** A parsed handshake. Its arrays are copies: they never pin the buffer they were read from. */
export interface Handshake extends ReservedFlags {
  readonly infoHash: Uint8Array;
  readonly peerId: Uint8Array;
  readonly reserved: Uint8Array;
}

export function encodeHandshake(options: HandshakeOptions): Uint8Array<ArrayBuffer> {
  const { infoHash, peerId } = options;
  checkLength('info-hash', infoHash, ID_LENGTH);
  checkLength('peer id', peerId, ID_LENGTH);
  const out = new Uint8Array(HANDSHAKE_LENGTH);
  out[0] = PROTOCOL_BYTES.length;
  out.set(PROTOCOL_BYTES, 1);
  if (options.reserved !== undefined) {
    checkLength('reserved field', options.reserved, RESERVED_LENGTH);
    out.set(options.reserved, RESERVED_AT);
  } else {
    out.set(encodeReserved(DEFAULT_RESERVED_FLAGS), RESERVED_AT);
  }
  const reserved = out.subarray(RESERVED_AT, INFO_HASH_AT);
  if (options.extensionProtocol !== undefined) {
    setReservedBit(reserved, ReservedBits.extensionProtocol, options.extensionProtocol);
  }
  if (options.fastExtension !== undefined) {
    setReservedBit(reserved, ReservedBits.fastExtension, options.fastExtension);
  }
  if (options.dht !== undefined) setReservedBit(reserved, ReservedBits.dht, options.dht);
  if (options.v2 !== undefined) setReservedBit(reserved, ReservedBits.v2, options.v2);
  out.set(infoHash, INFO_HASH_AT);
  out.set(peerId, PEER_ID_AT);
  return out;
}

/**
 * Parses the handshake at the start of `bytes` (anything after its 68 bytes is ignored).
 * Throws TorkError WIRE_HANDSHAKE when it is truncated or not a BitTorrent handshake.
 */
export function parseHandshake(bytes: Uint8Array): Handshake {
  checkHandshakePrefix(bytes, Math.min(bytes.length, HANDSHAKE_LENGTH));
  if (bytes.length < HANDSHAKE_LENGTH) {
    throw new TorkError(
      TorkErrorCode.WIRE_HANDSHAKE,
      `handshake truncated: ${bytes.length} of ${HANDSHAKE_LENGTH} bytes`,
      { length: bytes.length },
    );
  }
  const reserved = bytes.slice(RESERVED_AT, INFO_HASH_AT);
  return {
    infoHash: bytes.slice(INFO_HASH_AT, PEER_ID_AT),
    peerId: bytes.slice(PEER_ID_AT, HANDSHAKE_LENGTH),
    reserved,
    ...decodeReserved(reserved),
  };
}

/**
 * Checks the first `available` bytes of a handshake (the pstrlen byte and as much of the protocol
 * string as is there), so that a decoder can refuse an HTTP request or an encrypted (MSE) stream
 * on its first byte instead of after 68.
 */
export function checkHandshakePrefix(bytes: Uint8Array, available: number): void {
  if (available === 0) return;
  const pstrlen = bytes[0]!;
  if (pstrlen !== PROTOCOL_BYTES.length) {
    throw new TorkError(
      TorkErrorCode.WIRE_HANDSHAKE,
      `not a BitTorrent handshake: protocol name length ${pstrlen}, expected ${PROTOCOL_BYTES.length}` +
        ' (an encrypted or non-BitTorrent connection?)',
      { pstrlen },
    );
  }
  const end = Math.min(available, RESERVED_AT);
  for (let i = 1; i < end; i++) {
    if (bytes[i] !== PROTOCOL_BYTES[i - 1]) {
      const seen = Array.from(bytes.subarray(1, end), (byte) =>
        byte >= 0x20 && byte < 0x7f ? String.fromCharCode(byte) : '?',
      ).join('');
      throw new TorkError(
        TorkErrorCode.WIRE_HANDSHAKE,
        `not a BitTorrent handshake: protocol "${seen}", expected "${PROTOCOL_STRING}"`,
        { protocol: seen },
      );
    }
  }
}

function checkLength(what: string, bytes: Uint8Array, length: number): void {
  if (bytes.length !== length) {
    throw new TorkError(
      TorkErrorCode.INTERNAL,
      `handshake ${what} of ${bytes.length} bytes, expected ${length}`,
      {
        length: bytes.length,
      },
    );
  }
}
