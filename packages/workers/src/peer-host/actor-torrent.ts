import * as crypto from 'node:crypto';
import type { Bitfield } from '@tork/core/internal/bitfield.js';
import type { SwarmPeer } from '@tork/core/internal/messages/host-command.js';
import { v2PieceFileBytes, verifyV2Piece } from '@tork/core/internal/metainfo/v2-piece-checks.js';
import type { HashServer } from '@tork/core/internal/wire/hash-serving.js';
import type { TorrentInfoHashes } from '@tork/core/internal/wire/wire-info-hash.js';
import type { RateAllowance } from './rate-allowance.js';

/**
 * Where a session reads the blocks it serves: the host's PieceReader for the torrent, which
 * checks each piece against its hash before serving it. The bytes are only valid until the next
 * macrotask (the read cache may reuse them): copy them out at once.
 */
export interface BlockReader {
  readBlock(index: number, begin: number, length: number): Promise<Uint8Array>;
  /** The block at once if its piece is cached, else `undefined` (then `readBlock`). Optional. */
  cachedBlock?(index: number, begin: number, length: number): Uint8Array | undefined;
  /** Starts reading piece `index` into the cache, unless it is there or on its way. Optional. */
  prefetch?(index: number): void;
}

/** A torrent as a host knows it: what a session needs to talk about it and verify its pieces. */
export interface ActorTorrent {
  /** Info-hash, lowercase hex. */
  readonly id: string;
  readonly infoHash: Uint8Array;
  readonly peerId: Uint8Array;
  readonly pieceLength: number;
  readonly length: number;
  readonly pieceCount: number;
  /** 20 bytes per piece; empty for a v2-only torrent (its pieces pass the v2 check alone). */
  readonly pieceHashes: Uint8Array;
  /** BEP 52 merkle check per piece (see `v2PieceChecks`), passed as well as SHA-1; null: v1. */
  readonly v2PieceChecks: Uint8Array | null;
  /**
   * BEP 52: the torrent's v1 and full v2 info-hashes (a hybrid has both, and a peer may name
   * either in its handshake). Absent: a v1 torrent, known by `infoHash` alone.
   */
  readonly infoHashes?: TorrentInfoHashes;
  /** BEP 52: the hash server answering peers' hash requests, built on first use; absent or null: none. */
  readonly hashServer?: () => HashServer | null;
  /** What we have; kept current by `have` commands, sent to each peer after the handshake. */
  readonly have: Bitfield;
  /** Reads verified pieces back from disk to serve requests; null: nothing is served. */
  readonly reader: BlockReader | null;
  /** The port we listen on (BEP 10 `p`); 0: none. */
  readonly listenPort: number;
  /** BEP 27: extensions that share peers or metadata stay off. */
  readonly private: boolean;
  /** The raw info dictionary we serve to peers that ask (BEP 9); null: none (private, or not had). */
  readonly metadata: Uint8Array | null;
  /**
   * A magnet's torrent before its metadata is known: no pieces, no bitfields; its sessions only
   * handshake and fetch the info dictionary when told to.
   */
  readonly metadataOnly: boolean;
  /**
   * A magnet's torrent: the hashes its info dictionary must have (SHA-1 `v1`, SHA-256 `v2`; both
   * checked when both are known). Absent: SHA-1 = `infoHash`.
   */
  readonly metadataHashes?: TorrentInfoHashes;
  /** A magnet's torrent known to be v2: the handshake sets the BEP 52 bit. Default: false. */
  readonly v2Handshake?: boolean;
  /** Peer exchange (BEP 11) runs for this torrent (never for a private one). */
  readonly pex: boolean;
  /**
   * The torrent's connected peers as the coordinator last listed them (`torrent-peers`), for
   * peer exchange; a new list replaces the array (it is never changed in place).
   */
  readonly swarm: readonly SwarmPeer[];
  /** The host's allowance where the torrent's rates are capped (always granted where not). */
  readonly rates: RateAllowance;
}

/** Bytes in piece `index`: the piece length, or less for the last piece. */
export function pieceSize(torrent: ActorTorrent, index: number): number {
  const { pieceLength, length } = torrent;
  return Math.min(pieceLength, length - index * pieceLength);
}

/**
 * Bytes of piece `index` a peer must send: in a v2 or hybrid torrent a file's last piece ends in
 * pad (zeros, BEP 47/52), which libtorrent never asks for; the whole piece otherwise. A piece that
 * is all pad is fetched as is (nothing would ever complete it).
 */
export function pieceDataSize(torrent: ActorTorrent, index: number): number {
  const size = pieceSize(torrent, index);
  if (torrent.v2PieceChecks === null) return size;
  const fileBytes = v2PieceFileBytes(torrent.v2PieceChecks, index);
  return fileBytes === undefined || fileBytes === 0 ? size : Math.min(size, fileBytes);
}

/**
 * Whether `data` is piece `index`: its SHA-1 (v1 and hybrid) and its BEP 52 merkle check (v2 and
 * hybrid; a hybrid's piece must pass both). A torrent with neither never passes.
 */
/**
 * SHA-1 of `data`. One-shot `crypto.hash` (Node ≥ 20.12) creates no Hash object: with 16 KiB
 * pieces the object and its digest were a tenth of a peer host's hashing time. Older Node: createHash.
 */
const sha1: (data: Uint8Array) => Buffer =
  typeof crypto.hash === 'function'
    ? (data) =>
        (crypto.hash as (algorithm: string, data: Uint8Array, encoding: 'buffer') => Buffer)(
          'sha1',
          data,
          'buffer',
        )
    : (data) => crypto.createHash('sha1').update(data).digest();

export function verifyPiece(torrent: ActorTorrent, index: number, data: Uint8Array): boolean {
  const { pieceHashes, v2PieceChecks } = torrent;
  if (pieceHashes.length === 0 && v2PieceChecks === null) return false;
  if (pieceHashes.length > 0) {
    const expected = pieceHashes.subarray(index * 20, index * 20 + 20);
    if (expected.length !== 20 || !sha1(data).equals(expected)) return false;
  }
  return v2PieceChecks === null || verifyV2Piece(v2PieceChecks, index, data);
}
