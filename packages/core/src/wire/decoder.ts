/**
 * Incremental peer wire decoder: bytes in, messages out, whatever the chunking.
 *
 * Every length prefix is checked against a hard cap before anything is allocated for it, so a
 * peer cannot make a connection hold more than one largest legal message. A message that lies
 * inside one pushed chunk is decoded in place: its `block`, `bitfield` or `payload` is a view into
 * that chunk, never a copy. Only a message that straddles chunks is copied, once, into a buffer of
 * exactly its size, allocated when its header is complete.
 */
import { TorkError, TorkErrorCode, toTorkError } from '../errors.js';
import { checkHandshakePrefix, HANDSHAKE_LENGTH, parseHandshake } from './handshake.js';
import {
  decodeHashesPayload,
  decodeHashRequestPayload,
  HASH_HEADER_BYTES,
  MAX_HASHES_PER_MESSAGE,
  maxHashesPayload,
} from './hash-messages.js';
import type {
  ChokeMessage,
  HaveAllMessage,
  HaveNoneMessage,
  InterestedMessage,
  KeepAliveMessage,
  NotInterestedMessage,
  UnchokeMessage,
  WireMessage,
} from './messages.js';
import { WireMessageId } from './messages.js';

/** Default `maxBlockLength`: 128 KiB. Clients request 16 KiB, but some old ones asked for up to 128 KiB. */
export const DEFAULT_MAX_BLOCK_LENGTH = 128 * 1024;
/**
 * Default `maxExtendedLength`: 128 KiB of BEP 10 payload. The largest extended message in common
 * use is a BEP 9 metadata piece (16 KiB plus a short bencoded header); 128 KiB leaves room while
 * keeping the worst case per connection at about one largest piece message.
 */
export const DEFAULT_MAX_EXTENDED_LENGTH = 128 * 1024;
/**
 * Default `maxPieceCount`: 2^21 pieces (libtorrent's default limit too). It bounds a bitfield that
 * arrives before the torrent's piece count is known (magnet links): at most 256 KiB.
 */
export const DEFAULT_MAX_PIECE_COUNT = 2 ** 21;
/**
 * Default `maxUnknownLength`: 128 KiB. Messages with ids tork does not know are skipped, never
 * buffered (BEP 3: ignore them), but a length beyond this is treated as garbage.
 */
export const DEFAULT_MAX_UNKNOWN_LENGTH = 128 * 1024;

/** Bytes of the length prefix. */
const PREFIX_LENGTH = 4;
/** Length prefix plus id. */
const HEADER_LENGTH = 5;
/** Bounds of the numeric options: far above any sane value, far below 2^32 - 9. */
const OPTION_MAX = 2 ** 30;
const PIECE_COUNT_MAX = 2 ** 32;

export interface WireDecoderOptions {
  /** Expect the 68-byte handshake before any message; it is yielded first. Default: false. */
  readonly expectHandshake?: boolean;
  /**
   * The torrent's piece count, when known. Enables the exact bitfield length and spare-bit checks
   * and the index < pieceCount checks. Default: unknown (see `setPieceCount`).
   */
  readonly pieceCount?: number;
  /** Largest block in a `piece` and largest `length` in request/cancel/reject-request. Default: 128 KiB. */
  readonly maxBlockLength?: number;
  /** Largest BEP 10 payload (after the extended id byte). Default: 128 KiB. */
  readonly maxExtendedLength?: number;
  /** Bounds a bitfield while `pieceCount` is unknown, to ceil(maxPieceCount / 8) bytes. Default: 2^21. */
  readonly maxPieceCount?: number;
  /** Largest payload of a message with an unknown id (skipped, not buffered). Default: 128 KiB. */
  readonly maxUnknownLength?: number;
  /**
   * Decode BEP 52 hash request (21), hashes (22) and hash reject (23). Off, they are unknown ids,
   * skipped as BEP 3 asks (what a v1 torrent's connection wants). Default: false; see also
   * `enableHashMessages`.
   */
  readonly hashMessages?: boolean;
  /**
   * Most base-layer hashes in a received `hashes` message; more is a protocol fault. Default:
   * `MAX_HASHES_PER_MESSAGE` (512).
   */
  readonly maxHashesPerMessage?: number;
  /**
   * Assemble messages that straddle chunks in two reusable buffers instead of a fresh one each.
   * Then every view a message holds (`block`, `bitfield`, `payload`) is valid only until the
   * next `push` — as is any view into the pushed chunk when the caller reuses its read buffer.
   * For callers that consume messages before pushing again (a PeerActor copies blocks into its
   * piece buffer at once): no allocation per straddling block. Default: false.
   */
  readonly reuseBuffers?: boolean;
}

