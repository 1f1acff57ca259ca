import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, stat, symlink, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { tempDir } from '@tork/testkit';
import { Bitfield } from '../bitfield.js';
import { TorkError, TorkErrorCode } from '../errors.js';
import { MAX_RESUME_APPEND_PIECES, MAX_RESUME_JOURNAL_BYTES, MAX_RESUME_SNAPSHOT_BYTES } from './limits.js';
import { nodeResumeFs, type ResumeFileHandle, type ResumeFs } from './resume-fs.js';
import { defaultResumeDir, ResumeStore } from './resume-store.js';

const HEX = 'c12fe1c06bba254a9dc9f519b335aa7c1367a88a';
const FILES = [
  { path: ['tor', 'a.bin'], size: 40_000, mtimeMs: 1_700_000_000_123.25 },
  { path: ['tor', 'b.bin'], size: 25_536, mtimeMs: 1_700_000_000_456.5 },
];
const PIECE_LENGTH = 16384;
const PIECES = 4;

function bits(pieces: number[], length = PIECES): Bitfield {
  const field = new Bitfield(length);
  for (const piece of pieces) field.set(piece);
  return field;
}

function isCode(code: string) {
  return (error: unknown) => error instanceof TorkError && error.code === code;
}

async function fresh(): Promise<{ dir: string; store: ResumeStore }> {
  const dir = defaultResumeDir(await tempDir('tork-resume-'));
  return { dir, store: ResumeStore.open({ dir, infoHashHex: HEX }) };
}

async function reload(dir: string) {
  const store = ResumeStore.open({ dir, infoHashHex: HEX.toUpperCase() });
  try {
    return await store.load();
  } finally {
    await store.close();
  }
}

