import assert from 'node:assert/strict';
import { connect, createServer, type Socket } from 'node:net';
import { describe, it } from 'node:test';
import { encodeHandshake } from '@tork/core';
import { HostListener } from './host-listener.js';

// On Node 20 `reusePort` is ignored: each test binds a port of its own (the sharing itself is
// test/seed/host-accept.test.ts, under Node 22.12).
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function dial(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port }, () => resolve(socket));
    socket.once('error', reject);
  });
}

function closed(socket: Socket): Promise<void> {
  return new Promise((resolve) => {
    if (socket.destroyed) resolve();
    socket.once('close', () => resolve());
    socket.on('error', () => {});
  });
}

const INFO_HASH = new Uint8Array(20).fill(0xab);
const handshake = encodeHandshake({ infoHash: INFO_HASH, peerId: new Uint8Array(20).fill(1) });

describe('HostListener (a peer host accepting on the shared port)', () => {
  it('offers a plain handshake to the coordinator, holds it until taken, and closes refused ones', async () => {
    const offered: Array<{ connection: number; infoHashHex: string; encrypted: boolean }> = [];
    const listener = await HostListener.listen({
      port: await freePort(),
      host: '127.0.0.1',
      encryption: 'prefer',
      findMseTorrent: () => undefined,
      onIncoming: (connection, infoHashHex, _address, encrypted) =>
        offered.push({ connection, infoHashHex, encrypted }),
    });
    const sockets: Socket[] = [];
    try {
      const address = listenerPort(listener);
      const first = await dial(address);
      const second = await dial(address);
      sockets.push(first, second);
      // The handshake in two chunks, plus the start of a message: all of it kept for the actor.
      first.write(handshake.subarray(0, 30));
      await sleep(20);
      first.write(Buffer.concat([handshake.subarray(30), Buffer.from([0, 0, 0, 1, 2])]));
      second.write(handshake);
      await waitUntil(() => offered.length === 2);
      assert.deepEqual(
        offered.map((o) => [o.infoHashHex, o.encrypted]),
        [
          ['ab'.repeat(20), false],
          ['ab'.repeat(20), false],
        ],
      );
      const held = listener.take(offered[0]!.connection);
      assert.ok(held, 'the first connection is held');
      assert.equal(held.initial.length, 68 + 5, 'the handshake and what followed it');
      assert.equal(listener.take(offered[0]!.connection), undefined, 'taken once');
      assert.equal(listener.accepted, 1);
      const secondClosed = closed(second);
      listener.refuse(offered[1]!.connection);
      await secondClosed;
      held.socket.destroy();
    } finally {
      for (const socket of sockets) socket.destroy();
      listener.close();
    }
  });

  it('closes garbage at once, connections over maxPending, and ones the coordinator never answers', async () => {
    let offered = 0;
    const listener = await HostListener.listen({
      port: await freePort(),
      host: '127.0.0.1',
      encryption: 'disable',
      findMseTorrent: () => undefined,
      onIncoming: () => {
        offered++;
      },
      maxPending: 2,
      handshakeTimeoutMs: 300,
    });
    const sockets: Socket[] = [];
    try {
      const port = listenerPort(listener);
      const http = await dial(port);
      sockets.push(http);
      const httpClosed = closed(http);
      http.write('GET / HTTP/1.1\r\n\r\n');
      await httpClosed;
      // Two connections fill the pending slots (one answered, never taken); a third is closed.
      const answered = await dial(port);
      const silent = await dial(port);
      sockets.push(answered, silent);
      answered.write(handshake);
      await waitUntil(() => offered === 1);
      const third = await dial(port);
      sockets.push(third);
      await closed(third);
      // No answer from the coordinator (nor a handshake) within handshakeTimeoutMs: closed.
      await Promise.all([closed(answered), closed(silent)]);
      assert.equal(listener.take(0), undefined, 'a timed-out connection cannot be taken');
      assert.equal(listener.accepted, 0);
    } finally {
      for (const socket of sockets) socket.destroy();
      listener.close();
    }
  });
});

function listenerPort(listener: HostListener): number {
  return listener.port;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function waitUntil(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await sleep(10);
  }
}
