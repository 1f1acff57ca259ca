import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  blockHashes,
  FileMerkleBuilder,
  fileMerkle,
  hashRun,
  MERKLE_BLOCK_SIZE,
  merkleProof,
  merkleRoot,
  padHash,
  pieceRootFromData,
  rootFromPieceLayer,
  verifyHashRun,
  verifyMerkleProof,
  verifyPieceLayer,
} from './merkle-tree.js';

/** Cases per property: 200 in CI (each hashes up to ~300 KiB); TORK_FUZZ_RUNS raises it. */
const RUNS = Math.min(Number(process.env.TORK_FUZZ_RUNS ?? 200), 5000);

/** The test data of the vectors below: byte i is (i * seed + 7) mod 251. */
function vectorData(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = (i * seed + 7) % 251;
  return out;
}

const hex = (bytes: Uint8Array | undefined): string => Buffer.from(bytes ?? []).toString('hex');
const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/**
 * Computed once with an independent Python implementation (hashlib) and checked equal to the
 * `pieces root` and `piece layers` libtorrent 2.0.8 writes for the same files (lt.create_torrent,
 * v2_only). The layer is given as the SHA-256 of its bytes.
 */
const VECTORS = [
  {
    length: 1,
    pieceLength: 16384,
    seed: 3,
    root: 'ca358758f6d27e6cf45272937977a748fd88391db679ceda7dc7bf1f005ee879',
  },
  {
    length: 16384,
    pieceLength: 16384,
    seed: 5,
    root: '5f22f65d5fcde5989a4dcc4b3d0ad3e3bb7ed3760534da64eb86e36948e2ecb3',
  },
  {
    length: 16385,
    pieceLength: 16384,
    seed: 11,
    root: '5bd5b8bdc3ca3d230312b1e7805ae1b4b383febdfd4f00d0b05dacbef383b3cc',
    layer: '5bd5b8bdc3ca3d230312b1e7805ae1b4b383febdfd4f00d0b05dacbef383b3cc',
  },
  {
    length: 100000,
    pieceLength: 32768,
    seed: 13,
    root: '23403d909747bd5bd1d89d0ba89de43b42ac9ee179552884a974de2499bc458b',
    layer: 'e9017193fe26c55289d7de026970855bd8933127cfba406a473120371d5a08ae',
  },
  {
    length: 300000,
    pieceLength: 65536,
    seed: 17,
    root: 'cbb24d8902ae55fe1c5dc644e3f7247fafa08f1403f2fc5048f93ee6e3123e9b',
    layer: '3c4a6e1da933e7549e721264e9329749d775cd30e69b8091689e57f3e6ba7958',
  },
];

describe('merkle tree: known vectors (libtorrent and hashlib agree)', () => {
  for (const vector of VECTORS) {
    it(`${vector.length} bytes in pieces of ${vector.pieceLength}`, () => {
      const data = vectorData(vector.length, vector.seed);
      const merkle = fileMerkle(data, vector.pieceLength);
      assert.equal(hex(merkle.root), vector.root);
      if (vector.layer === undefined) {
        assert.equal(merkle.pieceLayer, undefined);
      } else {
        assert.equal(sha256(merkle.pieceLayer!), vector.layer);
        assert.equal(merkle.pieceLayer!.length, Math.ceil(vector.length / vector.pieceLength) * 32);
        assert.ok(verifyPieceLayer(merkle.root!, merkle.pieceLayer!, vector.pieceLength, vector.length));
      }
    });
  }

  it('pads with zero hashes, not hashes of zero blocks', () => {
    assert.equal(hex(padHash(0)), '00'.repeat(32));
    assert.equal(hex(padHash(1)), sha256(new Uint8Array(64)));
    // Two blocks of data, the second short: root = H(H(block0) || H(block1)).
    const data = vectorData(MERKLE_BLOCK_SIZE + 10, 1);
    const leaves = blockHashes(data);
    assert.equal(hex(fileMerkle(data, 65536).root), sha256(leaves));
    // Three blocks: the fourth leaf is 32 zero bytes.
    const three = vectorData(2 * MERKLE_BLOCK_SIZE + 1, 2);
    const l = blockHashes(three);
    const left = createHash('sha256').update(l.subarray(0, 64)).digest();
    const right = createHash('sha256').update(l.subarray(64, 96)).update(new Uint8Array(32)).digest();
    assert.equal(hex(fileMerkle(three, 65536).root), sha256(Buffer.concat([left, right])));
  });

  it('an empty file has no root and no layer', () => {
    assert.deepEqual(fileMerkle(new Uint8Array(0), 16384), { root: undefined, pieceLayer: undefined });
  });

  it('the streaming builder gives the same tree for any chunking', () => {
    const data = vectorData(300000, 17);
    const builder = new FileMerkleBuilder(65536);
    for (let offset = 0; offset < data.length; offset += 7777)
      builder.update(data.subarray(offset, offset + 7777));
    const streamed = builder.digest();
    assert.equal(hex(streamed.root), VECTORS[4]!.root);
    assert.equal(sha256(streamed.pieceLayer!), VECTORS[4]!.layer);
  });
});