const Phase = { handshake: 0, header: 1, body: 2, skip: 3 } as const;
type Phase = (typeof Phase)[keyof typeof Phase];

/** Payload-less messages are shared, frozen singletons: no allocation per keep-alive or choke. */
const KEEP_ALIVE: KeepAliveMessage = Object.freeze({ type: 'keep-alive' });
const CHOKE: ChokeMessage = Object.freeze({ type: 'choke' });
const UNCHOKE: UnchokeMessage = Object.freeze({ type: 'unchoke' });
const INTERESTED: InterestedMessage = Object.freeze({ type: 'interested' });
const NOT_INTERESTED: NotInterestedMessage = Object.freeze({ type: 'not-interested' });
const HAVE_ALL: HaveAllMessage = Object.freeze({ type: 'have-all' });
const HAVE_NONE: HaveNoneMessage = Object.freeze({ type: 'have-none' });

/** Payload length (after the id byte) of each fixed-size message, by id; -1 for variable or unknown. */
const FIXED_PAYLOAD = new Int8Array(256).fill(-1);
FIXED_PAYLOAD[WireMessageId.choke] = 0;
FIXED_PAYLOAD[WireMessageId.unchoke] = 0;
FIXED_PAYLOAD[WireMessageId.interested] = 0;
FIXED_PAYLOAD[WireMessageId.notInterested] = 0;
FIXED_PAYLOAD[WireMessageId.have] = 4;
FIXED_PAYLOAD[WireMessageId.request] = 12;
FIXED_PAYLOAD[WireMessageId.cancel] = 12;
FIXED_PAYLOAD[WireMessageId.port] = 2;
FIXED_PAYLOAD[WireMessageId.suggestPiece] = 4;
FIXED_PAYLOAD[WireMessageId.haveAll] = 0;
FIXED_PAYLOAD[WireMessageId.haveNone] = 0;
FIXED_PAYLOAD[WireMessageId.rejectRequest] = 12;
FIXED_PAYLOAD[WireMessageId.allowedFast] = 4;

const TYPE_NAMES: Readonly<Record<number, string>> = {
  0: 'choke',
  1: 'unchoke',
  2: 'interested',
  3: 'not-interested',
  4: 'have',
  5: 'bitfield',
  6: 'request',
  7: 'piece',
  8: 'cancel',
  9: 'port',
  13: 'suggest-piece',
  14: 'have-all',
  15: 'have-none',
  16: 'reject-request',
  17: 'allowed-fast',
  20: 'extended',
  21: 'hash-request',
  22: 'hashes',
  23: 'hash-reject',
};

/**
 * Decodes a peer's byte stream. `push` returns the messages completed by a chunk, in order.
 *
 * - Views: a decoded `piece.block`, `bitfield.bitfield` or `extended.payload` may be a view into
 *   the chunk it arrived in. Copy what must outlive the chunk, or be transferred.
 * - Errors: only TorkError — WIRE_HANDSHAKE (bad handshake), WIRE_TOO_LARGE (a length above a
 *   cap, refused before any allocation), WIRE_PROTOCOL (anything else malformed). After one, the
 *   decoder is dead: every later `push` throws the same error. Messages completed earlier in the
 *   failing chunk are not returned.
 * - Unknown ids are skipped without buffering and yielded as `{ type: 'unknown', id, length }`.
 * - Bitfields: with a known piece count, exactly ceil(pieceCount / 8) bytes with the spare bits
 *   clear; before it is known, at most ceil(maxPieceCount / 8) bytes, unchecked.
 */
