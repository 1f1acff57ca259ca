import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { FaultyFs, readBack, tempDir } from '@tork/testkit';
import fc from 'fast-check';
import type { DiskLayout } from './disk-layout.js';
import { DiskWriter } from './disk-writer.js';

/**
 * Random layouts (zero-length files, pad files, pieces spanning many files or many pieces per
 * file), random piece order with duplicates (endgame), random bounds: every file ends up equal to
 * its slice of the torrent, reads match, pad files do not exist, the descriptor bound holds.
 */

const fileArb = fc.record({
  length: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 3000 })),
  pad: fc.boolean(),
  dir: fc.nat(2),
});

const caseArb = fc
  .record({
    multi: fc.boolean(),
    files: fc.array(fileArb, { minLength: 1, maxLength: 8 }),
    pieceLength: fc.oneof(fc.integer({ min: 16, max: 100 }), fc.constantFrom(256, 1024, 4096)),
    maxOpenFiles: fc.integer({ min: 1, max: 4 }),
    maxConcurrentWrites: fc.integer({ min: 1, max: 4 }),
    seed: fc.integer(),
  })
  .map(({ multi, files, ...rest }): { layout: DiskLayout } & typeof rest => {
    const chosen = multi ? files : [{ ...files[0]!, pad: false }];
    const layout: DiskLayout = {
      name: 'tor',
      isMultiFile: multi,
      pieceLength: rest.pieceLength,
      length: chosen.reduce((sum, file) => sum + file.length, 0),
      files: chosen.map((file, i) => ({
        path: multi ? (file.dir === 0 ? [`f${i}`] : [`d${file.dir}`, `f${i}`]) : ['tor'],
        length: file.length,
        pad: file.pad,
      })),
    };
    return { layout, ...rest };
  })
  .filter(({ layout }) => layout.length > 0);

function rng(seed: number) {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
}

describe('DiskWriter (property)', () => {
  it('writes every piece of random layouts in random order and reads them back', async () => {
    const base = await tempDir();
    let run = 0;
    await fc.assert(
      fc.asyncProperty(caseArb, async ({ layout, maxOpenFiles, maxConcurrentWrites, seed }) => {
        const random = rng(seed);
        const out = join(base, `run-${run++}`);
        const bytes = Uint8Array.from({ length: layout.length }, () => Math.floor(random() * 256));
        const starts: number[] = [];
        let offset = 0;
        for (const file of layout.files) {
          starts.push(offset);
          if (file.pad) bytes.fill(0, offset, offset + file.length);
          offset += file.length;
        }
        const fs = new FaultyFs();
        const writer = await DiskWriter.open({ root: out, layout, fs, maxOpenFiles, maxConcurrentWrites });
        const count = writer.layout.pieceCount;
        const order = [...Array(count).keys()];
        for (let i = order.length - 1; i > 0; i--) {
          const j = Math.floor(random() * (i + 1));
          [order[i], order[j]] = [order[j]!, order[i]!];
        }
        for (let k = 0; k < 3 && count > 0; k++) order.push(Math.floor(random() * count));
        const piece = (i: number) =>
          bytes.slice(i * layout.pieceLength, Math.min((i + 1) * layout.pieceLength, layout.length));
        await Promise.all(order.map((i) => writer.write(i, piece(i))));
        for (let k = 0; k < 5; k++) {
          const index = Math.floor(random() * count);
          const size = writer.layout.pieceSize(index);
          const from = Math.floor(random() * size);
          const length = Math.floor(random() * (size - from + 1));
          const start = index * layout.pieceLength + from;
          assert.deepEqual(
            await readBack(writer.pieceSpans(index), from, length),
            bytes.subarray(start, start + length),
          );
        }
        await writer.close();
        assert.ok(fs.peakOpen <= maxOpenFiles, `peak ${fs.peakOpen} > ${maxOpenFiles}`);
        assert.equal(fs.openNow, 0);
        for (const [i, file] of layout.files.entries()) {
          const path = layout.isMultiFile ? join(out, 'tor', ...file.path) : join(out, 'tor');
          if (file.pad) {
            assert.equal(existsSync(path), false, `pad file ${path} exists`);
            continue;
          }
          const start = starts[i]!;
          assert.deepEqual(new Uint8Array(await readFile(path)), bytes.subarray(start, start + file.length));
        }
        await rm(out, { recursive: true, force: true });
      }),
      { numRuns: 40 },
    );
  });
});
