/**
 * BEP 52 merkle trees: SHA-256 over 16 KiB blocks of one file. The leaf layer is padded to a power
 * of two with zero hashes (32 zero bytes, not the hash of a zero block); a node is
 * SHA-256(left || right). A file's `pieces root` is the tree's root; its piece layer is the layer
 * where one node covers `piece length` bytes. Files of at most one piece have no piece layer: their
 * root is computed over their blocks alone (the leaf count is rounded up to a power of two, not to a
 * whole piece).
 *
 * Hashes are passed as concatenated 32-byte runs (`Uint8Array` of n × 32 bytes) so that a layer of a
 * million nodes is one allocation, not a million.
 */
import * as crypto from 'node:crypto';
import { TorkError, TorkErrorCode } from '../errors.js';

/** Bytes covered by one leaf: 16 KiB (BEP 52). */
export const MERKLE_BLOCK_SIZE = 16 * 1024;

/** Bytes of one SHA-256 hash. */
export const MERKLE_HASH_SIZE = 32;

/** Deepest tree `padHash` serves: 2^52 leaves, far beyond any file a safe integer can describe. */
const MAX_PAD_LEVEL = 52;

const padHashes: Uint8Array[] = [new Uint8Array(MERKLE_HASH_SIZE)];

function outOfRange(message: string, details: Record<string, number> = {}): never {
  throw new TorkError(TorkErrorCode.OUT_OF_RANGE, message, details);
}

/**
 * SHA-256 of `data` as a Buffer: `crypto.hash` (Node ≥ 20.12) where there is one — a one-shot call
 * without a Hash object, which costs as much as hashing a 16 KiB leaf several times over for the
 * 64-byte nodes — else `createHash` (Node 20.10 and 20.11).
 */
const sha256: (data: Uint8Array) => Buffer =
  typeof crypto.hash === 'function'
    ? (data) => crypto.hash('sha256', data, 'buffer')
    : (data) => crypto.createHash('sha256').update(data).digest();

/** SHA-256 of `left || right`. */
export function hashPair(left: Uint8Array, right: Uint8Array): Uint8Array {
  return new Uint8Array(crypto.createHash('sha256').update(left).update(right).digest());
}

/**
 * The root of a subtree of 2^level zero leaves: what stands in for the missing nodes at `level`
 * (0 = leaves) beyond the end of a file. Memoised; do not mutate the result.
 */
export function padHash(level: number): Uint8Array {
  if (!Number.isInteger(level) || level < 0 || level > MAX_PAD_LEVEL) {
    outOfRange(`merkle pad level ${level} is out of range`, { level });
  }
  while (padHashes.length <= level) {
    const below = padHashes[padHashes.length - 1]!;
    padHashes.push(hashPair(below, below));
  }
  return padHashes[level]!;
}

/** Smallest power of two ≥ `value` (1 for 0 or 1). */
export function nextPowerOfTwo(value: number): number {
  let power = 1;
  while (power < value) power *= 2;
  return power;
}

/** log2 of a power of two. */
function log2(power: number): number {
  return Math.round(Math.log2(power));
}

function hashCount(hashes: Uint8Array): number {
  if (hashes.length % MERKLE_HASH_SIZE !== 0) {
    outOfRange(`a hash layer of ${hashes.length} bytes is not a whole number of 32-byte hashes`, {
      length: hashes.length,
    });
  }
  return hashes.length / MERKLE_HASH_SIZE;
}

/** SHA-256 of each 16 KiB block of `data` (the last block may be short), concatenated. */
export function blockHashes(data: Uint8Array): Uint8Array {
  const count = Math.ceil(data.length / MERKLE_BLOCK_SIZE);
  const out = new Uint8Array(count * MERKLE_HASH_SIZE);
  for (let i = 0; i < count; i++) {
    out.set(sha256(data.subarray(i * MERKLE_BLOCK_SIZE, (i + 1) * MERKLE_BLOCK_SIZE)), i * MERKLE_HASH_SIZE);
  }
  return out;
}

/**
 * One layer up: pairs of `layer` hashed, a missing right sibling replaced by `padHash(level)`
 * (`level` being the level of `layer`, 0 = leaves).
 */
