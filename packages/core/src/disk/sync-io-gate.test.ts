import assert from 'node:assert/strict';
import { closeSync, constants, openSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { tempDir } from '@tork/testkit';
import { CountingFs } from './counting-fs.js';
import { nodeDiskFs } from './disk-fs.js';
import {
  DiskWriter,
  MAX_COALESCED_WRITE_BYTES,
  MAX_WRITE_CALL_BYTES,
  SMALL_PIECE_SYNC_WRITE_MAX_CALLS,
  SYNC_WRITE_MAX_CALLS,
  syncWriteMaxCallsFor,
} from './disk-writer.js';
import {
  isLocalFileSystem,
  SLOW_SYNC_IO_MS,
  SYNC_IO_BUDGET_MS_PER_SECOND,
  SYNC_IO_PAUSE_MS,
  SyncIoGate,
  writeFullySync,
} from './sync-io-gate.js';

/** A gate on a clock the test moves; `run(ms)` makes a call that takes `ms`. */
function clockedGate(): { gate: SyncIoGate; clock: { now: number }; call: (ms: number) => void } {
  const clock = { now: 10_000 };
  const gate = new SyncIoGate({ now: () => clock.now });
  gate.allow(true);
  return {
    gate,
    clock,
    call: (ms) =>
      gate.run(() => {
        clock.now += ms;
      }),
  };
}

describe('SyncIoGate', () => {
  it('is shut until allowed (not a local file system, or not the default fs)', () => {
    const gate = new SyncIoGate();
    assert.equal(gate.open, false);
    gate.allow(true);
    assert.equal(gate.open, true);
    gate.allow(false);
    assert.equal(gate.open, false);
  });

  it(`a call slower than SLOW_SYNC_IO_MS (${SLOW_SYNC_IO_MS}) shuts it for SYNC_IO_PAUSE_MS (${SYNC_IO_PAUSE_MS})`, () => {
    const { gate, clock, call } = clockedGate();
    call(SLOW_SYNC_IO_MS);
    assert.equal(gate.open, true, 'exactly the limit is not slow');
    call(SLOW_SYNC_IO_MS + 0.5);
    assert.equal(gate.open, false);
    assert.equal(gate.pauses, 1);
    clock.now += SYNC_IO_PAUSE_MS - 1;
    assert.equal(gate.open, false);
    clock.now += 1;
    assert.equal(gate.open, true, 'tried again once the pause is over');
    assert.equal(gate.calls, 2);
  });

  it(`more than SYNC_IO_BUDGET_MS_PER_SECOND (${SYNC_IO_BUDGET_MS_PER_SECOND}) of calls in a second shuts it`, () => {
    const { gate, clock, call } = clockedGate();
    const each = 5;
    // Calls of 5 ms with 5 ms between them: 500 ms of calls in each second, over the budget.
    let calls = 0;
    while (gate.open && calls < 1_000) {
      call(each);
      clock.now += each;
      calls++;
    }
    assert.equal(gate.pauses, 1);
    // The budget was crossed by the call that took the sum past it, within the first second.
    assert.equal(calls, Math.floor(SYNC_IO_BUDGET_MS_PER_SECOND / each) + 1);
  });

  it('a budget spent in one second does not carry into the next', () => {
    const { gate, clock, call } = clockedGate();
    const each = 5;
    const perSecond = Math.floor(SYNC_IO_BUDGET_MS_PER_SECOND / each) - 1;
    for (let second = 0; second < 5; second++) {
      const start = clock.now;
      for (let i = 0; i < perSecond; i++) call(each);
      clock.now = start + 1_000;
    }
    assert.equal(gate.pauses, 0);
    assert.equal(gate.open, true);
    assert.equal(gate.calls, perSecond * 5);
  });
});

describe('writeFullySync', () => {
  it('writes one buffer, or several back to back, at their position', async () => {
    const dir = await tempDir();
    const path = join(dir, 'f');
    await writeFile(path, new Uint8Array(8));
    const fd = openSync(path, constants.O_RDWR);
    try {
      writeFullySync(fd, [Uint8Array.of(1, 2)], 1);
      writeFullySync(fd, [Uint8Array.of(3), Uint8Array.of(4, 5), Uint8Array.of(6)], 4);
    } finally {
      closeSync(fd);
    }
    assert.deepEqual([...(await readFile(path))], [0, 1, 2, 0, 3, 4, 5, 6]);
  });

  it('throws the system error with its code', async () => {
    const dir = await tempDir();
    const path = join(dir, 'ro');
    await writeFile(path, new Uint8Array(4));
    const fd = openSync(path, constants.O_RDONLY);
    try {
      assert.throws(() => writeFullySync(fd, [Uint8Array.of(1)], 0), { code: 'EBADF' });
      assert.throws(() => writeFullySync(fd, [Uint8Array.of(1), Uint8Array.of(2)], 0), { code: 'EBADF' });
    } finally {
      closeSync(fd);
    }
  });
});

describe('CountingFs handles', () => {
  it('report the live descriptor, -1 once closed (never a number the kernel may reuse)', async () => {
    const dir = await tempDir();
    const path = join(dir, 'f');
    await writeFile(path, new Uint8Array(1));
    const handle = await new CountingFs(nodeDiskFs).open(path, constants.O_RDWR);
    assert.ok(typeof handle.fd === 'number' && handle.fd >= 0);
    await handle.close();
    assert.equal(handle.fd, -1);
  });
});

describe('isLocalFileSystem', () => {
  it('is false for procfs and for a path that does not exist', async () => {
    assert.equal(await isLocalFileSystem('/proc'), false);
    assert.equal(await isLocalFileSystem('/nonexistent/tork-sync-write'), false);
  });
});

describe('DiskWriter with synchronous writes', () => {
  const layout = {
    name: 'tor',
    isMultiFile: true,
    pieceLength: 16 * 1024,
    length: 3 * 16 * 1024,
    files: [
      { path: ['a'], length: 20 * 1024, pad: false },
      { path: ['b'], length: 28 * 1024, pad: false },
    ],
  };
  const pieces = [0, 1, 2].map((index) => new Uint8Array(16 * 1024).fill(index + 1));
  const expected = (file: 'a' | 'b') => {
    const all = new Uint8Array(layout.length);
    for (const [index, piece] of pieces.entries()) all.set(piece, index * 16 * 1024);
    return file === 'a' ? all.subarray(0, 20 * 1024) : all.subarray(20 * 1024);
  };

  it('makes its calls on the event loop where the output directory is on a local file system', async (t) => {
    const root = await tempDir();
    if (!(await isLocalFileSystem(root))) {
      t.skip(
        `${root} is not on a local file system (statfs type not in the list): writes go through the pool`,
      );
      return;
    }
    const disk = await DiskWriter.open({ root, layout });
    try {
      await Promise.all(pieces.map((piece, index) => disk.write(index, piece)));
      assert.equal(disk.syncWrites.allowed, true);
      assert.equal(disk.syncWrites.calls, disk.writeCalls);
      assert.ok(disk.syncWrites.calls > 0);
    } finally {
      await disk.close();
    }
    assert.deepEqual(new Uint8Array(await readFile(join(root, 'tor', 'a'))), expected('a'));
    assert.deepEqual(new Uint8Array(await readFile(join(root, 'tor', 'b'))), expected('b'));
  });

  it(`writes a segment of more than SYNC_WRITE_MAX_CALLS (${SYNC_WRITE_MAX_CALLS}) calls through the pool`, async (t) => {
    const root = await tempDir();
    if (!(await isLocalFileSystem(root))) {
      t.skip(
        `${root} is not on a local file system (statfs type not in the list): writes go through the pool`,
      );
      return;
    }
    const short = SYNC_WRITE_MAX_CALLS * MAX_WRITE_CALL_BYTES;
    const long = (SYNC_WRITE_MAX_CALLS + 1) * MAX_WRITE_CALL_BYTES;
    // One file per piece, so that each piece is one segment whatever the order they are written in.
    const sizes = {
      name: 'sizes',
      isMultiFile: true,
      pieceLength: long,
      length: 2 * long,
      files: [
        { path: ['long'], length: long, pad: false },
        { path: ['short'], length: short, pad: false },
        { path: ['rest'], length: long - short, pad: false },
      ],
    };
    const disk = await DiskWriter.open({ root, layout: sizes });
    try {
      await disk.write(0, new Uint8Array(long).fill(7));
      assert.deepEqual(disk.syncWrites, { allowed: true, calls: 0, pauses: 0 });
      assert.equal(disk.writeCalls, SYNC_WRITE_MAX_CALLS + 1);
      await disk.write(1, new Uint8Array(long).fill(9));
      // Piece 1 is two segments: `short` (SYNC_WRITE_MAX_CALLS calls) and `rest` (one call).
      assert.equal(disk.syncWrites.calls, SYNC_WRITE_MAX_CALLS + 1);
    } finally {
      await disk.close();
    }
    assert.deepEqual(
      new Uint8Array(await readFile(join(root, 'sizes', 'long'))),
      new Uint8Array(long).fill(7),
    );
    assert.deepEqual(
      new Uint8Array(await readFile(join(root, 'sizes', 'short'))),
      new Uint8Array(short).fill(9),
    );
  });

  it(`small pieces: a whole run (${SMALL_PIECE_SYNC_WRITE_MAX_CALLS} calls) on the event loop with syncWriteMaxCalls, through the pool without`, async (t) => {
    const root = await tempDir();
    if (!(await isLocalFileSystem(root))) {
      t.skip(
        `${root} is not on a local file system (statfs type not in the list): writes go through the pool`,
      );
      return;
    }
    assert.equal(syncWriteMaxCallsFor(16 * 1024, 64 * 1024), SMALL_PIECE_SYNC_WRITE_MAX_CALLS);
    assert.equal(syncWriteMaxCallsFor(64 * 1024, 64 * 1024), SMALL_PIECE_SYNC_WRITE_MAX_CALLS);
    assert.equal(syncWriteMaxCallsFor(128 * 1024, 64 * 1024), SYNC_WRITE_MAX_CALLS);
    const count = MAX_COALESCED_WRITE_BYTES / (16 * 1024);
    const run = {
      name: 'run',
      isMultiFile: false,
      pieceLength: 16 * 1024,
      length: count * 16 * 1024,
      files: [{ path: ['run'], length: count * 16 * 1024, pad: false }],
    };
    const data = Array.from({ length: count }, (_, index) => new Uint8Array(16 * 1024).fill(index));
    for (const syncWriteMaxCalls of [undefined, SMALL_PIECE_SYNC_WRITE_MAX_CALLS]) {
      const dir = join(root, String(syncWriteMaxCalls));
      const disk = await DiskWriter.open({ root: dir, layout: run, syncWriteMaxCalls });
      try {
        // Queued in one turn: one run of neighbours, one segment of 1 MiB.
        await Promise.all(data.map((piece, index) => disk.write(index, piece)));
        assert.equal(disk.writeCalls, SMALL_PIECE_SYNC_WRITE_MAX_CALLS);
        assert.equal(disk.syncWrites.calls, syncWriteMaxCalls === undefined ? 0 : disk.writeCalls);
      } finally {
        await disk.close();
      }
      const written = new Uint8Array(await readFile(join(dir, 'run')));
      for (const [index, piece] of data.entries())
        assert.deepEqual(written.subarray(index * 16 * 1024, (index + 1) * 16 * 1024), piece);
    }
  });

  it('makes none with syncWrites: false, nor with a file system of its own', async () => {
    for (const options of [{ syncWrites: false }, { fs: nodeDiskFs }]) {
      const root = await tempDir();
      const disk = await DiskWriter.open({ root, layout, ...options });
      try {
        await Promise.all(pieces.map((piece, index) => disk.write(index, piece)));
        assert.deepEqual(disk.syncWrites, { allowed: false, calls: 0, pauses: 0 });
        assert.ok(disk.writeCalls > 0);
      } finally {
        await disk.close();
      }
      assert.deepEqual(new Uint8Array(await readFile(join(root, 'tor', 'b'))), expected('b'));
    }
  });
});
