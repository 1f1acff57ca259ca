import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { buildTorrent, readBack, tempDir } from '@tork/testkit';
import { parseMetainfo } from '../metainfo/metainfo.js';
import { DiskWriter } from './disk-writer.js';

/** A parsed .torrent is a DiskLayout as it is: every piece written lands where a client expects it. */
describe('DiskWriter with a parsed Metainfo', () => {
  for (const multi of [true, false]) {
    it(`writes a ${multi ? 'multi' : 'single'}-file torrent whose pieces re-hash to the metainfo`, async () => {
      const built = buildTorrent({
        name: 'payload',
        pieceLength: 16_384,
        ...(multi
          ? {
              files: [
                { path: ['one.bin'], length: 20_000 },
                { path: ['.pad', '12768'], length: 12_768, pad: true },
                { path: ['dir', 'empty'], length: 0 },
                { path: ['dir', 'two.bin'], length: 40_001 },
              ],
            }
          : { length: 50_000 }),
      });
      const meta = parseMetainfo(built.bytes);
      const out = await tempDir();
      const writer = await DiskWriter.open({ root: out, layout: meta });
      const order = [...Array(meta.pieceCount).keys()].reverse();
      await Promise.all(
        order.map((i) => writer.write(i, built.data.slice(i * meta.pieceLength, (i + 1) * meta.pieceLength))),
      );
      for (let i = 0; i < meta.pieceCount; i++) {
        const bytes = await readBack(writer.pieceSpans(i), 0, writer.layout.pieceSize(i));
        const digest = new Uint8Array(createHash('sha1').update(bytes).digest());
        assert.deepEqual(digest, meta.pieceHashes.subarray(i * 20, i * 20 + 20), `piece ${i}`);
      }
      await writer.close();
      for (const [i, file] of meta.files.entries()) {
        const path = meta.isMultiFile ? join(out, meta.name, ...file.path) : join(out, meta.name);
        if (file.pad) assert.equal(existsSync(path), false);
        else assert.deepEqual(new Uint8Array(await readFile(path)), built.fileData[i]);
      }
    });
  }
});