export class WireDecoder {
  readonly maxBlockLength: number;
  readonly maxExtendedLength: number;
  readonly maxPieceCount: number;
  readonly maxUnknownLength: number;
  readonly maxHashesPerMessage: number;

  #hashMessages: boolean;
  #pieceCount: number;
  #maxMessageLength = 0;
  #phase: Phase;
  #error: TorkError | undefined;

  /** A header (length prefix, id) that straddles chunks. */
  readonly #head = new Uint8Array(HEADER_LENGTH);
  #headLength = 0;
  /** A handshake that straddles chunks. */
  #handshake: Uint8Array | null = null;
  #handshakeLength = 0;
  /** The payload (after the id) of a message that straddles chunks, allocated at its exact size. */
  #body: Uint8Array | null = null;
  /** With `reuseBuffers`: two scratch buffers, used in turn (see #startMessage). */
  readonly #reuse: boolean;
  #scratch: [ArrayBuffer | null, ArrayBuffer | null] = [null, null];
  #scratchTurn = 0;
  #bodyFilled = 0;
  #bodyId = 0;
  /** Payload bytes of an unknown message still to be dropped. */
  #skip = 0;
  #skipId = 0;
  #skipLength = 0;

  constructor(options: WireDecoderOptions = {}) {
    this.maxBlockLength = checkOption('maxBlockLength', options.maxBlockLength, DEFAULT_MAX_BLOCK_LENGTH, 1);
    this.maxExtendedLength = checkOption(
      'maxExtendedLength',
      options.maxExtendedLength,
      DEFAULT_MAX_EXTENDED_LENGTH,
      0,
    );
    this.maxPieceCount = checkOption('maxPieceCount', options.maxPieceCount, DEFAULT_MAX_PIECE_COUNT, 0);
    this.maxUnknownLength = checkOption(
      'maxUnknownLength',
      options.maxUnknownLength,
      DEFAULT_MAX_UNKNOWN_LENGTH,
      0,
    );
    this.maxHashesPerMessage = checkOption(
      'maxHashesPerMessage',
      options.maxHashesPerMessage,
      MAX_HASHES_PER_MESSAGE,
      2,
    );
    this.#hashMessages = options.hashMessages === true;
    this.#pieceCount = -1;
    this.#reuse = options.reuseBuffers === true;
    this.#phase = options.expectHandshake ? Phase.handshake : Phase.header;
    if (options.pieceCount !== undefined) this.setPieceCount(options.pieceCount);
    else this.#updateMaxMessageLength();
  }

  /**
   * Sets the piece count once it is known (magnet links: after the metadata). Checks from then on
   * use it, including those of a message already partly buffered.
   */
  setPieceCount(pieceCount: number): void {
    if (!Number.isInteger(pieceCount) || pieceCount < 0 || pieceCount > PIECE_COUNT_MAX) {
      throw new TorkError(TorkErrorCode.USAGE, `piece count ${pieceCount} is not a count of 32-bit indices`, {
        pieceCount,
      });
    }
    this.#pieceCount = pieceCount;
    this.#updateMaxMessageLength();
  }

  /**
   * Starts decoding BEP 52 hash messages (a connection that turned out to be for a v2 torrent,
   * e.g. once an incoming handshake named one). Never turned off again.
   */
  enableHashMessages(): void {
    this.#hashMessages = true;
    this.#updateMaxMessageLength();
  }

  /** Whether BEP 52 hash messages are decoded (otherwise skipped as unknown ids). */
  get hashMessages(): boolean {
    return this.#hashMessages;
  }

  /** The piece count, or undefined while unknown. */
  get pieceCount(): number | undefined {
    return this.#pieceCount < 0 ? undefined : this.#pieceCount;
  }

  /** The largest length prefix accepted now (the message after the 4-byte prefix). */
  get maxMessageLength(): number {
    return this.#maxMessageLength;
  }

