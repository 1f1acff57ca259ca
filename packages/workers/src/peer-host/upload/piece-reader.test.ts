import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, open, rename, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { type DiskFileHandle, type DiskFs, nodeDiskFs, TorkError, TorkErrorCode } from '@tork/core';
import { isLocalFileSystem } from '@tork/core/internal/disk/sync-io-gate.js';
import {
  PieceReader,
  type PieceReaderOptions,
  type ReaderFile,
  SYNC_READ_MAX_BYTES,
} from './piece-reader.js';

async function withDir(run: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'tork-piece-reader-'));
  try {
    await run(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

interface Fixture {
  readonly files: ReaderFile[];
  readonly payload: Uint8Array;
  readonly hashes: Uint8Array;
  readonly pieceLength: number;
  piece(index: number): Uint8Array;
}

/** Writes the files (`null` name = pad file) with random bytes and hashes the payload. */
async function makeTorrent(
  dir: string,
  specs: ReadonlyArray<{ name: string | null; length: number }>,
  pieceLength: number,
): Promise<Fixture> {
  const total = specs.reduce((sum, spec) => sum + spec.length, 0);
  const payload = new Uint8Array(total);
  const files: ReaderFile[] = [];
  let offset = 0;
  for (const spec of specs) {
    if (spec.name === null) {
      files.push({ path: null, length: spec.length });
    } else {
      const bytes = randomBytes(spec.length);
      payload.set(bytes, offset);
      const path = join(dir, spec.name);
      await writeFile(path, bytes);
      files.push({ path, length: spec.length });
    }
    offset += spec.length;
  }
  const pieceCount = Math.ceil(total / pieceLength);
  const hashes = new Uint8Array(pieceCount * 20);
  const piece = (index: number) =>
    payload.subarray(index * pieceLength, Math.min(total, (index + 1) * pieceLength));
  for (let i = 0; i < pieceCount; i++) hashes.set(createHash('sha1').update(piece(i)).digest(), i * 20);
  return { files, payload, hashes, pieceLength, piece };
}

/** Counts opens, open descriptors and reads in flight; `delayMs` holds every read that long. */
class CountingFs implements DiskFs {
  opens = 0;
  openNow = 0;
  peakOpen = 0;
  reads = 0;
  readsNow = 0;
  peakReads = 0;
  readPositions: number[] = [];
  readonly #delayMs: number;

  constructor(delayMs = 0) {
    this.#delayMs = delayMs;
  }

  async open(path: string, flags: number, mode?: number): Promise<DiskFileHandle> {
    this.opens++;
    this.openNow++;
    this.peakOpen = Math.max(this.peakOpen, this.openNow);
    let handle: DiskFileHandle;
    try {
      handle = await nodeDiskFs.open(path, flags, mode);
    } catch (error) {
      this.openNow--;
      throw error;
    }
    return {
      read: async (buffer, offset, length, position) => {
        this.reads++;
        this.readsNow++;
        this.peakReads = Math.max(this.peakReads, this.readsNow);
        this.readPositions.push(position);
        try {
          if (this.#delayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.#delayMs));
          return await handle.read(buffer, offset, length, position);
        } finally {
          this.readsNow--;
        }
      },
      write: () => Promise.reject(new Error('read-only')),
      stat: () => handle.stat(),
      truncate: () => Promise.reject(new Error('read-only')),
      sync: () => handle.sync(),
      close: async () => {
        try {
          await handle.close();
        } finally {
          this.openNow--;
        }
      },
    };
  }

  mkdir(path: string, options?: { recursive?: boolean }): Promise<unknown> {
    return nodeDiskFs.mkdir(path, options);
  }

  lstat(path: string) {
    return nodeDiskFs.lstat(path);
  }

  realpath(path: string): Promise<string> {
    return nodeDiskFs.realpath(path);
  }
}

function reader(fixture: Fixture, options?: PieceReaderOptions): PieceReader {
  return new PieceReader(fixture.files, fixture.pieceLength, fixture.hashes, options);
}

function isTorkError(code: TorkErrorCode, cause?: string) {
  return (error: unknown) => {
    assert.ok(error instanceof TorkError, `expected a TorkError, got ${String(error)}`);
    assert.equal(error.code, code);
    if (cause !== undefined) assert.equal(error.details.cause, cause);
    return true;
  };
}

describe('PieceReader', () => {
  it('reads pieces spanning several files and a pad file, each in its own ArrayBuffer', () =>
    withDir(async (dir) => {
      // Piece 0 = a (5) + b (3) + pad (4) + c (4 of 10): three files and a pad file.
      const fixture = await makeTorrent(
        dir,
        [
          { name: 'a', length: 5 },
          { name: 'b', length: 3 },
          { name: null, length: 4 },
          { name: 'empty', length: 0 },
          { name: 'c', length: 10 },
          { name: 'd', length: 23 },
        ],
        16,
      );
      const pieces = reader(fixture);
      try {
        for (let i = 0; i < 3; i++) {
          const piece = await pieces.read(i);
          assert.deepEqual(piece, fixture.piece(i));
          assert.equal(piece.byteOffset, 0);
          assert.equal(piece.buffer.byteLength, piece.byteLength, 'not a slice of a shared pool');
        }
        assert.equal((await pieces.read(2)).byteLength, 13, 'the last piece is short');
        assert.deepEqual((await pieces.read(0)).subarray(8, 12), new Uint8Array(4), 'pad bytes are zeros');
        const piece = await pieces.read(0);
        const block = await pieces.readBlock(0, 6, 8);
        assert.deepEqual(block, fixture.payload.subarray(6, 14));
        assert.equal(block.buffer, piece.buffer, 'a view, not a copy');
        assert.equal(block.byteOffset, 6);
      } finally {
        await pieces.close();
      }
    }));

  it('counts hits and misses', () =>
    withDir(async (dir) => {
      const fixture = await makeTorrent(dir, [{ name: 'f', length: 64 }], 16);
      const pieces = reader(fixture);
      try {
        await pieces.read(0);
        assert.deepEqual([pieces.hits, pieces.misses, pieces.cachedBytes], [0, 1, 16]);
        await pieces.read(0);
        await pieces.readBlock(0, 0, 4);
        assert.deepEqual([pieces.hits, pieces.misses], [2, 1]);
        await pieces.readBlock(1, 4, 4);
        assert.deepEqual([pieces.hits, pieces.misses, pieces.cachedBytes], [2, 2, 32]);
      } finally {
        await pieces.close();
      }
    }));

  it('answers cachedBlock at once for a cached piece only (a hit), and undefined for anything readBlock would read or refuse', () =>
    withDir(async (dir) => {
      const fixture = await makeTorrent(dir, [{ name: 'f', length: 40 }], 16);
      const fs = new CountingFs();
      const pieces = reader(fixture, { fs });
      try {
        assert.equal(pieces.cachedBlock(0, 0, 4), undefined, 'not read yet');
        assert.deepEqual([pieces.hits, pieces.misses, fs.opens], [0, 0, 0], 'and nothing read for it');
        await pieces.read(0);
        assert.deepEqual(pieces.cachedBlock(0, 4, 8), fixture.piece(0).subarray(4, 12));
        assert.deepEqual([pieces.hits, pieces.misses], [1, 1]);
        // The same view readBlock gives, and the same bounds: what readBlock refuses is undefined here.
        assert.deepEqual(pieces.cachedBlock(0, 4, 8), await pieces.readBlock(0, 4, 8));
        for (const [index, begin, length] of [
          [0, -1, 4],
          [0, 0, 0],
          [0, 0, 17],
          [0, 12, 5],
          [0, 0.5, 4],
          [-1, 0, 1],
          [3, 0, 1],
          [1.5, 0, 1],
          [Number.NaN, 0, 1],
        ] as const) {
          assert.equal(pieces.cachedBlock(index, begin, length), undefined, `${index}: ${begin}+${length}`);
        }
        assert.equal(pieces.cachedBlock(1, 0, 4), undefined, 'piece 1 is not cached');
        assert.deepEqual([pieces.hits, pieces.misses], [3, 1], 'the refusals count as neither');
      } finally {
        await pieces.close();
      }
      assert.equal(pieces.cachedBlock(0, 0, 4), undefined, 'closed');
    }));

  it('prefetch reads a piece into the cache once, ignores what it cannot read, and leaves the error to the read that needs it', () =>
    withDir(async (dir) => {
      const fixture = await makeTorrent(dir, [{ name: 'f', length: 64 }], 16);
      const fs = new CountingFs(5);
      const pieces = reader(fixture, { fs });
      try {
        pieces.prefetch(1);
        pieces.prefetch(1); // on its way: no second read
        assert.equal(pieces.cachedBlock(1, 0, 4), undefined, 'not there yet');
        while (pieces.cachedBlock(1, 0, 16) === undefined)
          await new Promise((resolve) => setTimeout(resolve, 2));
        assert.deepEqual(pieces.cachedBlock(1, 0, 16), fixture.piece(1));
        pieces.prefetch(1); // cached: no read
        for (const index of [-1, 4, 1.5, Number.NaN]) pieces.prefetch(index);
        assert.equal(fs.reads, 1);
      } finally {
        await pieces.close();
      }
      pieces.prefetch(2); // closed: ignored
      assert.equal(fs.reads, 1);
    }));

  it('reads ahead at most a quarter of the cache at once, whatever is asked', () =>
    withDir(async (dir) => {
      const fixture = await makeTorrent(dir, [{ name: 'f', length: 160 }], 16);
      const fs = new CountingFs(5);
      const pieces = reader(fixture, { fs, cacheBytes: 128 });
      try {
        for (let index = 0; index < 10; index++) pieces.prefetch(index);
        assert.equal(pieces.prefetchBytes, 32, 'two pieces of 16 bytes: a quarter of 128');
        while (pieces.prefetchBytes > 0) await new Promise((resolve) => setTimeout(resolve, 2));
        assert.equal(fs.reads, 2);
        assert.deepEqual(pieces.cachedBlock(1, 0, 16), fixture.piece(1));
        assert.equal(pieces.cachedBlock(2, 0, 16), undefined, 'not read ahead: over the bound');
        pieces.prefetch(2); // room again
        assert.equal(pieces.prefetchBytes, 16);
      } finally {
        await pieces.close();
      }
    }));

  it('a prefetch that fails is not cached and rejects nothing; the read after it gives the error', () =>
    withDir(async (dir) => {
      const fixture = await makeTorrent(dir, [{ name: 'f', length: 32 }], 16);
      await truncate(fixture.files[0]!.path!, 20); // piece 1 is short now
      const pieces = reader(fixture);
      try {
        pieces.prefetch(1);
        await new Promise((resolve) => setTimeout(resolve, 50));
        assert.equal(pieces.cachedBlock(1, 0, 4), undefined);
        await assert.rejects(pieces.read(1), isTorkError(TorkErrorCode.IO, 'short'));
      } finally {
        await pieces.close();
      }
    }));

  it('evicts the least recently used piece and never holds more than cacheBytes', () =>
    withDir(async (dir) => {
      const fixture = await makeTorrent(dir, [{ name: 'f', length: 16 * 9 + 5 }], 16);
      const pieces = reader(fixture, { cacheBytes: 40 });
      try {
        await pieces.read(0);
        await pieces.read(1);
        await pieces.read(2); // evicts 0
        assert.equal(pieces.cachedBytes, 32);
        await pieces.read(1); // hit; 2 is now the least recent
        assert.equal(pieces.hits, 1);
        await pieces.read(0); // miss, evicts 2
        assert.deepEqual([pieces.hits, pieces.misses], [1, 4]);
        await pieces.read(1);
        assert.equal(pieces.hits, 2, '1 survived');
        await pieces.read(2);
        assert.equal(pieces.misses, 5, '2 was evicted');

        // Random accesses, the short last piece included: the budget is never exceeded.
        let seed = 7;
        for (let i = 0; i < 500; i++) {
          seed = (seed * 1103515245 + 12345) % 2 ** 31;
          await pieces.read(seed % 10);
          assert.ok(pieces.cachedBytes <= 40, `cachedBytes ${pieces.cachedBytes} > 40`);
        }
        assert.equal(pieces.hits + pieces.misses, 507);
      } finally {
        await pieces.close();
      }
    }));

  it('serves a piece larger than the budget without caching it', () =>
    withDir(async (dir) => {
      const fixture = await makeTorrent(dir, [{ name: 'f', length: 32 }], 16);
      for (const cacheBytes of [0, 15]) {
        const pieces = reader(fixture, { cacheBytes });
        try {
          assert.deepEqual(await pieces.read(1), fixture.piece(1));
          assert.deepEqual(await pieces.read(1), fixture.piece(1));
          assert.deepEqual([pieces.cachedBytes, pieces.hits, pieces.misses], [0, 0, 2]);
        } finally {
          await pieces.close();
        }
      }
    }));

  it('shares one disk read between concurrent reads of a piece', () =>
    withDir(async (dir) => {
      const fixture = await makeTorrent(dir, [{ name: 'f', length: 64 }], 32);
      const fs = new CountingFs(5);
      const pieces = reader(fixture, { fs });
      try {
        const results = await Promise.all([
          pieces.read(1),
          pieces.read(1),
          pieces.readBlock(1, 0, 16),
          pieces.readBlock(1, 16, 16),
          pieces.read(1),
        ]);
        assert.equal(fs.reads, 1, 'one disk read');
        assert.equal(fs.opens, 1);
        assert.equal(results[0], results[1]);
        assert.equal(results[0], results[4]);
        assert.equal(results[2]!.buffer, results[0]!.buffer);
        assert.deepEqual(results[0], fixture.piece(1));
        assert.deepEqual([pieces.hits, pieces.misses], [0, 5]);
      } finally {
        await pieces.close();
      }
    }));

  it('rejects a piece whose bytes on disk changed, and does not cache it', () =>
    withDir(async (dir) => {
      const fixture = await makeTorrent(dir, [{ name: 'f', length: 64 }], 16);
      const path = fixture.files[0]!.path!;
      const pieces = reader(fixture);
      try {
        assert.deepEqual(await pieces.read(0), fixture.piece(0));
        const file = await open(path, 'r+');
        await file.write(Uint8Array.of(fixture.payload[20]! ^ 0xff), 0, 1, 20);
        await file.close();
        for (let attempt = 0; attempt < 2; attempt++) {
          await assert.rejects(pieces.read(1), isTorkError(TorkErrorCode.IO, 'corrupt'));
          await assert.rejects(pieces.readBlock(1, 0, 4), isTorkError(TorkErrorCode.IO, 'corrupt'));
        }
        assert.equal(pieces.cachedBytes, 16, 'only piece 0');
        assert.equal(pieces.misses, 5, 'every attempt went to disk');
        // Piece 0 was verified before the change and stays served from the cache.
        assert.deepEqual(await pieces.read(0), fixture.piece(0));
        // Repaired on disk: read and served again.
        await writeFile(path, fixture.payload);
        assert.deepEqual(await pieces.read(1), fixture.piece(1));
        assert.equal(pieces.cachedBytes, 32);
      } finally {
        await pieces.close();
      }
    }));

  it('hashes a piece again only when one of its files changed since it verified it', () =>
    withDir(async (dir) => {
      const fixture = await makeTorrent(
        dir,
        [
          { name: 'a', length: 24 },
          { name: 'b', length: 40 },
        ],
        16,
      );
      const path = fixture.files[1]!.path!;
      // No cache: every read goes to disk; the files were written just now (racily recent).
      const racy = reader(fixture, { cacheBytes: 0 });
      const settledReader = reader(fixture, { cacheBytes: 0, racyMarginMs: 20 });
      try {
        await racy.read(1);
        await racy.read(1);
        assert.equal(racy.hashed, 2, 'a file changed within the racy margin: every read hashed');
        await new Promise((resolve) => setTimeout(resolve, 60));
        for (let i = 0; i < 3; i++) assert.deepEqual(await settledReader.read(1), fixture.piece(1));
        assert.equal(settledReader.hashed, 1, 'verified once, then trusted while a and b stay unchanged');
        // Piece 1 spans a and b: one byte of b changes (same size, same inode).
        const file = await open(path, 'r+');
        await file.write(Uint8Array.of(fixture.payload[24]! ^ 0xff), 0, 1, 0);
        await file.close();
        await assert.rejects(settledReader.read(1), isTorkError(TorkErrorCode.IO, 'corrupt'));
        await assert.rejects(settledReader.read(1), isTorkError(TorkErrorCode.IO, 'corrupt'));
        assert.equal(settledReader.hashed, 3, 'the changed file is hashed at every read');
        // Repaired: served again, hashed until the repair is older than the margin, then trusted.
        await writeFile(path, fixture.payload.subarray(24));
        assert.deepEqual(await settledReader.read(1), fixture.piece(1));
        await new Promise((resolve) => setTimeout(resolve, 60));
        assert.deepEqual(await settledReader.read(1), fixture.piece(1));
        const hashed = settledReader.hashed;
        assert.deepEqual(await settledReader.read(1), fixture.piece(1));
        assert.equal(settledReader.hashed, hashed, 'trusted again');
      } finally {
        await racy.close();
        await settledReader.close();
      }
    }));

  it('serves pieces verified before it (trusted) without hashing until their file changes', () =>
    withDir(async (dir) => {
      const fixture = await makeTorrent(dir, [{ name: 'f', length: 64 }], 16);
      const path = fixture.files[0]!.path!;
      await new Promise((resolve) => setTimeout(resolve, 60));
      const all = Uint8Array.of(0xf0);
      const trusting = reader(fixture, {
        cacheBytes: 0,
        racyMarginMs: 20,
        trusted: { pieces: all, sinceMs: Date.now() },
      });
      // Verified before the file's last change: nothing to trust.
      const early = reader(fixture, {
        cacheBytes: 0,
        racyMarginMs: 20,
        trusted: { pieces: all, sinceMs: 0 },
      });
      // Only pieces 0 and 2 were verified.
      const some = reader(fixture, {
        cacheBytes: 0,
        racyMarginMs: 20,
        trusted: { pieces: Uint8Array.of(0xa0), sinceMs: Date.now() },
      });
      try {
        for (let i = 0; i < 4; i++) assert.deepEqual(await trusting.read(i), fixture.piece(i));
        assert.equal(trusting.hashed, 0);
        for (let i = 0; i < 4; i++) assert.deepEqual(await early.read(i), fixture.piece(i));
        assert.equal(early.hashed, 4);
        for (let i = 0; i < 4; i++) assert.deepEqual(await some.read(i), fixture.piece(i));
        assert.equal(some.hashed, 2, 'pieces 1 and 3');
        const file = await open(path, 'r+');
        await file.write(Uint8Array.of(fixture.payload[40]! ^ 0xff), 0, 1, 40);
        await file.close();
        await assert.rejects(trusting.read(2), isTorkError(TorkErrorCode.IO, 'corrupt'));
        assert.deepEqual(await trusting.read(0), fixture.piece(0), 'an unchanged piece, hashed now');
        assert.equal(trusting.hashed, 2, 'the file changed: its pieces are hashed');
      } finally {
        await Promise.all([trusting.close(), early.close(), some.close()]);
      }
    }));

  it('never trusts again a file seen to change, even one whose times look old (a rename into place)', () =>
    withDir(async (dir) => {
      const fixture = await makeTorrent(
        dir,
        [
          { name: 'a', length: 32 },
          { name: 'b', length: 32 },
        ],
        16,
      );
      // Every file's times count as old here (the verification lies in the future): only the
      // change itself, seen by the reader, can withdraw the trust.
      const pieces = reader(fixture, {
        cacheBytes: 0,
        maxOpenFiles: 1,
        racyMarginMs: 20,
        trusted: { pieces: Uint8Array.of(0xf0), sinceMs: Date.now() + 60_000 },
      });
      try {
        assert.deepEqual(await pieces.read(0), fixture.piece(0));
        assert.equal(pieces.hashed, 0);
        const other = join(dir, 'other');
        await writeFile(other, randomBytes(32));
        await rename(other, fixture.files[0]!.path!);
        // b's handle takes the only slot, so a is opened afresh: the new inode.
        assert.deepEqual(await pieces.read(2), fixture.piece(2));
        await assert.rejects(pieces.read(0), isTorkError(TorkErrorCode.IO, 'corrupt'));
        assert.equal(pieces.hashed, 1);
      } finally {
        await pieces.close();
      }
    }));

  it('trusts nothing when the file system cannot tell its times', () =>
    withDir(async (dir) => {
      const fixture = await makeTorrent(dir, [{ name: 'f', length: 32 }], 16);
      await new Promise((resolve) => setTimeout(resolve, 60));
      const fs = new CountingFs();
      const noTimes: DiskFs = {
        mkdir: (path, options) => fs.mkdir(path, options),
        lstat: (path) => fs.lstat(path),
        realpath: (path) => fs.realpath(path),
        open: async (path, flags, mode) => {
          const handle = await fs.open(path, flags, mode);
          return {
            ...handle,
            stat: async () => {
              const { size, dev, ino } = await handle.stat();
              return {
                size,
                dev,
                ino,
                isFile: () => true,
                isDirectory: () => false,
                isSymbolicLink: () => false,
              };
            },
          };
        },
      };
      const pieces = reader(fixture, {
        fs: noTimes,
        cacheBytes: 0,
        racyMarginMs: 20,
        trusted: { pieces: Uint8Array.of(0xc0), sinceMs: Date.now() },
      });
      try {
        for (let i = 0; i < 3; i++) await pieces.read(0);
        assert.equal(pieces.hashed, 3);
      } finally {
        await pieces.close();
      }
    }));

  it('rejects with IO for a missing file and for a short file, and retries later', () =>
    withDir(async (dir) => {
      const fixture = await makeTorrent(
        dir,
        [
          { name: 'a', length: 16 },
          { name: 'b', length: 16 },
          { name: 'c', length: 16 },
        ],
        16,
      );
      await rm(fixture.files[1]!.path!);
      await truncate(fixture.files[2]!.path!, 10);
      const pieces = reader(fixture);
      try {
        await assert.rejects(pieces.read(1), (error: unknown) => {
          isTorkError(TorkErrorCode.IO, 'ENOENT')(error);
          assert.equal((error as TorkError).details.path, fixture.files[1]!.path);
          return true;
        });
        await assert.rejects(pieces.read(2), isTorkError(TorkErrorCode.IO, 'short'));
        assert.deepEqual(await pieces.read(0), fixture.piece(0), 'other files still serve');
        assert.equal(pieces.cachedBytes, 16);
        await writeFile(fixture.files[1]!.path!, fixture.piece(1));
        await writeFile(fixture.files[2]!.path!, fixture.piece(2));
        assert.deepEqual(await pieces.read(1), fixture.piece(1));
        assert.deepEqual(await pieces.read(2), fixture.piece(2));
      } finally {
        await pieces.close();
      }
    }));

  it('keeps at most maxOpenFiles handles open and closes them all on close', () =>
    withDir(async (dir) => {
      const specs = Array.from({ length: 24 }, (_, i) => ({ name: `f${i}`, length: 10 }));
      const fixture = await makeTorrent(dir, specs, 32);
      const fs = new CountingFs(1);
      const pieces = reader(fixture, { fs, maxOpenFiles: 3, maxConcurrentReads: 4 });
      const pieceCount = Math.ceil(240 / 32);
      const results = await Promise.all(Array.from({ length: pieceCount }, (_, i) => pieces.read(i)));
      for (const [i, piece] of results.entries()) assert.deepEqual(piece, fixture.piece(i));
      assert.ok(fs.peakOpen <= 3, `peak ${fs.peakOpen} open handles`);
      assert.ok(fs.opens >= 24, 'handles were evicted and reopened');
      await pieces.close();
      assert.equal(fs.openNow, 0);
    }));

  it('keeps at most maxConcurrentReads reads in flight and starts the rest first come first served', () =>
    withDir(async (dir) => {
      const fixture = await makeTorrent(dir, [{ name: 'f', length: 16 * 8 }], 16);
      const fs = new CountingFs(3);
      const pieces = reader(fixture, { fs, maxConcurrentReads: 2 });
      try {
        const order = [5, 1, 7, 0, 3, 6, 2, 4];
        await Promise.all(order.map((i) => pieces.read(i)));
        assert.equal(fs.peakReads, 2);
        const started = fs.readPositions.map((position) => position / 16);
        // The first two start together (their order depends on who opened the file); every later
        // read waits for a slot, and the slots go out in request order.
        assert.deepEqual(started.slice(0, 2).sort(), order.slice(0, 2).sort());
        assert.deepEqual(started.slice(2), order.slice(2));
      } finally {
        await pieces.close();
      }
    }));

  it('checks the bounds of piece and block before touching the disk', () =>
    withDir(async (dir) => {
      const fixture = await makeTorrent(dir, [{ name: 'f', length: 40 }], 16);
      const fs = new CountingFs();
      const pieces = reader(fixture, { fs });
      const outOfRange = isTorkError(TorkErrorCode.OUT_OF_RANGE);
      try {
        for (const index of [-1, 3, 1.5, Number.NaN]) {
          await assert.rejects(pieces.read(index), outOfRange);
          await assert.rejects(pieces.readBlock(index, 0, 1), outOfRange);
        }
        for (const [begin, length] of [
          [-1, 4],
          [0, 0],
          [0, 17],
          [12, 5],
          [0.5, 4],
          [0, Number.POSITIVE_INFINITY],
        ] as const) {
          await assert.rejects(pieces.readBlock(0, begin, length), outOfRange, `${begin}+${length}`);
        }
        await assert.rejects(pieces.readBlock(2, 0, 9), outOfRange, 'the last piece has 8 bytes');
        assert.equal(fs.opens, 0);
        assert.deepEqual([pieces.hits, pieces.misses], [0, 0]);
        assert.deepEqual(await pieces.readBlock(2, 0, 8), fixture.piece(2));
        assert.deepEqual(await pieces.readBlock(0, 12, 4), fixture.piece(0).subarray(12));
      } finally {
        await pieces.close();
      }
    }));

  it('refuses reads once closed and fails the queued ones', () =>
    withDir(async (dir) => {
      const fixture = await makeTorrent(dir, [{ name: 'f', length: 64 }], 16);
      const fs = new CountingFs(5);
      const pieces = reader(fixture, { fs, maxConcurrentReads: 1 });
      const first = pieces.read(0);
      const queued = pieces.read(1);
      // Close while piece 0 is being read from disk and piece 1 waits for the only slot.
      while (fs.readsNow === 0) await new Promise((resolve) => setImmediate(resolve));
      const closing = pieces.close();
      await assert.rejects(queued, isTorkError(TorkErrorCode.ABORTED));
      assert.deepEqual(await first, fixture.piece(0), 'the read in flight completes');
      await closing;
      await assert.rejects(pieces.read(0), isTorkError(TorkErrorCode.ABORTED));
      assert.equal(pieces.cachedBytes, 0);
      assert.equal(fs.openNow, 0);
      await pieces.close();
    }));

  it('reads again a cached piece whose buffer a caller transferred', () =>
    withDir(async (dir) => {
      const fixture = await makeTorrent(dir, [{ name: 'f', length: 32 }], 16);
      const pieces = reader(fixture);
      try {
        const piece = await pieces.read(0);
        structuredClone(piece.buffer, { transfer: [piece.buffer as ArrayBuffer] });
        assert.equal(piece.byteLength, 0);
        assert.deepEqual(await pieces.read(0), fixture.piece(0));
        assert.deepEqual([pieces.hits, pieces.misses, pieces.cachedBytes], [0, 2, 16]);
      } finally {
        await pieces.close();
      }
    }));

  it('refuses hashes that do not match the piece count and invalid options', () => {
    const files = [{ path: '/nonexistent', length: 32 }];
    assert.throws(() => new PieceReader(files, 16, new Uint8Array(20)), isTorkError(TorkErrorCode.USAGE));
    for (const options of [{ cacheBytes: -1 }, { maxOpenFiles: 0 }, { maxConcurrentReads: 1.5 }]) {
      assert.throws(
        () => new PieceReader(files, 16, new Uint8Array(40), options),
        isTorkError(TorkErrorCode.USAGE),
      );
    }
  });
  it('with recycle, reuses evicted buffers after a turn instead of allocating, and serves the right bytes', async () => {
    await withDir(async (dir) => {
      const fixture = await makeTorrent(dir, [{ name: 'f', length: 16 * 20 }], 16);
      // Room for 2 pieces: every third read evicts one.
      const recycling = reader(fixture, { cacheBytes: 32, recycle: true });
      const seen = new Set<ArrayBufferLike>();
      for (let round = 0; round < 3; round++) {
        for (let index = 0; index < 20; index++) {
          const bytes = await recycling.read(index);
          // Valid in this turn, as promised: compared (copied) at once.
          assert.deepEqual(Buffer.from(bytes), Buffer.from(fixture.piece(index)), `piece ${index}`);
          seen.add(bytes.buffer);
          await new Promise((resolve) => setImmediate(resolve));
        }
      }
      // 60 reads, 2 cached at a time: a handful of buffers go round instead of 60 allocations.
      assert.ok(seen.size <= 6, `${seen.size} distinct buffers for 60 reads`);
      await recycling.close();
    });
  });

  it('with recycle, a buffer evicted this turn is not reused before the turn ends', async () => {
    await withDir(async (dir) => {
      const fixture = await makeTorrent(dir, [{ name: 'f', length: 16 * 4 }], 16);
      const recycling = reader(fixture, { cacheBytes: 16, recycle: true, maxConcurrentReads: 1 });
      const first = await recycling.read(0);
      const copy = Buffer.from(first);
      // Same turn: reading piece 1 evicts piece 0; piece 2's read must not land in piece 0's buffer.
      const [second, third] = await Promise.all([recycling.read(1), recycling.read(2)]);
      assert.deepEqual(Buffer.from(first), copy, 'bytes handed out this turn are intact');
      assert.notEqual(second.buffer, first.buffer);
      assert.notEqual(third.buffer, first.buffer);
      await recycling.close();
    });
  });
});

describe('PieceReader synchronous reads', () => {
  /** Waits (bounded) for the reader's statfs to answer. */
  async function settled(reader: PieceReader): Promise<void> {
    for (let i = 0; i < 100 && !reader.syncReads.allowed; i++) await new Promise((r) => setTimeout(r, 10));
  }

  it(`reads spans of at most SYNC_READ_MAX_BYTES (${SYNC_READ_MAX_BYTES}) and fstats their file on its own thread, on a local file system`, async (t) => {
    await withDir(async (dir) => {
      if (!(await isLocalFileSystem(dir))) {
        t.skip(
          `${dir} is not on a local file system (statfs type not in the list): reads go through the pool`,
        );
        return;
      }
      const pieceLength = 16 * 1024;
      const fx = await makeTorrent(dir, [{ name: 'a', length: 5 * pieceLength }], pieceLength);
      const reader = new PieceReader(fx.files, pieceLength, fx.hashes);
      try {
        await settled(reader);
        assert.equal(reader.syncReads.allowed, true);
        for (let i = 0; i < 4; i++) assert.deepEqual(await reader.read(i), fx.piece(i));
        // Made here, a read still completes in a later turn, as one through the pool does.
        let turned = false;
        const reading = reader.read(4);
        setImmediate(() => {
          turned = true;
        });
        assert.deepEqual(await reading, fx.piece(4));
        assert.equal(turned, true, 'the read resolved only after the turn ended');
        // A read and an fstat per piece; the cache answers the second round.
        assert.deepEqual(reader.syncReads, { allowed: true, calls: 10, pauses: 0 });
        for (let i = 0; i < 5; i++) assert.deepEqual(await reader.read(i), fx.piece(i));
        assert.equal(reader.syncReads.calls, 10);
      } finally {
        await reader.close();
      }
    });
  });

  it('reads larger spans through the pool, and none at all with syncReads: false or a given fs', async (t) => {
    await withDir(async (dir) => {
      if (!(await isLocalFileSystem(dir))) {
        t.skip(
          `${dir} is not on a local file system (statfs type not in the list): reads go through the pool`,
        );
        return;
      }
      const large = SYNC_READ_MAX_BYTES * 2;
      const big = await makeTorrent(dir, [{ name: 'big', length: 2 * large }], large);
      const reader = new PieceReader(big.files, large, big.hashes);
      try {
        await settled(reader);
        assert.deepEqual(await reader.read(1), big.piece(1));
        assert.deepEqual(reader.syncReads, { allowed: true, calls: 0, pauses: 0 });
      } finally {
        await reader.close();
      }
      const small = await makeTorrent(dir, [{ name: 'small', length: 32 * 1024 }], 16 * 1024);
      for (const options of [{ syncReads: false }, { fs: nodeDiskFs }] satisfies PieceReaderOptions[]) {
        const off = new PieceReader(small.files, 16 * 1024, small.hashes, options);
        try {
          await new Promise((r) => setTimeout(r, 50));
          assert.deepEqual(await off.read(1), small.piece(1));
          assert.deepEqual(off.syncReads, { allowed: false, calls: 0, pauses: 0 });
        } finally {
          await off.close();
        }
      }
    });
  });
});
