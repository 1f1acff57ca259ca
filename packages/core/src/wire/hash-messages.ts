/**
 * BEP 52 hash request (id 21), hashes (id 22) and hash reject (id 23): pure encoders, the payload
 * decoder the incremental `WireDecoder` calls, and the caps both sides rely on.
 *
 * All three share a 48-byte header: pieces root (32 bytes), then base layer, index, length and
 * proof layers (4-byte big-endian each). A `hashes` message carries `length` base-layer hashes and
 * then one uncle hash per proof layer above the subtree those hashes span: BEP 52 omits the
 * first log2(length) - 1 proof layers (their nodes are computed from the base hashes) but still
 * counts them in `proofLayers`.
 */
import { TorkError, TorkErrorCode } from '../errors.js';
import type { HashesMessage, HashRange, HashRejectMessage, HashRequestMessage } from './messages.js';
import { WireMessageId } from './messages.js';

/** Bytes of a SHA-256 hash. */
export const HASH_BYTES = 32;
/** Payload (after the id byte) of a hash request or hash reject, and the header of a hashes message. */
export const HASH_HEADER_BYTES = HASH_BYTES + 16;
/**
 * Most base-layer hashes tork accepts in one received `hashes` message: 512, the BEP's "SHOULD
 * NOT be greater than" and what tork asks for at most (a piece layer in 512-hash slices, a
 * piece's leaves in 512-leaf slices). With the uncles, a `hashes` message is then at most
 * 48 + 32 × (512 + 64) = 18,480 bytes, well below the decoder's 128 KiB message cap.
 */
export const MAX_HASHES_PER_MESSAGE = 512;
/**
 * Most base-layer hashes tork serves in one answer: 8192, libtorrent's own bound (it asks for a
 * whole piece's leaves at once: 8192 leaves are a 128 MiB piece). Beyond it: hash reject.
 */
export const MAX_SERVED_HASHES = 8192;
/**
 * Most proof layers a hash message may name: 64. A file of 2^64 bytes has 2^50 leaves, so no
 * tree is 64 layers high; the bound keeps the uncles of one message at 2 KiB.
 */
export const MAX_PROOF_LAYERS = 64;

/**
 * Uncle hashes a `hashes` message carries for `length` (≥ 2) base hashes and `proofLayers` proof
 * layers: proof layer j names the sibling of the range's ancestor j layers above the base; the
 * first log2(length) - 1 of them are computed from the base hashes, not sent (BEP 52).
 */
export function uncleCount(length: number, proofLayers: number): number {
  const implied = Math.max(0, log2(Math.max(1, length)) - 1);
  return Math.max(0, proofLayers - implied);
}

/** True when `n` is a positive power of two (1 included). */
export function isPowerOfTwo(n: number): boolean {
  return Number.isInteger(n) && n > 0 && n <= 2 ** 31 && (n & (n - 1)) === 0;
}

/** log2 of a power of two; for others, floor(log2(n)). */
export function log2(n: number): number {
  return 31 - Math.clz32(n);
}

export function encodeHashRequest(range: HashRange): Uint8Array<ArrayBuffer> {
  return encodeHeaderOnly(WireMessageId.hashRequest, range);
}

export function encodeHashReject(range: HashRange): Uint8Array<ArrayBuffer> {
  return encodeHeaderOnly(WireMessageId.hashReject, range);
}

/**
 * `hashes`: `hashes` are the `range.length` base-layer hashes, `uncles` the proof's uncle hashes
 * from the lowest layer up (see `uncleCount`), both concatenated 32-byte hashes.
 */
export function encodeHashes(
  range: HashRange,
  hashes: Uint8Array,
  uncles: Uint8Array,
): Uint8Array<ArrayBuffer> {
  if (hashes.length !== range.length * HASH_BYTES) {
    throw new TorkError(
      TorkErrorCode.INTERNAL,
      `hashes message of length ${range.length} with ${hashes.length} bytes of base hashes`,
      { length: range.length, bytes: hashes.length },
    );
  }
  if (uncles.length % HASH_BYTES !== 0) {
    throw new TorkError(TorkErrorCode.INTERNAL, `uncle hashes of ${uncles.length} bytes, not whole hashes`, {
      bytes: uncles.length,
    });
  }
  const payload = HASH_HEADER_BYTES + hashes.length + uncles.length;
  const out = new Uint8Array(5 + payload);
  writeU32(out, 0, 1 + payload);
  out[4] = WireMessageId.hashes;
  writeHeader(out, 5, range);
  out.set(hashes, 5 + HASH_HEADER_BYTES);
  out.set(uncles, 5 + HASH_HEADER_BYTES + hashes.length);
  return out;
}

/**
 * Decodes the payload `bytes[at, at + length)` of a hash request (id 21) or hash reject (id 23).
 * Only the size is checked: the values are the requester's, and a request tork cannot serve is
 * answered with a hash reject (see `hash-serving.ts`), not a dropped connection.
 */
export function decodeHashRequestPayload(
  id: typeof WireMessageId.hashRequest | typeof WireMessageId.hashReject,
  bytes: Uint8Array,
  at: number,
  length: number,
): HashRequestMessage | HashRejectMessage {
  const type = id === WireMessageId.hashRequest ? 'hash-request' : 'hash-reject';
  if (length !== HASH_HEADER_BYTES) {
    throw new TorkError(
      TorkErrorCode.WIRE_PROTOCOL,
      `peer sent ${type} (id ${id}) of length ${length + 1}, expected exactly ${HASH_HEADER_BYTES + 1}`,
      { id, type, length: length + 1 },
    );
  }
  return { type, ...readHeader(bytes, at) };
}

