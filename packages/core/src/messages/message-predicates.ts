import { isIPv4 } from 'node:net';
import { MessagePort } from 'node:worker_threads';
import { V2_PIECE_CHECK_SIZE } from '../metainfo/v2-piece-checks.js';
import { MAX_METADATA_BYTES } from '../wire/ut-metadata.js';
import { MAX_HOST_FILES } from './message-limits.js';

/**
 * The functions the thread-message schemas call (`z.custom`, `.refine`), as named exports: the
 * validators generated from the schemas (validator-codegen.ts) import them from here, so each is
 * written once, for both. No zod here: threads load this module.
 */

export { isPexAddress } from '../wire/ut-pex.js';

/** Any Uint8Array (a transferred or cloned view may sit on any ArrayBuffer). */
export function isBytes(value: unknown): value is Uint8Array {
  return value instanceof Uint8Array;
}

export function has20Bytes(bytes: Uint8Array): boolean {
  return bytes.length === 20;
}

export function has32Bytes(bytes: Uint8Array): boolean {
  return bytes.length === 32;
}

/** An RC4 state's permutation. */
export function has256Bytes(bytes: Uint8Array): boolean {
  return bytes.length === 256;
}

/** BEP 52 pieces roots: 32 bytes per file, for at most MAX_HOST_FILES files. */
export function isPiecesRootList(bytes: Uint8Array): boolean {
  return bytes.length % 32 === 0 && bytes.length <= MAX_HOST_FILES * 32;
}

/** An info dictionary small enough to serve (BEP 9). */
export function fitsMetadataCap(bytes: Uint8Array): boolean {
  return bytes.length <= MAX_METADATA_BYTES;
}

export function isMessagePort(value: unknown): value is MessagePort {
  return value instanceof MessagePort;
}

/** An IPv4 literal (the DHT speaks IPv4 only: BEP 32 is not implemented). */
export function isIpv4Host(host: string): boolean {
  return isIPv4(host);
}

/** A relay `data` message's length lies within its buffer. */
export function dataFitsBuffer(message: { length: number; buffer: ArrayBuffer }): boolean {
  return message.length <= message.buffer.byteLength;
}

/** A hash job's v2 checks, when present, hold one record per piece. */
export function v2ChecksMatchPieces(job: {
  v2Checks?: Uint8Array | undefined;
  pieces: readonly unknown[];
}): boolean {
  return job.v2Checks === undefined || job.v2Checks.length === job.pieces.length * V2_PIECE_CHECK_SIZE;
}
