/**
 * Pure encoders for peer wire messages: each returns a fresh, exactly-sized `Uint8Array` that owns
 * its ArrayBuffer (never a pooled Buffer), so it may be written or transferred as is.
 * Arguments out of range (a negative index, a port above 65535…) are bugs of the caller:
 * TorkError INTERNAL, never a silently wrapped number.
 */
import { TorkError, TorkErrorCode } from '../errors.js';
import { encodeHashes, encodeHashReject, encodeHashRequest } from './hash-messages.js';
import { type PeerMessage, PIECE_HEADER_LENGTH, WireMessageId } from './messages.js';

/** Largest value of a 32-bit field. */
const U32_MAX = 0xffff_ffff;

export function encodeKeepAlive(): Uint8Array<ArrayBuffer> {
  return new Uint8Array(4);
}

export function encodeChoke(): Uint8Array<ArrayBuffer> {
  return idOnly(WireMessageId.choke);
}

export function encodeUnchoke(): Uint8Array<ArrayBuffer> {
  return idOnly(WireMessageId.unchoke);
}

export function encodeInterested(): Uint8Array<ArrayBuffer> {
  return idOnly(WireMessageId.interested);
}

export function encodeNotInterested(): Uint8Array<ArrayBuffer> {
  return idOnly(WireMessageId.notInterested);
}

export function encodeHave(index: number): Uint8Array<ArrayBuffer> {
  return oneU32(WireMessageId.have, index);
}

export function encodeBitfield(bitfield: Uint8Array): Uint8Array<ArrayBuffer> {
  const out = frame(WireMessageId.bitfield, bitfield.length);
  out.set(bitfield, 5);
  return out;
}

export function encodeRequest(index: number, begin: number, length: number): Uint8Array<ArrayBuffer> {
  return threeU32(WireMessageId.request, index, begin, length);
}

/** The whole piece message, block copied in. A sender that has the block should prefer `encodePieceHeader`. */
export function encodePiece(index: number, begin: number, block: Uint8Array): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(PIECE_HEADER_LENGTH + block.length);
  writePieceHeader(out, index, begin, block.length);
  out.set(block, PIECE_HEADER_LENGTH);
  return out;
}

/**
 * Just the 13 bytes before a piece message's block: write this, then the block itself, and the
 * block is never copied.
 */
export function encodePieceHeader(
  index: number,
  begin: number,
  blockLength: number,
): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(PIECE_HEADER_LENGTH);
  writePieceHeader(out, index, begin, blockLength);
  return out;
}

export function encodeCancel(index: number, begin: number, length: number): Uint8Array<ArrayBuffer> {
  return threeU32(WireMessageId.cancel, index, begin, length);
}

/** BEP 5. */
export function encodePort(port: number): Uint8Array<ArrayBuffer> {
  if (!Number.isInteger(port) || port < 0 || port > 0xffff) {
    throw new TorkError(TorkErrorCode.INTERNAL, `port ${port} is not a 16-bit number`, { port });
  }
  const out = frame(WireMessageId.port, 2);
  out[5] = port >>> 8;
  out[6] = port & 0xff;
  return out;
}

/** BEP 6. */
export function encodeSuggestPiece(index: number): Uint8Array<ArrayBuffer> {
  return oneU32(WireMessageId.suggestPiece, index);
}

/** BEP 6. */
export function encodeHaveAll(): Uint8Array<ArrayBuffer> {
  return idOnly(WireMessageId.haveAll);
}

/** BEP 6. */
export function encodeHaveNone(): Uint8Array<ArrayBuffer> {
  return idOnly(WireMessageId.haveNone);
}

/** BEP 6. */
export function encodeRejectRequest(index: number, begin: number, length: number): Uint8Array<ArrayBuffer> {
  return threeU32(WireMessageId.rejectRequest, index, begin, length);
}

/** BEP 6. */
export function encodeAllowedFast(index: number): Uint8Array<ArrayBuffer> {
  return oneU32(WireMessageId.allowedFast, index);
}

