import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Worker } from 'node:worker_threads';
import { encodeHandshake, encodeHave, type HostEvent, type PlainTorkError, TorkErrorCode } from '@tork/core';
import { type HostThread, silentPeer, startHostThread } from './host-thread.test.fixture.js';

const torrentId = 'cd'.repeat(20);
const addTorrent = {
  type: 'add-torrent',
  torrentId,
  infoHash: new Uint8Array(20).fill(0xcd),
  peerId: new Uint8Array(20).fill(0x2d),
  pieceLength: 16_384,
  length: 40_000,
  pieceHashes: new Uint8Array(60),
  have: new Uint8Array(1),
  files: [],
};

describe('peer host thread: control plane over comlink, data plane on a MessagePort', {
  timeout: 30_000,
}, () => {
  let host: HostThread;
  let api: HostThread['api'];
  let port: HostThread['port'];
  let peer: Awaited<ReturnType<typeof silentPeer>>;
  let serverPort = 0;
  let accepted: Socket[] = [];
  const reports: PlainTorkError[] = [];
  const events: HostEvent[] = [];

  before(async () => {
    peer = await silentPeer();
    serverPort = peer.port;
    accepted = peer.accepted;
    host = await startHostThread(
      { tickMs: 25 },
      (batch) => events.push(...batch),
      (error) => reports.push(error),
    );
    ({ api, port } = host);
  });

  after(async () => {
    await host.stop();
    peer.close();
  });

  it('rejects a malformed batch as a whole, reports TORK_ERR_THREAD_MESSAGE, and does nothing', async () => {
    port.postMessage({
      commands: [
        addTorrent,
        { type: 'connect', actorId: 1, torrentId, host: '127.0.0.1', port: serverPort },
        { type: 'assign', actorId: 1, pieces: [] },
      ],
    });
    const deadline = Date.now() + 5_000;
    while (reports.length === 0 && Date.now() < deadline) await sleep(10);
    assert.equal(reports.length, 1);
    assert.equal(reports[0]?.code, TorkErrorCode.THREAD_MESSAGE);
    assert.match(reports[0]?.message ?? '', /coordinator→host message at commands\.2\.pieces/);
    await sleep(100);
    assert.equal(accepted.length, 0, 'no connection was made');
    const stats = await api.stats();
    assert.equal(stats.rejectedBatches, 1);
    assert.equal(stats.lastRejection?.code, TorkErrorCode.THREAD_MESSAGE);
    assert.equal(stats.actors, 0);
    assert.equal(stats.torrents, 0, 'not even the well-formed commands of the batch were applied');
    port.postMessage('not a batch at all');
    while (reports.length < 2 && Date.now() < deadline) await sleep(10);
    assert.match(reports[1]?.message ?? '', /at \(root\)/);
  });

  it('acts on a well-formed batch: the actor dials out; an unknown torrent closes at once', async () => {
    port.postMessage({
      commands: [
        addTorrent,
        { type: 'connect', actorId: 2, torrentId, host: '127.0.0.1', port: serverPort },
        { type: 'connect', actorId: 3, torrentId: 'ef'.repeat(20), host: '127.0.0.1', port: serverPort },
      ],
    });
    const deadline = Date.now() + 5_000;
    while ((accepted.length === 0 || events.length === 0) && Date.now() < deadline) await sleep(10);
    assert.equal(accepted.length, 1);
    const closed = events.find((event) => event.type === 'closed');
    assert.ok(closed?.type === 'closed');
    assert.equal(closed.actorId, 3);
    assert.match(closed.error.message, /unknown torrent/);
    // The accept can come before the dialler's handshake write completes: wait for it, bounded.
    let stats = await api.stats();
    while (stats.bytesSent < 68 && Date.now() < deadline) {
      await sleep(10);
      stats = await api.stats();
    }
    assert.equal(stats.actors, 1);
    assert.equal(stats.torrents, 1);
    assert.ok(stats.bytesSent >= 68, 'the handshake went out');
    assert.ok(stats.eventLoopLagMs >= 0);
  });

  it('a peer that hangs up on our handshake: closed with phase handshake; a refused dial: no phase', async () => {
    // Hangs up once it has read our handshake, as a peer requiring encryption does with a plain one.
    const hangUp = createServer((socket) => socket.once('data', () => socket.destroy()));
    hangUp.listen(0, '127.0.0.1');
    await once(hangUp, 'listening');
    const refusing = createServer();
    refusing.listen(0, '127.0.0.1');
    await once(refusing, 'listening');
    const refusedPort = (refusing.address() as { port: number }).port;
    await new Promise<void>((resolve) => refusing.close(() => resolve()));
    try {
      port.postMessage({
        commands: [
          {
            type: 'connect',
            actorId: 4,
            torrentId,
            host: '127.0.0.1',
            port: (hangUp.address() as { port: number }).port,
          },
          { type: 'connect', actorId: 5, torrentId, host: '127.0.0.1', port: refusedPort },
        ],
      });
      const closedOf = (actorId: number) =>
        events.find((event) => event.type === 'closed' && event.actorId === actorId);
      const deadline = Date.now() + 5_000;
      while ((!closedOf(4) || !closedOf(5)) && Date.now() < deadline) await sleep(10);
      const hungUp = closedOf(4);
      assert.ok(hungUp?.type === 'closed', 'the hung-up dial closed');
      assert.equal(hungUp.error.code, TorkErrorCode.IO);
      assert.equal(hungUp.error.details.phase, 'handshake', JSON.stringify(hungUp.error));
      const refused = closedOf(5);
      assert.ok(refused?.type === 'closed', 'the refused dial closed');
      assert.equal(refused.error.details.cause, 'ECONNREFUSED');
      assert.equal(refused.error.details.phase, undefined, 'never connected: the transport failed');
    } finally {
      hangUp.close();
    }
  });

  it("a peer's last haves reach the coordinator before its close; our last haves go out before our FIN", async () => {
    // Plain BitTorrent (no reserved bits): no extension or fast-extension exchange to play.
    const handshake = (infoHashByte: number, peerIdByte: number) =>
      encodeHandshake({
        infoHash: new Uint8Array(20).fill(infoHashByte),
        peerId: new Uint8Array(20).fill(peerIdByte),
        reserved: new Uint8Array(8),
      });
    const have = (index: number) => Buffer.from(encodeHave(index));
    // P completes (its haves for all 3 pieces) and hangs up in the same write: a downloader done.
    const finishing = createServer((socket) =>
      socket.once('data', () =>
        socket.end(Buffer.concat([handshake(0xcd, 0x11), have(0), have(1), have(2)])),
      ),
    );
    // Q stays and records what it reads, and whether the connection ended with a FIN.
    let received = Buffer.alloc(0);
    let ended = false;
    const staying = createServer((socket) => {
      socket.once('data', () => socket.write(handshake(0xcd, 0x12)));
      socket.on('data', (chunk: Buffer) => {
        received = Buffer.concat([received, chunk]);
      });
      socket.on('end', () => {
        ended = true;
      });
      socket.on('error', () => {});
    });
    for (const server of [finishing, staying]) {
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
    }
    const portOf = (server: Server) => (server.address() as { port: number }).port;
    try {
      port.postMessage({
        commands: [
          { type: 'connect', actorId: 6, torrentId, host: '127.0.0.1', port: portOf(finishing) },
          { type: 'connect', actorId: 7, torrentId, host: '127.0.0.1', port: portOf(staying) },
        ],
      });
      const indexOf = (match: (event: HostEvent) => boolean) => events.findIndex(match);
      const deadline = Date.now() + 5_000;
      const closed6 = () => indexOf((event) => event.type === 'closed' && event.actorId === 6);
      const open7 = () => indexOf((event) => event.type === 'connected' && event.actorId === 7);
      while ((closed6() < 0 || open7() < 0) && Date.now() < deadline) await sleep(10);
      assert.ok(closed6() >= 0, 'the finishing peer closed');
      const haves = events.flatMap((event, at) =>
        event.type === 'have' && event.actorId === 6 && at < closed6() ? event.pieces : [],
      );
      assert.deepEqual(
        haves.sort(),
        [0, 1, 2],
        JSON.stringify(events.filter((e) => 'actorId' in e && e.actorId === 6)),
      );

      // We verified piece 0 and the coordinator closes the connection in the same batch (a
      // download that ends): the have still goes, then a FIN, not a reset.
      assert.ok(open7() >= 0, 'the staying peer connected');
      const before = received.length;
      port.postMessage({
        commands: [
          { type: 'have', torrentId, pieces: [0] },
          { type: 'close', actorId: 7, reason: 'torrent done' },
        ],
      });
      while (!ended && Date.now() < deadline) await sleep(10);
      assert.ok(ended, 'a FIN after the last messages');
      assert.ok(
        received.subarray(before).includes(have(0)),
        `our have(0) went out: ${received.subarray(before).toString('hex')}`,
      );
    } finally {
      finishing.close();
      staying.close();
    }
  });
});

describe('peer host thread start', () => {
  it('refuses malformed workerData before the host exists: the thread fails with THREAD_MESSAGE', async () => {
    const worker = new Worker(new URL('./peer-host-worker.js', import.meta.url), {
      workerData: { index: 0, options: { tickMs: 'often' } },
      stderr: true,
    });
    const [error] = (await once(worker, 'error')) as [Error];
    assert.match(error.message, /malformed coordinator→host workerData message at options\.tickMs/);
    await worker.terminate();
  });
});

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
