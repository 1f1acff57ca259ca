import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { FaultyFs, Gate, readBack, systemError, tempDir } from '@tork/testkit';
import { TorkError, TorkErrorCode } from '../errors.js';
import { openFlags } from './disk-fs.js';
import type { DiskLayout } from './disk-layout.js';
import { DiskWriter } from './disk-writer.js';

/**
 * File-system failures, injected through the DiskFs seam: tests run as root in CI, where
 * permissions never produce EACCES, and a full disk is impractical to arrange.
 */

const layout: DiskLayout = {
  name: 'tor',
  isMultiFile: true,
  pieceLength: 10,
  length: 40,
  files: [
    { path: ['a'], length: 10, pad: false },
    { path: ['b'], length: 10, pad: false },
    { path: ['c'], length: 20, pad: false },
  ],
};

function ioWith(cause: string, pathEnd?: string) {
  return (error: unknown) => {
    assert.ok(error instanceof TorkError, String(error));
    assert.equal(error.code, TorkErrorCode.IO);
    assert.equal(error.details.cause, cause);
    if (pathEnd !== undefined) {
      assert.ok(String(error.details.path).endsWith(pathEnd), String(error.details.path));
      assert.ok(error.message.includes(String(error.details.path)), error.message);
    }
    return true;
  };
}

describe('DiskWriter: faults', () => {
  it('ENOSPC: the failed write rejects with the path, queued ones fail with the same error, later ones fail fast', async () => {
    const out = await tempDir();
    const gate = new Gate();
    const fs = new FaultyFs({
      write: async ({ path }) => {
        await gate.wait();
        if (path.endsWith('/b')) throw systemError('ENOSPC', 'write', path);
      },
    });
    const writer = await DiskWriter.open({ root: out, layout, fs, maxConcurrentWrites: 1 });
    gate.shut();
    const results = [0, 1, 2, 3].map((i) => writer.write(i, new Uint8Array(10).fill(i + 1)));
    const settled = Promise.allSettled(results);
    assert.equal(writer.queuedBytes, 40);
    gate.open();
    const [first, second, third, fourth] = await settled;
    assert.equal(first?.status, 'fulfilled');
    assert.equal(second?.status, 'rejected');
    const failure = (second as PromiseRejectedResult).reason;
    ioWith('ENOSPC', '/tor/b')(failure);
    assert.equal(failure.details.piece, 1);
    assert.equal((third as PromiseRejectedResult).reason, failure);
    assert.equal((fourth as PromiseRejectedResult).reason, failure);
    assert.equal(writer.error, failure);
    assert.equal(writer.queuedBytes, 0);
    await writer.whenBelow(1);
    await assert.rejects(writer.write(2, new Uint8Array(10)), (error) => error === failure);
    // Reads still work: the data already on disk can be uploaded.
    assert.deepEqual([...(await readBack(writer.pieceSpans(0), 0, 3))], [1, 1, 1]);
    await writer.close();
    assert.equal(fs.openNow, 0);
  });

  it('EACCES creating a directory, EROFS creating a file: open rejects with IO naming the path', async () => {
    const out = await tempDir();
    const denied = new FaultyFs({
      mkdir: ({ path }) => {
        if (path.endsWith('/tor')) throw systemError('EACCES', 'mkdir', path);
      },
    });
    await assert.rejects(DiskWriter.open({ root: out, layout, fs: denied }), ioWith('EACCES', '/tor'));
    const readOnly = new FaultyFs({
      open: ({ path }) => {
        if (path.endsWith('/c')) throw systemError('EROFS', 'open', path);
      },
    });
    await assert.rejects(DiskWriter.open({ root: out, layout, fs: readOnly }), ioWith('EROFS', '/tor/c'));
    assert.equal(readOnly.openNow, 0);
  });

  it('a failed reopen (EACCES) breaks the writer', async () => {
    const out = await tempDir();
    let deny = false;
    const fs = new FaultyFs({
      open: ({ path, flags }) => {
        if (deny && flags === openFlags.existing) throw systemError('EACCES', 'open', path);
      },
    });
    const writer = await DiskWriter.open({ root: out, layout, fs });
    deny = true;
    await assert.rejects(writer.write(3, new Uint8Array(10)), ioWith('EACCES', '/tor/c'));
    await assert.rejects(writer.write(0, new Uint8Array(10)), ioWith('EACCES', '/tor/c'));
    await writer.close();
  });

  it('a failed fsync breaks the writer', async () => {
    const out = await tempDir();
    const fs = new FaultyFs({
      sync: ({ path }) => {
        throw systemError('EIO', 'fsync', path);
      },
    });
    const writer = await DiskWriter.open({ root: out, layout, fs });
    await writer.write(1, new Uint8Array(10));
    await assert.rejects(writer.flush(), ioWith('EIO', '/tor/b'));
    await assert.rejects(writer.write(0, new Uint8Array(10)), ioWith('EIO', '/tor/b'));
    await writer.close();
  });

  it('short writes are completed', async () => {
    const out = await tempDir();
    const fs = new FaultyFs({ maxWriteChunk: 3 });
    const writer = await DiskWriter.open({ root: out, layout, fs });
    const data = Uint8Array.from({ length: 10 }, (_, i) => 100 + i);
    await writer.write(2, data);
    await writer.write(3, data);
    await writer.close();
    assert.deepEqual(
      new Uint8Array(await readFile(join(out, 'tor', 'c'))),
      new Uint8Array([...data, ...data]),
    );
  });
});
