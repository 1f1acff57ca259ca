/**
 * `tork stream` end to end: rate-limited libtorrent seeders (so the download takes a while), tork
 * streaming the torrent, and real HTTP clients (curl, and node's fetch, i.e. undici) reading random
 * `Range`s of both files while it downloads. Every byte must match the source; the first byte of a
 * range at the start of the file being streamed must arrive well before the download completes
 * (both times are printed).
 */
import '../support/hermetic.js';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, open, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { type Dataset, ensureDataset } from '@tork/cli';
import { createRng, parseMetainfo, randomInt } from '@tork/core';
import { startLibtorrentSeeder } from '../download/support.js';
import { requireLibtorrent, startTork } from '../seed/support.js';
import { requireProgram } from '../support/programs.js';

const MiB = 1024 * 1024;
/** Each seeder's upload cap: 3 × 1.5 MiB/s puts a 48 MiB download at about 11 s. */
const SEEDER_RATE = 1.5 * MiB;
const SEEDERS = 3;
const RANGES = 16;

let work: string;
let dataset: Dataset;
before(async () => {
  work = await mkdtemp(join(tmpdir(), 'tork-stream-'));
  // Two files of 24 MiB, 256 KiB pieces: file 1 starts at piece 96.
  dataset = await ensureDataset(join(tmpdir(), 'tork-stream-cache'), {
    size: 48 * MiB,
    files: 2,
    pieceLength: 256 * 1024,
    seed: 21,
  });
});
after(() => rm(work, { recursive: true, force: true }));

/** The source bytes `[start, end]` of file `index`. */
async function source(index: number, start: number, end: number): Promise<Buffer> {
  const file = dataset.files[index]!;
  const handle = await open(join(dataset.dataDir, dataset.name, ...file.path), 'r');
  try {
    const buffer = Buffer.alloc(end - start + 1);
    await handle.read(buffer, 0, buffer.length, start);
    return buffer;
  } finally {
    await handle.close();
  }
}

/** `curl -r start-end URL`, bounded; the body as bytes. */
function curl(bin: string, url: string, start: number, end: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, ['-sS', '--fail', '--max-time', '90', '-r', `${start}-${end}`, url], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const chunks: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    // 'close', not 'exit': stdout may still hold data when the process has exited.
    child.once('close', (code) =>
      code === 0 ? resolve(Buffer.concat(chunks)) : reject(new Error(`curl exited ${code}: ${stderr}`)),
    );
  });
}

/** fetch (undici) with a Range; the body, and when its first byte arrived. */
async function fetchRange(
  url: string,
  start: number,
  end: number,
): Promise<{ body: Buffer; firstByteAt: number }> {
  const response = await fetch(url, {
    headers: { range: `bytes=${start}-${end}` },
    signal: AbortSignal.timeout(90_000),
  });
  assert.equal(response.status, 206);
  assert.equal(response.headers.get('content-range')?.startsWith(`bytes ${start}-${end}/`), true);
  const reader = response.body!.getReader();
  const chunks: Buffer[] = [];
  let firstByteAt = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (firstByteAt === 0 && value.length > 0) firstByteAt = Date.now();
    chunks.push(Buffer.from(value));
  }
  return { body: Buffer.concat(chunks), firstByteAt };
}

