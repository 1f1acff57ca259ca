/**
 * Merkle proofs of BEP 52 `hashes` messages, checked against trees computed independently: a
 * vector from Python's hashlib (generated once, constants below), and naive trees built in the
 * test with node:crypto from random leaves. The serving side's answers must match the naive tree
 * node for node, verify against the root, and fail once any byte is changed.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { TorkError, TorkErrorCode } from '../errors.js';
import { MAX_SERVED_HASHES, uncleCount } from './hash-messages.js';
import {
  checkHashProof,
  hashProofTop,
  merkleTreeHeight,
  padHash,
  pieceLayerOf,
  pieceLayerRequests,
  verifyHashProof,
} from './hash-proof.js';
import { HashServer, ServedMerkleTree } from './hash-serving.js';
import type { HashRange } from './messages.js';

const RUNS = Number(process.env.TORK_PROOF_RUNS ?? 150);
const BLOCK = 16 * 1024;

const sha256 = (...parts: Uint8Array[]) => {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part);
  return new Uint8Array(hash.digest());
};
const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');
const fromHex = (text: string) => new Uint8Array(Buffer.from(text, 'hex'));
const concat = (parts: Uint8Array[]) => Uint8Array.from(parts.flatMap((part) => [...part]));

/** The whole tree, naively: every layer padded to a power of two, layers[0] the leaves, last the root. */
function naiveTree(leafHashes: Uint8Array[]): Uint8Array[][] {
  let width = 1;
  while (width < leafHashes.length) width *= 2;
  const leaves = [...leafHashes];
  while (leaves.length < width) leaves.push(new Uint8Array(32));
  const layers = [leaves];
  while (layers.at(-1)!.length > 1) {
    const below = layers.at(-1)!;
    const up: Uint8Array[] = [];
    for (let i = 0; i < below.length; i += 2) up.push(sha256(below[i]!, below[i + 1]!));
    layers.push(up);
  }
  return layers;
}

/** Real (non-padding) nodes of `layer` for `blocks` leaves. */
const realCount = (blocks: number, layer: number) => Math.ceil(blocks / 2 ** layer);

function randomLeaves(blocks: number, seed: number): Uint8Array[] {
  return Array.from({ length: blocks }, (_, i) =>
    sha256(Uint8Array.of(seed & 0xff, seed >> 8, i & 0xff, i >> 8, i >> 16)),
  );
}

function flipped(bytes: Uint8Array, at: number): Uint8Array {
  const copy = bytes.slice();
  copy[at % copy.length]! ^= 0x01;
  return copy;
}

// python3: data = bytes((i*31+7)%251 for i in range(5*16384+100)); SHA-256 of each 16 KiB block,
// padded with zero hashes to 8 leaves, hashed pairwise up to the root.
const PY_ROOT = '0b4c82710d448aefa2e4be28b8a9be51565144e2094038bd6865daf826c8b49c';
const PY_PIECE_LAYER_32K = [
  'e3a1322ebba73baa8027023fc4a16ce05de9a6606aa5df216e3e3907023140fc',
  'c41472985b36b110b9e68dfc834f8f706e7a155c796bfb49fade28047532a538',
  'cd5770cb8b437edcf5051d583ed7345c101e2a014550dc10e1b5dda70c2b0867',
];

