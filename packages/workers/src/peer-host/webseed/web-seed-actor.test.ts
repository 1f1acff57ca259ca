import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Bitfield, type HostEvent, TorkError, TorkErrorCode } from '@tork/core';
import type { ActorTorrent } from '../actor-torrent.js';
import { BufferPool } from '../buffer-pool.js';
import { RateAllowance } from '../rate-allowance.js';
import { WebSeedActor, type WebSeedOptions } from './web-seed-actor.js';

const PIECE = 32 * 1024;
/** Files: 40,000 + 0 + 1,000 + 50,000 bytes: piece 1 spans the first, third and fourth file. */
const FILES = [
  { name: 'a.bin', length: 40_000 },
  { name: 'empty', length: 0 },
  { name: 'tiny.bin', length: 1_000 },
  { name: 'b.bin', length: 50_000 },
];
const LENGTH = FILES.reduce((sum, file) => sum + file.length, 0);
const DATA = Buffer.from(Array.from({ length: LENGTH }, (_, i) => (i * 7 + (i >> 8)) & 0xff));
const PIECES = Math.ceil(LENGTH / PIECE);

type Mode =
  | 'slow'
  | 'range'
  | 'whole'
  | 'wrong-bytes'
  | 'bad-range'
  | 'stall'
  | '503'
  | '404'
  | 'redirect'
  | 'loop';
let mode: Mode = 'range';
/** 503s to answer before serving (mode '503'). */
let failuresLeft = 0;
const requests: string[] = [];
let server: http.Server;
let base: string;

function fileOf(path: string): Buffer | undefined {
  let at = 0;
  for (const file of FILES) {
    if (path === `/set/${file.name}`) return DATA.subarray(at, at + file.length);
    at += file.length;
  }
  return undefined;
}