function parentLayer(layer: Uint8Array, level: number): Uint8Array {
  const count = hashCount(layer);
  const parents = Math.ceil(count / 2);
  const out = new Uint8Array(parents * MERKLE_HASH_SIZE);
  // Siblings sit side by side in the layer: each pair is one 64-byte slice, hashed in one call.
  const whole = count >> 1;
  for (let i = 0; i < whole; i++) {
    out.set(
      sha256(layer.subarray(2 * i * MERKLE_HASH_SIZE, (2 * i + 2) * MERKLE_HASH_SIZE)),
      i * MERKLE_HASH_SIZE,
    );
  }
  if (whole < parents) {
    const left = layer.subarray(2 * whole * MERKLE_HASH_SIZE, (2 * whole + 1) * MERKLE_HASH_SIZE);
    out.set(hashPair(left, padHash(level)), whole * MERKLE_HASH_SIZE);
  }
  return out;
}

/**
 * The root over `hashes` (nodes at `level`, 0 = leaves) when the layer is padded to `width` nodes
 * (a power of two ≥ the count) with `padHash(level)`. Cost: O(count), not O(width).
 */
export function merkleRoot(hashes: Uint8Array, width: number, level = 0): Uint8Array {
  const count = hashCount(hashes);
  if (!Number.isSafeInteger(width) || width < 1 || nextPowerOfTwo(width) !== width || width < count) {
    outOfRange(`merkle width ${width} must be a power of two of at least ${count}`, { width, count });
  }
  if (count === 0) return padHash(level + log2(width));
  let layer = hashes;
  let currentLevel = level;
  for (let nodes = width; nodes > 1; nodes /= 2) {
    layer = parentLayer(layer, currentLevel);
    currentLevel++;
  }
  return new Uint8Array(layer);
}

/** Leaves of a file's tree: next power of two of its block count, at least one. */
function leafWidth(fileLength: number): number {
  return nextPowerOfTwo(Math.max(1, Math.ceil(fileLength / MERKLE_BLOCK_SIZE)));
}

function checkPieceLength(pieceLength: number): void {
  if (
    !Number.isSafeInteger(pieceLength) ||
    pieceLength < MERKLE_BLOCK_SIZE ||
    nextPowerOfTwo(pieceLength) !== pieceLength
  ) {
    outOfRange(`piece length ${pieceLength} must be a power of two of at least 16 KiB`, { pieceLength });
  }
}

/** What one file's tree gives: its root, and its piece layer when it is longer than one piece. */
export interface FileMerkle {
  /** The `pieces root`: 32 bytes. Undefined for an empty file (BEP 52: no root). */
  readonly root: Uint8Array | undefined;
  /** The piece layer (one 32-byte hash per piece), present only for files longer than one piece. */
  readonly pieceLayer: Uint8Array | undefined;
}

/**
 * A file's merkle root and piece layer from its block hashes (see `blockHashes`, or feed a file block
 * by block to `FileMerkleBuilder`). `fileLength` must match the block count.
 */
export function fileMerkleFromBlocks(
  leaves: Uint8Array,
  fileLength: number,
  pieceLength: number,
): FileMerkle {
  checkPieceLength(pieceLength);
  const blocks = hashCount(leaves);
  if (blocks !== Math.ceil(fileLength / MERKLE_BLOCK_SIZE)) {
    outOfRange(`${blocks} block hashes for a file of ${fileLength} bytes`, { blocks, fileLength });
  }
  if (fileLength === 0) return { root: undefined, pieceLayer: undefined };
  if (fileLength <= pieceLength) {
    return { root: merkleRoot(leaves, leafWidth(fileLength)), pieceLayer: undefined };
  }
  const blocksPerPiece = pieceLength / MERKLE_BLOCK_SIZE;
  const pieces = Math.ceil(fileLength / pieceLength);
  const layer = new Uint8Array(pieces * MERKLE_HASH_SIZE);
  for (let piece = 0; piece < pieces; piece++) {
    const slice = leaves.subarray(
      piece * blocksPerPiece * MERKLE_HASH_SIZE,
      (piece + 1) * blocksPerPiece * MERKLE_HASH_SIZE,
    );
    layer.set(merkleRoot(slice, blocksPerPiece), piece * MERKLE_HASH_SIZE);
  }
  return { root: rootFromPieceLayer(layer, pieceLength), pieceLayer: layer };
}

/** `fileMerkleFromBlocks` over the whole file in memory (tests, small files). */
export function fileMerkle(data: Uint8Array, pieceLength: number): FileMerkle {
  return fileMerkleFromBlocks(blockHashes(data), data.length, pieceLength);
}

