import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { HASH_READ_CHUNK_BYTES, hashPiecesOnDisk } from './hash-pieces-on-disk.js';
import type { PieceSpanOnDisk } from './piece-span.js';

// The read buffer is sized to the longest span of the job (at most HASH_READ_CHUNK_BYTES): each
// piece's SHA-1 must come out the same whether its spans are shorter, longer or far longer than it.
describe('hashPiecesOnDisk: SHA-1 with spans of every size', () => {
  let dir: string;
  let path: string;
  const data = randomBytes(2 * HASH_READ_CHUNK_BYTES + 123_457);
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tork-hash-sha1-'));
    path = join(dir, 'data');
    await writeFile(path, data);
  });
  after(() => rm(dir, { recursive: true, force: true }));

  function sha1(...parts: Uint8Array[]): Buffer {
    const hash = createHash('sha1');
    for (const part of parts) hash.update(part);
    return hash.digest();
  }

  it('small pieces alone (a 16 KiB buffer), then next to one piece of more than 2 MiB', async () => {
    const small: PieceSpanOnDisk[][] = [0, 1, 2].map((i) => [{ path, offset: i * 16_384, length: 16_384 }]);
    const alone = await hashPiecesOnDisk(small);
    assert.deepEqual(alone.missing, []);
    for (let i = 0; i < 3; i++) {
      assert.deepEqual(
        Buffer.from(alone.hashes.subarray(i * 20, i * 20 + 20)),
        sha1(data.subarray(i * 16_384, (i + 1) * 16_384)),
      );
    }
    // A short span, a pad span (zeros) and a span longer than the 1 MiB cap in one piece.
    const big: PieceSpanOnDisk[] = [
      { path, offset: 5, length: 1_000 },
      { path: null, offset: 0, length: 3_000 },
      { path, offset: 10_000, length: data.length - 10_000 },
    ];
    const mixed = await hashPiecesOnDisk([...small, big]);
    assert.deepEqual(Buffer.from(mixed.hashes.subarray(0, 60)), Buffer.from(alone.hashes));
    assert.deepEqual(
      Buffer.from(mixed.hashes.subarray(60, 80)),
      sha1(data.subarray(5, 1_005), new Uint8Array(3_000), data.subarray(10_000)),
    );
  });

  it('a span past the end of its file: that piece is missing, the others hashed', async () => {
    const result = await hashPiecesOnDisk([
      [{ path, offset: data.length - 100, length: 200 }],
      [{ path, offset: 0, length: 100 }],
    ]);
    assert.deepEqual(result.missing, [0]);
    assert.deepEqual(Buffer.from(result.hashes.subarray(20, 40)), sha1(data.subarray(0, 100)));
  });
});