before(async () => {
  server = http.createServer((req, res) => {
    requests.push(`${req.url} ${req.headers.range ?? ''}`);
    const path = req.url ?? '';
    if (mode === '404') return res.writeHead(404).end();
    if (mode === 'loop') return res.writeHead(302, { Location: path }).end();
    if (mode === 'redirect' && path.startsWith('/old/'))
      return res.writeHead(301, { Location: path.replace('/old/', '/set/') }).end();
    if (mode === '503' && failuresLeft > 0) {
      failuresLeft--;
      return res.writeHead(503).end();
    }
    const body = fileOf(path);
    if (!body) return res.writeHead(404).end();
    const match = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
    if (mode === 'whole' || !match) return res.writeHead(200, { 'Content-Length': body.length }).end(body);
    const start = Number(match[1]);
    const end = Number(match[2]);
    if (mode === 'slow') {
      // 100 bytes every 50 ms: never stalled, far too slow.
      res.writeHead(206, { 'Content-Range': `bytes ${start}-${end}/${body.length}` });
      let at = start;
      const drip = setInterval(() => {
        if (res.destroyed || at > end) return clearInterval(drip);
        res.write(body.subarray(at, Math.min(at + 100, end + 1)));
        at += 100;
      }, 50);
      res.on('close', () => clearInterval(drip));
      return;
    }
    if (mode === 'stall') {
      res.writeHead(206, { 'Content-Range': `bytes ${start}-${end}/${body.length}` });
      res.flushHeaders();
      return; // never a body byte
    }
    const shift = mode === 'bad-range' ? 1 : 0;
    let part = Buffer.from(body.subarray(start, end + 1));
    if (mode === 'wrong-bytes') part = Buffer.from(part.map((byte) => byte ^ 1));
    res.writeHead(206, { 'Content-Range': `bytes ${start + shift}-${end + shift}/${body.length}` }).end(part);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => new Promise<void>((resolve) => server.close(() => resolve())));

function torrent(): ActorTorrent {
  const hashes = Buffer.concat(
    Array.from({ length: PIECES }, (_, i) =>
      createHash('sha1')
        .update(DATA.subarray(i * PIECE, (i + 1) * PIECE))
        .digest(),
    ),
  );
  return {
    id: 'ab'.repeat(20),
    infoHash: new Uint8Array(20),
    peerId: new Uint8Array(20),
    pieceLength: PIECE,
    length: LENGTH,
    pieceCount: PIECES,
    pieceHashes: hashes,
    v2PieceChecks: null,
    have: new Bitfield(PIECES),
    reader: null,
    listenPort: 0,
    private: false,
    metadata: null,
    metadataOnly: false,
    pex: false,
    swarm: [],
    rates: new RateAllowance(() => {}),
  };
}

/** Runs a web seed at `prefix` (`/set/` or `/old/`), assigns `pieces`, collects events until `until` holds. */
async function run(
  pieces: number[],
  until: (events: HostEvent[]) => boolean,
  options: WebSeedOptions = {},
  prefix = '/set/',
  port?: number,
): Promise<{ events: HostEvent[]; actor: WebSeedActor }> {
  const events: HostEvent[] = [];
  let wake: (() => void) | undefined;
  const origin = port === undefined ? base : `http://127.0.0.1:${port}`;
  const files = FILES.map((file) => ({ url: `${origin}${prefix}${file.name}`, length: file.length }));
  const actor = new WebSeedActor(
    7,
    torrent(),
    `${origin}${prefix}`,
    files,
    {
      emit: (event) => {
        events.push(event);
        wake?.();
      },
      removed: () => {},
      buffers: new BufferPool(),
    },
    { baseBackoffMs: 20, maxBackoffMs: 50, ...options },
  );
  actor.start();
  actor.assign(pieces);
  let unchokes = 1;
  const deadline = Date.now() + 10_000;
  while (!until(events)) {
    if (Date.now() > deadline) throw new Error(`timed out: ${JSON.stringify(events.map((e) => e.type))}`);
    // Unchoked again after a backoff: the coordinator assigns what was released again.
    const unchoked = events.filter((event) => event.type === 'choke' && !event.choked).length;
    if (unchoked > unchokes) {
      unchokes = unchoked;
      const released = events.flatMap((event) => (event.type === 'released' ? event.pieces : []));
      actor.assign([...new Set(released)]);
    }
    await new Promise<void>((resolve) => {
      wake = resolve;
      setTimeout(resolve, 50);
    });
  }
  actor.destroy();
  return { events, actor };
}

const verified = (events: HostEvent[]) =>
  events.flatMap((event) => (event.type === 'piece' ? [event] : [])).sort((a, b) => a.index - b.index);
const closed = (events: HostEvent[]) => events.find((event) => event.type === 'closed');

describe('WebSeedActor against a local HTTP server', () => {
  it('says it has every piece, then fetches pieces spanning files with one Range request per file span', async () => {
    mode = 'range';
    requests.length = 0;
    const { events } = await run([0, 1, 2], (all) => verified(all).length === 3);
    assert.deepEqual(
      events.slice(0, 3).map((event) => event.type),
      ['connected', 'bitfield', 'choke'],
    );
    const bitfield = events[1]!;
    assert.ok(bitfield.type === 'bitfield' && new Bitfield(PIECES, bitfield.bitfield).complete);
    for (const piece of verified(events))
      assert.ok(
        Buffer.from(piece.data).equals(DATA.subarray(piece.index * PIECE, (piece.index + 1) * PIECE)),
      );
    // Piece 1 (32,768–65,535): a.bin from 32,768, tiny.bin whole, b.bin from 0; nothing for the empty file.
    assert.ok(requests.includes('/set/a.bin bytes=32768-39999'), requests.join('\n'));
    assert.ok(requests.includes('/set/tiny.bin bytes=0-999'));
    assert.ok(requests.includes('/set/b.bin bytes=0-24535'));
    assert.ok(!requests.some((line) => line.startsWith('/set/empty')));
  });

  it('a server that ignores Range (200, whole file): skips to the span, stops after it', async () => {
    mode = 'whole';
    const { events, actor } = await run([0, 1, 2], (all) => verified(all).length === 3);
    assert.equal(closed(events), undefined);
    assert.ok(actor.rangeIgnored >= 3);
  });

  it('a server that ignores Range, with the span beyond the skip cap: closed with the reason', async () => {
    mode = 'whole';
    const { events } = await run([2], (all) => closed(all) !== undefined, { maxSkipBytes: 1_000 });
    const event = closed(events);
    assert.ok(event?.type === 'closed');
    assert.match(event.error.message, /ignores Range .*WEB_SEED_MAX_SKIP_BYTES/);
  });

  it('wrong bytes: hash-failed, not a piece', async () => {
    mode = 'wrong-bytes';
    const { events } = await run([0], (all) => all.some((event) => event.type === 'hash-failed'));
    assert.equal(verified(events).length, 0);
  });

  it('a Content-Range other than asked: closed with the reason (permanent)', async () => {
    mode = 'bad-range';
    const { events } = await run([0], (all) => closed(all) !== undefined);
    const event = closed(events);
    assert.ok(event?.type === 'closed');
    assert.equal(event.error.code, TorkErrorCode.WEB_SEED);
    assert.match(event.error.message, /Content-Range .*asked for bytes 0-32767/);
  });

  it('404: closed at once with the status and URL', async () => {
    mode = '404';
    const { events } = await run([0], (all) => closed(all) !== undefined);
    const event = closed(events);
    assert.ok(event?.type === 'closed');
    assert.match(event.error.message, /HTTP 404 Not Found for http:\/\/127\.0\.0\.1:\d+\/set\/a\.bin/);
    assert.equal(events.filter((e) => e.type === 'choke' && e.choked).length, 0);
  });

  it('503s: chokes, gives its pieces back, unchokes after the backoff, then delivers', async () => {
    mode = '503';
    failuresLeft = 2;
    const { events } = await run([0], (all) => verified(all).length === 1);
    assert.equal(events.filter((event) => event.type === 'choke' && event.choked).length, 2);
    assert.ok(events.some((event) => event.type === 'released' && event.reason === 'choked'));
    assert.equal(closed(events), undefined);
  });

  it('pieces assigned while it backs off are fetched once it unchokes', async () => {
    mode = '503';
    failuresLeft = 1;
    const events: HostEvent[] = [];
    const actor = new WebSeedActor(
      8,
      torrent(),
      `${base}/set/`,
      FILES.map((file) => ({ url: `${base}/set/${file.name}`, length: file.length })),
      { emit: (event) => events.push(event), removed: () => {}, buffers: new BufferPool() },
      { baseBackoffMs: 50 },
    );
    actor.start();
    actor.assign([0]);
    const deadline = Date.now() + 5_000;
    while (!events.some((event) => event.type === 'choke' && event.choked) && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 10));
    // The coordinator had not seen the choke yet: it assigned another piece.
    actor.assign([2]);
    while (verified(events).length === 0 && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 10));
    actor.destroy();
    assert.deepEqual(
      verified(events).map((piece) => piece.index),
      [2],
    );
  });

  it('a BEP 47 pad file is zeros, never fetched', async () => {
    mode = 'range';
    requests.length = 0;
    // The same torrent with tiny.bin (40,000–40,999) as a pad file: its bytes are zeros.
    const padded = Buffer.from(DATA);
    padded.fill(0, 40_000, 41_000);
    const base1 = torrent();
    const hashes = Buffer.from(base1.pieceHashes);
    createHash('sha1')
      .update(padded.subarray(PIECE, 2 * PIECE))
      .digest()
      .copy(hashes, 20);
    const events: HostEvent[] = [];
    const actor = new WebSeedActor(
      10,
      { ...base1, pieceHashes: hashes },
      `${base}/set/`,
      FILES.map((file) => ({
        url: file.name === 'tiny.bin' ? null : `${base}/set/${file.name}`,
        length: file.length,
      })),
      { emit: (event) => events.push(event), removed: () => {}, buffers: new BufferPool() },
    );
    actor.start();
    actor.assign([1]);
    const deadline = Date.now() + 5_000;
    while (verified(events).length === 0 && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 10));
    actor.destroy();
    assert.ok(Buffer.from(verified(events)[0]!.data).equals(padded.subarray(PIECE, 2 * PIECE)));
    assert.ok(!requests.some((line) => line.startsWith('/set/tiny.bin')), requests.join('\n'));
  });

  it('a dead server: gives up after maxRetries failures in a row, with the last error', async () => {
    const dead = http.createServer();
    await new Promise<void>((resolve) => dead.listen(0, '127.0.0.1', resolve));
    const port = (dead.address() as AddressInfo).port;
    await new Promise<void>((resolve) => dead.close(() => resolve()));
    const { events } = await run([0], (all) => closed(all) !== undefined, { maxRetries: 2 }, '/set/', port);
    const event = closed(events);
    assert.ok(event?.type === 'closed');
    assert.match(event.error.message, /gave up after 3 failures in a row: .*ECONNREFUSED/);
  });

  it('a stalled body: a transient failure after the stall timeout', async () => {
    mode = 'stall';
    const { events } = await run([0], (all) => all.some((event) => event.type === 'choke' && event.choked), {
      stallTimeoutMs: 200,
    });
    assert.ok(events.some((event) => event.type === 'released'));
  });

  it('a slow server (never stalled): a piece past its deadline is a transient failure, with the reason', async () => {
    mode = 'slow';
    const { events } = await run([0], (all) => closed(all) !== undefined, {
      pieceBaseMs: 150,
      minBytesPerSecond: 1_000_000,
      maxRetries: 1,
    });
    assert.ok(events.some((event) => event.type === 'released'));
    const event = closed(events);
    assert.ok(event?.type === 'closed');
    assert.match(
      event.error.message,
      /gave up after 2 failures in a row: piece 0 not fetched in 0 s: .* is slower than 1000000 bytes\/s/,
    );
  });

  it('follows redirects; a redirect loop closes it after maxRedirects', async () => {
    mode = 'redirect';
    const moved = await run([0], (all) => verified(all).length === 1, {}, '/old/');
    assert.equal(closed(moved.events), undefined);
    mode = 'loop';
    const { events } = await run([0], (all) => closed(all) !== undefined, { maxRedirects: 3 });
    const event = closed(events);
    assert.ok(event?.type === 'closed');
    assert.match(event.error.message, /more than 3 redirects/);
  });

  it('unassign aborts a fetch; close reports final stats then closed', async () => {
    mode = 'stall';
    const events: HostEvent[] = [];
    const actor = new WebSeedActor(
      9,
      torrent(),
      `${base}/set/`,
      FILES.map((file) => ({ url: `${base}/set/${file.name}`, length: file.length })),
      { emit: (event) => events.push(event), removed: () => {}, buffers: new BufferPool() },
    );
    actor.start();
    actor.assign([0]);
    await new Promise((resolve) => setTimeout(resolve, 100));
    actor.unassign([0]);
    actor.close(new TorkError(TorkErrorCode.ABORTED, 'bye'));
    assert.deepEqual(
      events.slice(-2).map((event) => event.type),
      ['stats', 'closed'],
    );
    assert.equal(events.filter((event) => event.type === 'released').length, 0);
  });
});
