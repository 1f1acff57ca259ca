/**
 * Peer wire messages (BEP 3, BEP 5 `port`, BEP 6 fast extension, BEP 10 extended, BEP 52 hash
 * request / hashes / hash reject), as plain objects discriminated on `type`.
 */
import type { Handshake } from './handshake.js';

/** Message ids on the wire. */
export const WireMessageId = {
  choke: 0,
  unchoke: 1,
  interested: 2,
  notInterested: 3,
  have: 4,
  bitfield: 5,
  request: 6,
  piece: 7,
  cancel: 8,
  port: 9,
  suggestPiece: 13,
  haveAll: 14,
  haveNone: 15,
  rejectRequest: 16,
  allowedFast: 17,
  extended: 20,
  /** BEP 52. */
  hashRequest: 21,
  /** BEP 52. */
  hashes: 22,
  /** BEP 52. */
  hashReject: 23,
} as const;

export type WireMessageId = (typeof WireMessageId)[keyof typeof WireMessageId];

/** Block requests tork sends, and what every client serves. */
export const BLOCK_LENGTH = 16 * 1024;

/** Messages about pieces (BEP 3 and BEP 6), meaningless before a magnet's metadata is known. */
export const PIECE_MESSAGE_TYPES: ReadonlySet<string> = new Set([
  'have',
  'bitfield',
  'have-all',
  'have-none',
  'request',
  'piece',
  'cancel',
  'reject-request',
  'allowed-fast',
  'suggest-piece',
]);

/** Bytes before a piece message's block: length prefix, id, index, begin. */
export const PIECE_HEADER_LENGTH = 13;

export interface KeepAliveMessage {
  readonly type: 'keep-alive';
}
export interface ChokeMessage {
  readonly type: 'choke';
}
export interface UnchokeMessage {
  readonly type: 'unchoke';
}
export interface InterestedMessage {
  readonly type: 'interested';
}
export interface NotInterestedMessage {
  readonly type: 'not-interested';
}
export interface HaveMessage {
  readonly type: 'have';
  readonly index: number;
}
export interface BitfieldMessage {
  readonly type: 'bitfield';
  /** BEP 3 bit order: piece 0 is the high bit of byte 0. Decoded: may be a view, see `WireDecoder`. */
  readonly bitfield: Uint8Array;
}
export interface RequestMessage {
  readonly type: 'request';
  readonly index: number;
  readonly begin: number;
  readonly length: number;
}
export interface PieceMessage {
  readonly type: 'piece';
  readonly index: number;
  readonly begin: number;
  /** Decoded: may be a view into a pushed chunk, see `WireDecoder`. */
  readonly block: Uint8Array;
}
export interface CancelMessage {
  readonly type: 'cancel';
  readonly index: number;
  readonly begin: number;
  readonly length: number;
}
/** BEP 5: the peer's DHT port. */
export interface PortMessage {
  readonly type: 'port';
  readonly port: number;
}
/** BEP 6. */
export interface SuggestPieceMessage {
  readonly type: 'suggest-piece';
  readonly index: number;
}
/** BEP 6. */
export interface HaveAllMessage {
  readonly type: 'have-all';
}
/** BEP 6. */
export interface HaveNoneMessage {
  readonly type: 'have-none';
}
/** BEP 6. */
export interface RejectRequestMessage {
  readonly type: 'reject-request';
  readonly index: number;
  readonly begin: number;
  readonly length: number;
}
/** BEP 6. */
export interface AllowedFastMessage {
  readonly type: 'allowed-fast';
  readonly index: number;
}
/** BEP 10: `extId` 0 is the extended handshake, others are ids the receiver assigned. */
export interface ExtendedMessage {
  readonly type: 'extended';
  readonly extId: number;
  /** Decoded: may be a view into a pushed chunk, see `WireDecoder`. */
  readonly payload: Uint8Array;
}

/**
 * BEP 52: the fields shared by `hash request`, `hashes` and `hash reject`. Which hashes of which
 * file's merkle tree: `length` hashes of layer `baseLayer` (0: the 16 KiB leaves) from `index`,
 * with the uncle hashes of `proofLayers` layers above them. Decoded: `piecesRoot` may be a view,
 * see `WireDecoder`.
 */
export interface HashRange {
  /** The file's merkle root (its `pieces root`), 32 bytes. */
  readonly piecesRoot: Uint8Array;
  /** Layers above the leaves: 0 is the leaf (block) layer, log2(piece length / 16 KiB) the piece layer. */
  readonly baseLayer: number;
  /** Offset, in hashes, of the first hash in the base layer; a multiple of `length`. */
  readonly index: number;
  /** Number of base-layer hashes: a power of two. */
  readonly length: number;
  /** Number of ancestor layers whose uncle hashes are asked for (the first log2(length) - 1 are implied). */
  readonly proofLayers: number;
}
/** BEP 52. Not validated beyond its size by the decoder: a request tork cannot serve is answered with a hash reject. */
export interface HashRequestMessage extends HashRange {
  readonly type: 'hash-request';
}
/** BEP 52: the answer to a hash request. */
export interface HashesMessage extends HashRange {
  readonly type: 'hashes';
  /** `length` 32-byte hashes of the base layer, concatenated. Decoded: may be a view. */
  readonly hashes: Uint8Array;
  /** The uncle hashes, 32 bytes each, from the lowest layer up. Decoded: may be a view. */
  readonly uncles: Uint8Array;
}
/** BEP 52: the peer will not serve this hash request. */
export interface HashRejectMessage extends HashRange {
  readonly type: 'hash-reject';
}

/** Every message tork can encode and decode. */
export type PeerMessage =
  | KeepAliveMessage
  | ChokeMessage
  | UnchokeMessage
  | InterestedMessage
  | NotInterestedMessage
  | HaveMessage
  | BitfieldMessage
  | RequestMessage
  | PieceMessage
  | CancelMessage
  | PortMessage
  | SuggestPieceMessage
  | HaveAllMessage
  | HaveNoneMessage
  | RejectRequestMessage
  | AllowedFastMessage
  | ExtendedMessage
  | HashRequestMessage
  | HashesMessage
  | HashRejectMessage;

/** The peer's handshake, first out of a decoder made with `expectHandshake`. */
export interface HandshakeMessage extends Handshake {
  readonly type: 'handshake';
}

/**
 * A message with an id tork does not know. BEP 3 says to ignore these: the decoder skips the
 * payload without buffering it and reports only its id and length.
 */
export interface UnknownMessage {
  readonly type: 'unknown';
  readonly id: number;
  /** Length of the payload after the id byte. */
  readonly length: number;
}

/** Everything a `WireDecoder` yields. */
export type WireMessage = HandshakeMessage | PeerMessage | UnknownMessage;
