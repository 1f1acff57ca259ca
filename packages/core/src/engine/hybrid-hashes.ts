/**
 * A hybrid torrent's second swarm id (BEP 52): its v1 SHA-1 info-hash is the torrent's id in
 * tork, and its SHA-256 info-hash truncated to 20 bytes names the same torrent in handshakes,
 * tracker announces and DHT lookups made by v2 peers. libtorrent announces both and accepts
 * either; so does tork.
 */
import { wireInfoHash } from '../wire/wire-info-hash.js';
import type { TorrentMeta } from './torrent-options.js';

/**
 * The truncated v2 info-hash of a hybrid torrent (20 bytes); undefined for v1 torrents and for
 * v2-only ones, whose `infoHash` already is it.
 */
export function hybridV2WireHash(meta: Pick<TorrentMeta, 'version' | 'infoHashV2'>): Uint8Array | undefined {
  if (meta.version !== 'hybrid' || meta.infoHashV2 === undefined || meta.infoHashV2.length !== 32) {
    return undefined;
  }
  return wireInfoHash(meta.infoHashV2);
}
