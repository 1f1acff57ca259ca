import { createHash } from 'node:crypto';
import type { TorrentInfoHashes } from '../wire/wire-info-hash.js';
import type { Magnet } from './magnet.js';

/**
 * The hashes a magnet's info dictionary must have: its `urn:btih` (SHA-1) and its `urn:btmh`
 * (SHA-256, BEP 52), each when the link names it. A v2-only link's `infoHash` is the truncated
 * v2 hash, not a SHA-1, so it is not a v1 hash.
 */
export function magnetInfoHashes(magnet: Magnet): TorrentInfoHashes {
  return {
    ...(magnet.v2Only ? {} : { v1: magnet.infoHash }),
    ...(magnet.infoHashV2 !== undefined ? { v2: magnet.infoHashV2 } : {}),
  };
}

/**
 * Whether an info dictionary has `hashes`: its SHA-1 the v1 hash and its SHA-256 the v2 hash,
 * each when known (both for a hybrid magnet naming both). False when neither is known.
 */
export function metadataMatches(info: Uint8Array, hashes: TorrentInfoHashes): boolean {
  if (hashes.v1 === undefined && hashes.v2 === undefined) return false;
  if (hashes.v1 !== undefined && !createHash('sha1').update(info).digest().equals(hashes.v1)) return false;
  return hashes.v2 === undefined || createHash('sha256').update(info).digest().equals(hashes.v2);
}
