/**
 * What BEP 52 piece-layer proofs cost: one file of 16,384 pieces of 4 MiB (64 GiB, a piece layer
 * of 512 KiB, tree height 22) — build the served tree from the piece layer, answer the 32
 * requests that fetch the layer in 512-hash slices, verify the 32 answers against the root.
 *
 *   pnpm run build && node test/dist/bench/hash-proof-bench.js
 */
import { createHash, randomBytes } from 'node:crypto';
import { pieceLayerRequests, ServedMerkleTree, verifyHashProof } from '@tork/core';

const pair = (left: Uint8Array, right: Uint8Array) =>
  new Uint8Array(createHash('sha256').update(left).update(right).digest());

const PIECES = 16_384;
const PIECE_LENGTH = 4 << 20;
const PIECE_LAYER = 8;
const fileLength = PIECES * PIECE_LENGTH;
const layer = new Uint8Array(randomBytes(PIECES * 32));

// The root, computed apart from ServedMerkleTree.
let pad: Uint8Array = new Uint8Array(32);
for (let l = 0; l < PIECE_LAYER; l++) pad = pair(pad, pad);
let nodes: Uint8Array[] = [];
for (let i = 0; i < PIECES; i++) nodes.push(layer.subarray(i * 32, (i + 1) * 32));
while (nodes.length > 1) {
  const up: Uint8Array[] = [];
  for (let i = 0; i < nodes.length; i += 2) up.push(pair(nodes[i]!, nodes[i + 1] ?? pad));
  nodes = up;
  pad = pair(pad, pad);
}
const piecesRoot = nodes[0]!;

let start = performance.now();
const tree = new ServedMerkleTree({ piecesRoot, fileLength, layer: PIECE_LAYER, hashes: layer });
const buildMs = performance.now() - start;

const requests = pieceLayerRequests(piecesRoot, fileLength, PIECE_LENGTH);
start = performance.now();
const answers = requests.map((request) => {
  const answer = tree.answer(request);
  if (answer.type !== 'hashes') throw new Error(answer.reason);
  return { ...request, ...answer };
});
const serveMs = performance.now() - start;

const ROUNDS = 10;
start = performance.now();
for (let round = 0; round < ROUNDS; round++) {
  for (const answer of answers) {
    const result = verifyHashProof(answer, fileLength);
    if (!result.ok) throw new Error(result.reason);
  }
}
const verifyMs = (performance.now() - start) / ROUNDS;

console.log(
  JSON.stringify({
    pieces: PIECES,
    requests: requests.length,
    buildMs: Number(buildMs.toFixed(1)),
    serveAllMs: Number(serveMs.toFixed(1)),
    verifyAllMs: Number(verifyMs.toFixed(1)),
    verifyPerHashUs: Number(((verifyMs * 1000) / PIECES).toFixed(2)),
  }),
);