/**
 * Decodes the payload `bytes[at, at + length)` of a `hashes` message (id 22). A `hashes` answers
 * one of tork's own requests, which are always well formed, so anything else is malformed:
 * TorkError WIRE_PROTOCOL when `length` is not a power of two in 2..`maxHashes`, `index` is not a
 * multiple of it, `proofLayers` is above `MAX_PROOF_LAYERS`, or the payload is not exactly the
 * header, the base hashes and the uncles those fields imply.
 */
export function decodeHashesPayload(
  bytes: Uint8Array,
  at: number,
  length: number,
  maxHashes: number = MAX_HASHES_PER_MESSAGE,
): HashesMessage {
  if (length < HASH_HEADER_BYTES) {
    throw hashesFault(`of length ${length + 1}, shorter than its ${HASH_HEADER_BYTES + 1}-byte header`, {
      length: length + 1,
    });
  }
  const header = readHeader(bytes, at);
  checkHashesHeader(header, maxHashes);
  const uncles = uncleCount(header.length, header.proofLayers);
  const expected = HASH_HEADER_BYTES + (header.length + uncles) * HASH_BYTES;
  if (length !== expected) {
    throw hashesFault(
      `of length ${length + 1} for ${header.length} hashes and ${uncles} uncles (expected ${expected + 1})`,
      { length: length + 1, hashCount: header.length, uncles },
    );
  }
  const hashesAt = at + HASH_HEADER_BYTES;
  const unclesAt = hashesAt + header.length * HASH_BYTES;
  return {
    type: 'hashes',
    ...header,
    hashes: bytes.subarray(hashesAt, unclesAt),
    uncles: bytes.subarray(unclesAt, at + length),
  };
}

/** The largest `hashes` payload (after the id byte) with at most `maxHashes` base hashes. */
export function maxHashesPayload(maxHashes: number): number {
  return HASH_HEADER_BYTES + (maxHashes + MAX_PROOF_LAYERS) * HASH_BYTES;
}

function checkHashesHeader(header: HashRange, maxHashes: number): void {
  const { length, index, proofLayers } = header;
  // BEP 52: at least two. With one, the sibling at the base layer would be in no proof layer.
  if (!isPowerOfTwo(length) || length < 2 || length > maxHashes) {
    throw hashesFault(`for ${length} hashes (a power of two in 2..${maxHashes} expected)`, {
      hashCount: length,
      max: maxHashes,
    });
  }
  if (index % length !== 0) {
    throw hashesFault(`at index ${index}, not a multiple of its length ${length}`, {
      index,
      hashCount: length,
    });
  }
  if (proofLayers > MAX_PROOF_LAYERS) {
    throw hashesFault(`with ${proofLayers} proof layers (at most ${MAX_PROOF_LAYERS})`, {
      proofLayers,
      max: MAX_PROOF_LAYERS,
    });
  }
}

function hashesFault(what: string, details: Record<string, unknown>): TorkError {
  return new TorkError(TorkErrorCode.WIRE_PROTOCOL, `peer sent hashes (id 22) ${what}`, {
    id: WireMessageId.hashes,
    type: 'hashes',
    ...details,
  });
}

function encodeHeaderOnly(id: number, range: HashRange): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(5 + HASH_HEADER_BYTES);
  writeU32(out, 0, 1 + HASH_HEADER_BYTES);
  out[4] = id;
  writeHeader(out, 5, range);
  return out;
}

function writeHeader(out: Uint8Array, at: number, range: HashRange): void {
  if (range.piecesRoot.length !== HASH_BYTES) {
    throw new TorkError(
      TorkErrorCode.INTERNAL,
      `pieces root of ${range.piecesRoot.length} bytes, expected 32`,
      {
        bytes: range.piecesRoot.length,
      },
    );
  }
  out.set(range.piecesRoot, at);
  writeU32(out, at + 32, checkU32('base layer', range.baseLayer));
  writeU32(out, at + 36, checkU32('index', range.index));
  writeU32(out, at + 40, checkU32('length', range.length));
  writeU32(out, at + 44, checkU32('proof layers', range.proofLayers));
}

function readHeader(bytes: Uint8Array, at: number): HashRange {
  return {
    piecesRoot: bytes.subarray(at, at + HASH_BYTES),
    baseLayer: readU32(bytes, at + 32),
    index: readU32(bytes, at + 36),
    length: readU32(bytes, at + 40),
    proofLayers: readU32(bytes, at + 44),
  };
}

function checkU32(what: string, value: number): number {
  if (!Number.isInteger(value) || value < 0 || value > 0xffff_ffff) {
    throw new TorkError(TorkErrorCode.INTERNAL, `${what} ${value} is not a 32-bit unsigned number`, {
      value,
    });
  }
  return value;
}

function readU32(bytes: Uint8Array, at: number): number {
  return ((bytes[at]! << 24) | (bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!) >>> 0;
}

function writeU32(out: Uint8Array, at: number, value: number): void {
  out[at] = value >>> 24;
  out[at + 1] = (value >>> 16) & 0xff;
  out[at + 2] = (value >>> 8) & 0xff;
  out[at + 3] = value & 0xff;
}
