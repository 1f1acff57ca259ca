import { TorkError, TorkErrorCode } from '@tork/core/internal/errors.js';
import type { HostFile } from '@tork/core/internal/messages/host-command.js';
import { V2_PIECE_CHECK_SIZE } from '@tork/core/internal/metainfo/v2-piece-checks.js';
import { merkleTreeHeight, pieceLayerOf } from '@tork/core/internal/wire/hash-proof.js';
import { HashServer, ServedMerkleTree } from '@tork/core/internal/wire/hash-serving.js';

const HASH_BYTES = 32;

/** What a host is told of a v2 or hybrid torrent that it needs to answer hash requests. */
export interface HashServerSource {
  readonly files: readonly HostFile[];
  readonly pieceLength: number;
  /** The `add-torrent` check table: its first 32 bytes per piece are the piece-layer hashes. */
  readonly v2PieceChecks: Uint8Array;
  /** 32 bytes per file: its pieces root, zeros for pads and empty files. */
  readonly v2PiecesRoots: Uint8Array;
}

/**
 * The torrent's `HashServer`, built in the peer host from what `add-torrent` carries: the piece
 * layer of each file longer than a piece is the run of its pieces' entries in the check table,
 * hashed up to the root once (and checked against it). A file of at most one piece has no layer
 * below its root here (its leaves would have to be read and hashed from disk): its tree holds the
 * root alone, so every request for it is rejected, as libtorrent's seed mode does for what it
 * does not hold. Memory: about two 32-byte nodes (each its own small array) per piece.
 * TorkError THREAD_MESSAGE when the roots do not fit the files or a layer does not hash to its root.
 */
export function buildHashServer(source: HashServerSource): HashServer {
  const { files, pieceLength, v2PieceChecks, v2PiecesRoots } = source;
  if (v2PiecesRoots.length !== files.length * HASH_BYTES) {
    throw new TorkError(
      TorkErrorCode.THREAD_MESSAGE,
      `add-torrent: ${v2PiecesRoots.length} bytes of pieces roots for ${files.length} files`,
    );
  }
  const pieceLayer = pieceLayerOf(pieceLength);
  const server = new HashServer();
  let offset = 0;
  for (const [index, file] of files.entries()) {
    const start = offset;
    offset += file.length;
    const root = v2PiecesRoots.subarray(index * HASH_BYTES, (index + 1) * HASH_BYTES);
    if (file.length === 0 || root.every((byte) => byte === 0)) continue;
    if (start % pieceLength !== 0) {
      throw new TorkError(
        TorkErrorCode.THREAD_MESSAGE,
        `v2 file ${index} does not start on a piece boundary`,
      );
    }
    try {
      if (file.length <= pieceLength) {
        server.add(
          new ServedMerkleTree({
            piecesRoot: root.slice(),
            fileLength: file.length,
            layer: merkleTreeHeight(file.length),
            hashes: root.slice(),
          }),
        );
        continue;
      }
      const first = start / pieceLength;
      const pieces = Math.ceil(file.length / pieceLength);
      const layer = new Uint8Array(pieces * HASH_BYTES);
      for (let k = 0; k < pieces; k++) {
        const at = (first + k) * V2_PIECE_CHECK_SIZE;
        layer.set(v2PieceChecks.subarray(at, at + HASH_BYTES), k * HASH_BYTES);
      }
      server.add(
        new ServedMerkleTree({
          piecesRoot: root.slice(),
          fileLength: file.length,
          layer: pieceLayer,
          hashes: layer,
        }),
      );
    } catch (error) {
      if (error instanceof TorkError && error.code === TorkErrorCode.THREAD_MESSAGE) throw error;
      throw new TorkError(
        TorkErrorCode.THREAD_MESSAGE,
        `add-torrent: v2 file ${index}: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  }
  return server;
}
