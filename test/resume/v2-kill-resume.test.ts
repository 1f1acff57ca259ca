/**
 * Resume after SIGKILL for BEP 52 torrents (issue 16): a v2-only and a hybrid download from a
 * libtorrent seeder are killed mid-way; the restart finds no clean snapshot, so it rechecks every
 * claimed piece on disk — by its merkle subtree alone for the v2-only torrent (it has no SHA-1),
 * by SHA-1 and merkle for the hybrid — keeps them all and fetches only the rest, byte-identical.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { parseMetainfo, ResumeStore } from '@tork/core';
import {
  requireLibtorrentPython,
  runTork,
  startLibtorrentSeeder,
  type TorkEvent,
} from '../download/support.js';
import { libtorrentCreate, writeRandomSet } from '../support/libtorrent-create.js';

const PIECE = 65_536;
const FILES: [string, number][] = [
  ['a.bin', 48 * PIECE + 12_345],
  ['b.txt', 5_000],
  ['c.bin', 32 * PIECE + 1],
];
/** Seeder upload cap: the ~5 MiB download takes ~5 s, so the kill lands mid-download. */
const UPLOAD_LIMIT = 1024 * 1024;

let work: string;
let dataDir: string;
before(async () => {
  work = await mkdtemp(join(tmpdir(), 'tork-v2-kill-'));
  dataDir = join(work, 'seed');
  writeRandomSet(dataDir, FILES);
});
after(() => rm(work, { recursive: true, force: true }));

async function libtorrentTorrent(python: string, flags: string, out: string): Promise<void> {
  await libtorrentCreate(python, { dataDir, flags, pieceLength: PIECE, out });
}

async function killAndResume(t: TestContext, flags: string, version: 2 | 'hybrid'): Promise<void> {
  const python = await requireLibtorrentPython(t);
  if (!python) return;
  const torrent = join(work, `${version}.torrent`);
  await libtorrentTorrent(python, flags, torrent);
  const meta = parseMetainfo(readFileSync(torrent));
  assert.equal(meta.version, version);
  const seeder = await startLibtorrentSeeder(python, torrent, dataDir, { uploadLimit: UPLOAD_LIMIT });
  t.after(() => seeder.stop());
  const out = join(work, `out-${version}`);
  const args = [torrent, '--out', out, '--no-trackers', '--peer', `127.0.0.1:${seeder.port}`];
  const pieceSize = (index: number) => Math.min(meta.pieceLength, meta.length - index * meta.pieceLength);

  // Killed once a third of the payload is written (the progress event's counters are a lower
  // bound of what the run had at the kill).
  let last: TorkEvent | undefined;
  const killed = await runTork(args, {
    timeoutMs: 60_000,
    onEvent: (event, pid) => {
      if (event.event !== 'progress' || last) return;
      if ((event.writtenBytes as number) < meta.length / 3) return;
      last = event;
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // It ended first: the assertion below reports that.
      }
    },
  });
  assert.equal(
    killed.signal,
    'SIGKILL',
    `the run ended by itself (status ${killed.status}): ${killed.stderr}`,
  );
  assert.ok(last);

  const store = ResumeStore.open({ dir: join(out, '.tork'), infoHashHex: meta.infoHashHex });
  const loaded = await store.load();
  await store.close();
  assert.ok(loaded, 'resume state on disk');
  assert.equal(loaded.clean, false, 'a killed run is never clean');
  let claimedBytes = 0;
  for (const index of loaded.pieces) claimedBytes += pieceSize(index);
  assert.ok(claimedBytes >= (last.writtenBytes as number), 'every written piece is claimed');
  assert.ok(loaded.pieces.length > 0 && loaded.pieces.length < meta.pieceCount);

  const final = await runTork(args, { timeoutMs: 60_000 });
  assert.equal(final.status, 0, final.stderr);
  const resumed = final.events.find((event) => event.event === 'resumed');
  assert.ok(resumed, 'a resumed event');
  assert.equal(resumed.trusted, 0, 'after a kill nothing is trusted without hashing');
  assert.equal(resumed.rechecked, loaded.pieces.length, 'every claimed piece was rechecked');
  assert.equal(resumed.verified, loaded.pieces.length, 'every claimed piece passed its recheck');
  const done = final.events.find((event) => event.event === 'done');
  assert.ok(done, 'a done event');
  assert.equal(done.resumedBytes, claimedBytes);
  assert.ok(
    (done.downloadedBytes as number) <= meta.length - claimedBytes + (done.wastedBytes as number),
    `downloaded ${done.downloadedBytes} B, more than the ${meta.length - claimedBytes} B unclaimed`,
  );
  t.diagnostic(
    `${version}: killed with ${loaded.pieces.length} of ${meta.pieceCount} pieces claimed; the restart kept them all and downloaded ${done.downloadedBytes} B`,
  );
  for (const [name] of FILES) {
    assert.ok(
      readFileSync(join(out, 'set', name)).equals(readFileSync(join(dataDir, 'set', name))),
      `${name} byte-identical`,
    );
  }
}

describe('resume after SIGKILL, BEP 52', { timeout: 150_000 }, () => {
  it('v2-only: claimed pieces pass their merkle recheck and are kept', (t) =>
    killAndResume(t, 'lt.create_torrent.v2_only', 2));
  it('hybrid: claimed pieces pass SHA-1 and merkle and are kept', (t) => killAndResume(t, '0', 'hybrid'));
});
