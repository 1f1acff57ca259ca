import bencode from 'bencode';
import { TorkError, TorkErrorCode } from '../errors.js';

/** Hard caps checked by the validating scanner before `bencode` ever sees the bytes. */
export interface BencodeLimits {
  /** Largest input accepted, in bytes. Default: {@link DEFAULT_BENCODE_MAX_BYTES} (16 MiB). */
  readonly maxBytes?: number;
  /** Deepest nesting of lists and dictionaries. Default: {@link DEFAULT_BENCODE_MAX_DEPTH} (64). */
  readonly maxDepth?: number;
}

/** Byte range [start, end) of a value inside the input. */
export interface BencodeSpan {
  readonly start: number;
  readonly end: number;
}

/** A .torrent of 16 MiB already describes ~800,000 pieces; anything larger is refused unread. */
export const DEFAULT_BENCODE_MAX_BYTES = 16 * 1024 * 1024;
/** Real metainfo nests 5 levels deep; 64 leaves room and keeps `bencode`'s recursion far from the stack limit. */
export const DEFAULT_BENCODE_MAX_DEPTH = 64;
/** 2^63 has 19 digits: a longer integer is garbage, not a number some client meant. */
const MAX_INTEGER_DIGITS = 20;

const CH_D = 0x64; // d
const CH_L = 0x6c; // l
const CH_I = 0x69; // i
const CH_E = 0x65; // e
const CH_COLON = 0x3a;
const CH_MINUS = 0x2d;
const CH_0 = 0x30;
const CH_9 = 0x39;

const keyDecoder = new TextDecoder('utf-8');

function fail(message: string, offset: number): never {
  throw new TorkError(TorkErrorCode.BENCODE, `invalid bencode at byte ${offset}: ${message}`, { offset });
}

function isDigit(byte: number | undefined): boolean {
  return byte !== undefined && byte >= CH_0 && byte <= CH_9;
}

/** Reads `<len>:` at `pos`; returns the payload's [start, end). */
function scanString(bytes: Uint8Array, pos: number): BencodeSpan {
  let i = pos;
  let length = 0;
  if (!isDigit(bytes[i])) fail('expected a string length, an integer, a list or a dictionary', pos);
  if (bytes[i] === CH_0 && bytes[i + 1] !== CH_COLON) fail('string length with a leading zero', pos);
  while (isDigit(bytes[i])) {
    length = length * 10 + (bytes[i]! - CH_0);
    // Bounded by the input size long before a double loses precision.
    if (length > bytes.length) fail('string length beyond the end of the input', pos);
    i++;
  }
  if (bytes[i] !== CH_COLON) fail(i >= bytes.length ? 'truncated string length' : "expected ':'", i);
  const start = i + 1;
  const end = start + length;
  if (end > bytes.length) fail('string runs past the end of the input', pos);
  return { start, end };
}

/** Reads `i<digits>e` at `pos` (pointing at 'i'); returns the offset after 'e'. */
function scanInteger(bytes: Uint8Array, pos: number): number {
  let i = pos + 1;
  if (bytes[i] === CH_MINUS) i++;
  const digitsStart = i;
  while (isDigit(bytes[i])) i++;
  const digits = i - digitsStart;
  if (digits === 0) fail('integer without digits', pos);
  if (digits > MAX_INTEGER_DIGITS) fail(`integer with more than ${MAX_INTEGER_DIGITS} digits`, pos);
  if (bytes[digitsStart] === CH_0 && (digits > 1 || digitsStart !== pos + 1)) {
    fail('integer with a leading zero or negative zero', pos);
  }
  if (bytes[i] !== CH_E) fail(i >= bytes.length ? 'truncated integer' : "expected 'e' after integer", i);
  return i + 1;
}

/** The key string exactly as `bencode` 4 will name it (invalid UTF-8 becomes hex). */
function keyName(bytes: Uint8Array, span: BencodeSpan): string {
  const raw = bytes.subarray(span.start, span.end);
  const text = keyDecoder.decode(raw);
  return text.includes('\uFFFD') ? Buffer.from(raw).toString('hex') : text;
}

interface Frame {
  readonly kind: 'list' | 'dict';
  readonly keys: Set<string> | undefined;
  /** For a dict: true when the next item is a key. */
  expectKey: boolean;
}

/**
 * Validates exactly one value starting at `start` without recursion and returns where it ends.
 * Refuses what `bencode` would silently accept or choke on: trailing or truncated data,
 * non-canonical integers, duplicate keys, `__proto__` keys (they would replace an object's
 * prototype), and nesting past `maxDepth` (deep recursion would overflow the stack).
 */
