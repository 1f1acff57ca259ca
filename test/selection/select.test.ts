/**
 * File selection against real libtorrent seeders on 127.0.0.1: `tork download --select` of 3 files
 * of a 40-file torrent creates exactly those files, byte-identical, with nothing else under the
 * output directory but its `.tork/` state (the part file holds the neighbours' bytes of shared
 * pieces); it fetches no more than the selection plus the pieces that straddle its boundaries. A
 * second run on the same directory that widens the selection fetches only the new files, and a
 * newly selected neighbour takes its first bytes from the part file. Seeders stopped by PID.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { type Dataset, ensureDataset, verifyDownload } from '@tork/cli';
import {
  requireLibtorrentPython,
  runTork,
  startLibtorrentSeeder,
  type TorkRun,
} from '../download/support.js';
import { startTork } from '../seed/support.js';

const PIECE = 64 * 1024;
const FILES = 40;

let dataset: Dataset;
let work: string;

before(async () => {
  dataset = await ensureDataset(join(tmpdir(), 'tork-select-cache'), {
    size: 24 * 1024 * 1024 + 777,
    files: FILES,
    pieceLength: PIECE,
    seed: 14,
  });
  work = await mkdtemp(join(tmpdir(), 'tork-select-'));
});
after(() => rm(work, { recursive: true, force: true }));

/** Every path below `dir`, relative, directories included. */
async function listTree(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.map((entry) => relative(dir, join(entry.parentPath ?? entry.path, entry.name))).sort();
}

/** Boundaries between a selected and an unselected (non-empty) neighbour, in torrent order. */
function boundaries(selected: ReadonlySet<number>): number {
  let count = 0;
  const sizes = dataset.files.map((file) => file.length);
  for (let i = 0; i < FILES; i++) {
    if (sizes[i] === 0) continue;
    // The previous and next non-empty files.
    let prev = i - 1;
    while (prev >= 0 && sizes[prev] === 0) prev--;
    let next = i + 1;
    while (next < FILES && sizes[next] === 0) next++;
    if (selected.has(i)) {
      if (prev >= 0 && !selected.has(prev)) count++;
      if (next < FILES && !selected.has(next)) count++;
    }
  }
  return count;
}

/** The pieces the files overlap (zero-length files overlap none). */
function piecesOf(indices: Iterable<number>): Set<number> {
  const starts: number[] = [];
  let at = 0;
  for (const file of dataset.files) {
    starts.push(at);
    at += file.length;
  }
  const pieces = new Set<number>();
  for (const i of indices) {
    const length = dataset.files[i]!.length;
    if (length === 0) continue;
    for (let p = Math.floor(starts[i]! / PIECE); p <= Math.floor((starts[i]! + length - 1) / PIECE); p++)
      pieces.add(p);
  }
  return pieces;
}

function pieceBytes(pieces: Iterable<number>): number {
  let sum = 0;
  for (const p of pieces) sum += Math.min(PIECE, dataset.length - p * PIECE);
  return sum;
}

function bytesOf(indices: Iterable<number>): number {
  let sum = 0;
  for (const i of indices) sum += dataset.files[i]!.length;
  return sum;
}

function finalEvent(run: TorkRun): Record<string, unknown> {
  assert.equal(run.status, 0, `tork exited ${run.status} (${run.signal}): ${run.stderr}`);
  const stopped = run.events.find((event) => event.event === 'stopped');
  assert.ok(stopped, 'a stopped event with the final counters');
  return stopped;
}

/** Only the selected files (and their directories) plus `.tork/…` under `out`. */
async function assertOnlySelected(out: string, selected: ReadonlySet<number>): Promise<void> {
  const allowed = new Set<string>([dataset.name]);
  for (const index of selected) {
    const parts = [dataset.name, ...dataset.files[index]!.path];
    for (let n = 2; n <= parts.length; n++) allowed.add(parts.slice(0, n).join('/'));
  }
  const stray = (await listTree(out)).filter(
    (path) => !allowed.has(path) && path !== '.tork' && !path.startsWith('.tork/'),
  );
  assert.deepEqual(stray, [], 'nothing under DIR but the selected files and DIR/.tork/');
}