describe('merkle tree: properties', () => {
  const file = fc.record({
    length: fc.integer({ min: 1, max: 300_000 }),
    seed: fc.integer({ min: 1, max: 250 }),
    pieceLog: fc.integer({ min: 0, max: 3 }),
  });

  it('verifyPieceLayer(root, layer) holds, and piece hashes match the layer', () => {
    fc.assert(
      fc.property(file, ({ length, seed, pieceLog }) => {
        const pieceLength = MERKLE_BLOCK_SIZE << pieceLog;
        const data = vectorData(length, seed);
        const { root, pieceLayer } = fileMerkle(data, pieceLength);
        assert.ok(root !== undefined);
        if (length <= pieceLength) {
          assert.equal(pieceLayer, undefined);
          return;
        }
        assert.ok(verifyPieceLayer(root, pieceLayer!, pieceLength, length));
        assert.deepEqual(rootFromPieceLayer(pieceLayer!, pieceLength), root);
        const last = Math.ceil(length / pieceLength) - 1;
        for (const piece of [0, last]) {
          const expected = pieceLayer!.subarray(piece * 32, piece * 32 + 32);
          const actual = pieceRootFromData(
            data.subarray(piece * pieceLength, (piece + 1) * pieceLength),
            pieceLength,
          );
          assert.deepEqual(actual, expected);
        }
      }),
      { numRuns: RUNS },
    );
  });

  it('tampering with any byte of the data or any layer hash changes the outcome', () => {
    fc.assert(
      fc.property(
        file,
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        ({ length, seed, pieceLog }, at, flip) => {
          const pieceLength = MERKLE_BLOCK_SIZE << pieceLog;
          const data = vectorData(length, seed);
          const { root, pieceLayer } = fileMerkle(data, pieceLength);
          const tampered = new Uint8Array(data);
          tampered[at % length]! ^= flip;
          assert.notDeepEqual(fileMerkle(tampered, pieceLength).root, root);
          if (pieceLayer !== undefined) {
            const badLayer = new Uint8Array(pieceLayer);
            badLayer[at % badLayer.length]! ^= flip;
            assert.equal(verifyPieceLayer(root!, badLayer, pieceLength, length), false);
            // A layer of the wrong length never verifies.
            assert.equal(verifyPieceLayer(root!, pieceLayer.subarray(32), pieceLength, length), false);
          }
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('a proof verifies its own leaf only, at its own index', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }),
        fc.nat(),
        fc.integer({ min: 0, max: 2 }),
        (count, pick, extra) => {
          const leaves = new Uint8Array(count * 32);
          for (let i = 0; i < count; i++)
            leaves.set(createHash('sha256').update(`leaf ${i}`).digest(), i * 32);
          let width = 1;
          while (width < count) width *= 2;
          width <<= extra;
          const root = merkleRoot(leaves, width);
          const index = pick % count;
          const leaf = leaves.subarray(index * 32, index * 32 + 32);
          const proof = merkleProof(leaves, index, width);
          assert.ok(verifyMerkleProof(leaf, index, proof, root));
          const other = (index + 1) % width;
          if (other !== index) assert.equal(verifyMerkleProof(leaf, other, proof, root), false);
          const badProof = new Uint8Array(proof);
          if (badProof.length > 0) {
            badProof[0]! ^= 1;
            assert.equal(verifyMerkleProof(leaf, index, badProof, root), false);
          }
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('a run of hashes with its proof (BEP 52 hashes message) verifies, and only as sent', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 70 }),
        fc.nat(),
        fc.integer({ min: 0, max: 3 }),
        (count, pick, runLog) => {
          const leaves = new Uint8Array(count * 32);
          for (let i = 0; i < count; i++) leaves.set(createHash('sha256').update(`n ${i}`).digest(), i * 32);
          let width = 1;
          while (width < count) width *= 2;
          const run = Math.min(1 << runLog, width);
          const first = (pick % (width / run)) * run;
          const root = merkleRoot(leaves, width);
          const { hashes, proof } = hashRun(leaves, first, run, width);
          assert.ok(verifyHashRun(hashes, first, proof, root));
          const bad = new Uint8Array(hashes);
          bad[bad.length - 1]! ^= 1;
          assert.equal(verifyHashRun(bad, first, proof, root), false);
          // Moved elsewhere it fails, unless it is all padding next to more padding (identical subtrees).
          if (width > run && first < count) {
            assert.equal(verifyHashRun(hashes, (first + run) % width, proof, root), false);
          }
        },
      ),
      { numRuns: RUNS },
    );
  });
});
