/**
 * BEP 52 piece checks as the peer hosts run them: for each piece, the hash its data must give in
 * its file's merkle tree. Built once on the coordinator from the metainfo (no hashing there: it
 * only copies piece-layer entries and roots), checked by the actors where each piece lands.
 *
 * One record of `V2_PIECE_CHECK_SIZE` bytes per piece: the 32-byte expected hash, then two
 * big-endian uint32: how many of the piece's bytes belong to the file (the rest is pad), and the
 * leaf count of the subtree (blocks per piece for a file longer than a piece; the file's own
 * rounded-up leaf count for a file of at most one piece, whose expected hash is its pieces root).
 */
import { TorkError, TorkErrorCode } from '../errors.js';
import {
  blockHashes,
  MERKLE_BLOCK_SIZE,
  MERKLE_HASH_SIZE,
  merkleRoot,
  nextPowerOfTwo,
} from './merkle-tree.js';
import type { MetainfoV2 } from './metainfo-v2-model.js';

/** Bytes per piece in a v2 piece-check table: 32 hash + 4 data length + 4 leaf width. */
export const V2_PIECE_CHECK_SIZE = MERKLE_HASH_SIZE + 8;

/** What `v2PieceChecks` needs of a torrent (`Metainfo` satisfies it). */
export interface V2PieceCheckSource {
  readonly pieceLength: number;
  readonly pieceCount: number;
  readonly files: readonly { readonly length: number; readonly pad: boolean }[];
  readonly v2?: MetainfoV2;
}

/**
 * The check table of a v2 or hybrid torrent; undefined for a v1 torrent or one missing a piece
 * layer it needs (a file longer than a piece, with no `piece layers` in the torrent: they would
 * have to come from peers first). A torrent whose files all fit one piece needs no layers.
 */
export function v2PieceChecks(meta: V2PieceCheckSource): Uint8Array | undefined {
  const v2 = meta.v2;
  if (v2 === undefined) return undefined;
  const { pieceLength, pieceCount } = meta;
  const table = new Uint8Array(pieceCount * V2_PIECE_CHECK_SIZE);
  const view = new DataView(table.buffer);
  const blocksPerPiece = pieceLength / MERKLE_BLOCK_SIZE;
  let offset = 0;
  for (const [index, file] of meta.files.entries()) {
    const start = offset;
    offset += file.length;
    const root = v2.piecesRoots[index];
    if (file.pad || file.length === 0 || root === undefined) continue;
    if (start % pieceLength !== 0) {
      throw new TorkError(TorkErrorCode.METAINFO, `v2 file ${index} does not start on a piece boundary`, {
        index,
      });
    }
    const first = start / pieceLength;
    const set = (piece: number, hash: Uint8Array, bytes: number, width: number): void => {
      const at = piece * V2_PIECE_CHECK_SIZE;
      table.set(hash, at);
      view.setUint32(at + MERKLE_HASH_SIZE, bytes);
      view.setUint32(at + MERKLE_HASH_SIZE + 4, width);
    };
    if (file.length <= pieceLength) {
      set(first, root, file.length, nextPowerOfTwo(Math.ceil(file.length / MERKLE_BLOCK_SIZE)));
      continue;
    }
    const layer = v2.pieceLayers.get(Buffer.from(root).toString('hex'));
    const pieces = Math.ceil(file.length / pieceLength);
    if (layer === undefined || layer.length !== pieces * MERKLE_HASH_SIZE) return undefined;
    for (let k = 0; k < pieces; k++) {
      const hash = layer.subarray(k * MERKLE_HASH_SIZE, (k + 1) * MERKLE_HASH_SIZE);
      set(first + k, hash, Math.min(pieceLength, file.length - k * pieceLength), blocksPerPiece);
    }
  }
  return table;
}

/**
 * How many of piece `index`'s bytes are its file's, from the start (the rest is pad: zeros no peer
 * needs to send); undefined when the table has no entry for it.
 */
export function v2PieceFileBytes(table: Uint8Array, index: number): number | undefined {
  const at = index * V2_PIECE_CHECK_SIZE;
  if (at + V2_PIECE_CHECK_SIZE > table.length) return undefined;
  return new DataView(table.buffer, table.byteOffset, table.byteLength).getUint32(at + MERKLE_HASH_SIZE);
}

/**
 * True when `piece` (all of piece `index`'s bytes) hashes to its entry in `table`. A piece no file
 * starts in (all pad) must be zeros. Cost: one SHA-256 per 16 KiB block plus the tree above them.
 */
export function verifyV2Piece(table: Uint8Array, index: number, piece: Uint8Array): boolean {
  const at = index * V2_PIECE_CHECK_SIZE;
  if (at + V2_PIECE_CHECK_SIZE > table.length) return false;
  const view = new DataView(table.buffer, table.byteOffset, table.byteLength);
  const bytes = view.getUint32(at + MERKLE_HASH_SIZE);
  const width = view.getUint32(at + MERKLE_HASH_SIZE + 4);
  if (bytes === 0) return piece.every((byte) => byte === 0);
  if (bytes > piece.length || width === 0) return false;
  const root = merkleRoot(blockHashes(piece.subarray(0, bytes)), width);
  const expected = table.subarray(at, at + MERKLE_HASH_SIZE);
  for (let i = 0; i < MERKLE_HASH_SIZE; i++) if (root[i] !== expected[i]) return false;
  return true;
}