async function assertIdentical(out: string, selected: ReadonlySet<number>): Promise<void> {
  const bad = await verifyDownload(dataset, out);
  const wanted = new Set([...selected].map((i) => dataset.files[i]!.path.join('/')));
  assert.deepEqual(
    bad.filter((path) => wanted.has(path)),
    [],
    'every selected file byte-identical',
  );
}

async function seeders(t: TestContext): Promise<string[] | undefined> {
  const python = await requireLibtorrentPython(t);
  if (!python) return undefined;
  const peers: string[] = [];
  for (let i = 0; i < 2; i++) {
    const seeder = await startLibtorrentSeeder(python, dataset.torrentPath, dataset.dataDir);
    t.after(() => seeder.stop());
    peers.push(`127.0.0.1:${seeder.port}`);
  }
  return peers;
}

describe('tork download --select against libtorrent seeders', () => {
  it('40 files, 3 selected: only those appear; a second run widening the selection fetches only the new files', async (t) => {
    const peers = await seeders(t);
    if (!peers) return;
    const out = join(work, 'out');
    const peerArgs = peers.flatMap((peer) => ['--peer', peer]);
    // Three files apart from one another, none of the tiny ones at the start.
    const first = new Set([12, 21, 33]);
    const run1 = await runTork(
      [dataset.torrentPath, '--out', out, '--port', '0', '--select', '12,21,33', ...peerArgs],
      {
        timeoutMs: 120_000,
      },
    );
    const final1 = finalEvent(run1);
    const selected1 = bytesOf(first);
    const slack1 = 2 * PIECE * boundaries(first);
    t.diagnostic(
      `run 1: fetched ${final1.downloadedBytes} bytes for ${selected1} selected (bound ${selected1 + slack1}), skipped ${final1.skippedBytes}`,
    );
    assert.equal(final1.selectedBytes, selected1);
    assert.equal(final1.skippedBytes, dataset.length - selected1);
    assert.ok((final1.downloadedBytes as number) >= selected1);
    assert.ok(
      (final1.downloadedBytes as number) <= selected1 + slack1,
      'fetched at most the selection + 2 pieces per boundary',
    );
    await assertOnlySelected(out, first);
    await assertIdentical(out, first);
    const tree = await listTree(out);
    assert.ok(
      tree.some((path) => path.startsWith('.tork/') && path.endsWith('.parts')),
      `the part file is in DIR/.tork: ${tree.filter((p) => p.startsWith('.tork')).join(', ')}`,
    );

    // Widen: 13 (right after 12: the piece they share is in the part file) and 30.
    const second = new Set([...first, 13, 30]);
    const added = new Set([13, 30]);
    const run2 = await runTork(
      [dataset.torrentPath, '--out', out, '--port', '0', '--select', '12-13,21,30,33', ...peerArgs],
      { timeoutMs: 120_000 },
    );
    const final2 = finalEvent(run2);
    const addedBytes = bytesOf(added);
    const slack2 = 2 * PIECE * boundaries(added);
    t.diagnostic(
      `run 2: fetched ${final2.downloadedBytes} bytes for ${addedBytes} newly selected (bound ${addedBytes + slack2}), resumed ${final2.resumedBytes}`,
    );
    assert.ok(
      (final2.resumedBytes as number) >= selected1,
      'the first run’s pieces count, not fetched again',
    );
    assert.ok(
      (final2.downloadedBytes as number) <= addedBytes + slack2,
      'fetched only the new files (+ boundary pieces)',
    );
    // Exactly the pieces of the new files that the first run did not verify: the piece 12 and 13
    // share came from the part file, not from the seeders.
    const before = piecesOf(first);
    const fresh = [...piecesOf(added)].filter((p) => !before.has(p));
    assert.equal(
      (final2.downloadedBytes as number) - (final2.wastedBytes as number),
      pieceBytes(fresh),
      'the second run fetched only pieces the first did not have',
    );
    assert.equal(
      final1.verifiedBytes,
      pieceBytes(before),
      'the first run verified exactly the selection’s pieces',
    );
    await assertOnlySelected(out, second);
    await assertIdentical(out, second);

    // Without resume state, the check hashes only pieces that touch a file on disk, never the
    // pieces held only by the (sparse, torrent-sized) part file, and fetches nothing.
    for (const name of await readdir(join(out, '.tork'))) {
      if (name.endsWith('.resume') || name.endsWith('.journal')) await rm(join(out, '.tork', name));
    }
    const recheckRun = await runTork(
      [dataset.torrentPath, '--out', out, '--port', '0', '--select', '12-13,21,30,33', ...peerArgs],
      { timeoutMs: 120_000 },
    );
    const recheckFinal = finalEvent(recheckRun);
    const resumed = recheckRun.events.find((event) => event.event === 'resumed');
    assert.ok(resumed, 'a resumed event');
    t.diagnostic(`run 3 (no state): ${JSON.stringify(resumed)}`);
    assert.equal(resumed.rechecked, piecesOf(second).size, 'only pieces touching files on disk hashed');
    assert.equal(resumed.verified, piecesOf(second).size);
    assert.equal(recheckFinal.downloadedBytes, 0);

    // That partial directory seeds its selection as it is (nothing to fetch: no peer needed), and
    // a piece whose neighbour bytes live in the part file is served from there: file 13's last
    // piece is shared with 14, which the seeder never selected.
    const seeder = await startTork('seed', [
      dataset.torrentPath,
      '--data',
      out,
      '--select',
      '12-13,21,30,33',
    ]);
    t.after(() => seeder.stop());
    await seeder.waitFor('done', 60_000);
    const out3 = join(work, 'from-partial-seed');
    const run3 = await runTork(
      [
        dataset.torrentPath,
        '--out',
        out3,
        '--port',
        '0',
        '--select',
        '13',
        '--peer',
        `127.0.0.1:${seeder.port}`,
      ],
      { timeoutMs: 120_000 },
    );
    finalEvent(run3);
    await assertOnlySelected(out3, new Set([13]));
    await assertIdentical(out3, new Set([13]));
  });

  it("a magnet's so= selects once the metadata arrives; an explicit --select overrides it", async (t) => {
    const peers = await seeders(t);
    if (!peers) return;
    const { parseMetainfo } = await import('@tork/core');
    const { readFile } = await import('node:fs/promises');
    const infoHash = parseMetainfo(await readFile(dataset.torrentPath)).infoHashHex;
    const magnet = `magnet:?xt=urn:btih:${infoHash}&so=9,15-16&x.pe=${peers[0]}`;
    const out = join(work, 'magnet-so');
    const run = await runTork([magnet, '--out', out, '--port', '0', '--listen-host', '127.0.0.1'], {
      timeoutMs: 120_000,
    });
    const final = finalEvent(run);
    const chosen = new Set([9, 15, 16]);
    assert.equal(final.selectedBytes, bytesOf(chosen));
    await assertOnlySelected(out, chosen);
    await assertIdentical(out, chosen);

    const out2 = join(work, 'magnet-select');
    const run2 = await runTork(
      [magnet, '--out', out2, '--port', '0', '--listen-host', '127.0.0.1', '--select', '20'],
      { timeoutMs: 120_000 },
    );
    finalEvent(run2);
    await assertOnlySelected(out2, new Set([20]));
    await assertIdentical(out2, new Set([20]));
  });

  it('bad selections are usage errors (exit 2) with a clear message, before anything is created', async () => {
    const out = join(work, 'bad');
    const cases: Array<[string[], RegExp]> = [
      [['--select', '40'], /file index 40 is out of range \(the torrent has 40 files, 0\.\.39/],
      [['--select', '3-1'], /range 3-1 runs backwards/],
      [['--select', 'x'], /"x" is not a file index or range/],
      [['--select-glob', 'nothing/**'], /selects no file/],
    ];
    for (const [args, message] of cases) {
      const run = await runTork([dataset.torrentPath, '--out', out, '--port', '0', ...args], {
        timeoutMs: 30_000,
      });
      assert.equal(run.status, 2, `${args.join(' ')}: exit ${run.status}: ${run.stderr}`);
      assert.match(run.stderr, message);
    }
    await assert.rejects(readdir(out), 'no output directory was created');
  });
});