  /**
   * Bytes held between pushes: a partial header or handshake, or the buffer of a message that
   * straddles chunks (allocated in full once its header is in). Never more than 4 + the largest
   * message length accepted when that message's prefix was read (68 while a handshake arrives);
   * 0 once the decoder is dead.
   */
  get bufferedBytes(): number {
    switch (this.#phase) {
      case Phase.handshake:
        return this.#handshakeLength;
      case Phase.body:
        return this.#body!.length;
      case Phase.header:
        return this.#headLength;
      default:
        return 0;
    }
  }

  /** The error that killed this decoder, if any. */
  get error(): TorkError | undefined {
    return this.#error;
  }

  /** Feeds the next bytes of the stream; returns the messages they complete, in order. */
  push(chunk: Uint8Array): WireMessage[] {
    if (this.#error !== undefined) throw this.#error;
    const out: WireMessage[] = [];
    try {
      this.#consume(chunk, out);
    } catch (error) {
      this.#error = toTorkError(error, TorkErrorCode.INTERNAL, 'wire decoder');
      // Dead from now on: drop whatever was buffered.
      this.#phase = Phase.header;
      this.#headLength = 0;
      this.#body = null;
      this.#handshake = null;
      this.#handshakeLength = 0;
      throw this.#error;
    }
    return out;
  }

  #consume(chunk: Uint8Array, out: WireMessage[]): void {
    const end = chunk.length;
    let at = 0;
    while (at < end) {
      const phase = this.#phase;
      if (phase === Phase.header) {
        if (this.#headLength === 0 && end - at >= HEADER_LENGTH) {
          // Fast path: the whole header is in this chunk.
          const length = readU32(chunk, at);
          if (length === 0) {
            out.push(KEEP_ALIVE);
            at += PREFIX_LENGTH;
            continue;
          }
          this.#checkPrefix(length);
          at = this.#startMessage(chunk[at + PREFIX_LENGTH]!, length - 1, chunk, at + HEADER_LENGTH, out);
        } else {
          at = this.#readHeader(chunk, at, out);
        }
      } else if (phase === Phase.body) {
        const body = this.#body!;
        const take = Math.min(body.length - this.#bodyFilled, end - at);
        body.set(chunk.subarray(at, at + take), this.#bodyFilled);
        this.#bodyFilled += take;
        at += take;
        if (this.#bodyFilled === body.length) {
          this.#body = null;
          this.#phase = Phase.header;
          out.push(this.#decode(this.#bodyId, body, 0, body.length));
        }
      } else if (phase === Phase.skip) {
        const take = Math.min(this.#skip, end - at);
        this.#skip -= take;
        at += take;
        if (this.#skip === 0) this.#finishSkip(out);
      } else {
        at = this.#readHandshake(chunk, at, out);
      }
    }
  }

  /** The slow path: a header that arrives in pieces, gathered byte by byte (at most 5). */
  #readHeader(chunk: Uint8Array, at: number, out: WireMessage[]): number {
    const end = chunk.length;
    const head = this.#head;
    while (at < end && this.#headLength < PREFIX_LENGTH) head[this.#headLength++] = chunk[at++]!;
    if (this.#headLength < PREFIX_LENGTH) return at;
    const length = readU32(head, 0);
    if (this.#headLength === PREFIX_LENGTH) {
      if (length === 0) {
        this.#headLength = 0;
        out.push(KEEP_ALIVE);
        return at;
      }
      // Checked as soon as the prefix is complete: a huge length then a trickle is refused at once.
      this.#checkPrefix(length);
      if (at === end) {
        this.#headLength = PREFIX_LENGTH;
        return at;
      }
      head[this.#headLength++] = chunk[at++]!;
    }
    this.#headLength = 0;
    return this.#startMessage(head[PREFIX_LENGTH]!, length - 1, chunk, at, out);
  }

  #readHandshake(chunk: Uint8Array, at: number, out: WireMessage[]): number {
    const available = chunk.length - at;
    if (this.#handshakeLength === 0 && available >= HANDSHAKE_LENGTH) {
      out.push({ type: 'handshake', ...parseHandshake(chunk.subarray(at, at + HANDSHAKE_LENGTH)) });
      this.#phase = Phase.header;
      return at + HANDSHAKE_LENGTH;
    }
    this.#handshake ??= new Uint8Array(HANDSHAKE_LENGTH);
    const take = Math.min(HANDSHAKE_LENGTH - this.#handshakeLength, available);
    this.#handshake.set(chunk.subarray(at, at + take), this.#handshakeLength);
    this.#handshakeLength += take;
    checkHandshakePrefix(this.#handshake, this.#handshakeLength);
    if (this.#handshakeLength === HANDSHAKE_LENGTH) {
      const handshake = parseHandshake(this.#handshake);
      this.#handshake = null;
      this.#handshakeLength = 0;
      this.#phase = Phase.header;
      out.push({ type: 'handshake', ...handshake });
    }
    return at + take;
  }

  /** Header complete: check the length for this id, then decode in place, buffer, or skip. */
  #startMessage(
    id: number,
    payloadLength: number,
    chunk: Uint8Array,
    at: number,
    out: WireMessage[],
  ): number {
    if (!this.#checkPayloadLength(id, payloadLength)) {
      this.#skipId = id;
      this.#skipLength = payloadLength;
      this.#skip = payloadLength;
      const take = Math.min(payloadLength, chunk.length - at);
      this.#skip -= take;
      if (this.#skip === 0) this.#finishSkip(out);
      else this.#phase = Phase.skip;
      return at + take;
    }
    const available = chunk.length - at;
    if (available >= payloadLength) {
      out.push(this.#decode(id, chunk, at, payloadLength));
      return at + payloadLength;
    }
    const body = this.#reuse ? this.#scratchView(payloadLength) : new Uint8Array(payloadLength);
    body.set(chunk.subarray(at));
    this.#body = body;
    this.#bodyFilled = available;
    this.#bodyId = id;
    this.#phase = Phase.body;
    return chunk.length;
  }

  /**
   * A view of `length` bytes in the next scratch buffer. Two, in turn: a push can complete one
   * straddling message (its views are still unconsumed in the returned list) and start another
   * at its end, which must not overwrite the first.
   */
  #scratchView(length: number): Uint8Array {
    const turn = this.#scratchTurn;
    this.#scratchTurn = 1 - turn;
    let scratch = this.#scratch[turn] ?? null;
    if (scratch === null || scratch.byteLength < length) {
      scratch = new ArrayBuffer(length);
      this.#scratch[turn] = scratch;
    }
    return new Uint8Array(scratch, 0, length);
  }

  #finishSkip(out: WireMessage[]): void {
    this.#phase = Phase.header;
    out.push({ type: 'unknown', id: this.#skipId, length: this.#skipLength });
  }

  #checkPrefix(length: number): void {
    if (length > this.#maxMessageLength) {
      throw new TorkError(
        TorkErrorCode.WIRE_TOO_LARGE,
        `peer announced a ${length}-byte message; the largest legal one is ${this.#maxMessageLength} bytes`,
        { length, max: this.#maxMessageLength },
      );
    }
  }

  /**
   * Checks a payload length (after the id byte) against the rules for its id.
   * Returns false for an unknown id (to be skipped).
   */
  #checkPayloadLength(id: number, length: number): boolean {
    const fixed = FIXED_PAYLOAD[id]!;
    if (fixed >= 0) {
      if (length !== fixed) throw wrongLength(id, length, `exactly ${fixed + 1}`);
      return true;
    }
    switch (id) {
      case WireMessageId.piece:
        if (length < 9) throw wrongLength(id, length, `at least 10`);
        if (length - 8 > this.maxBlockLength) throw tooLarge(id, length, 9 + this.maxBlockLength);
        return true;
      case WireMessageId.bitfield: {
        if (this.#pieceCount >= 0) {
          const expected = bitfieldBytes(this.#pieceCount);
          if (length !== expected) {
            throw new TorkError(
              TorkErrorCode.WIRE_PROTOCOL,
              `peer sent a bitfield of ${length} bytes for ${this.#pieceCount} pieces (expected ${expected})`,
              { id, type: 'bitfield', length: length + 1, bytes: length, pieceCount: this.#pieceCount },
            );
          }
        } else if (length > bitfieldBytes(this.maxPieceCount)) {
          throw tooLarge(id, length, 1 + bitfieldBytes(this.maxPieceCount));
        }
        return true;
      }
      case WireMessageId.extended:
        if (length < 1) throw wrongLength(id, length, 'at least 2');
        if (length - 1 > this.maxExtendedLength) throw tooLarge(id, length, 2 + this.maxExtendedLength);
        return true;
      case WireMessageId.hashRequest:
      case WireMessageId.hashReject:
        if (!this.#hashMessages) break;
        if (length !== HASH_HEADER_BYTES) throw wrongLength(id, length, `exactly ${HASH_HEADER_BYTES + 1}`);
        return true;
      case WireMessageId.hashes: {
        if (!this.#hashMessages) break;
        if (length < HASH_HEADER_BYTES) throw wrongLength(id, length, `at least ${HASH_HEADER_BYTES + 1}`);
        const max = maxHashesPayload(this.maxHashesPerMessage);
        if (length > max) throw tooLarge(id, length, 1 + max);
        return true;
      }
    }
    // Unknown ids, and BEP 52's while hash messages are off: skipped, within a cap.
    if (length > this.maxUnknownLength) throw tooLarge(id, length, 1 + this.maxUnknownLength);
    return false;
  }

  /** Decodes the payload `bytes[at, at + length)` of a message whose length is already checked. */
  #decode(id: number, bytes: Uint8Array, at: number, length: number): WireMessage {
    switch (id) {
      case WireMessageId.choke:
        return CHOKE;
      case WireMessageId.unchoke:
        return UNCHOKE;
      case WireMessageId.interested:
        return INTERESTED;
      case WireMessageId.notInterested:
        return NOT_INTERESTED;
      case WireMessageId.haveAll:
        return HAVE_ALL;
      case WireMessageId.haveNone:
        return HAVE_NONE;
      case WireMessageId.have:
        return { type: 'have', index: this.#index(id, readU32(bytes, at)) };
      case WireMessageId.suggestPiece:
        return { type: 'suggest-piece', index: this.#index(id, readU32(bytes, at)) };
      case WireMessageId.allowedFast:
        return { type: 'allowed-fast', index: this.#index(id, readU32(bytes, at)) };
      case WireMessageId.request:
        return {
          type: 'request',
          index: this.#index(id, readU32(bytes, at)),
          begin: readU32(bytes, at + 4),
          length: this.#blockLength(id, readU32(bytes, at + 8)),
        };
      case WireMessageId.cancel:
        return {
          type: 'cancel',
          index: this.#index(id, readU32(bytes, at)),
          begin: readU32(bytes, at + 4),
          length: this.#blockLength(id, readU32(bytes, at + 8)),
        };
      case WireMessageId.rejectRequest:
        return {
          type: 'reject-request',
          index: this.#index(id, readU32(bytes, at)),
          begin: readU32(bytes, at + 4),
          length: this.#blockLength(id, readU32(bytes, at + 8)),
        };
      case WireMessageId.piece:
        return {
          type: 'piece',
          index: this.#index(id, readU32(bytes, at)),
          begin: readU32(bytes, at + 4),
          block: bytes.subarray(at + 8, at + length),
        };
      case WireMessageId.port:
        return { type: 'port', port: (bytes[at]! << 8) | bytes[at + 1]! };
      case WireMessageId.bitfield:
        return { type: 'bitfield', bitfield: this.#checkBitfield(bytes.subarray(at, at + length)) };
      case WireMessageId.extended:
        return { type: 'extended', extId: bytes[at]!, payload: bytes.subarray(at + 1, at + length) };
      case WireMessageId.hashRequest:
      case WireMessageId.hashReject:
        return decodeHashRequestPayload(id, bytes, at, length);
      case WireMessageId.hashes:
        return decodeHashesPayload(bytes, at, length, this.maxHashesPerMessage);
      default:
        throw new TorkError(TorkErrorCode.INTERNAL, `wire decoder has no decoder for id ${id}`, { id });
    }
  }

  #index(id: number, index: number): number {
    if (this.#pieceCount >= 0 && index >= this.#pieceCount) {
      throw new TorkError(
        TorkErrorCode.WIRE_PROTOCOL,
        `peer sent ${TYPE_NAMES[id]} for piece ${index}, but the torrent has ${this.#pieceCount} pieces`,
        { id, type: TYPE_NAMES[id], index, pieceCount: this.#pieceCount },
      );
    }
    return index;
  }

  #blockLength(id: number, length: number): number {
    if (length === 0 || length > this.maxBlockLength) {
      throw new TorkError(
        TorkErrorCode.WIRE_PROTOCOL,
        `peer sent ${TYPE_NAMES[id]} for a block of ${length} bytes (allowed: 1..${this.maxBlockLength})`,
        { id, type: TYPE_NAMES[id], blockLength: length, max: this.maxBlockLength },
      );
    }
    return length;
  }

  /** Rechecked here: the piece count may have become known while the bitfield was arriving. */
  #checkBitfield(bitfield: Uint8Array): Uint8Array {
    const pieceCount = this.#pieceCount;
    if (pieceCount < 0) return bitfield;
    const expected = bitfieldBytes(pieceCount);
    if (bitfield.length !== expected) {
      throw new TorkError(
        TorkErrorCode.WIRE_PROTOCOL,
        `peer sent a bitfield of ${bitfield.length} bytes for ${pieceCount} pieces (expected ${expected})`,
        { id: WireMessageId.bitfield, type: 'bitfield', bytes: bitfield.length, pieceCount },
      );
    }
    const spare = expected * 8 - pieceCount;
    if (spare > 0 && (bitfield[expected - 1]! & ((1 << spare) - 1)) !== 0) {
      throw new TorkError(TorkErrorCode.WIRE_PROTOCOL, 'peer sent a bitfield with spare bits set', {
        id: WireMessageId.bitfield,
        type: 'bitfield',
        pieceCount,
      });
    }
    return bitfield;
  }

  #updateMaxMessageLength(): void {
    const bitfieldCap = bitfieldBytes(this.#pieceCount >= 0 ? this.#pieceCount : this.maxPieceCount);
    this.#maxMessageLength = Math.max(
      9 + this.maxBlockLength,
      2 + this.maxExtendedLength,
      1 + bitfieldCap,
      1 + this.maxUnknownLength,
      this.#hashMessages ? 1 + maxHashesPayload(this.maxHashesPerMessage) : 0,
      13,
    );
  }
}

function bitfieldBytes(pieceCount: number): number {
  return Math.ceil(pieceCount / 8);
}

function readU32(bytes: Uint8Array, at: number): number {
  return ((bytes[at]! << 24) | (bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!) >>> 0;
}

function wrongLength(id: number, payloadLength: number, expected: string): TorkError {
  const length = payloadLength + 1;
  return new TorkError(
    TorkErrorCode.WIRE_PROTOCOL,
    `peer sent ${TYPE_NAMES[id]} (id ${id}) of length ${length}, expected ${expected}`,
    { id, type: TYPE_NAMES[id], length },
  );
}

function tooLarge(id: number, payloadLength: number, max: number): TorkError {
  const length = payloadLength + 1;
  return new TorkError(
    TorkErrorCode.WIRE_TOO_LARGE,
    `peer sent ${TYPE_NAMES[id] ?? 'a message'} (id ${id}) of length ${length}, at most ${max} allowed`,
    { id, type: TYPE_NAMES[id] ?? 'unknown', length, max },
  );
}

function checkOption(name: string, value: number | undefined, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < min || value > OPTION_MAX) {
    throw new TorkError(
      TorkErrorCode.USAGE,
      `wire decoder option ${name} must be an integer in ${min}..${OPTION_MAX}`,
      {
        option: name,
        value,
      },
    );
  }
  return value;
}
