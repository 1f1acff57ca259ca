import { TorkError, TorkErrorCode } from '../errors.js';
import type { AnnounceRequest, ByteCount } from './types.js';

/** BEP 15 carries byte counts as signed 64-bit integers: nothing larger can be announced. */
const MAX_BYTE_COUNT = (1n << 63n) - 1n;

function usage(message: string, field: string): never {
  throw new TorkError(TorkErrorCode.USAGE, `invalid announce request: ${message}`, { field });
}

/** A byte count as a bigint, refusing negatives, fractions and values beyond 2^63 − 1. */
export function byteCountToBigInt(value: ByteCount, field: string): bigint {
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || value < 0)
      usage(`${field} must be a non-negative safe integer`, field);
    return BigInt(value);
  }
  if (value < 0n || value > MAX_BYTE_COUNT) usage(`${field} must be in [0, 2^63 − 1]`, field);
  return value;
}

/**
 * Checks a request once, before any codec runs, so that codecs can trust their input. Throws
 * TorkError USAGE naming the field: a bad request is the caller's bug, not the tracker's.
 */
export function validateAnnounceRequest(request: AnnounceRequest): void {
  if (!(request.infoHash instanceof Uint8Array) || request.infoHash.length !== 20) {
    usage('infoHash must be 20 bytes', 'infoHash');
  }
  if (!(request.peerId instanceof Uint8Array) || request.peerId.length !== 20) {
    usage('peerId must be 20 bytes', 'peerId');
  }
  if (!Number.isInteger(request.port) || request.port < 0 || request.port > 0xffff) {
    usage('port must be an integer in [0, 65535]', 'port');
  }
  byteCountToBigInt(request.uploaded, 'uploaded');
  byteCountToBigInt(request.downloaded, 'downloaded');
  byteCountToBigInt(request.left, 'left');
  if (!['started', 'completed', 'stopped', 'none'].includes(request.event)) usage('unknown event', 'event');
  if (
    request.numwant !== undefined &&
    (!Number.isInteger(request.numwant) || request.numwant < 0 || request.numwant > 0x7fffffff)
  ) {
    usage('numwant must be an integer in [0, 2^31 − 1]', 'numwant');
  }
  if (
    request.key !== undefined &&
    (!Number.isInteger(request.key) || request.key < 0 || request.key > 0xffffffff)
  ) {
    usage('key must be an unsigned 32-bit integer', 'key');
  }
  if (request.trackerId !== undefined) {
    // One character per byte: anything above U+00FF cannot have come from a tracker.
    for (let i = 0; i < request.trackerId.length; i++) {
      if (request.trackerId.charCodeAt(i) > 0xff)
        usage('trackerId must be a latin1 byte string', 'trackerId');
    }
  }
}
