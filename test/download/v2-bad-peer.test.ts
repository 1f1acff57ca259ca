/**
 * A peer that sends wrong v2 blocks is banned, and the download completes from an honest
 * libtorrent seeder (issue 16). The bad peer is a scripted peer over real TCP on 127.0.0.1 built
 * from tork's own wire codecs: it handshakes with the torrent's wire hash (a v2-only torrent's
 * truncated SHA-256 info-hash) and the BEP 52 bit, claims every piece, serves the right bytes for
 * even pieces and spoils one 16 KiB block (one merkle leaf) of every odd piece. The honest seeder
 * is rate-limited so that the bad peer gets pieces to spoil.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { type Metainfo, parseMetainfo } from '@tork/core';
import { libtorrentCreate, writeRandomSet } from '../support/libtorrent-create.js';
import { requireLibtorrentPython, runTork, startCorruptPeer, startLibtorrentSeeder } from './support.js';

const PIECE = 32_768;
const FILES: [string, number][] = [
  ['a.bin', 40 * PIECE + 12_345],
  ['b.txt', 5_000],
  ['c.bin', 8 * PIECE + 1],
];

let work: string;
let dataDir: string;
before(async () => {
  work = await mkdtemp(join(tmpdir(), 'tork-v2-bad-peer-'));
  dataDir = join(work, 'seed');
  writeRandomSet(dataDir, FILES);
});
after(() => rm(work, { recursive: true, force: true }));

async function libtorrentTorrent(python: string, flags: string, out: string): Promise<void> {
  await libtorrentCreate(python, { dataDir, flags, pieceLength: PIECE, out });
}

/** The torrent's payload bytes [start, start + length): file bytes, zeros for pad files. */
function payload(meta: Metainfo, start: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (const file of meta.files) {
    const from = Math.max(start, file.offset);
    const to = Math.min(start + length, file.offset + file.length);
    if (from >= to || file.pad) continue;
    const bytes = readFileSync(join(dataDir, meta.name, ...file.path));
    out.set(bytes.subarray(from - file.offset, to - file.offset), from - start);
  }
  return out;
}

async function badPeerRun(t: TestContext, flags: string, version: 2 | 'hybrid'): Promise<void> {
  const python = await requireLibtorrentPython(t);
  if (!python) return;
  const torrent = join(work, `${version}.torrent`);
  await libtorrentTorrent(python, flags, torrent);
  const meta = parseMetainfo(readFileSync(torrent));
  assert.equal(meta.version, version);
  const bad = await startCorruptPeer(meta.infoHash, meta.pieceCount, {
    v2: true,
    block: (index, begin, length) => {
      const bytes = payload(meta, index * meta.pieceLength + begin, length);
      // Odd pieces: one block's first byte flipped (SHA-1 of the piece and its merkle leaf both change).
      if (index % 2 === 1 && begin === 0) bytes[0] = (bytes[0] ?? 0) ^ 0xff;
      return bytes;
    },
  });
  t.after(() => bad.close());
  const seeder = await startLibtorrentSeeder(python, torrent, dataDir, { uploadLimit: 200_000 });
  t.after(() => seeder.stop());
  const out = join(work, `out-${version}`);
  const run = await runTork(
    [
      torrent,
      '--out',
      out,
      '--no-trackers',
      '--peer',
      `127.0.0.1:${bad.port}`,
      '--peer',
      `127.0.0.1:${seeder.port}`,
    ],
    { timeoutMs: 50_000 },
  );
  assert.equal(run.status, 0, `tork exited ${run.status} (${run.signal}): ${run.stderr}`);
  const done = run.events.find((event) => event.event === 'done');
  assert.ok(done, 'a done event');
  assert.equal(done.verifiedPieces, meta.pieceCount);
  for (const [name] of FILES) {
    assert.ok(
      readFileSync(join(out, 'set', name)).equals(readFileSync(join(dataDir, 'set', name))),
      `${name} byte-identical`,
    );
  }
  // A peer is banned after three distinct failed pieces or one piece failed twice: at least two
  // checks failed before the ban.
  assert.ok((done.hashFailures as number) >= 2, `hash failures: ${done.hashFailures}`);
  // The scripted peer speaks no MSE: tork's first, encrypted, dial ends in the MSE handshake
  // (phase 'mse'); the plain retry is the connection that gets banned.
  const banned = run.events.find(
    (event) =>
      event.event === 'peer-disconnected' &&
      event.address === `127.0.0.1:${bad.port}` &&
      (event.reason as { details: { phase?: string } }).details.phase !== 'mse',
  );
  assert.ok(banned, `the bad peer was dropped (it served ${bad.served()} blocks)`);
  assert.equal(banned.banned, true, JSON.stringify(banned));
  assert.match(String((banned.reason as { message: string }).message), /hash/);
  t.diagnostic(`bad peer served ${bad.served()} blocks; ${run.seconds.toFixed(1)} s`);
}

describe('a peer sending wrong v2 blocks is banned', { timeout: 120_000 }, () => {
  it('v2-only torrent: banned with a reason, byte-identical from libtorrent', (t) =>
    badPeerRun(t, 'lt.create_torrent.v2_only', 2));
  it('hybrid torrent: banned with a reason, byte-identical from libtorrent', (t) =>
    badPeerRun(t, '0', 'hybrid'));
});
