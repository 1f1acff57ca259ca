import { createHash } from 'node:crypto';
import { MERKLE_BLOCK_SIZE, MERKLE_HASH_SIZE, merkleRoot } from '../metainfo/merkle-tree.js';
import { V2_PIECE_CHECK_SIZE } from '../metainfo/v2-piece-checks.js';

/**
 * The BEP 52 check of one piece fed in chunks as it is read from disk (the piece is never held
 * whole: a 512 MiB piece costs its leaf hashes, 32 bytes per 16 KiB, plus one 16 KiB carry).
 * `record` is the piece's entry in a `v2PieceChecks` table: the expected hash, how many of the
 * piece's bytes are the file's (SHA-256 per 16 KiB leaf over those; the rest is pad and must be
 * zeros only in a piece that is all pad) and the subtree's leaf width.
 */
export class V2LeafHasher {
  readonly #expected: Uint8Array;
  readonly #bytes: number;
  readonly #width: number;
  readonly #leaves: Uint8Array;
  readonly #carry = new Uint8Array(MERKLE_BLOCK_SIZE);
  #carried = 0;
  #leafCount = 0;
  #fed = 0;
  #padNonZero = false;

  constructor(record: Uint8Array) {
    const view = new DataView(record.buffer, record.byteOffset, V2_PIECE_CHECK_SIZE);
    this.#expected = record.subarray(0, MERKLE_HASH_SIZE);
    this.#bytes = view.getUint32(MERKLE_HASH_SIZE);
    this.#width = view.getUint32(MERKLE_HASH_SIZE + 4);
    this.#leaves = new Uint8Array(Math.ceil(this.#bytes / MERKLE_BLOCK_SIZE) * MERKLE_HASH_SIZE);
  }

  /** The piece's next bytes, in order. */
  update(chunk: Uint8Array): void {
    const fileBytes = Math.max(0, Math.min(chunk.length, this.#bytes - this.#fed));
    if (fileBytes < chunk.length && this.#bytes === 0) {
      for (let i = fileBytes; i < chunk.length; i++) if (chunk[i] !== 0) this.#padNonZero = true;
    }
    this.#fed += chunk.length;
    let data = chunk.subarray(0, fileBytes);
    if (this.#carried > 0) {
      const take = Math.min(data.length, MERKLE_BLOCK_SIZE - this.#carried);
      this.#carry.set(data.subarray(0, take), this.#carried);
      this.#carried += take;
      data = data.subarray(take);
      if (this.#carried === MERKLE_BLOCK_SIZE) {
        this.#leaf(this.#carry);
        this.#carried = 0;
      }
    }
    while (data.length >= MERKLE_BLOCK_SIZE) {
      this.#leaf(data.subarray(0, MERKLE_BLOCK_SIZE));
      data = data.subarray(MERKLE_BLOCK_SIZE);
    }
    if (data.length > 0) {
      this.#carry.set(data, 0);
      this.#carried = data.length;
    }
  }

  /** True when the bytes fed (all of the piece) hash to the expected node. */
  verify(): boolean {
    if (this.#bytes === 0) return !this.#padNonZero && this.#fed > 0;
    if (this.#fed < this.#bytes || this.#width === 0) return false;
    if (this.#carried > 0) {
      // The file's last block is hashed as it is (BEP 52: the tail block is not padded).
      this.#leaf(this.#carry.subarray(0, this.#carried));
      this.#carried = 0;
    }
    if (this.#leafCount > this.#width) return false;
    const root = merkleRoot(this.#leaves.subarray(0, this.#leafCount * MERKLE_HASH_SIZE), this.#width);
    return Buffer.compare(root, this.#expected) === 0;
  }

  #leaf(block: Uint8Array): void {
    this.#leaves.set(createHash('sha256').update(block).digest(), this.#leafCount * MERKLE_HASH_SIZE);
    this.#leafCount++;
  }
}