/** The root of a piece layer (its nodes stand at level log2(blocks per piece)). */
export function rootFromPieceLayer(layer: Uint8Array, pieceLength: number): Uint8Array {
  checkPieceLength(pieceLength);
  const count = hashCount(layer);
  return merkleRoot(layer, nextPowerOfTwo(Math.max(1, count)), log2(pieceLength / MERKLE_BLOCK_SIZE));
}

/**
 * True when `layer` is the piece layer of a file of `fileLength` bytes with pieces root `root`:
 * one hash per piece, and they hash up to the root.
 */
export function verifyPieceLayer(
  root: Uint8Array,
  layer: Uint8Array,
  pieceLength: number,
  fileLength: number,
): boolean {
  checkPieceLength(pieceLength);
  if (layer.length !== Math.ceil(fileLength / pieceLength) * MERKLE_HASH_SIZE) return false;
  return Buffer.from(rootFromPieceLayer(layer, pieceLength)).equals(root);
}

/**
 * The hash a piece must have in the piece layer, from the piece's data (the last piece of a file
 * may be short: its missing blocks count as zero leaves).
 */
export function pieceRootFromData(data: Uint8Array, pieceLength: number): Uint8Array {
  checkPieceLength(pieceLength);
  if (data.length === 0 || data.length > pieceLength) {
    outOfRange(`a piece of ${data.length} bytes does not fit a piece length of ${pieceLength}`, {
      length: data.length,
      pieceLength,
    });
  }
  return merkleRoot(blockHashes(data), pieceLength / MERKLE_BLOCK_SIZE);
}

/**
 * The uncle hashes (siblings on the path to the root, bottom up) of node `index` in a layer of
 * `hashes` padded to `width` nodes with `padHash(level)`: what BEP 52's `hashes` message carries as
 * proof. The result is `log2(width)` hashes concatenated.
 */
export function merkleProof(hashes: Uint8Array, index: number, width: number, level = 0): Uint8Array {
  const count = hashCount(hashes);
  if (!Number.isSafeInteger(width) || nextPowerOfTwo(width) !== width || width < count) {
    outOfRange(`merkle width ${width} must be a power of two of at least ${count}`, { width, count });
  }
  if (!Number.isSafeInteger(index) || index < 0 || index >= width) {
    outOfRange(`merkle node ${index} is outside a layer of ${width}`, { index, width });
  }
  const depth = log2(width);
  const proof = new Uint8Array(depth * MERKLE_HASH_SIZE);
  let layer = hashes;
  let position = index;
  for (let step = 0; step < depth; step++) {
    const sibling = position ^ 1;
    const nodes = hashCount(layer);
    const hash =
      sibling < nodes
        ? layer.subarray(sibling * MERKLE_HASH_SIZE, (sibling + 1) * MERKLE_HASH_SIZE)
        : padHash(level + step);
    proof.set(hash, step * MERKLE_HASH_SIZE);
    layer = parentLayer(layer, level + step);
    position >>>= 1;
  }
  return proof;
}

/**
 * True when `node` at position `index` of its layer, combined with `proof` (uncle hashes bottom
 * up, as `merkleProof` gives), hashes to `root`.
 */
export function verifyMerkleProof(
  node: Uint8Array,
  index: number,
  proof: Uint8Array,
  root: Uint8Array,
): boolean {
  if (node.length !== MERKLE_HASH_SIZE || root.length !== MERKLE_HASH_SIZE) return false;
  if (proof.length % MERKLE_HASH_SIZE !== 0 || !Number.isSafeInteger(index) || index < 0) return false;
  const depth = proof.length / MERKLE_HASH_SIZE;
  if (depth < 53 && index >= 2 ** depth) return false;
  let hash = node;
  let position = index;
  for (let step = 0; step < depth; step++) {
    const uncle = proof.subarray(step * MERKLE_HASH_SIZE, (step + 1) * MERKLE_HASH_SIZE);
    hash = position % 2 === 0 ? hashPair(hash, uncle) : hashPair(uncle, hash);
    position = Math.floor(position / 2);
  }
  return Buffer.from(hash).equals(root);
}

/**
 * Builds one file's tree from its bytes fed in order, any chunk sizes, holding only the block hashes
 * (32 bytes per 16 KiB, 0.2 % of the file) and one partial block.
 */
export class FileMerkleBuilder {
  readonly pieceLength: number;
  private readonly partial = new Uint8Array(MERKLE_BLOCK_SIZE);
  private partialLength = 0;
  private readonly leaves: Uint8Array[] = [];
  private length = 0;

