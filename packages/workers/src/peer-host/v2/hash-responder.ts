/**
 * The seeding half of BEP 52 on one connection: a v2 peer's `hash request`s answered from the
 * torrent's `HashServer` with `hashes`, or with `hash reject` (BEP 52: every request gets one of
 * the two). Answered whether or not we choke the peer (BEP 52 does not tie them to the choke),
 * within a per-second budget of hashes and of unsent bytes, like block requests are bounded by
 * the upload queue; a peer that floods requests is dropped.
 */

import { TorkError, TorkErrorCode } from '@tork/core/internal/errors.js';
import type { WireDecoder } from '@tork/core/internal/wire/decoder.js';
import { encodeHandshake } from '@tork/core/internal/wire/handshake.js';
import { encodeHashes, encodeHashReject } from '@tork/core/internal/wire/hash-messages.js';
import type { HashServer } from '@tork/core/internal/wire/hash-serving.js';
import type { HashRange } from '@tork/core/internal/wire/messages.js';
import {
  type InfoHashVersion,
  matchWireInfoHash,
  speaksV2,
  type TorrentInfoHashes,
} from '@tork/core/internal/wire/wire-info-hash.js';

/** Hashes (32 bytes each) served to one peer per second; a request past it is rejected. */
export const DEFAULT_MAX_SERVED_HASHES_PER_SECOND = 65_536;
/** Hash requests one peer may make per second, answered or not; one more drops it as a flood. */
export const DEFAULT_MAX_HASH_REQUESTS_PER_SECOND = 1_000;
/** Bytes already waiting to be sent to the peer above which a hash request is rejected. */
export const DEFAULT_MAX_HASH_BACKLOG_BYTES = 4 * 1024 * 1024;

export interface HashResponderOptions {
  /**
   * Hashes served to one peer per second (a `hashes` of 512 carries 16 KiB of them); a request
   * that would go past it gets a `hash reject`. Default: `DEFAULT_MAX_SERVED_HASHES_PER_SECOND`
   * (65,536: 2 MiB/s).
   */
  readonly maxServedHashesPerSecond?: number;
  /**
   * Hash requests a peer may make in one second before it is dropped as a flood
   * (TORK_ERR_WIRE_PROTOCOL, `cause: flood`). Default: `DEFAULT_MAX_HASH_REQUESTS_PER_SECOND` (1,000).
   */
  readonly maxHashRequestsPerSecond?: number;
  /**
   * Unsent bytes queued for the peer above which hash requests are rejected (a peer that does
   * not read cannot grow our buffers). Default: `DEFAULT_MAX_HASH_BACKLOG_BYTES` (4 MiB).
   */
  readonly maxHashBacklogBytes?: number;
}

/** What a responder needs of its torrent. */
export interface HashServingTorrent {
  readonly infoHash: Uint8Array;
  /** The torrent's v1 and v2 info-hashes; absent: v1 only. */
  readonly infoHashes?: TorrentInfoHashes;
  /** The torrent's hash server, built on first use; absent or null: nothing is served. */
  readonly hashServer?: () => HashServer | null;
}

/**
 * Which of the torrent's hashes a handshake's 20-byte `infoHash` names: 1 (its v1 hash, or the
 * only hash of a v1 torrent), 2 (its truncated v2 hash), or undefined (neither: a mismatch).
 */
export function handshakeVersion(
  torrent: HashServingTorrent,
  infoHash: Uint8Array,
): InfoHashVersion | undefined {
  const hashes = torrent.infoHashes;
  if (hashes !== undefined) return matchWireInfoHash(infoHash, hashes);
  return equal(infoHash, torrent.infoHash) ? 1 : undefined;
}

/**
 * After the peer's handshake: when the connection speaks BEP 52 (`speaksV2`: the peer named the
 * v2 hash, or a hybrid's v1 hash with the v2 bit), the decoder is told to decode hash messages
 * and a responder is returned for the session's `hash-request`s; otherwise null.
 */
export function enableV2IfSpoken(
  torrent: HashServingTorrent,
  version: InfoHashVersion,
  peerV2Bit: boolean,
  decoder: WireDecoder,
  options: HashResponderOptions = {},
): HashResponder | null {
  const hashes = torrent.infoHashes;
  if (hashes === undefined || !speaksV2(version, peerV2Bit, hashes)) return null;
  decoder.enableHashMessages();
  return new HashResponder(torrent, options);
}

/** Our handshake for a v2 or hybrid torrent, naming `infoHash` (the hash the peer used). */
export function v2Handshake(infoHash: Uint8Array, peerId: Uint8Array): Uint8Array {
  return encodeHandshake({ infoHash, peerId, extensionProtocol: true, fastExtension: true, v2: true });
}

/** One connection's hash-request answering: budget, counters, the answer to write. */
export class HashResponder {
  /** Requests answered with `hashes`, and with `hash reject`. */
  answered = 0;
  rejected = 0;
  readonly #torrent: HashServingTorrent;
  readonly #maxHashes: number;
  readonly #maxRequests: number;
  readonly #maxBacklog: number;
  #windowStart = Number.NEGATIVE_INFINITY;
  #hashesInWindow = 0;
  #requestsInWindow = 0;

  constructor(torrent: HashServingTorrent, options: HashResponderOptions = {}) {
    this.#torrent = torrent;
    this.#maxHashes = options.maxServedHashesPerSecond ?? DEFAULT_MAX_SERVED_HASHES_PER_SECOND;
    this.#maxRequests = options.maxHashRequestsPerSecond ?? DEFAULT_MAX_HASH_REQUESTS_PER_SECOND;
    this.#maxBacklog = options.maxHashBacklogBytes ?? DEFAULT_MAX_HASH_BACKLOG_BYTES;
  }

  /**
   * The message to send for `request` at `now` (ms) with `unsent` bytes already queued to the
   * peer: `hashes` or `hash reject`. Throws TORK_ERR_WIRE_PROTOCOL (`cause: flood`) past the
   * per-second request cap.
   */
  onRequest(request: HashRange, now: number, unsent: number): Uint8Array {
    if (now - this.#windowStart >= 1_000) {
      this.#windowStart = now;
      this.#hashesInWindow = 0;
      this.#requestsInWindow = 0;
    }
    if (++this.#requestsInWindow > this.#maxRequests) {
      throw new TorkError(
        TorkErrorCode.WIRE_PROTOCOL,
        `peer flooded us with more than ${this.#maxRequests} hash requests in 1 s`,
        { limit: this.#maxRequests, cause: 'flood' },
      );
    }
    const range: HashRange = {
      piecesRoot: request.piecesRoot.slice(),
      baseLayer: request.baseLayer,
      index: request.index,
      length: request.length,
      proofLayers: request.proofLayers,
    };
    if (unsent <= this.#maxBacklog && this.#hashesInWindow + request.length <= this.#maxHashes) {
      const answer = this.#torrent.hashServer?.()?.answer(range);
      if (answer !== undefined && answer.type === 'hashes') {
        this.#hashesInWindow += request.length;
        this.answered++;
        return encodeHashes(range, answer.hashes, answer.uncles);
      }
    }
    this.rejected++;
    return encodeHashReject(range);
  }
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
