import assert from 'node:assert/strict';
import { randomFillSync } from 'node:crypto';
import { existsSync } from 'node:fs';
import {
  type FileHandle,
  mkdir,
  open as openFile,
  readdir,
  readFile,
  rm,
  stat,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { FaultyFs, Gate, readBack, tempDir } from '@tork/testkit';
import { TorkError, TorkErrorCode } from '../errors.js';
import { type DiskFileHandle, type DiskFs, nodeDiskFs } from './disk-fs.js';
import type { DiskLayout } from './disk-layout.js';
import {
  DiskWriter,
  MAX_COALESCED_WRITE_BYTES,
  MAX_WRITE_CALL_BYTES,
  WRITE_CALL_LANES,
} from './disk-writer.js';

const KiB = 1024;
const MiB = 1024 * KiB;

function multi(files: Array<[string[], number, boolean?]>, pieceLength: number, name = 'tor'): DiskLayout {
  return {
    name,
    isMultiFile: true,
    pieceLength,
    length: files.reduce((sum, [, length]) => sum + length, 0),
    files: files.map(([path, length, pad]) => ({ path, length, pad: pad ?? false })),
  };
}

function single(name: string, length: number, pieceLength: number): DiskLayout {
  return { name, isMultiFile: false, pieceLength, length, files: [{ path: [name], length, pad: false }] };
}

/** The torrent's byte stream: random, except zeros in pad files (BEP 47). */
function content(layout: DiskLayout): Uint8Array {
  const bytes = randomFillSync(new Uint8Array(layout.length));
  let offset = 0;
  for (const file of layout.files) {
    if (file.pad) bytes.fill(0, offset, offset + file.length);
    offset += file.length;
  }
  return bytes;
}

function piece(layout: DiskLayout, bytes: Uint8Array, index: number): Uint8Array {
  const start = index * layout.pieceLength;
  return bytes.slice(start, Math.min(start + layout.pieceLength, layout.length));
}

async function writeAll(writer: DiskWriter, layout: DiskLayout, bytes: Uint8Array, order?: number[]) {
  const indices = order ?? Array.from({ length: writer.layout.pieceCount }, (_, i) => i);
  await Promise.all(indices.map((i) => writer.write(i, piece(layout, bytes, i))));
}

function isCode(code: string) {
  return (error: unknown) => error instanceof TorkError && error.code === code;
}

/** The real file system, its handles' `write` (and `writev`) replaced by `wrap`'s, given the real handle. */
function wrappedFs(
  wrap: (handle: FileHandle) => Pick<DiskFileHandle, 'write'> & Partial<Pick<DiskFileHandle, 'writev'>>,
): DiskFs {
  return {
    ...nodeDiskFs,
    open: async (path, flags, mode) => {
      const handle = await openFile(path, flags, mode);
      return {
        read: (buffer, offset, length, position) => handle.read(buffer, offset, length, position),
        ...wrap(handle),
        stat: () => handle.stat(),
        truncate: (length) => handle.truncate(length),
        sync: () => handle.sync(),
        close: () => handle.close(),
      };
    },
  };
}

describe('DiskWriter: files on disk', () => {
  it('creates a multi-file tree under <out>/<name>, exact sizes, zero-length files, no pad files', async () => {
    const out = await tempDir();
    const layout = multi(
      [
        [['a.bin'], 1000],
        [['.pad', '24'], 24, true],
        [['sub', 'empty'], 0],
        [['sub', 'deep', 'b.bin'], 3000],
        [['c.bin'], 0],
      ],
      512,
    );
    const writer = await DiskWriter.open({ root: out, layout });
    assert.deepEqual(await readdir(out), ['tor']);
    assert.deepEqual((await readdir(join(out, 'tor'))).sort(), ['a.bin', 'c.bin', 'sub']);
    assert.equal((await stat(join(out, 'tor', 'a.bin'))).size, 1000);
    assert.equal((await stat(join(out, 'tor', 'sub', 'empty'))).size, 0);
    assert.equal((await stat(join(out, 'tor', 'sub', 'deep', 'b.bin'))).size, 3000);
    assert.equal((await stat(join(out, 'tor', 'c.bin'))).size, 0);
    assert.equal(existsSync(join(out, 'tor', '.pad')), false);
    assert.equal(writer.file(0)?.previousSize, null);
    assert.equal(writer.file(1), undefined);
    assert.equal(writer.file(3)?.path, join(out, 'tor', 'sub', 'deep', 'b.bin'));
    await writer.close();
    assert.equal(writer.openHandles, 0);
  });

  it('puts a single-file torrent at <out>/<name> and creates the output directory', async () => {
    const base = await tempDir();
    const out = join(base, 'not', 'yet');
    const writer = await DiskWriter.open({ root: out, layout: single('movie.mkv', 5000, 1024) });
    assert.deepEqual(await readdir(out), ['movie.mkv']);
    assert.equal((await stat(join(out, 'movie.mkv'))).size, 5000);
    await writer.close();
  });

  it('creates big files sparse: an untouched 1 GiB file holds almost no blocks', async () => {
    const out = await tempDir();
    const layout = single('big', 1024 * MiB, 4 * MiB);
    const writer = await DiskWriter.open({ root: out, layout });
    const before = await stat(join(out, 'big'));
    assert.equal(before.size, 1024 * MiB);
    // 512-byte units; a fully allocated file would hold 2,097,152.
    assert.ok(before.blocks < 64, `blocks ${before.blocks}`);
    await writer.write(3, new Uint8Array(4 * MiB).fill(7));
    const after = await stat(join(out, 'big'));
    assert.ok(after.blocks * 512 < 64 * MiB, `blocks ${after.blocks}`);
    assert.deepEqual(await readBack(writer.pieceSpans(3), 100, 3), Uint8Array.of(7, 7, 7));
    await writer.close();
  });

  it('keeps existing data for resume: extends a short file, truncates a long one, never touches equal ones', async () => {
    const out = await tempDir();
    await mkdir(join(out, 'tor'));
    await writeFile(join(out, 'tor', 'short'), 'abc');
    await writeFile(join(out, 'tor', 'long'), 'x'.repeat(50));
    await writeFile(join(out, 'tor', 'exact'), 'y'.repeat(10));
    const layout = multi(
      [
        [['short'], 10],
        [['long'], 10],
        [['exact'], 10],
      ],
      16,
    );
    const writer = await DiskWriter.open({ root: out, layout });
    assert.equal((await readFile(join(out, 'tor', 'short'))).toString(), `abc${'\0'.repeat(7)}`);
    assert.equal((await readFile(join(out, 'tor', 'long'))).toString(), 'x'.repeat(10));
    assert.equal((await readFile(join(out, 'tor', 'exact'))).toString(), 'y'.repeat(10));
    assert.deepEqual(
      [0, 1, 2].map((i) => writer.file(i)?.previousSize),
      [3, 50, 10],
    );
    await writer.close();
  });
});

describe('DiskWriter: writes and reads', () => {
  it('writes pieces spanning several files (and pad files) and reads them back identical', async () => {
    const out = await tempDir();
    const layout = multi(
      [
        [['a'], 100],
        [['b'], 1],
        [['.pad', '0'], 27, true],
        [['c'], 0],
        [['d', 'e'], 700],
        [['f'], 5],
      ],
      64,
    );
    const bytes = content(layout);
    const writer = await DiskWriter.open({ root: out, layout });
    await writeAll(writer, layout, bytes, [12, 3, 0, 7, 1, 2, 4, 5, 6, 8, 9, 10, 11, 13]);
    assert.deepEqual(new Uint8Array(await readFile(join(out, 'tor', 'a'))), bytes.subarray(0, 100));
    assert.deepEqual(new Uint8Array(await readFile(join(out, 'tor', 'b'))), bytes.subarray(100, 101));
    assert.deepEqual(new Uint8Array(await readFile(join(out, 'tor', 'd', 'e'))), bytes.subarray(128, 828));
    assert.deepEqual(new Uint8Array(await readFile(join(out, 'tor', 'f'))), bytes.subarray(828, 833));
    assert.equal(existsSync(join(out, 'tor', '.pad')), false);
    // Reads cross file boundaries; the pad span reads as zeros.
    assert.deepEqual(await readBack(writer.pieceSpans(1), 0, 64), bytes.subarray(64, 128));
    assert.deepEqual(await readBack(writer.pieceSpans(13), 0, 1), bytes.subarray(832, 833));
    assert.deepEqual(await readBack(writer.pieceSpans(2), 10, 40), bytes.subarray(138, 178));
    await writer.close();
  });

  it('refuses a wrong piece index or size without breaking', async () => {
    const out = await tempDir();
    const layout = single('x', 40, 16);
    const writer = await DiskWriter.open({ root: out, layout });
    await assert.rejects(writer.write(0, new Uint8Array(15)), isCode(TorkErrorCode.OUT_OF_RANGE));
    await assert.rejects(writer.write(2, new Uint8Array(16)), isCode(TorkErrorCode.OUT_OF_RANGE));
    await assert.rejects(writer.write(3, new Uint8Array(8)), isCode(TorkErrorCode.OUT_OF_RANGE));
    await writer.write(2, new Uint8Array(8));
    assert.equal(writer.error, undefined);
    await writer.close();
  });

  it('keeps at most maxOpenFiles descriptors open (10 files, 2 handles, 4 writes at once)', async () => {
    const out = await tempDir();
    const layout = multi(
      Array.from({ length: 10 }, (_, i): [string[], number] => [[`f${i}`], 1000]),
      1500,
    );
    const bytes = content(layout);
    const fs = new FaultyFs();
    const writer = await DiskWriter.open({ root: out, layout, fs, maxOpenFiles: 2, maxConcurrentWrites: 4 });
    const order = [...Array(writer.layout.pieceCount).keys()].reverse();
    await writeAll(writer, layout, bytes, order);
    for (let i = 0; i < writer.layout.pieceCount; i++) {
      assert.deepEqual(
        await readBack(writer.pieceSpans(i), 0, writer.layout.pieceSize(i)),
        piece(layout, bytes, i),
      );
    }
    await writer.flush();
    assert.ok(fs.peakOpen <= 2, `fs saw ${fs.peakOpen} descriptors open at once`);
    assert.ok(writer.peakOpenHandles <= 2, `writer counted ${writer.peakOpenHandles}`);
    assert.ok(fs.opens > 10, 'handles were evicted and reopened');
    await writer.close();
    assert.equal(fs.openNow, 0);
    for (let f = 0; f < 10; f++) {
      assert.deepEqual(
        new Uint8Array(await readFile(join(out, 'tor', `f${f}`))),
        bytes.subarray(f * 1000, f * 1000 + 1000),
      );
    }
  });

  it('applies backpressure: queuedBytes stays under cap + one piece, whenBelow resolves as the queue drains', async () => {
    const out = await tempDir();
    const pieceLength = 64 * KiB;
    const layout = single('x', 40 * pieceLength, pieceLength);
    const gate = new Gate();
    const fs = new FaultyFs({ write: () => gate.wait() });
    const cap = 4 * pieceLength;
    const writer = await DiskWriter.open({
      root: out,
      layout,
      fs,
      maxQueuedBytes: cap,
      maxConcurrentWrites: 2,
    });
    gate.shut();
    let highest = 0;
    let drains = 0;
    const writes: Promise<void>[] = [];
    // A coordinator: stop assigning (here: writing) while the writer needs a drain.
    const producer = (async () => {
      for (let i = 0; i < 40; i++) {
        if (writer.needsDrain) {
          drains++;
          await writer.whenBelow();
        }
        writes.push(writer.write(i, new Uint8Array(pieceLength).fill(i)));
        highest = Math.max(highest, writer.queuedBytes);
      }
    })();
    // The first pieces go out as one run of neighbours (written part by part: no writev here).
    while (gate.waiting < 1) await new Promise((resolve) => setImmediate(resolve));
    assert.equal(writer.queuedBytes, cap);
    assert.equal(writer.needsDrain, true);
    let below = false;
    void writer.whenBelow(cap).then(() => {
      below = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 5));
    assert.equal(below, false);
    gate.open();
    await producer;
    await Promise.all(writes);
    assert.equal(below, true);
    assert.ok(drains > 0);
    assert.ok(highest <= cap + pieceLength, `highest ${highest}`);
    assert.equal(writer.queuedBytes, 0);
    assert.equal(writer.needsDrain, false);
    await writer.whenBelow(1);
    await assert.rejects(writer.whenBelow(0), isCode(TorkErrorCode.USAGE));
    const data = await readFile(join(out, 'x'));
    for (let i = 0; i < 40; i++) assert.equal(data[i * pieceLength + 7], i);
    await writer.close();
  });

  it('writes neighbouring 16 KiB pieces together: far fewer write calls than pieces, capped per call', async () => {
    const out = await tempDir();
    const pieceLength = 16 * KiB;
    // 3 files (the middle one starts mid-piece) and 600 pieces: runs cross file boundaries.
    const layout = multi(
      [
        [['a'], 3 * MiB + 5_000],
        [['b'], 4 * MiB],
        [['c'], 600 * pieceLength - 7 * MiB - 5_000],
      ],
      pieceLength,
    );
    const bytes = content(layout);
    const writer = await DiskWriter.open({ root: out, layout });
    const count = writer.layout.pieceCount;
    assert.equal(count, 600);
    // Two interleaved ascending runs (two peers), queued in one task like one event batch.
    const order: number[] = [];
    for (let i = 0; i < count / 2; i++) order.push(i, count / 2 + i);
    await writeAll(writer, layout, bytes, order);
    assert.equal(writer.piecesWritten, count);
    // Runs of at most MAX_COALESCED_WRITE_BYTES (64 pieces here), each in calls of at most
    // MAX_WRITE_CALL_BYTES (8 pieces), plus one short call where a run or a file ends.
    const minCalls = Math.ceil((count * pieceLength) / MAX_WRITE_CALL_BYTES);
    assert.ok(writer.writeCalls <= minCalls + 20, `${writer.writeCalls} write calls for ${count} pieces`);
    assert.ok(writer.writeCalls >= minCalls);
    assert.ok(MAX_COALESCED_WRITE_BYTES >= MAX_WRITE_CALL_BYTES);
    for (const [f, name] of ['a', 'b', 'c'].entries()) {
      const start = [0, 3 * MiB + 5_000, 7 * MiB + 5_000][f]!;
      const data = new Uint8Array(await readFile(join(out, 'tor', name)));
      assert.deepEqual(data, bytes.subarray(start, start + data.length));
    }
    await writer.close();
  });

  for (const short of [false, true]) {
    it(`no write call carries more than MAX_WRITE_CALL_BYTES: runs go out in several calls${short ? ' (writev short: the rest buffer by buffer)' : ''}`, async () => {
      const out = await tempDir();
      // 48 KiB pieces: a call of 32 KiB ends inside a piece, so pieces are split across calls.
      const pieceLength = 48 * KiB;
      const layout = multi(
        [
          [['a'], MiB + 5_000],
          [['b'], 2 * MiB],
          [['c'], 70 * pieceLength - 3 * MiB - 5_000],
        ],
        pieceLength,
      );
      const bytes = content(layout);
      const calls: Array<{ kind: 'write' | 'writev'; bytes: number; buffers: number }> = [];
      const fs = wrappedFs((handle) => ({
        write: (buffer, offset, length, position) => {
          calls.push({ kind: 'write', bytes: length, buffers: 1 });
          return handle.write(buffer, offset, length, position);
        },
        writev: (buffers, position) => {
          const total = buffers.reduce((sum, buffer) => sum + buffer.length, 0);
          calls.push({ kind: 'writev', bytes: total, buffers: buffers.length });
          // A short writev: only the first buffer and half of the second go down.
          if (short)
            return handle.writev([buffers[0]!, buffers[1]!.subarray(0, buffers[1]!.length >> 1)], position);
          return handle.writev([...buffers], position);
        },
      }));
      const writer = await DiskWriter.open({ root: out, layout, fs });
      await writeAll(writer, layout, bytes);
      const total = layout.length;
      assert.ok(calls.length > 0);
      for (const call of calls) assert.ok(call.bytes <= MAX_WRITE_CALL_BYTES, JSON.stringify(call));
      assert.ok(writer.writeCalls >= Math.ceil(total / MAX_WRITE_CALL_BYTES), `${writer.writeCalls} calls`);
      // Neighbours still share calls: some writev spans several pieces' bytes.
      assert.ok(calls.some((call) => call.kind === 'writev' && call.buffers > 1));
      if (short)
        assert.ok(
          calls.some((call) => call.kind === 'write'),
          'the short writev was finished by writes',
        );
      for (const [f, name] of ['a', 'b', 'c'].entries()) {
        const start = [0, MiB + 5_000, 3 * MiB + 5_000][f]!;
        const data = new Uint8Array(await readFile(join(out, 'tor', name)));
        assert.deepEqual(data, bytes.subarray(start, start + data.length));
      }
      await writer.close();
    });
  }

  it('keeps WRITE_CALL_LANES calls of a run in flight; a failed call stops the run only once the others end', async () => {
    const out = await tempDir();
    // One file, 1 MiB pieces: each piece is a run of 32 calls.
    const pieceLength = MiB;
    const layout = single('x', 4 * MiB, pieceLength);
    const bytes = content(layout);
    let inFlight = 0;
    let peak = 0;
    // Piece 2's fourth call is held until released; its fifth, started beside it, fails.
    let holdAt: number | undefined;
    let failAt: number | undefined;
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let failed = false;
    const started: number[] = [];
    const fs = wrappedFs((handle) => ({
      write: async (buffer, offset, length, position) => {
        started.push(position);
        inFlight++;
        peak = Math.max(peak, inFlight);
        try {
          if (position === holdAt) await held;
          if (position === failAt) {
            failed = true;
            throw Object.assign(new Error('EIO: injected'), { code: 'EIO' });
          }
          return await handle.write(buffer, offset, length, position);
        } finally {
          inFlight--;
        }
      },
    }));
    const writer = await DiskWriter.open({ root: out, layout, fs, maxConcurrentWrites: 1 });
    await writer.write(0, piece(layout, bytes, 0));
    await writer.write(1, piece(layout, bytes, 1));
    assert.equal(peak, WRITE_CALL_LANES, 'the calls of one run overlap, and no more than the lanes');
    assert.equal(writer.writeCalls, (2 * MiB) / MAX_WRITE_CALL_BYTES);
    holdAt = 2 * MiB + 3 * MAX_WRITE_CALL_BYTES;
    failAt = 2 * MiB + 4 * MAX_WRITE_CALL_BYTES;
    const calls = writer.writeCalls;
    let settled = false;
    const outcome = writer.write(2, piece(layout, bytes, 2)).finally(() => {
      settled = true;
    });
    outcome.catch(() => {});
    for (let i = 0; i < 200 && !failed; i++) await new Promise((resolve) => setTimeout(resolve, 1));
    assert.ok(failed, 'the fifth call ran and failed');
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(settled, false, 'the run waits for the call still in flight');
    assert.equal(inFlight, 1);
    release();
    await assert.rejects(outcome, (error: unknown) => {
      assert.ok(error instanceof TorkError && error.code === TorkErrorCode.IO, String(error));
      assert.equal(error.details.piece, 2);
      return true;
    });
    assert.equal(inFlight, 0);
    // No call started after the failure: piece 2's first five calls, nothing after them.
    assert.deepEqual(
      started.filter((position) => position >= 2 * MiB),
      [0, 1, 2, 3, 4].map((k) => 2 * MiB + k * MAX_WRITE_CALL_BYTES),
    );
    assert.equal(writer.writeCalls, calls, 'a failed run adds no calls');
    // Pieces written before the failure are on disk, whole.
    const data = new Uint8Array(await readFile(join(out, 'x')));
    assert.deepEqual(data.subarray(0, 2 * MiB), bytes.subarray(0, 2 * MiB));
    await writer.close().catch(() => {});
  });

  it('close waits for queued writes, then refuses new work and closes every handle', async () => {
    const out = await tempDir();
    const gate = new Gate();
    const fs = new FaultyFs({ write: () => gate.wait() });
    const layout = multi(
      [
        [['a'], 30],
        [['b'], 30],
      ],
      20,
    );
    const writer = await DiskWriter.open({ root: out, layout, fs, maxConcurrentWrites: 1 });
    gate.shut();
    const done: number[] = [];
    const writes = [0, 1, 2].map((i) =>
      writer.write(i, new Uint8Array(writer.layout.pieceSize(i)).fill(i + 1)).then(() => done.push(i)),
    );
    let closed = false;
    const closing = writer.close().then(() => {
      closed = true;
    });
    await assert.rejects(writer.write(0, new Uint8Array(20)), isCode(TorkErrorCode.IO));
    await new Promise((resolve) => setTimeout(resolve, 5));
    assert.equal(closed, false);
    assert.deepEqual(done, []);
    gate.open();
    await closing;
    await Promise.all(writes);
    assert.deepEqual(done.sort(), [0, 1, 2]);
    assert.equal(fs.openNow, 0);
    assert.equal(writer.openHandles, 0);
    assert.deepEqual(
      [...(await readFile(join(out, 'tor', 'b')))],
      [...Array(10).fill(2), ...Array(20).fill(3)],
    );
    await writer.close();
  });

  it('flush fsyncs every file written since the last flush, evicted ones included', async () => {
    const out = await tempDir();
    const synced: string[] = [];
    const fs = new FaultyFs({
      sync: ({ path }) => {
        synced.push(path);
      },
    });
    const layout = multi(
      [
        [['a'], 10],
        [['b'], 10],
        [['c'], 10],
      ],
      10,
    );
    const writer = await DiskWriter.open({ root: out, layout, fs, maxOpenFiles: 1 });
    void writer.write(0, new Uint8Array(10));
    void writer.write(2, new Uint8Array(10));
    await writer.flush();
    assert.deepEqual(synced.map((p) => p.slice(-1)).sort(), ['a', 'c']);
    synced.length = 0;
    await writer.flush();
    assert.deepEqual(synced, []);
    await writer.close();
    await assert.rejects(writer.flush(), isCode(TorkErrorCode.IO));
  });
});

describe('DiskWriter: nothing outside the output directory', () => {
  it('refuses <out>/<name> as a symlink to a directory outside, writing nothing there', async () => {
    const out = await tempDir();
    const outside = await tempDir('tork-outside-');
    await symlink(outside, join(out, 'tor'));
    const layout = multi([[['passwd'], 10]], 16);
    await assert.rejects(DiskWriter.open({ root: out, layout }), isCode(TorkErrorCode.UNSAFE_PATH));
    assert.deepEqual(await readdir(outside), []);
  });

  it('refuses a symlinked subdirectory or file leading outside, and a dangling symlink', async () => {
    const out = await tempDir();
    const outside = await tempDir('tork-outside-');
    await writeFile(join(outside, 'victim'), 'keep me');
    await mkdir(join(out, 'tor'));
    await symlink(outside, join(out, 'tor', 'sub'));
    await assert.rejects(
      DiskWriter.open({ root: out, layout: multi([[['sub', 'x'], 10]], 16) }),
      isCode(TorkErrorCode.UNSAFE_PATH),
    );
    await symlink(join(outside, 'victim'), join(out, 'single'));
    await assert.rejects(
      DiskWriter.open({ root: out, layout: single('single', 100, 16) }),
      isCode(TorkErrorCode.UNSAFE_PATH),
    );
    await symlink(join(outside, 'new-file'), join(out, 'dangling'));
    await assert.rejects(
      DiskWriter.open({ root: out, layout: single('dangling', 100, 16) }),
      isCode(TorkErrorCode.UNSAFE_PATH),
    );
    assert.deepEqual((await readdir(outside)).sort(), ['victim']);
    assert.equal(await readFile(join(outside, 'victim'), 'utf8'), 'keep me');
  });

  it('follows a symlink whose target stays inside the output directory', async () => {
    const out = await tempDir();
    await mkdir(join(out, 'real'));
    await symlink(join(out, 'real'), join(out, 'tor'));
    const writer = await DiskWriter.open({ root: out, layout: multi([[['f'], 4]], 4) });
    await writer.write(0, Uint8Array.of(1, 2, 3, 4));
    await writer.close();
    assert.deepEqual([...(await readFile(join(out, 'real', 'f')))], [1, 2, 3, 4]);
  });

  it('refuses hostile path components and duplicate paths before creating anything', async () => {
    const out = await tempDir();
    for (const path of [['..', 'x'], ['a', '..', '..', 'x'], ['a/b'], [''], ['.'], ['nul\0']]) {
      await assert.rejects(
        DiskWriter.open({ root: out, layout: multi([[path, 1]], 4) }),
        isCode(TorkErrorCode.UNSAFE_PATH),
        JSON.stringify(path),
      );
    }
    await assert.rejects(
      DiskWriter.open({ root: out, layout: single('..', 1, 4) }),
      isCode(TorkErrorCode.UNSAFE_PATH),
    );
    await assert.rejects(
      DiskWriter.open({ root: out, layout: multi([[[], 1]], 4) }),
      isCode(TorkErrorCode.UNSAFE_PATH),
    );
    await assert.rejects(
      DiskWriter.open({
        root: out,
        layout: multi(
          [
            [['a'], 1],
            [['a'], 2],
          ],
          4,
        ),
      }),
      isCode(TorkErrorCode.UNSAFE_PATH),
    );
    assert.deepEqual(await readdir(out), []);
  });

  it('refuses to reopen a file replaced since open', async () => {
    const out = await tempDir();
    const outside = await tempDir('tork-outside-');
    const writer = await DiskWriter.open({ root: out, layout: multi([[['f'], 4]], 4), maxOpenFiles: 1 });
    await rm(join(out, 'tor'), { recursive: true });
    await symlink(outside, join(out, 'tor'));
    await writeFile(join(outside, 'f'), 'evil');
    await assert.rejects(writer.write(0, Uint8Array.of(1, 2, 3, 4)), isCode(TorkErrorCode.UNSAFE_PATH));
    assert.equal(await readFile(join(outside, 'f'), 'utf8'), 'evil');
    await writer.close();
  });
});

describe('DiskWriter: things in the way', () => {
  it('names the path when a regular file stands where a directory must be', async () => {
    const out = await tempDir();
    await mkdir(join(out, 'tor'));
    await writeFile(join(out, 'tor', 'sub'), 'a file');
    await assert.rejects(
      DiskWriter.open({ root: out, layout: multi([[['sub', 'x'], 1]], 4) }),
      (error: unknown) => {
        assert.ok(isCode(TorkErrorCode.IO)(error));
        assert.match((error as TorkError).message, /tor\/sub exists and is not a directory/);
        assert.equal((error as TorkError).details.path, join(out, 'tor', 'sub'));
        return true;
      },
    );
  });

  it('refuses a directory where a file must be, and an output path that is a file', async () => {
    const out = await tempDir();
    await mkdir(join(out, 'name'));
    await assert.rejects(DiskWriter.open({ root: out, layout: single('name', 1, 4) }), (error: unknown) => {
      assert.ok(isCode(TorkErrorCode.IO)(error));
      assert.match((error as TorkError).message, /not a regular file/);
      return true;
    });
    await writeFile(join(out, 'plain'), '');
    await assert.rejects(
      DiskWriter.open({ root: join(out, 'plain'), layout: single('x', 1, 4) }),
      isCode(TorkErrorCode.IO),
    );
    await assert.rejects(
      DiskWriter.open({ root: out, layout: single('x', 1, 4), maxOpenFiles: 0 }),
      isCode(TorkErrorCode.USAGE),
    );
  });
});
