/**
 * BEP 52 downloads from libtorrent on 127.0.0.1: a hybrid torrent (made by libtorrent, with its
 * pad files) is downloaded byte-identical by `tork download`, every piece checked by SHA-1 and by
 * its merkle subtree against the piece layers. The seeder is stopped by PID.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseMetainfo } from '@tork/core';
import { libtorrentCreate, writeRandomSet } from '../support/libtorrent-create.js';
import { requireLibtorrentPython, runTork, startLibtorrentSeeder, type TorkRun } from './support.js';

/** Three files: several pieces with a short tail, less than one block, one piece and a bit. */
const FILES: [string, number][] = [
  ['a.bin', 5 * 65_536 + 12_345],
  ['b.txt', 5_000],
  ['c.bin', 65_536 + 1],
];

let work: string;
let dataDir: string;
before(async () => {
  work = await mkdtemp(join(tmpdir(), 'tork-v2-download-'));
  dataDir = join(work, 'seed');
  writeRandomSet(dataDir, FILES);
});
after(() => rm(work, { recursive: true, force: true }));

/** libtorrent's create_torrent with `flags` (0: hybrid, v2_only) over `dataDir/set`, 64 KiB pieces. */
async function libtorrentTorrent(python: string, flags: string, out: string): Promise<void> {
  await libtorrentCreate(python, { dataDir, flags, pieceLength: 65536, out });
}

/**
 * Pad zeros are never asked of a peer: what tork receives is at most each file rounded up to whole
 * 16 KiB blocks (its last block may reach into the pad), well under the padded layout's length.
 */
function assertNoPadFetched(run: TorkRun, paddedLength: number): void {
  // The peers' own byte counts (the progress total falls back on verified bytes, pads included).
  const stopped = run.events.find((event) => event.event === 'stopped') as
    | { peers: { downloadedBySource: Record<string, number> } }
    | undefined;
  assert.ok(stopped, 'a stopped event');
  const downloaded = Object.values(stopped.peers.downloadedBySource).reduce((a, b) => a + b, 0);
  const blocks = FILES.reduce((sum, [, length]) => sum + Math.ceil(length / 16_384) * 16_384, 0);
  assert.ok(
    downloaded > 0 && downloaded <= blocks,
    `downloaded ${downloaded} bytes, files in whole blocks are ${blocks}`,
  );
  assert.ok(blocks < paddedLength, 'the layout has pad worth skipping');
}

describe('BEP 52 downloads from a libtorrent seeder', { timeout: 60_000 }, () => {
  it('a v2-only torrent: byte-identical, every piece checked by its merkle subtree alone', async (t) => {
    const python = await requireLibtorrentPython(t);
    if (!python) return;
    const torrent = join(work, 'v2.torrent');
    await libtorrentTorrent(python, 'lt.create_torrent.v2_only', torrent);
    const meta = parseMetainfo(readFileSync(torrent));
    assert.equal(meta.version, 2);
    assert.equal(meta.v2?.hasPieceLayers, true);
    const seeder = await startLibtorrentSeeder(python, torrent, dataDir);
    t.after(() => seeder.stop());
    const out = join(work, 'out-v2');
    const run = await runTork(
      [torrent, '--out', out, '--no-trackers', '--peer', `127.0.0.1:${seeder.port}`],
      {
        timeoutMs: 45_000,
      },
    );
    assert.equal(run.status, 0, `tork exited ${run.status} (${run.signal}): ${run.stderr}`);
    assert.ok(run.events.some((event) => event.event === 'done'));
    assert.equal(run.events.filter((event) => event.event === 'hash-failed').length, 0);
    assertNoPadFetched(run, meta.length);
    for (const [name] of FILES) {
      assert.ok(
        readFileSync(join(out, 'set', name)).equals(readFileSync(join(dataDir, 'set', name))),
        `${name} byte-identical`,
      );
    }
  });

  it('a hybrid torrent: byte-identical, every piece passing SHA-1 and its merkle check', async (t) => {
    const python = await requireLibtorrentPython(t);
    if (!python) return;
    const torrent = join(work, 'hybrid.torrent');
    await libtorrentTorrent(python, '0', torrent);
    const meta = parseMetainfo(readFileSync(torrent));
    assert.equal(meta.version, 'hybrid');
    assert.ok(
      meta.files.some((file) => file.pad),
      'libtorrent padded the files',
    );
    const seeder = await startLibtorrentSeeder(python, torrent, dataDir);
    t.after(() => seeder.stop());
    const out = join(work, 'out-hybrid');
    const run = await runTork(
      [torrent, '--out', out, '--no-trackers', '--peer', `127.0.0.1:${seeder.port}`],
      {
        timeoutMs: 45_000,
      },
    );
    assert.equal(run.status, 0, `tork exited ${run.status} (${run.signal}): ${run.stderr}`);
    assert.ok(run.events.some((event) => event.event === 'done'));
    assert.equal(run.events.filter((event) => event.event === 'hash-failed').length, 0);
    assertNoPadFetched(run, meta.length);
    for (const [name] of FILES) {
      assert.ok(
        readFileSync(join(out, 'set', name)).equals(readFileSync(join(dataDir, 'set', name))),
        `${name} byte-identical`,
      );
    }
  });
});