describe('BEP 52 merkle proofs (hashes messages)', () => {
  it('matches a tree computed by Python hashlib', () => {
    const length = 5 * BLOCK + 100;
    const data = Uint8Array.from({ length }, (_, i) => (i * 31 + 7) % 251);
    const leaves = concat(
      Array.from({ length: Math.ceil(length / BLOCK) }, (_, b) =>
        sha256(data.subarray(b * BLOCK, (b + 1) * BLOCK)),
      ),
    );
    const piecesRoot = fromHex(PY_ROOT);
    // Both the leaves and the 32 KiB piece layer hash to Python's root.
    const fromLeaves = new ServedMerkleTree({ piecesRoot, fileLength: length, layer: 0, hashes: leaves });
    const pieceLayer = concat(PY_PIECE_LAYER_32K.map(fromHex));
    const fromPieces = new ServedMerkleTree({ piecesRoot, fileLength: length, layer: 1, hashes: pieceLayer });
    assert.equal(fromLeaves.height, 3);
    assert.deepEqual(fromLeaves.node(1, 2), fromHex(PY_PIECE_LAYER_32K[2]!));

    const requests = pieceLayerRequests(piecesRoot, length, 32 * 1024);
    assert.deepEqual(
      requests.map(({ piecesRoot: _, ...rest }) => rest),
      [{ baseLayer: 1, index: 0, length: 4, proofLayers: 1 }],
    );
    const request = requests[0]!;
    for (const tree of [fromLeaves, fromPieces]) {
      const answer = tree.answer(request);
      assert.equal(answer.type, 'hashes');
      if (answer.type !== 'hashes') return;
      // Three real piece hashes, then the pad hash of layer 1: SHA-256 of two zero leaves.
      assert.deepEqual(answer.hashes, concat([pieceLayer, sha256(new Uint8Array(64))]));
      assert.equal(answer.uncles.length, 0, 'the whole layer: no uncle needed');
      assert.deepEqual(verifyHashProof({ ...request, ...answer }, length), { ok: true });
    }
  });

  it('pad hashes are the roots of all-zero subtrees', () => {
    assert.deepEqual(padHash(0), new Uint8Array(32));
    assert.deepEqual(padHash(1), sha256(new Uint8Array(64)));
    assert.deepEqual(padHash(2), sha256(padHash(1), padHash(1)));
    assert.equal(merkleTreeHeight(1), 0);
    assert.equal(merkleTreeHeight(BLOCK), 0);
    assert.equal(merkleTreeHeight(BLOCK + 1), 1);
    assert.equal(merkleTreeHeight(5 * BLOCK), 3);
    assert.equal(pieceLayerOf(BLOCK), 0);
    assert.equal(pieceLayerOf(4 * 1024 * 1024), 8);
  });

  it('serves and verifies every piece-layer slice of random trees, node for node as the naive tree', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 3000 }),
        fc.integer({ min: 0, max: 6 }),
        fc.integer({ min: 1, max: 9 }),
        fc.integer({ min: 0, max: 0xffff }),
        fc.nat(),
        (blocks, pieceLayer, log, seed, flip) => {
          const fileLength = (blocks - 1) * BLOCK + 1 + (seed % BLOCK);
          const tree = naiveTree(randomLeaves(blocks, seed));
          const height = tree.length - 1;
          const piecesRoot = tree[height]![0]!;
          const pieceLength = BLOCK * 2 ** pieceLayer;
          const requests = pieceLayerRequests(piecesRoot, fileLength, pieceLength, 2 ** log);
          const pieces = realCount(blocks, pieceLayer);
          if (fileLength <= pieceLength) {
            assert.deepEqual(requests, [], 'a file within one piece has no piece layer');
            return;
          }
          const layer = concat(tree[pieceLayer]!.slice(0, pieces));
          const server = new ServedMerkleTree({ piecesRoot, fileLength, layer: pieceLayer, hashes: layer });
          let covered = 0;
          for (const request of requests) {
            assert.equal(request.proofLayers, height - pieceLayer - 1);
            const answer = server.answer(request);
            assert.equal(answer.type, 'hashes', answer.type === 'hash-reject' ? answer.reason : '');
            if (answer.type !== 'hashes') return;
            const expected = tree[pieceLayer]!.slice(request.index, request.index + request.length);
            assert.deepEqual(answer.hashes, concat(expected));
            // Uncles: the siblings of the slice's ancestors, from its subtree root up to below the root.
            const first = Math.log2(request.length);
            const siblings = [];
            for (let l = pieceLayer + first; l < height; l++) {
              siblings.push(tree[l]![Math.floor(request.index / 2 ** (l - pieceLayer)) ^ 1]!);
            }
            assert.deepEqual(answer.uncles, concat(siblings));
            assert.equal(siblings.length, uncleCount(request.length, request.proofLayers));
            const proof = { ...request, ...answer };
            assert.deepEqual(verifyHashProof(proof, fileLength), { ok: true });
            covered += request.length;
            // Any changed byte, in a hash or an uncle, and the proof fails.
            const all = answer.hashes.length + answer.uncles.length;
            const at = flip % all;
            const bad =
              at < answer.hashes.length
                ? { ...proof, hashes: flipped(answer.hashes, at) }
                : { ...proof, uncles: flipped(answer.uncles, at - answer.hashes.length) };
            assert.equal(verifyHashProof(bad, fileLength).ok, false);
            assert.throws(
              () => checkHashProof(bad, fileLength),
              (e) => e instanceof TorkError && e.code === TorkErrorCode.WIRE_PROTOCOL,
            );
            assert.equal(
              verifyHashProof({ ...proof, piecesRoot: flipped(piecesRoot, flip) }, fileLength).ok,
              false,
            );
          }
          assert.ok(covered >= pieces, 'the requests cover the piece layer');
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('serves leaf ranges with partial proofs; the top node they lead to is the naive tree’s', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 2000 }),
        fc.integer({ min: 1, max: 8 }),
        fc.nat(),
        fc.nat(),
        (blocks, log, slot, proofSeed) => {
          const tree = naiveTree(randomLeaves(blocks, blocks));
          const height = tree.length - 1;
          const fileLength = blocks * BLOCK;
          const length = 2 ** Math.min(log, height);
          const index = (slot % (2 ** height / length)) * length;
          const proofLayers = proofSeed % height; // 0..height - 1
          const server = new ServedMerkleTree({
            piecesRoot: tree[height]![0]!,
            fileLength,
            layer: 0,
            hashes: concat(tree[0]!.slice(0, blocks)),
          });
          const request: HashRange = {
            piecesRoot: tree[height]![0]!,
            baseLayer: 0,
            index,
            length,
            proofLayers,
          };
          const answer = server.answer(request);
          assert.equal(answer.type, 'hashes');
          if (answer.type !== 'hashes') return;
          const top = hashProofTop({ ...request, ...answer });
          assert.deepEqual(top.hash, tree[top.layer]![top.index]);
          assert.equal(top.layer, Math.max(log2(length), proofLayers + 1));
          assert.equal(verifyHashProof({ ...request, ...answer }, fileLength).ok, proofLayers === height - 1);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('rejects what it cannot or must not serve, with the reason', () => {
    const blocks = 100; // 128 leaves: height 7
    const tree = naiveTree(randomLeaves(blocks, 1));
    const piecesRoot = tree[7]![0]!;
    const fileLength = blocks * BLOCK;
    const served = new ServedMerkleTree({
      piecesRoot,
      fileLength,
      layer: 2,
      hashes: concat(tree[2]!.slice(0, realCount(blocks, 2))),
    });
    const server = new HashServer();
    server.add(served);
    const ok: HashRange = { piecesRoot, baseLayer: 2, index: 0, length: 8, proofLayers: 4 };
    assert.equal(server.answer(ok).type, 'hashes');
    const rejects: [Partial<HashRange>, RegExp][] = [
      [{ piecesRoot: new Uint8Array(32) }, /unknown pieces root/],
      [{ baseLayer: 7 }, /base layer 7 is not below the root/],
      [{ baseLayer: 1 }, /layer 1 not held/],
      [{ length: 3 }, /length 3 is not a power of two/],
      [{ length: 1 }, /length 1 is not a power of two ≥ 2/],
      [{ length: 0 }, /length 0/],
      [{ index: 4 }, /index 4 is not a multiple of length 8/],
      [{ index: 32 }, /outside layer 2 of 32 nodes/],
      [{ length: 64 }, /outside layer 2/],
      [{ proofLayers: 5 }, /5 proof layers reach past the root/],
    ];
    for (const [change, reason] of rejects) {
      const answer = server.answer({ ...ok, ...change });
      assert.equal(answer.type, 'hash-reject', JSON.stringify(change));
      if (answer.type === 'hash-reject') assert.match(answer.reason, reason);
    }
    const capped = served.answer({ ...ok, length: 16, proofLayers: 4 }, 8);
    assert.deepEqual(capped, { type: 'hash-reject', reason: '16 hashes, at most 8 served' });
    assert.equal(MAX_SERVED_HASHES, 8192);
  });

  it('refuses to serve a layer that does not hash to the root', () => {
    const tree = naiveTree(randomLeaves(10, 3));
    const piecesRoot = tree.at(-1)![0]!;
    const hashes = concat(tree[1]!.slice(0, 5));
    const metainfo = (e: unknown) => e instanceof TorkError && e.code === TorkErrorCode.METAINFO;
    assert.throws(
      () =>
        new ServedMerkleTree({ piecesRoot, fileLength: 10 * BLOCK, layer: 1, hashes: flipped(hashes, 40) }),
      metainfo,
    );
    assert.throws(
      () =>
        new ServedMerkleTree({ piecesRoot, fileLength: 10 * BLOCK, layer: 1, hashes: hashes.subarray(32) }),
      metainfo,
    );
    assert.ok(new ServedMerkleTree({ piecesRoot, fileLength: 10 * BLOCK, layer: 1, hashes }));
    assert.equal(hex(piecesRoot).length, 64);
  });
});

function log2(n: number): number {
  return Math.log2(n);
}
