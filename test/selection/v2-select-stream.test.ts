/**
 * File selection and streaming for BEP 52 torrents against libtorrent seeders (issue 16). libtorrent
 * makes a v2-only and a hybrid torrent of four files, each padded to a piece boundary (`.pad/N`
 * entries in tork's file list). `tork download --select` of one file creates exactly that file,
 * byte-identical; `tork stream` of the v2-only torrent serves every file's bytes equal to the
 * source while it downloads. Pad files never appear on disk. Seeders stopped by PID.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { type Metainfo, parseMetainfo } from '@tork/core';
import { requireLibtorrentPython, runTork, startLibtorrentSeeder } from '../download/support.js';
import { startTork } from '../seed/support.js';
import { libtorrentCreate, writeRandomSet } from '../support/libtorrent-create.js';

const PIECE = 32_768;
const FILES: [string, number][] = [
  ['a.bin', 20 * PIECE + 1_234],
  ['b.txt', 5_000],
  ['c.bin', 40 * PIECE + 16_385],
  ['d.bin', 3 * PIECE],
];

let work: string;
let dataDir: string;
before(async () => {
  work = await mkdtemp(join(tmpdir(), 'tork-v2-select-'));
  dataDir = join(work, 'seed');
  writeRandomSet(dataDir, FILES);
});
after(() => rm(work, { recursive: true, force: true }));

async function libtorrentTorrent(python: string, flags: string, out: string): Promise<Metainfo> {
  await libtorrentCreate(python, { dataDir, flags, pieceLength: PIECE, out });
  return parseMetainfo(readFileSync(out));
}

/** Every path below `dir`, relative, directories included, `.tork/` (resume state) left out. */
async function listTree(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .map((entry) => relative(dir, join(entry.parentPath ?? entry.path, entry.name)))
    .filter((path) => path !== '.tork' && !path.startsWith('.tork/'))
    .sort();
}

/** tork's index of a file (pad files counted, as `tork info` numbers them). */
function indexOf(meta: Metainfo, name: string): number {
  const index = meta.files.findIndex((file) => !file.pad && file.path.join('/') === name);
  assert.ok(index >= 0, name);
  return index;
}

async function selectOne(t: TestContext, flags: string, version: 2 | 'hybrid'): Promise<void> {
  const python = await requireLibtorrentPython(t);
  if (!python) return;
  const torrent = join(work, `${version}.torrent`);
  const meta = await libtorrentTorrent(python, flags, torrent);
  assert.equal(meta.version, version);
  assert.ok(
    meta.files.some((file) => file.pad && file.path[0] === '.pad'),
    'the layout has pad files',
  );
  const seeder = await startLibtorrentSeeder(python, torrent, dataDir);
  t.after(() => seeder.stop());
  const out = join(work, `select-${version}`);
  const selected = indexOf(meta, 'c.bin');
  const run = await runTork(
    [
      torrent,
      '--out',
      out,
      '--no-trackers',
      '--peer',
      `127.0.0.1:${seeder.port}`,
      '--select',
      String(selected),
    ],
    { timeoutMs: 45_000 },
  );
  assert.equal(run.status, 0, `tork exited ${run.status} (${run.signal}): ${run.stderr}`);
  const done = run.events.find((event) => event.event === 'done');
  assert.ok(done, 'a done event');
  // v2 pieces never span files: the selection is exactly c.bin's pieces, nothing of its neighbours.
  const file = meta.files[selected]!;
  const pieces = Math.ceil(file.length / meta.pieceLength);
  assert.ok(
    (done.downloadedBytes as number) <= pieces * meta.pieceLength + (done.wastedBytes as number),
    `downloaded ${done.downloadedBytes} B for ${pieces} pieces`,
  );
  assert.deepEqual(await listTree(out), ['set', 'set/c.bin'], 'only the selected file, no .pad');
  assert.ok(readFileSync(join(out, 'set', 'c.bin')).equals(readFileSync(join(dataDir, 'set', 'c.bin'))));
}

describe('BEP 52 selection and streaming from libtorrent seeders', { timeout: 120_000 }, () => {
  it('v2-only: --select of one file writes exactly it, byte-identical, no pad files', (t) =>
    selectOne(t, 'lt.create_torrent.v2_only', 2));

  it('hybrid: --select of one file writes exactly it, byte-identical, no pad files', (t) =>
    selectOne(t, '0', 'hybrid'));

  it('v2-only: tork stream serves every file equal to the source while downloading; no pad files on disk', async (t) => {
    const python = await requireLibtorrentPython(t);
    if (!python) return;
    const torrent = join(work, 'stream.torrent');
    const meta = await libtorrentTorrent(python, 'lt.create_torrent.v2_only', torrent);
    const seeder = await startLibtorrentSeeder(python, torrent, dataDir, { uploadLimit: 512 * 1024 });
    t.after(() => seeder.stop());
    const out = join(work, 'stream');
    const tork = await startTork('stream', [
      torrent,
      '--out',
      out,
      '--no-trackers',
      '--no-dht',
      '--file',
      String(indexOf(meta, 'c.bin')),
      '--peer',
      `127.0.0.1:${seeder.port}`,
    ]);
    t.after(() => tork.stop());
    const listening = await tork.waitFor('stream-listening', 30_000);
    const files = listening.files as Array<{ index: number; path: string; length: number; url: string }>;
    // The listing is the real files, numbered as tork info numbers them (pads counted, not listed).
    assert.deepEqual(
      files.map((file) => [file.index, file.path, file.length]),
      FILES.map(([name, length]) => [indexOf(meta, name), name, length]),
    );
    // A range across a 16 KiB leaf boundary near the end of each file, and each whole file.
    for (const file of files) {
      const source = readFileSync(join(dataDir, 'set', file.path));
      const start = Math.max(0, file.length - 20_000);
      const answer = await fetch(file.url, {
        headers: { range: `bytes=${start}-${file.length - 1}` },
        signal: AbortSignal.timeout(60_000),
      });
      assert.equal(answer.status, 206);
      assert.ok(Buffer.from(await answer.arrayBuffer()).equals(source.subarray(start)), `${file.path} tail`);
      const whole = await fetch(file.url, { signal: AbortSignal.timeout(60_000) });
      assert.ok(Buffer.from(await whole.arrayBuffer()).equals(source), `${file.path} whole`);
    }
    await tork.waitFor('done', 60_000);
    await tork.stop();
    assert.equal((await tork.exited).status, 0, tork.transcript());
    assert.deepEqual(
      await listTree(out),
      ['set', ...FILES.map(([name]) => `set/${name}`)].sort(),
      'the files, no .pad directory',
    );
  });
});