/** BEP 10: `extId` 0 is the extended handshake; `payload` is usually bencoded. */
export function encodeExtended(extId: number, payload: Uint8Array): Uint8Array<ArrayBuffer> {
  if (!Number.isInteger(extId) || extId < 0 || extId > 0xff) {
    throw new TorkError(TorkErrorCode.INTERNAL, `extended message id ${extId} is not a byte`, { extId });
  }
  const out = frame(WireMessageId.extended, 1 + payload.length);
  out[5] = extId;
  out.set(payload, 6);
  return out;
}

export function encodeMessage(message: PeerMessage): Uint8Array<ArrayBuffer> {
  switch (message.type) {
    case 'keep-alive':
      return encodeKeepAlive();
    case 'choke':
      return encodeChoke();
    case 'unchoke':
      return encodeUnchoke();
    case 'interested':
      return encodeInterested();
    case 'not-interested':
      return encodeNotInterested();
    case 'have':
      return encodeHave(message.index);
    case 'bitfield':
      return encodeBitfield(message.bitfield);
    case 'request':
      return encodeRequest(message.index, message.begin, message.length);
    case 'piece':
      return encodePiece(message.index, message.begin, message.block);
    case 'cancel':
      return encodeCancel(message.index, message.begin, message.length);
    case 'port':
      return encodePort(message.port);
    case 'suggest-piece':
      return encodeSuggestPiece(message.index);
    case 'have-all':
      return encodeHaveAll();
    case 'have-none':
      return encodeHaveNone();
    case 'reject-request':
      return encodeRejectRequest(message.index, message.begin, message.length);
    case 'allowed-fast':
      return encodeAllowedFast(message.index);
    case 'extended':
      return encodeExtended(message.extId, message.payload);
    case 'hash-request':
      return encodeHashRequest(message);
    case 'hashes':
      return encodeHashes(message, message.hashes, message.uncles);
    case 'hash-reject':
      return encodeHashReject(message);
  }
}

/** A message of `payloadLength` bytes after the id, with prefix and id written. */
function frame(id: number, payloadLength: number): Uint8Array<ArrayBuffer> {
  const length = 1 + payloadLength;
  if (length > U32_MAX) {
    throw new TorkError(TorkErrorCode.INTERNAL, `message of ${length} bytes is too long to frame`, {
      id,
      length,
    });
  }
  const out = new Uint8Array(4 + length);
  writeU32(out, 0, length);
  out[4] = id;
  return out;
}

function idOnly(id: number): Uint8Array<ArrayBuffer> {
  return frame(id, 0);
}

function oneU32(id: number, value: number): Uint8Array<ArrayBuffer> {
  const out = frame(id, 4);
  writeU32(out, 5, checkU32('index', value));
  return out;
}

function threeU32(id: number, index: number, begin: number, length: number): Uint8Array<ArrayBuffer> {
  const out = frame(id, 12);
  writeU32(out, 5, checkU32('index', index));
  writeU32(out, 9, checkU32('begin', begin));
  writeU32(out, 13, checkU32('length', length));
  return out;
}

function writePieceHeader(out: Uint8Array, index: number, begin: number, blockLength: number): void {
  writeU32(out, 0, checkU32('block length', 9 + blockLength));
  out[4] = WireMessageId.piece;
  writeU32(out, 5, checkU32('index', index));
  writeU32(out, 9, checkU32('begin', begin));
}

function checkU32(what: string, value: number): number {
  if (!Number.isInteger(value) || value < 0 || value > U32_MAX) {
    throw new TorkError(TorkErrorCode.INTERNAL, `${what} ${value} is not a 32-bit unsigned number`, {
      value,
    });
  }
  return value;
}

function writeU32(out: Uint8Array, at: number, value: number): void {
  out[at] = value >>> 24;
  out[at + 1] = (value >>> 16) & 0xff;
  out[at + 2] = (value >>> 8) & 0xff;
  out[at + 3] = value & 0xff;
}
