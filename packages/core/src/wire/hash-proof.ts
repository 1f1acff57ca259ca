/**
 * BEP 52 merkle proofs, as a `hashes` message carries them: checking that received hashes chain
 * to a file's pieces root, and planning the requests that fetch a file's piece layer.
 *
 * The tree of a file: SHA-256 of each 16 KiB block are the leaves (layer 0), padded with zero
 * hashes to a power of two; each node above is SHA-256(left ‖ right); the root is the file's
 * `pieces root`. A node whose leaves are all padding is the "pad hash" of its layer: 32 zero bytes
 * at layer 0, SHA-256(pad ‖ pad) of the layer below above it.
 *
 * The primitives (pair hash, pad hashes, block size) are the metainfo's merkle module's: one tree
 * definition for the file tree and the wire.
 */
import { TorkError, TorkErrorCode } from '../errors.js';
import { hashPair, MERKLE_BLOCK_SIZE, padHash } from '../metainfo/merkle-tree.js';
import { HASH_BYTES, isPowerOfTwo, log2, MAX_HASHES_PER_MESSAGE, uncleCount } from './hash-messages.js';
import type { HashRange } from './messages.js';

/** Bytes of data under one leaf of a v2 file tree (the metainfo's `MERKLE_BLOCK_SIZE`). */
export const MERKLE_BLOCK_BYTES = MERKLE_BLOCK_SIZE;

/** SHA-256(left ‖ right): one node from its two children (the metainfo's `hashPair`). */
export const sha256Pair = hashPair;

export { padHash };

/** 16 KiB blocks in a file of `fileLength` bytes (at least 1: an empty file has no tree, see BEP 52). */
export function merkleBlockCount(fileLength: number): number {
  return Math.max(1, Math.ceil(fileLength / MERKLE_BLOCK_BYTES));
}

/** Layers above the leaves of a file's tree: log2 of its leaf count padded to a power of two. */
export function merkleTreeHeight(fileLength: number): number {
  const blocks = merkleBlockCount(fileLength);
  let height = 0;
  while (2 ** height < blocks) height++;
  return height;
}

/** The layer of the piece hashes: log2(pieceLength / 16 KiB). `pieceLength` is a power of two ≥ 16 KiB. */
export function pieceLayerOf(pieceLength: number): number {
  if (!Number.isInteger(pieceLength) || pieceLength < MERKLE_BLOCK_BYTES || !isPowerOfTwo(pieceLength)) {
    throw new TorkError(
      TorkErrorCode.INTERNAL,
      `v2 piece length ${pieceLength} is not a power of two of at least 16 KiB`,
      { pieceLength },
    );
  }
  return log2(pieceLength / MERKLE_BLOCK_BYTES);
}

/** Real (not padding) nodes at `layer` of a tree over `blocks` leaves. */
export function layerNodeCount(blocks: number, layer: number): number {
  return Math.ceil(blocks / 2 ** layer);
}

/** A `hashes` message's content, as `decodeHashesPayload` yields it. */
export interface HashProof extends HashRange {
  /** `length` 32-byte base-layer hashes. */
  readonly hashes: Uint8Array;
  /** Uncle hashes, lowest layer first. */
  readonly uncles: Uint8Array;
}

/** The node a proof leads to: its layer, index in that layer, and hash. */
export interface ProofNode {
  readonly layer: number;
  readonly index: number;
  readonly hash: Uint8Array;
}

/**
 * Hashes the base hashes up to their subtree's root, then climbs one layer per uncle: the node
 * the proof leads to. Checks only the shape (length a power of two ≥ 2, index aligned, sizes);
 * whether that node is right is for the caller (`verifyHashProof` compares it with the root).
 */
export function hashProofTop(proof: HashProof): ProofNode {
  const { length, index, baseLayer, proofLayers } = proof;
  if (!isPowerOfTwo(length) || length < 2 || index % length !== 0) {
    throw new TorkError(TorkErrorCode.WIRE_PROTOCOL, `hash proof of ${length} hashes at index ${index}`, {
      hashCount: length,
      index,
    });
  }
  const uncles = uncleCount(length, proofLayers);
  if (proof.hashes.length !== length * HASH_BYTES || proof.uncles.length !== uncles * HASH_BYTES) {
    throw new TorkError(
      TorkErrorCode.WIRE_PROTOCOL,
      `hash proof with ${proof.hashes.length} bytes of hashes and ${proof.uncles.length} of uncles` +
        ` (expected ${length * HASH_BYTES} and ${uncles * HASH_BYTES})`,
      { hashCount: length, uncles },
    );
  }
  // Layer by layer within one scratch array: n nodes become n / 2.
  let nodes: Uint8Array[] = [];
  for (let i = 0; i < length; i++) nodes.push(proof.hashes.subarray(i * HASH_BYTES, (i + 1) * HASH_BYTES));
  while (nodes.length > 1) {
    const up: Uint8Array[] = [];
    for (let i = 0; i < nodes.length; i += 2) up.push(sha256Pair(nodes[i]!, nodes[i + 1]!));
    nodes = up;
  }
  let hash = nodes[0]!;
  let at = index / length;
  let layer = baseLayer + log2(length);
  for (let u = 0; u < uncles; u++) {
    const uncle = proof.uncles.subarray(u * HASH_BYTES, (u + 1) * HASH_BYTES);
    hash = at % 2 === 0 ? sha256Pair(hash, uncle) : sha256Pair(uncle, hash);
    at = Math.floor(at / 2);
    layer++;
  }
  return { layer, index: at, hash };
}