  constructor(pieceLength: number) {
    checkPieceLength(pieceLength);
    this.pieceLength = pieceLength;
  }

  update(data: Uint8Array): void {
    let offset = 0;
    while (offset < data.length) {
      const take = Math.min(MERKLE_BLOCK_SIZE - this.partialLength, data.length - offset);
      if (this.partialLength === 0 && take === MERKLE_BLOCK_SIZE) {
        this.leaves.push(new Uint8Array(sha256(data.subarray(offset, offset + take))));
      } else {
        this.partial.set(data.subarray(offset, offset + take), this.partialLength);
        this.partialLength += take;
        if (this.partialLength === MERKLE_BLOCK_SIZE) this.flush();
      }
      offset += take;
    }
    this.length += data.length;
  }

  private flush(): void {
    const block = this.partial.subarray(0, this.partialLength);
    this.leaves.push(new Uint8Array(sha256(block)));
    this.partialLength = 0;
  }

  /** The root and piece layer of everything fed so far; the builder is spent afterwards. */
  digest(): FileMerkle {
    if (this.partialLength > 0) this.flush();
    const leaves = new Uint8Array(this.leaves.length * MERKLE_HASH_SIZE);
    for (const [index, leaf] of this.leaves.entries()) leaves.set(leaf, index * MERKLE_HASH_SIZE);
    return fileMerkleFromBlocks(leaves, this.length, this.pieceLength);
  }
}

/**
 * BEP 52 `hashes` messages carry a run of `count` hashes (a power of two, starting at a multiple of
 * `count`) of one layer, then the uncle hashes from the run's own subtree root up to the file's root.
 * True when they check out against `root`. `hashes` beyond a file's end are pad hashes and must be
 * sent as such, so no level is needed here: the run is hashed as given.
 */
export function verifyHashRun(
  hashes: Uint8Array,
  first: number,
  proof: Uint8Array,
  root: Uint8Array,
): boolean {
  if (hashes.length === 0 || hashes.length % MERKLE_HASH_SIZE !== 0) return false;
  const count = hashes.length / MERKLE_HASH_SIZE;
  if (nextPowerOfTwo(count) !== count || !Number.isSafeInteger(first) || first < 0 || first % count !== 0) {
    return false;
  }
  let layer = hashes;
  while (layer.length > MERKLE_HASH_SIZE) {
    const next = new Uint8Array(layer.length / 2);
    for (let i = 0; i < layer.length / (2 * MERKLE_HASH_SIZE); i++) {
      next.set(
        hashPair(
          layer.subarray(2 * i * MERKLE_HASH_SIZE, (2 * i + 1) * MERKLE_HASH_SIZE),
          layer.subarray((2 * i + 1) * MERKLE_HASH_SIZE, (2 * i + 2) * MERKLE_HASH_SIZE),
        ),
        i * MERKLE_HASH_SIZE,
      );
    }
    layer = next;
  }
  return verifyMerkleProof(layer, first / count, proof, root);
}

/**
 * What a peer answers a BEP 52 hash request with: `count` hashes of `layer` (nodes at `level`, padded
 * to `width` with `padHash(level)`) from node `first`, and the uncles of their subtree root up to the
 * root. `count` a power of two, `first` a multiple of it.
 */
export function hashRun(
  layer: Uint8Array,
  first: number,
  count: number,
  width: number,
  level = 0,
): { hashes: Uint8Array; proof: Uint8Array } {
  const nodes = hashCount(layer);
  if (nextPowerOfTwo(count) !== count || first % count !== 0 || first + count > width || width < nodes) {
    outOfRange(`cannot take ${count} hashes from ${first} of a layer of ${width}`, { first, count, width });
  }
  const hashes = new Uint8Array(count * MERKLE_HASH_SIZE);
  for (let i = 0; i < count; i++) {
    const index = first + i;
    hashes.set(
      index < nodes
        ? layer.subarray(index * MERKLE_HASH_SIZE, (index + 1) * MERKLE_HASH_SIZE)
        : padHash(level),
      i * MERKLE_HASH_SIZE,
    );
  }
  // The layer of subtree roots one run wide, then the usual proof from there.
  const steps = Math.round(Math.log2(count));
  let upper = layer;
  for (let step = 0; step < steps; step++) upper = parentLayer(upper, level + step);
  return { hashes, proof: merkleProof(upper, first / count, width / count, level + steps) };
}
