import { TorkError, TorkErrorCode } from '../errors.js';

/** Length of the handshake's reserved field, in bytes. */
export const RESERVED_LENGTH = 8;

/** One feature bit of the handshake's reserved field: byte index (0..7) and bit mask. */
export interface ReservedBit {
  readonly byte: number;
  readonly mask: number;
}

/** The reserved bits tork knows. Bytes count from 0, bits from the most significant of each byte. */
export const ReservedBits = {
  /** BEP 10 extension protocol: bit 20 from the right, i.e. byte 5, 0x10. */
  extensionProtocol: { byte: 5, mask: 0x10 },
  /** BEP 6 fast extension: byte 7, 0x04. */
  fastExtension: { byte: 7, mask: 0x04 },
  /** BEP 5 DHT (the peer accepts a `port` message): byte 7, 0x01. */
  dht: { byte: 7, mask: 0x01 },
  /**
   * BEP 52 (upgrade path): the peer supports BitTorrent v2; "the 4th most significant bit in the
   * last byte", byte 7, 0x10. libtorrent drops a peer that sets it for a torrent it knows to be
   * v1-only, so set it only for v2 and hybrid torrents.
   */
  v2: { byte: 7, mask: 0x10 },
} as const satisfies Record<string, ReservedBit>;

/** The features a handshake advertises. */
export interface ReservedFlags {
  /** BEP 10 extension protocol. */
  readonly extensionProtocol: boolean;
  /** BEP 6 fast extension. */
  readonly fastExtension: boolean;
  /** BEP 5 DHT. */
  readonly dht: boolean;
  /** BEP 52: the peer supports BitTorrent v2 (see `ReservedBits.v2`). */
  readonly v2: boolean;
}

/** What tork advertises unless told otherwise: no DHT unless asked; v2 only for a v2 or hybrid torrent. */
export const DEFAULT_RESERVED_FLAGS: ReservedFlags = {
  extensionProtocol: true,
  fastExtension: true,
  dht: false,
  v2: false,
};

export function hasReservedBit(reserved: Uint8Array, bit: ReservedBit): boolean {
  return ((reserved[bit.byte] ?? 0) & bit.mask) !== 0;
}

/** Sets or clears `bit` in place. */
export function setReservedBit(reserved: Uint8Array, bit: ReservedBit, on = true): void {
  if (reserved.length !== RESERVED_LENGTH) {
    throw new TorkError(TorkErrorCode.INTERNAL, `reserved field of ${reserved.length} bytes, expected 8`);
  }
  const byte = reserved[bit.byte]!;
  reserved[bit.byte] = on ? byte | bit.mask : byte & ~bit.mask;
}

/** A fresh 8-byte reserved field with exactly the given features' bits set. */
export function encodeReserved(
  flags: Partial<ReservedFlags> = DEFAULT_RESERVED_FLAGS,
): Uint8Array<ArrayBuffer> {
  const reserved = new Uint8Array(RESERVED_LENGTH);
  if (flags.extensionProtocol) setReservedBit(reserved, ReservedBits.extensionProtocol);
  if (flags.fastExtension) setReservedBit(reserved, ReservedBits.fastExtension);
  if (flags.dht) setReservedBit(reserved, ReservedBits.dht);
  if (flags.v2) setReservedBit(reserved, ReservedBits.v2);
  return reserved;
}

/** The known features of a reserved field; other bits are ignored, as BEP 3 asks. */
export function decodeReserved(reserved: Uint8Array): ReservedFlags {
  return {
    extensionProtocol: hasReservedBit(reserved, ReservedBits.extensionProtocol),
    fastExtension: hasReservedBit(reserved, ReservedBits.fastExtension),
    dht: hasReservedBit(reserved, ReservedBits.dht),
    v2: hasReservedBit(reserved, ReservedBits.v2),
  };
}