/** Why a proof failed, or ok. */
export type HashProofResult = { readonly ok: true } | { readonly ok: false; readonly reason: string };

/**
 * Whether a received `hashes` message proves its base hashes against the file's pieces root: it
 * must lie inside the tree of a `fileLength`-byte file, its uncles must reach the root (what tork
 * asks for: proof layers = tree height - base layer - 1), and the node they lead to must be
 * `proof.piecesRoot`. A false result is the peer's fault: wrong or forged hashes.
 */
export function verifyHashProof(proof: HashProof, fileLength: number): HashProofResult {
  const height = merkleTreeHeight(fileLength);
  const range = checkRangeInTree(proof, height);
  if (range !== undefined) return { ok: false, reason: range };
  if (proof.proofLayers !== height - proof.baseLayer - 1) {
    return {
      ok: false,
      reason: `proof of ${proof.proofLayers} layers does not reach the root (${height - proof.baseLayer - 1} needed)`,
    };
  }
  let top: ProofNode;
  try {
    top = hashProofTop(proof);
  } catch (error) {
    return { ok: false, reason: error instanceof Error ? error.message : String(error) };
  }
  if (top.layer !== height || top.index !== 0) {
    return { ok: false, reason: `proof leads to node ${top.index} of layer ${top.layer}, not the root` };
  }
  if (!equalBytes(top.hash, proof.piecesRoot)) {
    return { ok: false, reason: 'hashes do not chain to the pieces root' };
  }
  return { ok: true };
}

/**
 * `verifyHashProof`, throwing: TorkError WIRE_PROTOCOL with the reason, for a peer to be dropped
 * (and banned) for sending wrong hashes.
 */
export function checkHashProof(proof: HashProof, fileLength: number): void {
  const result = verifyHashProof(proof, fileLength);
  if (!result.ok) {
    throw new TorkError(TorkErrorCode.WIRE_PROTOCOL, `peer sent bad hashes: ${result.reason}`, {
      type: 'hashes',
      baseLayer: proof.baseLayer,
      index: proof.index,
      hashCount: proof.length,
    });
  }
}

/**
 * Why `range` does not fit the tree of `height` layers above the leaves, or undefined when it
 * does: base layer below the root, length a power of two ≥ 2, index aligned to it, the range
 * inside its layer, proof layers below the root.
 */
export function checkRangeInTree(range: HashRange, height: number): string | undefined {
  const { baseLayer, index, length, proofLayers } = range;
  if (baseLayer >= height) return `base layer ${baseLayer} is not below the root (tree of ${height} layers)`;
  if (!isPowerOfTwo(length) || length < 2) return `length ${length} is not a power of two ≥ 2`;
  if (index % length !== 0) return `index ${index} is not a multiple of length ${length}`;
  const layerSize = 2 ** (height - baseLayer);
  if (index + length > layerSize) {
    return `hashes ${index}..${index + length - 1} outside layer ${baseLayer} of ${layerSize} nodes`;
  }
  if (proofLayers >= height - baseLayer) {
    return `${proofLayers} proof layers reach past the root (at most ${height - baseLayer - 1})`;
  }
  return undefined;
}

/**
 * The hash requests that fetch the piece layer of one file: slices of at most `maxHashes`
 * (default 512) piece hashes, each with a proof up to the root. Empty when the file fits in one
 * piece (its pieces root is then its only piece hash) or is empty.
 */
export function pieceLayerRequests(
  piecesRoot: Uint8Array,
  fileLength: number,
  pieceLength: number,
  maxHashes: number = MAX_HASHES_PER_MESSAGE,
): HashRange[] {
  const pieceLayer = pieceLayerOf(pieceLength);
  const height = merkleTreeHeight(fileLength);
  const pieces = layerNodeCount(merkleBlockCount(fileLength), pieceLayer);
  if (fileLength <= pieceLength || pieces < 2) return [];
  // The piece layer, padded, has 2^(height - pieceLayer) nodes: a power of two ≥ 2.
  const layerSize = 2 ** (height - pieceLayer);
  const length = Math.min(layerSize, 2 ** log2(Math.max(2, maxHashes)));
  const requests: HashRange[] = [];
  for (let index = 0; index < pieces; index += length) {
    requests.push({ piecesRoot, baseLayer: pieceLayer, index, length, proofLayers: height - pieceLayer - 1 });
  }
  return requests;
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