describe('ResumeStore', () => {
  it('loads null when nothing was ever written, and creates nothing', async () => {
    const { dir, store } = await fresh();
    assert.equal(await store.load(), null);
    assert.equal(existsSync(dir), false);
  });

  it('round-trips a snapshot: bitfield, files, clean flag', async () => {
    const { dir, store } = await fresh();
    await store.save({ verified: bits([0, 2]), pieceLength: PIECE_LENGTH, files: FILES, clean: true });
    await store.close();
    const loaded = await reload(dir);
    assert.ok(loaded?.snapshot);
    assert.equal(loaded.warning, undefined);
    assert.deepEqual(loaded.pieces, [0, 2]);
    assert.deepEqual(loaded.journalPieces, []);
    assert.equal(loaded.clean, true);
    assert.equal(loaded.snapshot.pieceCount, PIECES);
    assert.equal(loaded.snapshot.pieceLength, PIECE_LENGTH);
    assert.deepEqual(loaded.snapshot.files, FILES);
    assert.equal(loaded.snapshot.infoHashHex, HEX);
    assert.deepEqual((await readdir(dir)).sort(), [`${HEX}.journal`, `${HEX}.resume`]);
  });

  it('copies the bitfield when save is called: later changes are not in the snapshot', async () => {
    const { dir, store } = await fresh();
    const verified = bits([1]);
    const saving = store.save({ verified, pieceLength: PIECE_LENGTH, files: FILES });
    verified.set(3);
    await saving;
    assert.deepEqual((await reload(dir))?.pieces, [1]);
    await store.close();
  });

  it('journal only: entries from a run that never saved are claimed, unclean', async () => {
    const { dir, store } = await fresh();
    await store.appendPieces([3, 1]);
    await store.appendPieces([1]);
    await store.close();
    const loaded = await reload(dir);
    assert.equal(loaded?.snapshot, null);
    assert.deepEqual(loaded?.journalPieces, [1, 3]);
    assert.deepEqual(loaded?.pieces, [1, 3]);
    assert.equal(loaded?.clean, false);
    assert.deepEqual(
      [...(await readFile(join(dir, `${HEX}.journal`)))],
      [0, 0, 0, 3, 0, 0, 0, 1, 0, 0, 0, 1],
    );
  });

  it('journal offset: append, save, append → the union; the later entries make the state unclean', async () => {
    const { dir, store } = await fresh();
    await store.appendPieces([0]);
    await store.save({ verified: bits([0]), pieceLength: PIECE_LENGTH, files: FILES, clean: true });
    const afterSave = await reload(dir);
    assert.equal(afterSave?.snapshot?.journalOffset, 4);
    assert.deepEqual(afterSave?.journalPieces, []);
    assert.equal(afterSave?.clean, true);
    await store.appendPieces([2, 3]);
    const loaded = await reload(dir);
    assert.deepEqual(loaded?.pieces, [0, 2, 3]);
    assert.deepEqual(loaded?.journalPieces, [2, 3]);
    assert.equal(loaded?.clean, false);
    await store.close();
  });

  it('takes the offset at the call: appends racing with a save land after it', async () => {
    const { dir, store } = await fresh();
    const pending: Promise<void>[] = [];
    const verified = new Bitfield(PIECES);
    pending.push(store.appendPieces([0]));
    verified.set(0);
    pending.push(store.appendPieces([1]));
    verified.set(1);
    pending.push(store.save({ verified, pieceLength: PIECE_LENGTH, files: FILES }));
    // Not in the bitfield just saved: must be read from the journal, after the offset.
    pending.push(store.appendPieces([2]));
    await Promise.all(pending);
    const loaded = await reload(dir);
    assert.equal(loaded?.snapshot?.journalOffset, 8);
    assert.deepEqual([...(loaded?.snapshot?.verified.indices() ?? [])], [0, 1]);
    assert.deepEqual(loaded?.journalPieces, [2]);
    assert.deepEqual(loaded?.pieces, [0, 1, 2]);
    await store.close();
  });

  it('refuses a save whose bitfield misses an appended piece', async () => {
    const { store } = await fresh();
    await store.appendPieces([2]);
    await assert.rejects(
      store.save({ verified: bits([1]), pieceLength: PIECE_LENGTH, files: FILES }),
      isCode(TorkErrorCode.USAGE),
    );
    await store.close();
  });

  it('refuses bad append arguments', async () => {
    const { store } = await fresh();
    await assert.rejects(store.appendPieces([-1]), isCode(TorkErrorCode.OUT_OF_RANGE));
    await assert.rejects(store.appendPieces([2 ** 32]), isCode(TorkErrorCode.OUT_OF_RANGE));
    await assert.rejects(store.appendPieces([1.5]), isCode(TorkErrorCode.OUT_OF_RANGE));
    await assert.rejects(
      store.appendPieces(new Array(MAX_RESUME_APPEND_PIECES + 1).fill(0)),
      isCode(TorkErrorCode.LIMIT_EXCEEDED),
    );
    await store.appendPieces([]);
    assert.throws(() => ResumeStore.open({ dir: '/tmp', infoHashHex: 'xyz' }), isCode(TorkErrorCode.USAGE));
  });

  it('markClean writes a clean snapshot and empties the journal', async () => {
    const { dir, store } = await fresh();
    await store.appendPieces([0, 1, 2]);
    await store.save({ verified: bits([0, 1, 2]), pieceLength: PIECE_LENGTH, files: FILES });
    await store.appendPieces([3]);
    await store.markClean({ verified: bits([0, 1, 2, 3]), pieceLength: PIECE_LENGTH, files: FILES });
    assert.equal((await stat(join(dir, `${HEX}.journal`))).size, 0);
    const loaded = await reload(dir);
    assert.equal(loaded?.snapshot?.journalOffset, 0);
    assert.equal(loaded?.clean, true);
    assert.deepEqual(loaded?.pieces, [0, 1, 2, 3]);
    // The journal starts over at 0 and its new entries count as newer than the clean snapshot.
    await store.appendPieces([1]);
    const after = await reload(dir);
    assert.equal(after?.clean, false);
    assert.deepEqual(after?.journalPieces, [1]);
    await store.close();
  });

  it('a crash inside markClean (journal emptied, snapshot offset stale) loses nothing', async () => {
    const { dir, store } = await fresh();
    await store.appendPieces([0, 1, 2]);
    await store.save({ verified: bits([0, 1, 2]), pieceLength: PIECE_LENGTH, files: FILES, clean: true });
    await store.close();
    // The state between markClean's truncate and its second snapshot.
    await truncate(join(dir, `${HEX}.journal`), 0);
    const crashed = await reload(dir);
    assert.equal(crashed?.snapshot?.journalOffset, 12);
    assert.equal(crashed?.clean, true);
    assert.deepEqual(crashed?.pieces, [0, 1, 2]);
    // The next run's first append must not land below the stale offset, where load would skip it.
    const next = ResumeStore.open({ dir, infoHashHex: HEX });
    await next.appendPieces([3]);
    const loaded = await reload(dir);
    assert.equal(loaded?.snapshot?.journalOffset, 0);
    assert.deepEqual(loaded?.journalPieces, [3]);
    assert.deepEqual(loaded?.pieces, [0, 1, 2, 3]);
    assert.equal(loaded?.clean, false);
    await next.close();
  });

  it('ignores a torn journal tail, and the next run appends after the last whole entry', async () => {
    const { dir, store } = await fresh();
    await store.appendPieces([1, 2]);
    await store.close();
    const journal = join(dir, `${HEX}.journal`);
    await writeFile(journal, Buffer.from([0, 0, 0, 1, 0, 0, 0, 2, 0, 0]));
    const torn = await reload(dir);
    assert.deepEqual(torn?.pieces, [1, 2]);
    assert.equal(torn?.warning, undefined);
    const next = ResumeStore.open({ dir, infoHashHex: HEX });
    await next.appendPieces([3]);
    await next.close();
    assert.deepEqual([...(await readFile(journal))], [0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3]);
    assert.deepEqual((await reload(dir))?.pieces, [1, 2, 3]);
  });

  it('ignores journal entries beyond the piece count, with a warning', async () => {
    const { dir, store } = await fresh();
    await store.save({ verified: bits([0]), pieceLength: PIECE_LENGTH, files: FILES, clean: true });
    await store.appendPieces([1, 99]);
    await store.close();
    const loaded = await reload(dir);
    assert.deepEqual(loaded?.pieces, [0, 1]);
    assert.deepEqual(loaded?.journalPieces, [1]);
    assert.equal(loaded?.clean, false);
    assert.match(loaded?.warning ?? '', /1 journal entries name pieces beyond 3/);
  });

  it('reads at most MAX_RESUME_JOURNAL_BYTES of journal, with a warning', async () => {
    const { dir, store } = await fresh();
    await store.appendPieces([7]);
    await store.close();
    const entries = MAX_RESUME_JOURNAL_BYTES / 4 + 2;
    const bytes = Buffer.alloc(entries * 4);
    for (let entry = 0; entry < entries; entry++) bytes.writeUInt32BE(entry % 1000, entry * 4);
    await writeFile(join(dir, `${HEX}.journal`), bytes);
    const loaded = await reload(dir);
    assert.equal(loaded?.pieces.length, 1000);
    assert.match(loaded?.warning ?? '', /the rest ignored/);
  });

  it('refuses an oversized snapshot unread, with a warning', async () => {
    const { dir, store } = await fresh();
    await store.save({ verified: bits([0]), pieceLength: PIECE_LENGTH, files: FILES, clean: true });
    await store.close();
    // Sparse: the size is what counts, and it is checked before any byte is read.
    await truncate(join(dir, `${HEX}.resume`), MAX_RESUME_SNAPSHOT_BYTES + 1);
    const loaded = await reload(dir);
    assert.equal(loaded?.snapshot, null);
    assert.match(loaded?.warning ?? '', /too large/);
  });

  it('many racing appends, saves and markCleans: the loaded union is exactly what was appended', async () => {
    const { dir, store } = await fresh();
    const pieces = 300;
    const verified = new Bitfield(pieces);
    const pending: Promise<void>[] = [];
    for (let piece = 0; piece < pieces; piece++) {
      verified.set(piece);
      pending.push(store.appendPieces([piece]));
      if (piece % 7 === 0) pending.push(store.save({ verified, pieceLength: PIECE_LENGTH, files: FILES }));
      if (piece % 50 === 25)
        pending.push(store.markClean({ verified, pieceLength: PIECE_LENGTH, files: FILES }));
      if (piece % 40 === 0) {
        const loading = store.load().then((loaded) => {
          // Loads are ordered with the writes: everything queued before them is visible.
          assert.ok((loaded?.pieces.length ?? 0) >= piece + 1);
        });
        pending.push(loading);
      }
    }
    await Promise.all(pending);
    const loaded = await reload(dir);
    assert.deepEqual(loaded?.pieces, [...Array(pieces).keys()]);
    assert.equal(loaded?.warning, undefined);
    await store.close();
  });

  it('atomicity: temp files left by crashed saves are ignored, and swept unless their process lives', async () => {
    const { dir, store } = await fresh();
    await store.save({ verified: bits([0, 1]), pieceLength: PIECE_LENGTH, files: FILES, clean: true });
    await store.close();
    // A pid that cannot be running (above Linux's pid_max), the older fixed name, a live writer's.
    const dead = `${HEX}.resume.${2 ** 23}-1.tmp`;
    const live = `${HEX}.resume.${process.pid}-999999.tmp`;
    for (const name of [dead, `${HEX}.resume.tmp`, live]) {
      await writeFile(join(dir, name), 'TORK-RESUME 1 half-written');
    }
    const loaded = await reload(dir);
    assert.equal(loaded?.warning, undefined);
    assert.deepEqual(loaded?.pieces, [0, 1]);
    const next = ResumeStore.open({ dir, infoHashHex: HEX });
    await next.save({ verified: bits([0, 1, 3]), pieceLength: PIECE_LENGTH, files: FILES });
    await next.close();
    assert.deepEqual((await reload(dir))?.pieces, [0, 1, 3]);
    assert.deepEqual((await readdir(dir)).sort(), [`${HEX}.journal`, `${HEX}.resume`, live]);
    await next.remove();
    assert.deepEqual(await readdir(dir), [], 'remove sweeps every temp file of the torrent');
  });

  it('two stores on one directory (two processes past one lock) save at once: every save lands whole', async () => {
    const { dir } = await fresh();
    const stores = [ResumeStore.open({ dir, infoHashHex: HEX }), ResumeStore.open({ dir, infoHashHex: HEX })];
    assert.notEqual(stores[0]!.tempPath, stores[1]!.tempPath);
    // One temp name for both made the loser's rename fail ENOENT (CI, three `tork seed` at once).
    const saves: Promise<void>[] = [];
    for (let round = 0; round < 25; round++) {
      for (const store of stores) {
        saves.push(
          store.save({ verified: bits([0, 1]), pieceLength: PIECE_LENGTH, files: FILES, clean: true }),
        );
      }
    }
    await Promise.all(saves);
    await Promise.all(stores.map((store) => store.close()));
    assert.deepEqual((await reload(dir))?.pieces, [0, 1]);
    assert.deepEqual((await readdir(dir)).sort(), [`${HEX}.journal`, `${HEX}.resume`]);
  });

  it('a snapshot write that fails before the rename leaves the previous snapshot in place', async () => {
    const dir = join(await tempDir('tork-resume-'), '.tork');
    let failSync = false;
    const fs = hookedFs({
      sync: (path) => {
        if (failSync && path.endsWith('.tmp')) throw systemError('EIO', 'fsync');
      },
    });
    const store = ResumeStore.open({ dir, infoHashHex: HEX, fs });
    await store.save({ verified: bits([2]), pieceLength: PIECE_LENGTH, files: FILES, clean: true });
    failSync = true;
    await assert.rejects(
      store.save({ verified: bits([2, 3]), pieceLength: PIECE_LENGTH, files: FILES }),
      (error: unknown) => isCode(TorkErrorCode.IO)(error) && (error as TorkError).details.cause === 'EIO',
    );
    const loaded = await reload(dir);
    assert.deepEqual(loaded?.pieces, [2]);
    assert.equal(loaded?.clean, true);
    assert.equal(existsSync(store.tempPath), false);
    await store.close();
  });

  it('treats a corrupt snapshot as absent, with a warning, never throwing', async () => {
    const { dir, store } = await fresh();
    await store.save({ verified: bits([0, 1]), pieceLength: PIECE_LENGTH, files: FILES, clean: true });
    await store.close();
    const path = join(dir, `${HEX}.resume`);
    const good = await readFile(path);
    const damaged = Buffer.from(good);
    damaged[damaged.length - 5]! ^= 0x40;
    for (const bytes of [damaged, good.subarray(0, 30), Buffer.alloc(0), Buffer.from('{"version":1}')]) {
      await writeFile(path, bytes);
      const loaded = await reload(dir);
      assert.ok(loaded, 'a refused snapshot is reported, not silently null');
      assert.equal(loaded.snapshot, null);
      assert.deepEqual(loaded.pieces, []);
      assert.equal(loaded.clean, false);
      assert.match(loaded.warning ?? '', /resume snapshot .* ignored/);
    }
    // With a refused snapshot, journal entries are still claims (from offset 0): rechecked later.
    const next = ResumeStore.open({ dir, infoHashHex: HEX });
    await next.appendPieces([3]);
    await next.close();
    const loaded = await reload(dir);
    assert.deepEqual(loaded?.pieces, [3]);
    assert.equal(loaded?.clean, false);
  });

  it('treats a snapshot of another torrent as absent, with a warning', async () => {
    const { dir, store } = await fresh();
    await store.save({ verified: bits([0]), pieceLength: PIECE_LENGTH, files: FILES, clean: true });
    await store.close();
    const other = 'ab'.repeat(20);
    await writeFile(join(dir, `${other}.resume`), await readFile(join(dir, `${HEX}.resume`)));
    const loaded = await ResumeStore.open({ dir, infoHashHex: other }).load();
    assert.equal(loaded?.snapshot, null);
    assert.match(loaded?.warning ?? '', /another|info-hash/);
  });

  it('throws TORK_ERR_IO for a real I/O failure on load', async () => {
    const dir = join(await tempDir('tork-resume-'), '.tork');
    const fs = hookedFs({
      open: (path) => {
        if (path.endsWith('.resume')) throw systemError('EACCES', 'open');
      },
    });
    await assert.rejects(ResumeStore.open({ dir, infoHashHex: HEX, fs }).load(), isCode(TorkErrorCode.IO));
  });

  it('refuses to follow a symlink planted as the snapshot (TORK_ERR_IO, not a read elsewhere)', async () => {
    const root = await tempDir('tork-resume-');
    const dir = join(root, '.tork');
    await mkdir(dir);
    await writeFile(join(root, 'target'), 'x');
    await symlink(join(root, 'target'), join(dir, `${HEX}.resume`));
    await assert.rejects(ResumeStore.open({ dir, infoHashHex: HEX }).load(), isCode(TorkErrorCode.IO));
  });

  it('rolls a failed append back to the last whole entry; later appends stay aligned', async () => {
    const dir = join(await tempDir('tork-resume-'), '.tork');
    let failNext = false;
    const fs = hookedFs({
      write: async (path, handle, bytes) => {
        if (failNext && path.endsWith('.journal')) {
          failNext = false;
          // A short write that then fails: 2 bytes land, then ENOSPC.
          await handle.write(bytes, 0, 2, null);
          throw systemError('ENOSPC', 'write');
        }
      },
    });
    const store = ResumeStore.open({ dir, infoHashHex: HEX, fs });
    await store.appendPieces([1]);
    failNext = true;
    await assert.rejects(store.appendPieces([2]), isCode(TorkErrorCode.IO));
    await store.appendPieces([3]);
    await store.close();
    assert.deepEqual([...(await readFile(join(dir, `${HEX}.journal`)))], [0, 0, 0, 1, 0, 0, 0, 3]);
  });

  it('remove deletes every file; the store can be used again', async () => {
    const { dir, store } = await fresh();
    await store.appendPieces([0]);
    await store.save({ verified: bits([0]), pieceLength: PIECE_LENGTH, files: FILES });
    await store.remove();
    assert.deepEqual(await readdir(dir), []);
    assert.equal(await reload(dir), null);
    await store.remove();
    await store.appendPieces([1]);
    assert.deepEqual((await reload(dir))?.pieces, [1]);
    await store.close();
  });
});

function systemError(code: string, syscall: string): NodeJS.ErrnoException {
  const error: NodeJS.ErrnoException = new Error(`${code}: injected failure, ${syscall}`);
  error.code = code;
  return error;
}

interface Hooks {
  open?: (path: string) => void;
  sync?: (path: string) => void;
  /** Runs before a write; may write through `handle` itself and throw. */
  write?: (path: string, handle: ResumeFileHandle, bytes: Uint8Array) => Promise<void>;
}

/** The real file system with hooks in front of open, write and sync. */
function hookedFs(hooks: Hooks): ResumeFs {
  return {
    ...nodeResumeFs,
    open: async (path, flags, mode) => {
      hooks.open?.(path);
      const handle = await nodeResumeFs.open(path, flags, mode);
      return {
        read: (buffer, offset, length, position) => handle.read(buffer, offset, length, position),
        write: async (buffer, offset, length, position) => {
          await hooks.write?.(path, handle, buffer.subarray(offset, offset + length));
          return handle.write(buffer, offset, length, position);
        },
        stat: () => handle.stat(),
        truncate: (length) => handle.truncate(length),
        sync: async () => {
          hooks.sync?.(path);
          await handle.sync();
        },
        close: () => handle.close(),
      };
    },
  };
}