describe('tork stream', { timeout: 240_000 }, () => {
  it('serves random ranges of both files while downloading from rate-limited seeders; every byte matches', async (t: TestContext) => {
    const python = requireLibtorrent(t);
    const curlBin = requireProgram(t, 'curl', 'curl');
    if (!python || !curlBin) return;
    const peers: string[] = [];
    for (let i = 0; i < SEEDERS; i++) {
      const seeder = await startLibtorrentSeeder(python, dataset.torrentPath, dataset.dataDir, {
        uploadLimit: SEEDER_RATE,
      });
      t.after(() => seeder.stop());
      peers.push(`127.0.0.1:${seeder.port}`);
    }
    const started = Date.now();
    const tork = await startTork('stream', [
      dataset.torrentPath,
      '--out',
      join(work, 'out'),
      '--no-trackers',
      '--no-dht',
      '--workers',
      '2',
      '--file',
      '1',
      ...peers.flatMap((peer) => ['--peer', peer]),
    ]);
    t.after(() => tork.stop());
    const listening = await tork.waitFor('stream-listening', 30_000);
    const files = (
      listening.files as Array<{ index: number; path: string; length: number; url: string }>
    ).map((file, i) => ({
      ...file,
      offset: dataset.files.slice(0, i).reduce((sum, f) => sum + f.length, 0),
    }));
    assert.deepEqual(
      files.map((file) => [file.path, file.length]),
      dataset.files.map((file) => [file.path.join('/'), file.length]),
    );

    // The start of the file being streamed, as a player opens it.
    const head = fetchRange(files[1]!.url, 0, 64 * 1024 - 1);
    // Random ranges of both files, half by curl, half by fetch, all at once.
    const rng = createRng(5);
    const asked: Array<[number, number]> = [];
    const reads = Array.from({ length: RANGES }, async (_, i) => {
      const file = files[i % 2]!;
      const start = randomInt(rng, file.length);
      const end = Math.min(file.length - 1, start + randomInt(rng, 3 * MiB));
      asked.push([file.offset + start, file.offset + end]);
      const body =
        i % 4 < 2 ? await curl(curlBin, file.url, start, end) : (await fetchRange(file.url, start, end)).body;
      assert.equal(body.length, end - start + 1, `range ${start}-${end} of file ${file.index}: its length`);
      assert.ok(
        body.equals(await source(file.index, start, end)),
        `range ${start}-${end} of file ${file.index}: its bytes`,
      );
      return end - start + 1;
    });
    const first = await head;
    assert.ok(first.body.equals(await source(1, 0, 64 * 1024 - 1)), 'the first 64 KiB of file 1');
    // A seek, as a player makes one: a piece of file 0 nobody asked for and not yet had.
    const had = new Set(
      tork.events.flatMap((event) => (event.event === 'piece-verified' ? (event.pieces as number[]) : [])),
    );
    const PIECE = 256 * 1024;
    const seekPiece = Array.from({ length: 90 }, (_, i) => i).find(
      (p) =>
        !had.has(p) &&
        asked.every(([from, to]) => p < Math.floor(from / PIECE) - 1 || p > Math.floor(to / PIECE) + 1),
    );
    let seek = '';
    if (seekPiece !== undefined) {
      const askedAt = Date.now();
      const answer = await fetchRange(files[0]!.url, seekPiece * PIECE, seekPiece * PIECE + 65_535);
      assert.ok(
        answer.body.equals(await source(0, seekPiece * PIECE, seekPiece * PIECE + 65_535)),
        'the seek',
      );
      seek = `; a seek to piece ${seekPiece} (not reported verified when asked) answered in ${((answer.firstByteAt - askedAt) / 1000).toFixed(2)} s`;
    }
    const bytes = (await Promise.all(reads)).reduce((sum, n) => sum + n, 0);
    const done = await tork.waitFor('done', 120_000);
    const firstByteSeconds = (first.firstByteAt - started) / 1000;
    const doneSeconds = ((done.time as number) - started) / 1000;
    t.diagnostic(
      `server up after ${(((listening.time as number) - started) / 1000).toFixed(2)} s, first peer after ${(((tork.events.find((e) => e.event === 'peer-connected')?.time as number) - started) / 1000).toFixed(2)} s; ` +
        `first byte of file 1 after ${firstByteSeconds.toFixed(2)} s; download complete after ${doneSeconds.toFixed(2)} s ` +
        `(${SEEDERS} seeders at ${SEEDER_RATE / MiB} MiB/s each); ${RANGES} random ranges, ${(bytes / MiB).toFixed(1)} MiB, all equal${seek}`,
    );
    assert.ok(first.firstByteAt > 0);
    assert.ok(
      firstByteSeconds < doneSeconds * 0.5,
      `first byte at ${firstByteSeconds} s, done at ${doneSeconds} s`,
    );

    // Once complete: the whole second file through curl, and the listing.
    const whole = await curl(curlBin, files[1]!.url, 0, files[1]!.length - 1);
    assert.ok(whole.equals(await source(1, 0, files[1]!.length - 1)), 'the whole of file 1');
    const listing = await (await fetch(listening.url as string)).text();
    assert.match(listing, /href="\/1"/);
    await tork.stop();
    assert.equal((await tork.exited).status, 0, tork.transcript());
  });

  it('streams a magnet: the server starts once the metadata is had', async (t: TestContext) => {
    const python = requireLibtorrent(t);
    if (!python) return;
    const seeder = await startLibtorrentSeeder(python, dataset.torrentPath, dataset.dataDir);
    t.after(() => seeder.stop());
    const infoHash = parseMetainfo(await readFile(dataset.torrentPath)).infoHashHex;
    const tork = await startTork('stream', [
      `magnet:?xt=urn:btih:${infoHash}&x.pe=127.0.0.1:${seeder.port}`,
      '--out',
      join(work, 'magnet'),
      '--no-trackers',
      '--no-dht',
      '--listen',
      '127.0.0.1:0',
    ]);
    t.after(() => tork.stop());
    const listening = await tork.waitFor('stream-listening', 60_000);
    const files = listening.files as Array<{ url: string; length: number }>;
    const answer = await fetch(files[0]!.url, { signal: AbortSignal.timeout(90_000) });
    assert.equal(answer.status, 200);
    const body = Buffer.from(await answer.arrayBuffer());
    assert.ok(body.equals(await source(0, 0, files[0]!.length - 1)), 'file 0 through a magnet');
    await tork.stop();
    assert.equal((await tork.exited).status, 0, tork.transcript());
  });
});
