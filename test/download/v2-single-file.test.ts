/**
 * A single-file v2-only torrent whose file does not end on a piece boundary has a pad file after
 * it (libtorrent's layout: the corpus and libtorrent agree on its length and pieces; a hybrid's
 * single-file v1 half has none).
 * The disk writer once counted that pad as a second file and refused to start ("a single-file
 * torrent has 2 files"). Here `tork create --v2/--hybrid` makes such torrents, libtorrent seeds
 * them, and `tork download` writes exactly the one file, byte-identical, and no pad.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseMetainfo } from '@tork/core';
import { requireLibtorrentPython, runTork, startLibtorrentSeeder, torkMain } from './support.js';

const PIECE = 64 * 1024;
/** Five pieces and a bit: the last piece is short, so a pad follows the file. */
const LENGTH = 5 * PIECE + 12_345;
const NAME = 'single.bin';

let work: string;
let data: Buffer;

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'tork-v2-single-'));
  data = randomBytes(LENGTH);
  await mkdir(join(work, 'data'));
  await writeFile(join(work, 'data', NAME), data);
});
after(() => (process.env.TORK_KEEP_WORK ? undefined : rm(work, { recursive: true, force: true })));

function create(flag: '--v2' | '--hybrid', out: string): void {
  const result = spawnSync(
    process.execPath,
    [torkMain, 'create', join(work, 'data', NAME), '--announce', 'http://127.0.0.1:1/announce', flag].concat([
      '--piece-size',
      '64KiB',
      '-o',
      out,
    ]),
    { encoding: 'utf8', timeout: 60_000 },
  );
  assert.equal(result.status, 0, `tork create ${flag}: ${result.stderr}`);
}

describe('single-file v2 and hybrid torrents (a pad after the only file)', () => {
  for (const flag of ['--v2', '--hybrid'] as const) {
    it(`tork create ${flag}, libtorrent seeds, tork downloads the one file`, async (t) => {
      const python = await requireLibtorrentPython(t);
      if (!python) return;
      const torrent = join(work, `single${flag}.torrent`);
      create(flag, torrent);
      const meta = parseMetainfo(await readFile(torrent));
      assert.equal(meta.isMultiFile, false);
      // libtorrent's layouts: a v2-only file is followed by its pad; a hybrid's single-file v1
      // half (`length`, no list) has none.
      assert.deepEqual(
        meta.files.map((file) => file.pad),
        flag === '--v2' ? [false, true] : [false],
      );
      const seeder = await startLibtorrentSeeder(python, torrent, join(work, 'data'));
      t.after(() => seeder.stop());
      const out = join(work, `out${flag}`);
      const run = await runTork(
        [torrent, '--out', out, '--no-trackers', '--no-dht', '--peer', `127.0.0.1:${seeder.port}`],
        { timeoutMs: 60_000 },
      );
      assert.equal(run.status, 0, `tork exited ${run.status} (${run.signal}): ${run.stderr}`);
      assert.equal(run.events.filter((event) => event.event === 'hash-failed').length, 0);
      const written = (await readdir(out)).filter((entry) => entry !== '.tork');
      assert.deepEqual(written, [NAME], 'only the file: no .pad');
      assert.ok((await readFile(join(out, NAME))).equals(data), 'byte-identical');
    });
  }
});
