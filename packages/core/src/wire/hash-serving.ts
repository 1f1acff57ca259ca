/**
 * The serving side of BEP 52 hash requests: from one layer of a file's merkle tree (its piece
 * layer, as the metainfo's `piece layers` holds it, or its leaves), answer a `hash request` with
 * the base hashes and the uncle hashes of the proof, or decide on a `hash reject`.
 *
 * BEP 52: "Hash requests MUST be answered with either a 'hashes' or 'hash reject' message": every
 * request gets one of the two, none drops the connection (libtorrent rejects the same way).
 */
import { TorkError, TorkErrorCode } from '../errors.js';
import { HASH_BYTES, log2, MAX_SERVED_HASHES } from './hash-messages.js';
import {
  checkRangeInTree,
  layerNodeCount,
  merkleBlockCount,
  merkleTreeHeight,
  padHash,
  sha256Pair,
} from './hash-proof.js';
import type { HashRange } from './messages.js';

/** One layer of a file's tree, with what places it. */
export interface ServedLayer {
  /** The file's pieces root. */
  readonly piecesRoot: Uint8Array;
  /** The file's length in bytes (> 0). */
  readonly fileLength: number;
  /** The layer `hashes` is: 0 for the leaves, log2(piece length / 16 KiB) for the piece layer. */
  readonly layer: number;
  /** The layer's real nodes (no padding), 32 bytes each, concatenated. */
  readonly hashes: Uint8Array;
}

/** What to send for a hash request. */
export type HashAnswer =
  | {
      readonly type: 'hashes';
      /** The request's `length` base hashes (padding hashes past the file's end). */
      readonly hashes: Uint8Array;
      /** The proof's uncle hashes, lowest layer first. */
      readonly uncles: Uint8Array;
    }
  | { readonly type: 'hash-reject'; readonly reason: string };

/**
 * A file's tree from one of its layers up to the root, built once (the layers above a piece layer
 * hold about as many hashes again as it). The construction checks that the layer hashes to the
 * pieces root: TorkError METAINFO otherwise.
 */
export class ServedMerkleTree {
  readonly piecesRoot: Uint8Array;
  readonly fileLength: number;
  /** Layers above the leaves. */
  readonly height: number;
  /** The lowest layer held: requests for layers below it are rejected. */
  readonly lowestLayer: number;
  /** layers[k] holds the real nodes of layer lowestLayer + k, up to the root. */
  readonly #layers: Uint8Array[][];

  constructor(served: ServedLayer) {
    const { piecesRoot, fileLength, layer, hashes } = served;
    if (piecesRoot.length !== HASH_BYTES) {
      throw new TorkError(TorkErrorCode.INTERNAL, `pieces root of ${piecesRoot.length} bytes`);
    }
    if (!Number.isSafeInteger(fileLength) || fileLength <= 0) {
      throw new TorkError(TorkErrorCode.INTERNAL, `file length ${fileLength} has no merkle tree`);
    }
    this.piecesRoot = piecesRoot;
    this.fileLength = fileLength;
    this.height = merkleTreeHeight(fileLength);
    const blocks = merkleBlockCount(fileLength);
    if (!Number.isInteger(layer) || layer < 0 || layer > this.height) {
      throw new TorkError(TorkErrorCode.INTERNAL, `layer ${layer} outside a tree of ${this.height} layers`);
    }
    const expected = layerNodeCount(blocks, layer);
    if (hashes.length !== expected * HASH_BYTES) {
      throw new TorkError(
        TorkErrorCode.METAINFO,
        `layer ${layer} of a ${fileLength}-byte file has ${expected} hashes, got ${hashes.length / HASH_BYTES}`,
        { layer, expected, bytes: hashes.length },
      );
    }
    this.lowestLayer = layer;
    let nodes: Uint8Array[] = [];
    for (let i = 0; i < expected; i++) nodes.push(hashes.slice(i * HASH_BYTES, (i + 1) * HASH_BYTES));
    const layers = [nodes];
    for (let l = layer; l < this.height; l++) {
      const up: Uint8Array[] = [];
      for (let i = 0; i < nodes.length; i += 2) up.push(sha256Pair(nodes[i]!, nodes[i + 1] ?? padHash(l)));
      nodes = up;
      layers.push(nodes);
    }
    if (!equalBytes(nodes[0]!, piecesRoot)) {
      throw new TorkError(TorkErrorCode.METAINFO, `layer ${layer} does not hash to the file's pieces root`, {
        layer,
      });
    }
    this.#layers = layers;
  }

