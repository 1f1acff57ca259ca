import assert from 'node:assert/strict';
import { randomFillSync } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { tempDir } from '@tork/testkit';
import { Bitfield } from '../bitfield.js';
import { TorkError, TorkErrorCode } from '../errors.js';
import type { DiskLayout } from './disk-layout.js';
import { DiskWriter } from './disk-writer.js';
import { PART_DIR_NAME } from './part-file.js';
import { readFully } from './piece-span.js';

const PIECE = 1024;

/** Four files: 1,500 + 700 + 2,000 + 300 bytes; pieces 0..4 (piece 2 spans b and c, piece 4 c and d). */
const layout: DiskLayout = {
  name: 'tor',
  isMultiFile: true,
  pieceLength: PIECE,
  length: 4500,
  files: [
    { path: ['a.bin'], length: 1500, pad: false },
    { path: ['sub', 'b.bin'], length: 700, pad: false },
    { path: ['c.bin'], length: 2000, pad: false },
    { path: ['d.bin'], length: 300, pad: false },
  ],
};

const bytes = randomFillSync(new Uint8Array(layout.length));
const piece = (index: number) => bytes.slice(index * PIECE, Math.min((index + 1) * PIECE, layout.length));

async function tree(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => relative(dir, join(entry.parentPath ?? entry.path, entry.name)))
    .sort();
}

/** Reads a piece back the way the resume check and the hosts do: through `pieceSpans`. */
async function readPiece(writer: DiskWriter, index: number): Promise<Uint8Array> {
  const { open } = await import('node:fs/promises');
  const out = new Uint8Array(writer.layout.pieceSize(index));
  let at = 0;
  for (const span of writer.pieceSpans(index)) {
    const handle = await open(span.path!, 'r');
    try {
      assert.equal(await readFully(handle, out, at, span.length, span.offset), span.length);
    } finally {
      await handle.close();
    }
    at += span.length;
  }
  return out;
}

describe('part file: unselected files', () => {
  it('creates only selected files; shared bytes go to .tork/<name>.parts and read back through pieceSpans', async () => {
    const out = await tempDir();
    // Only c.bin: pieces 2 (b, c), 3 and 4 (c, d) are fetched.
    const writer = await DiskWriter.open({
      root: out,
      layout,
      selected: [false, false, true, false],
      partFileName: 'abc.parts',
    });
    for (const index of [2, 3, 4]) await writer.write(index, piece(index));
    await writer.flush();
    for (const index of [2, 3, 4]) assert.deepEqual(await readPiece(writer, index), piece(index));
    await writer.close();
    assert.deepEqual(await tree(out), [`${PART_DIR_NAME}/abc.parts`, 'tor/c.bin']);
    assert.deepEqual(await readFile(join(out, 'tor/c.bin')), Buffer.from(bytes.subarray(2200, 4200)));
    // The part file is as long as the torrent, its bytes at their torrent offsets.
    const part = await readFile(join(out, PART_DIR_NAME, 'abc.parts'));
    assert.equal(part.length, layout.length);
    assert.deepEqual(part.subarray(2048, 2200), Buffer.from(bytes.subarray(2048, 2200)));
    assert.deepEqual(part.subarray(4200, 4500), Buffer.from(bytes.subarray(4200, 4500)));
    assert.equal(writer.file(0)?.inPart, true);
    assert.equal(writer.file(0)?.offset, 0);
    assert.equal(writer.file(1)?.offset, 1500);
    assert.equal(writer.file(2)?.inPart, false);
  });

  it('makes no part file when every file is selected', async () => {
    const out = await tempDir();
    const writer = await DiskWriter.open({ root: out, layout, selected: [true, true, true, true] });
    await writer.close();
    assert.deepEqual(await tree(out), ['tor/a.bin', 'tor/c.bin', 'tor/d.bin', 'tor/sub/b.bin']);
  });

  it('a newly selected file takes its bytes from the part file (at open, and at runtime)', async () => {
    const out = await tempDir();
    const first = await DiskWriter.open({ root: out, layout, selected: [false, false, true, false] });
    for (const index of [2, 3, 4]) await first.write(index, piece(index));
    await first.close();
    // A new run selects b.bin too: it is created and takes its part of piece 2 (its last 152 bytes).
    const second = await DiskWriter.open({ root: out, layout, selected: [false, true, true, false] });
    assert.deepEqual(second.adoptable(), [1]);
    assert.equal(await second.adoptFromPart(1, [2]), 152);
    const b = await readFile(join(out, 'tor/sub/b.bin'));
    assert.deepEqual(b.subarray(548), Buffer.from(bytes.subarray(2048, 2200)));
    assert.equal(
      b.subarray(0, 548).every((byte) => byte === 0),
      true,
      'nothing else was copied',
    );
    // At runtime: d.bin is selected; its one piece (4) was written, so it comes whole from the part file.
    const written = new Bitfield(5);
    for (const index of [2, 3, 4]) written.set(index);
    assert.equal(await second.place(3, written), true);
    assert.equal(await second.place(3, written), false, 'already placed');
    assert.deepEqual(await readFile(join(out, 'tor/d.bin')), Buffer.from(bytes.subarray(4200, 4500)));
    // pieceSpans point at the new file; later writes go to the files (a.bin's share to the part file).
    assert.equal(second.pieceSpans(4)[1]?.path, join(out, 'tor/d.bin'));
    assert.deepEqual(await readPiece(second, 4), piece(4));
    await second.write(1, piece(1));
    await second.flush();
    assert.deepEqual(await readPiece(second, 1), piece(1));
    const b2 = await readFile(join(out, 'tor/sub/b.bin'));
    assert.deepEqual(b2.subarray(0, 548), Buffer.from(bytes.subarray(1500, 2048)));
    await second.close();
    const d = await stat(join(out, 'tor/d.bin'));
    assert.equal(d.size, 300);
    assert.deepEqual(await tree(out), [
      `${PART_DIR_NAME}/torrent.parts`,
      'tor/c.bin',
      'tor/d.bin',
      'tor/sub/b.bin',
    ]);
  });

  it('an unselected file already on disk stays in use (an earlier run selected it)', async () => {
    const out = await tempDir();
    const first = await DiskWriter.open({ root: out, layout });
    for (let index = 0; index < 5; index++) await first.write(index, piece(index));
    await first.close();
    const second = await DiskWriter.open({ root: out, layout, selected: [false, false, true, false] });
    assert.equal(second.file(0)?.inPart, false);
    assert.deepEqual(await readPiece(second, 0), piece(0));
    await second.close();
  });

  it('refuses hostile paths of unselected files too, before looking at them or creating anything', async () => {
    const out = await tempDir();
    for (const path of [['..', 'x'], ['a', '..', '..', 'x'], ['a/b'], [''], ['.']]) {
      const hostile: DiskLayout = { ...layout, files: [{ path, length: 4500, pad: false }] };
      await assert.rejects(
        DiskWriter.open({ root: out, layout: hostile, selected: [false] }),
        (error: unknown) => error instanceof TorkError && error.code === TorkErrorCode.UNSAFE_PATH,
        JSON.stringify(path),
      );
    }
    assert.deepEqual(await tree(out), []);
  });
});