function scanValue(bytes: Uint8Array, start: number, maxDepth: number): number {
  const stack: Frame[] = [];
  let pos = start;
  for (;;) {
    const top = stack[stack.length - 1];
    if (top !== undefined && bytes[pos] === CH_E) {
      if (top.kind === 'dict' && !top.expectKey) fail('dictionary key without a value', pos);
      stack.pop();
      pos++;
    } else if (top !== undefined && top.kind === 'dict' && top.expectKey) {
      if (pos >= bytes.length) fail('truncated dictionary', pos);
      const span = scanString(bytes, pos);
      const name = keyName(bytes, span);
      if (name === '__proto__') fail("dictionary key '__proto__' is not allowed", pos);
      if (top.keys!.has(name)) fail(`duplicate dictionary key '${name.slice(0, 64)}'`, pos);
      top.keys!.add(name);
      top.expectKey = false;
      pos = span.end;
      continue;
    } else {
      const byte = bytes[pos];
      if (byte === undefined) fail(top === undefined ? 'empty input' : 'truncated input', pos);
      if (byte === CH_D || byte === CH_L) {
        if (stack.length >= maxDepth) fail(`nesting deeper than ${maxDepth} levels`, pos);
        stack.push(
          byte === CH_D
            ? { kind: 'dict', keys: new Set(), expectKey: true }
            : { kind: 'list', keys: undefined, expectKey: false },
        );
        pos++;
        continue;
      }
      pos = byte === CH_I ? scanInteger(bytes, pos) : scanString(bytes, pos).end;
    }
    const parent = stack[stack.length - 1];
    if (parent === undefined) return pos;
    if (parent.kind === 'dict') parent.expectKey = true;
  }
}

function checkSize(bytes: Uint8Array, limits: BencodeLimits): void {
  const maxBytes = limits.maxBytes ?? DEFAULT_BENCODE_MAX_BYTES;
  if (bytes.length > maxBytes) {
    throw new TorkError(TorkErrorCode.BENCODE, `bencode input of ${bytes.length} bytes exceeds ${maxBytes}`, {
      length: bytes.length,
      maxBytes,
    });
  }
}

/**
 * Validates `bytes` as exactly one bencoded value (no trailing data) and decodes it.
 * Byte strings decode to Uint8Array, integers to number (unsafe magnitudes lose precision: check
 * `Number.isSafeInteger` on any integer you use), dictionaries to plain objects with string keys.
 * Throws TorkError TORK_ERR_BENCODE for anything else.
 */
export function decodeBencode(bytes: Uint8Array, limits: BencodeLimits = {}): unknown {
  checkSize(bytes, limits);
  const end = scanValue(bytes, 0, limits.maxDepth ?? DEFAULT_BENCODE_MAX_DEPTH);
  if (end !== bytes.length) fail(`${bytes.length - end} bytes of trailing data`, end);
  try {
    return bencode.decode(bytes);
  } catch (error) {
    // The scanner accepted it, so this is a disagreement with the library: report, don't crash.
    throw new TorkError(
      TorkErrorCode.BENCODE,
      `invalid bencode: ${(error as Error).message}`,
      {},
      { cause: error },
    );
  } finally {
    // `bencode` decodes from a copy of the input kept on the function (`decode.data`) until the
    // next decode: a 200,000-piece .torrent is ~4 MB held for a whole download. The byte strings
    // it returns are copies of their own, so nothing it gave out needs that copy.
    releaseDecoderInput();
  }
}

/** Drops the library's reference to the last input it decoded (see `decodeBencode`). */
function releaseDecoderInput(): void {
  (bencode.decode as { data?: unknown }).data = null;
}

/**
 * Decodes the one bencoded value at the start of `bytes` and says where it ends: for messages
 * that carry raw bytes after a bencoded header (BEP 9's metadata `data`). Same checks and errors
 * as `decodeBencode`, over the value only.
 */
export function decodeBencodePrefix(
  bytes: Uint8Array,
  limits: BencodeLimits = {},
): { value: unknown; end: number } {
  checkSize(bytes, limits);
  const end = scanValue(bytes, 0, limits.maxDepth ?? DEFAULT_BENCODE_MAX_DEPTH);
  return { value: decodeBencode(bytes.subarray(0, end), limits), end };
}

/**
 * Finds the exact byte span of the value under `key` in a top-level dictionary, so that a hash can
 * be taken over the bytes as they stand (the info-hash must never come from a re-encoding).
 * Validates the whole input on the way; returns undefined when the key is absent.
 */
export function findTopLevelSpan(
  bytes: Uint8Array,
  key: string,
  limits: BencodeLimits = {},
): BencodeSpan | undefined {
  checkSize(bytes, limits);
  const maxDepth = limits.maxDepth ?? DEFAULT_BENCODE_MAX_DEPTH;
  const end = scanValue(bytes, 0, maxDepth);
  if (end !== bytes.length) fail(`${bytes.length - end} bytes of trailing data`, end);
  if (bytes[0] !== CH_D) return undefined;
  let pos = 1;
  while (bytes[pos] !== CH_E) {
    const keySpan = scanString(bytes, pos);
    const valueStart = keySpan.end;
    const valueEnd = scanValue(bytes, valueStart, maxDepth - 1);
    if (keyName(bytes, keySpan) === key) return { start: valueStart, end: valueEnd };
    pos = valueEnd;
  }
  return undefined;
}

/** Encodes a value (Uint8Array/string, safe integer, array, plain object) to bencode bytes. */
export function encodeBencode(value: unknown): Uint8Array {
  try {
    return bencode.encode(value);
  } catch (error) {
    throw new TorkError(
      TorkErrorCode.INTERNAL,
      `cannot bencode value: ${(error as Error).message}`,
      {},
      { cause: error },
    );
  }
}
