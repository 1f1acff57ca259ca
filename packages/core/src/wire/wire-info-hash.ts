/**
 * BEP 52 info-hashes on the wire. The handshake (and trackers, the DHT) carry 20 bytes: a v1
 * torrent's SHA-1 info-hash, or a v2 torrent's SHA-256 info-hash truncated to its first 20 bytes.
 * A hybrid torrent has both, and a peer may connect with either: `InfoHashRouter` maps an
 * incoming 20-byte hash to the torrent and the version it named.
 */
import { TorkError, TorkErrorCode } from '../errors.js';

/** Bytes of an info-hash in a handshake. */
export const WIRE_INFO_HASH_BYTES = 20;
/** Bytes of a v2 (SHA-256) info-hash. */
export const V2_INFO_HASH_BYTES = 32;

/** Which half of a torrent a wire info-hash names. */
export type InfoHashVersion = 1 | 2;

/** A torrent's info-hashes: v1 (20 bytes), v2 (32 bytes), or both for a hybrid. */
export interface TorrentInfoHashes {
  readonly v1?: Uint8Array;
  readonly v2?: Uint8Array;
}

/**
 * The 20 bytes a handshake carries for an info-hash: a v2 (32-byte) hash truncated to its first
 * 20 bytes, a v1 (20-byte) hash as is. A fresh copy either way. Anything else is a bug of the
 * caller (TorkError INTERNAL).
 */
export function wireInfoHash(infoHash: Uint8Array): Uint8Array<ArrayBuffer> {
  if (infoHash.length !== V2_INFO_HASH_BYTES && infoHash.length !== WIRE_INFO_HASH_BYTES) {
    throw new TorkError(
      TorkErrorCode.INTERNAL,
      `an info-hash of ${infoHash.length} bytes: 20 (v1) or 32 (v2) expected`,
      { bytes: infoHash.length },
    );
  }
  return infoHash.slice(0, WIRE_INFO_HASH_BYTES);
}

/** Which of `hashes` the 20-byte `incoming` names (v2 first, as libtorrent checks it), or undefined. */
export function matchWireInfoHash(
  incoming: Uint8Array,
  hashes: TorrentInfoHashes,
): InfoHashVersion | undefined {
  if (incoming.length !== WIRE_INFO_HASH_BYTES) return undefined;
  if (hashes.v2 !== undefined && prefixEquals(hashes.v2, incoming)) return 2;
  if (hashes.v1 !== undefined && prefixEquals(hashes.v1, incoming)) return 1;
  return undefined;
}

/**
 * Whether a connection speaks BEP 52 (hash request / hashes / hash reject): the peer named the v2
 * hash, or named the v1 hash of a hybrid with the v2 reserved bit set (BEP 52's upgrade path).
 * libtorrent follows the same rule, and answers hash requests only on such connections.
 */
export function speaksV2(
  version: InfoHashVersion,
  peerSetV2Bit: boolean,
  hashes: TorrentInfoHashes,
): boolean {
  if (hashes.v2 === undefined) return false;
  return version === 2 || peerSetV2Bit;
}

/** What `InfoHashRouter.lookup` finds. */
export interface InfoHashMatch<K> {
  readonly key: K;
  readonly version: InfoHashVersion;
}

/**
 * Maps the 20-byte info-hash of an incoming handshake to a torrent: its v1 hash and its
 * truncated v2 hash both lead to it. Keys are whatever identifies a torrent to the caller.
 */
export class InfoHashRouter<K> {
  readonly #byHash = new Map<string, InfoHashMatch<K>>();
  readonly #byKey = new Map<K, string[]>();

  /** Number of torrents routed. */
  get size(): number {
    return this.#byKey.size;
  }

  /**
   * Routes `key`'s hashes to it. TorkError USAGE when the key is already routed or one of its
   * wire hashes already leads to another torrent (two torrents cannot share a swarm id).
   */
  add(key: K, hashes: TorrentInfoHashes): void {
    if (this.#byKey.has(key)) {
      throw new TorkError(TorkErrorCode.USAGE, 'this torrent is already routed by info-hash');
    }
    const entries: [string, InfoHashMatch<K>][] = [];
    if (hashes.v1 !== undefined) entries.push([hexOf(checkV1(hashes.v1)), { key, version: 1 }]);
    if (hashes.v2 !== undefined) entries.push([hexOf(wireInfoHash(checkV2(hashes.v2))), { key, version: 2 }]);
    if (entries.length === 0) {
      throw new TorkError(TorkErrorCode.USAGE, 'a torrent needs a v1 or a v2 info-hash to be routed');
    }
    for (const [hex] of entries) {
      if (this.#byHash.has(hex)) {
        throw new TorkError(TorkErrorCode.USAGE, `info-hash ${hex} already leads to another torrent`, {
          infoHash: hex,
        });
      }
    }
    if (entries.length === 2 && entries[0]![0] === entries[1]![0]) {
      throw new TorkError(TorkErrorCode.USAGE, 'v1 info-hash equals the truncated v2 one');
    }
    for (const [hex, match] of entries) this.#byHash.set(hex, match);
    this.#byKey.set(
      key,
      entries.map(([hex]) => hex),
    );
  }

  /** Stops routing `key`; false when it was not routed. */
  remove(key: K): boolean {
    const hexes = this.#byKey.get(key);
    if (hexes === undefined) return false;
    for (const hex of hexes) this.#byHash.delete(hex);
    this.#byKey.delete(key);
    return true;
  }

  /** The torrent and version an incoming 20-byte info-hash names, or undefined. */
  lookup(incoming: Uint8Array): InfoHashMatch<K> | undefined {
    if (incoming.length !== WIRE_INFO_HASH_BYTES) return undefined;
    return this.#byHash.get(hexOf(incoming));
  }
}

function checkV1(hash: Uint8Array): Uint8Array {
  if (hash.length !== WIRE_INFO_HASH_BYTES) {
    throw new TorkError(TorkErrorCode.INTERNAL, `v1 info-hash of ${hash.length} bytes, expected 20`);
  }
  return hash;
}

function checkV2(hash: Uint8Array): Uint8Array {
  if (hash.length !== V2_INFO_HASH_BYTES) {
    throw new TorkError(TorkErrorCode.INTERNAL, `v2 info-hash of ${hash.length} bytes, expected 32`);
  }
  return hash;
}

function prefixEquals(full: Uint8Array, prefix: Uint8Array): boolean {
  if (full.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (full[i] !== prefix[i]) return false;
  return true;
}

function hexOf(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}