  /** The node at `index` of `layer` (≥ lowestLayer): a real one, or the layer's pad hash past the end. */
  node(layer: number, index: number): Uint8Array {
    const nodes = this.#layers[layer - this.lowestLayer];
    if (nodes === undefined) {
      throw new TorkError(TorkErrorCode.INTERNAL, `layer ${layer} is not held (lowest ${this.lowestLayer})`);
    }
    return nodes[index] ?? padHash(layer);
  }

  /**
   * The answer to `request` (whose `piecesRoot` is taken to be this tree's): the hashes and
   * uncles, or a reject with its reason — base layer below what is held or not below the root,
   * length not a power of two ≥ 2 or above `maxHashes` (default 8192, libtorrent's), index not
   * aligned or out of the layer, proof layers past the root.
   */
  answer(request: HashRange, maxHashes: number = MAX_SERVED_HASHES): HashAnswer {
    const { baseLayer, index, length, proofLayers } = request;
    const fault = checkRangeInTree(request, this.height);
    if (fault !== undefined) return { type: 'hash-reject', reason: fault };
    if (length > maxHashes)
      return { type: 'hash-reject', reason: `${length} hashes, at most ${maxHashes} served` };
    if (baseLayer < this.lowestLayer) {
      return { type: 'hash-reject', reason: `layer ${baseLayer} not held (lowest ${this.lowestLayer})` };
    }
    const hashes = new Uint8Array(length * HASH_BYTES);
    for (let i = 0; i < length; i++) hashes.set(this.node(baseLayer, index + i), i * HASH_BYTES);
    // Proof layer j names the sibling, at layer base + j, of the range's ancestor there; the
    // first log2(length) - 1 are inside the range and not sent.
    const first = log2(length);
    const count = Math.max(0, proofLayers - first + 1);
    const uncles = new Uint8Array(count * HASH_BYTES);
    for (let u = 0; u < count; u++) {
      const j = first + u;
      const ancestor = Math.floor(index / 2 ** j);
      uncles.set(this.node(baseLayer + j, ancestor ^ 1), u * HASH_BYTES);
    }
    return { type: 'hashes', hashes, uncles };
  }
}

/** Serves the trees of a torrent's files, found by pieces root. */
export class HashServer {
  readonly #trees = new Map<string, ServedMerkleTree>();

  /** Adds a file's tree (see `ServedMerkleTree`); a second tree with the same root replaces nothing. */
  add(tree: ServedMerkleTree): void {
    const key = hexOf(tree.piecesRoot);
    if (!this.#trees.has(key)) this.#trees.set(key, tree);
  }

  /** The tree with this pieces root, if served. */
  get(piecesRoot: Uint8Array): ServedMerkleTree | undefined {
    return piecesRoot.length === HASH_BYTES ? this.#trees.get(hexOf(piecesRoot)) : undefined;
  }

  /** The answer to a peer's hash request: a reject for an unknown root, else the tree's answer. */
  answer(request: HashRange, maxHashes: number = MAX_SERVED_HASHES): HashAnswer {
    const tree = this.get(request.piecesRoot);
    if (tree === undefined) return { type: 'hash-reject', reason: 'unknown pieces root' };
    return tree.answer(request, maxHashes);
  }
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function hexOf(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}
