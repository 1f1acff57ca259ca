import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { TorkErrorCode, V2_PIECE_CHECK_SIZE } from '@tork/core';
import hashWorker from '../hash-worker/hash-worker.js';
import { HashPool } from './hash-pool.js';

const sha1 = (...parts: Uint8Array[]): Buffer => {
  const hash = createHash('sha1');
  for (const part of parts) hash.update(part);
  return hash.digest();
};

describe('HashPool', () => {
  let dir: string;
  let pool: HashPool;
  const a = Buffer.alloc(3000, 1);
  const b = Buffer.from(Array.from({ length: 5000 }, (_, i) => (i * 7) & 0xff));

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tork-hash-'));
    await writeFile(join(dir, 'a'), a);
    await writeFile(join(dir, 'b'), b);
    pool = new HashPool({ threads: 2, piecesPerJob: 2 });
  });
  after(async () => {
    await pool.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('starts no thread before its first job; closed, it refuses jobs with TORK_ERR_INTERNAL', async () => {
    const lazy = new HashPool({ threads: 3 });
    assert.equal(lazy.threads, 3);
    // Never used: closing loads nothing and waits for nothing.
    await lazy.close();
    await assert.rejects(lazy.hashPieces([[{ path: join(dir, 'a'), offset: 0, length: 10 }]]), {
      code: TorkErrorCode.INTERNAL,
    });
    // Used once, then closed: the same.
    const used = new HashPool({ threads: 1 });
    const { hashes } = await used.hashPieces([[{ path: join(dir, 'a'), offset: 0, length: 10 }]]);
    assert.deepEqual(Buffer.from(hashes), sha1(a.subarray(0, 10)));
    await used.close();
    await assert.rejects(used.hashPieces([[{ path: join(dir, 'a'), offset: 0, length: 10 }]]), {
      code: TorkErrorCode.INTERNAL,
    });
  });

  it('hashes pieces that span files and pad zeros, in parallel jobs, from compiled .js workers', async () => {
    const pa = join(dir, 'a');
    const pb = join(dir, 'b');
    const pieces = [
      [{ path: pa, offset: 0, length: 2048 }],
      [
        { path: pa, offset: 2048, length: 952 },
        { path: null, offset: 0, length: 96 },
        { path: pb, offset: 0, length: 1000 },
      ],
      [{ path: pb, offset: 1000, length: 2048 }],
      [{ path: pb, offset: 3048, length: 1952 }],
      [{ path: join(dir, 'absent'), offset: 0, length: 10 }],
      [{ path: pb, offset: 4000, length: 2000 }],
    ];
    const { hashes, missing } = await pool.hashPieces(pieces);
    assert.deepEqual(missing, [4, 5]);
    assert.deepEqual(Buffer.from(hashes.subarray(0, 20)), sha1(a.subarray(0, 2048)));
    assert.deepEqual(
      Buffer.from(hashes.subarray(20, 40)),
      sha1(a.subarray(2048), Buffer.alloc(96), b.subarray(0, 1000)),
    );
    assert.deepEqual(Buffer.from(hashes.subarray(40, 60)), sha1(b.subarray(1000, 3048)));
    assert.deepEqual(Buffer.from(hashes.subarray(60, 80)), sha1(b.subarray(3048)));
    assert.deepEqual(Buffer.from(hashes.subarray(80, 120)), Buffer.alloc(40));
  });

  it("BEP 52: runs the merkle checks of each job's pieces, without SHA-1 when asked", async () => {
    // Two one-piece files as a v2 torrent with 16 KiB pieces would hold them: file a (3,000 bytes,
    // one leaf) and file b (5,000 bytes). Their expected hashes are their pieces roots.
    const leaf = (data: Uint8Array) => createHash('sha256').update(data).digest();
    const record = (hash: Uint8Array, bytes: number) => {
      const out = new Uint8Array(V2_PIECE_CHECK_SIZE);
      out.set(hash);
      new DataView(out.buffer).setUint32(32, bytes);
      new DataView(out.buffer).setUint32(36, 1);
      return out;
    };
    const pa = join(dir, 'a');
    const pb = join(dir, 'b');
    const pieces = [
      [{ path: pa, offset: 0, length: 3000 }],
      [{ path: pb, offset: 0, length: 5000 }],
      [{ path: pb, offset: 0, length: 5000 }],
    ];
    const checks = new Uint8Array(3 * V2_PIECE_CHECK_SIZE);
    checks.set(record(leaf(a), 3000), 0);
    checks.set(record(leaf(b), 5000), V2_PIECE_CHECK_SIZE);
    checks.set(record(leaf(a), 3000), 2 * V2_PIECE_CHECK_SIZE);
    const { hashes, v2Ok } = await pool.hashPieces(pieces, { v2Checks: checks, sha1: false });
    assert.deepEqual([...(v2Ok ?? [])], [1, 1, 0]);
    assert.ok(hashes.every((byte) => byte === 0));
  });

  it('the worker checks its job before opening any file, and answers with a plain TorkError', async () => {
    const result = await hashWorker({ pieces: [[{ path: '/etc/passwd', offset: -1, length: 10 }]] });
    assert.equal(result.ok, false);
    assert.ok(!result.ok && result.error.code === TorkErrorCode.THREAD_MESSAGE);
    assert.match(!result.ok ? result.error.message : '', /offset/);
  });
});
