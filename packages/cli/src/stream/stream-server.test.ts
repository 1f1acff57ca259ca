import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type DiskLayout, PieceOrder, type TorrentEventMap } from '@tork/core';
import { isLoopbackHost, STREAM_MAX_CONNECTIONS, StreamServer, type StreamTorrent } from './stream-server.js';

const PIECE = 1024;

/** A torrent as the server sees it: files on disk, pieces "written" when the test says so. */
class FakeTorrent extends EventEmitter<TorrentEventMap> {
  readonly written = new Set<number>();
  readonly order = new PieceOrder();
  constructor(
    readonly meta: DiskLayout & { pieceCount: number },
    readonly outDir: string,
  ) {
    super();
  }
  hasPiece(index: number): boolean {
    return this.written.has(index);
  }
  write(index: number): void {
    this.written.add(index);
    this.emit('piece-written', { index });
  }
}

describe('StreamServer', () => {
  let dir: string;
  let torrent: FakeTorrent;
  let server: StreamServer;
  let base: string;
  // Two files: 10 KiB + 1 byte and 3 KiB, 1 KiB pieces; the second starts inside piece 10.
  const first = Buffer.alloc(10 * PIECE + 1, 0);
  const second = Buffer.alloc(3 * PIECE, 0);
  for (let i = 0; i < first.length; i++) first[i] = (i * 7 + 3) & 0xff;
  for (let i = 0; i < second.length; i++) second[i] = (i * 13 + 5) & 0xff;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tork-stream-server-'));
    await mkdir(join(dir, 'pack', 'v'), { recursive: true });
    await writeFile(join(dir, 'pack', 'v', 'one.mp4'), first);
    await writeFile(join(dir, 'pack', 'two.bin'), second);
    const length = first.length + second.length;
    torrent = new FakeTorrent(
      {
        name: 'pack',
        isMultiFile: true,
        pieceLength: PIECE,
        length,
        pieceCount: Math.ceil(length / PIECE),
        files: [
          { path: ['v', 'one.mp4'], length: first.length, pad: false },
          { path: ['two.bin'], length: second.length, pad: false },
        ],
      },
      dir,
    );
    server = new StreamServer({
      torrent: torrent as unknown as StreamTorrent,
      pieceTimeoutMs: 400,
      readAheadBytes: 4 * PIECE,
      focus: 1,
    });
    base = await server.listen();
  });

  after(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('--file N focuses the order on that file: in-order from its first piece, its start urgent', () => {
    assert.equal(torrent.order.sequentialFrom, 10);
    assert.deepEqual(torrent.order.urgent, [10, 11, 12, 13]);
  });

  it('a range waits for its pieces, marks them urgent, and sends exactly the file bytes once written', async () => {
    const response = fetch(`${base}/0`, { headers: { range: 'bytes=1500-4999' } });
    await waitFor(() => server.readers === 1);
    assert.deepEqual(torrent.order.urgent.slice(0, 4), [1, 2, 3, 4], 'the reader window first');
    for (const index of [4, 3, 2, 1]) torrent.write(index);
    const answer = await response;
    assert.equal(answer.status, 206);
    assert.equal(answer.headers.get('content-range'), `bytes 1500-4999/${first.length}`);
    assert.equal(answer.headers.get('content-type'), 'video/mp4');
    assert.equal(answer.headers.get('accept-ranges'), 'bytes');
    assert.deepEqual(Buffer.from(await answer.arrayBuffer()), first.subarray(1500, 5000));
    await waitFor(() => server.readers === 0);
  });

  it('a piece not written within the timeout: 504 before any byte, never other bytes', async () => {
    const answer = await fetch(`${base}/0`, { headers: { range: 'bytes=9000-9100' } });
    assert.equal(answer.status, 504);
    assert.match(await answer.text(), /piece 8 not downloaded/);
  });

  it('a piece missing in the middle cuts the connection after the bytes that were had', async () => {
    torrent.write(5);
    const answer = await fetch(`${base}/0`, { headers: { range: 'bytes=5120-' } });
    assert.equal(answer.status, 206);
    await assert.rejects(answer.arrayBuffer());
  });

  it('the second file, by path, spanning the piece it shares with the first', async () => {
    for (const index of [10, 11, 12, 13]) torrent.write(index);
    const answer = await fetch(`${base}/two.bin`);
    assert.equal(answer.status, 200);
    assert.equal(answer.headers.get('content-length'), String(second.length));
    assert.deepEqual(Buffer.from(await answer.arrayBuffer()), second);
    const suffix = await fetch(`${base}/1`, { headers: { range: 'bytes=-10' } });
    assert.deepEqual(Buffer.from(await suffix.arrayBuffer()), second.subarray(second.length - 10));
  });

  it('closes connections beyond STREAM_MAX_CONNECTIONS on accept', async () => {
    const { port } = new URL(base);
    const sockets: Socket[] = [];
    const closed = new Set<Socket>();
    try {
      // A few more than the cap (earlier tests' keep-alive connections may count too).
      for (let i = 0; i < STREAM_MAX_CONNECTIONS + 4; i++) {
        const socket = await new Promise<Socket>((resolve, reject) => {
          const s = connect(Number(port), '127.0.0.1', () => resolve(s));
          s.once('error', reject);
        });
        socket.once('close', () => closed.add(socket));
        socket.resume();
        sockets.push(socket);
      }
      await waitFor(() => closed.size >= 4);
      await new Promise((resolve) => setTimeout(resolve, 100));
      const open = sockets.length - closed.size;
      assert.ok(open <= STREAM_MAX_CONNECTIONS, `${open} connections open`);
      assert.ok(open >= STREAM_MAX_CONNECTIONS - 8, `${open} connections open`);
    } finally {
      for (const socket of sockets) socket.destroy();
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  });

  it('on loopback, answers only requests naming a loopback host (DNS rebinding)', async () => {
    for (const host of ['127.0.0.1:8080', 'localhost', 'LOCALHOST:1', '[::1]:80', '127.1.2.3'])
      assert.equal(isLoopbackHost(host), true, host);
    for (const host of [
      undefined,
      '',
      'evil.example',
      'evil.example:80',
      '127.0.0.1.evil.example',
      '[::2]',
      '10.0.0.1',
    ])
      assert.equal(isLoopbackHost(host), false, String(host));
    const { port } = new URL(base);
    const status = await new Promise<number>((resolve, reject) => {
      const socket = connect(Number(port), '127.0.0.1', () =>
        socket.write('GET /0 HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n'),
      );
      let text = '';
      socket.on('data', (chunk: Buffer) => (text += chunk.toString()));
      socket.once('close', () => resolve(Number(/^HTTP\/1\.1 (\d+)/.exec(text)?.[1])));
      socket.once('error', reject);
    });
    assert.equal(status, 403);
  });

  it('HEAD, 416, 404, 400, 405 and the listing', async () => {
    const head = await fetch(`${base}/v/one.mp4`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('content-length'), String(first.length));
    const unsatisfiable = await fetch(`${base}/0`, { headers: { range: `bytes=${first.length}-` } });
    assert.equal(unsatisfiable.status, 416);
    assert.equal(unsatisfiable.headers.get('content-range'), `bytes */${first.length}`);
    assert.equal((await fetch(`${base}/2`)).status, 404);
    assert.equal((await fetch(`${base}/..%2F..%2Fetc%2Fpasswd`)).status, 404);
    assert.equal((await fetch(`${base}/v%00`)).status, 400);
    assert.equal((await fetch(`${base}/0`, { method: 'POST' })).status, 405);
    const listing = await fetch(`${base}/`);
    assert.equal(listing.status, 200);
    const html = await listing.text();
    assert.match(html, /href="\/v\/one\.mp4"/);
    assert.match(html, /href="\/1"/);
  });
});

async function waitFor(check: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
  assert.ok(check(), 'condition not reached within 2 s');
}
