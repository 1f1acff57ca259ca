import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { describe, it } from 'node:test';
import type { MessagePort } from 'node:worker_threads';
import { encodeHandshake, RELAY_WINDOW_BYTES } from '@tork/core';
import { type IncomingPeer, Listener } from './listener.js';

const INFO_HASH = new Uint8Array(20).fill(0xab);
const handshake = encodeHandshake({ infoHash: INFO_HASH, peerId: new Uint8Array(20).fill(0x31) });

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(what: string, done: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`no ${what} within ${timeoutMs} ms`);
    await sleep(10);
  }
}

function dial(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port }, () => resolve(socket));
    socket.once('error', reject);
  });
}

function closedPromise(socket: Socket): Promise<void> {
  return new Promise((resolve) => {
    if (socket.destroyed) resolve();
    socket.once('close', () => resolve());
  });
}

describe('Listener', { timeout: 30_000 }, () => {
  it('hands over a handshake with what followed it, and relays both ways', async () => {
    const peers: IncomingPeer[] = [];
    const listener = await Listener.listen({
      port: 0,
      host: '127.0.0.1',
      onPeer: (peer) => {
        peers.push(peer);
        return true;
      },
    });
    const socket = await dial(listener.port);
    try {
      let received = Buffer.alloc(0);
      socket.on('data', (chunk) => (received = Buffer.concat([received, chunk])));
      socket.write(Buffer.concat([handshake, Buffer.from([0, 0, 0, 1, 2])]));
      await until('a peer', () => peers.length === 1);
      const peer = peers[0]!;
      assert.equal(peer.infoHashHex, 'ab'.repeat(20));
      assert.match(peer.address, /^127\.0\.0\.1:\d+$/);
      assert.ok(peer.initial.length >= 68, 'the handshake is part of the initial bytes');

      // The actor's end: collect chunks, answer with bytes of its own.
      const relay: MessagePort = peer.relay;
      const chunks: Uint8Array[] = [];
      const acks: number[] = [];
      relay.on('message', (value: unknown) => {
        if (value instanceof ArrayBuffer) chunks.push(new Uint8Array(value));
        else if ((value as { type: string }).type === 'ack') acks.push((value as { bytes: number }).bytes);
      });
      socket.write(Buffer.from('more'));
      const out = new Uint8Array([9, 8, 7, 6]);
      relay.postMessage(out.buffer, [out.buffer]);
      await until('bytes at the socket', () => received.length === 4);
      assert.deepEqual([...received], [9, 8, 7, 6]);
      await until('an ack of the written bytes', () => acks.reduce((a, b) => a + b, 0) === 4);
      const relayed = Buffer.concat([peer.initial, ...chunks]);
      await until('relayed chunks', () => Buffer.concat([peer.initial, ...chunks]).length >= 68 + 5 + 4);
      const all = Buffer.concat([peer.initial, ...chunks]);
      assert.equal(all.subarray(68).toString('latin1'), '\0\0\0\x01\x02more', `got ${relayed.length} bytes`);
      relay.close();
      await closedPromise(socket);
    } finally {
      socket.destroy();
      await listener.close();
    }
  });

  it('writes the first `length` bytes of a pooled buffer and moves the buffer back with the ack', async () => {
    let relay: MessagePort | undefined;
    const listener = await Listener.listen({
      port: 0,
      host: '127.0.0.1',
      onPeer: (peer) => {
        relay = peer.relay;
        return true;
      },
    });
    const socket = await dial(listener.port);
    try {
      let received = Buffer.alloc(0);
      socket.on('data', (chunk) => (received = Buffer.concat([received, chunk])));
      socket.write(handshake);
      await until('a peer', () => relay !== undefined);
      const returned: ArrayBuffer[] = [];
      relay!.on('message', (value: unknown) => {
        const message = value as { type?: string; buffers?: ArrayBuffer[] };
        if (message.type === 'ack' && message.buffers) returned.push(...message.buffers);
      });
      const buffer = new ArrayBuffer(64 * 1024);
      new Uint8Array(buffer).set([1, 2, 3, 4, 5, 6]);
      relay!.postMessage({ type: 'data', buffer, length: 4 }, [buffer]);
      await until('the 4 bytes', () => received.length >= 4);
      await until('the buffer back', () => returned.length === 1);
      assert.deepEqual([...received], [1, 2, 3, 4], 'only `length` bytes are written');
      assert.equal(returned[0]!.byteLength, 64 * 1024, 'the same buffer, moved back whole');
      assert.deepEqual([...new Uint8Array(returned[0]!, 0, 6)], [1, 2, 3, 4, 5, 6]);
    } finally {
      socket.destroy();
      relay?.close();
      await listener.close();
    }
  });

  it(`pauses a flooding peer at RELAY_WINDOW_BYTES (${RELAY_WINDOW_BYTES}) unacknowledged bytes, and resumes on acks`, async () => {
    let relay: MessagePort | undefined;
    let initial = 0;
    const listener = await Listener.listen({
      port: 0,
      host: '127.0.0.1',
      onPeer: (peer) => {
        relay = peer.relay;
        initial = peer.initial.length;
        return true;
      },
    });
    const socket = await dial(listener.port);
    try {
      socket.write(handshake);
      await until('a peer', () => relay !== undefined);
      let arrived = 0;
      relay!.on('message', (value: unknown) => {
        if (value instanceof ArrayBuffer) arrived += value.byteLength;
      });
      // 32 MiB offered; nobody acknowledges.
      const block = Buffer.alloc(1024 * 1024, 0x55);
      let offered = 0;
      const flood = async () => {
        while (offered < 32 * 1024 * 1024 && !socket.destroyed) {
          offered += block.length;
          if (!socket.write(block)) await new Promise((resolve) => socket.once('drain', resolve));
        }
      };
      void flood();
      await sleep(1_000);
      const relayedIn = listener.stats().relayedIn;
      // One socket read may overshoot the window before the pause takes effect.
      assert.ok(
        relayedIn <= RELAY_WINDOW_BYTES + 1024 * 1024,
        `relayed ${relayedIn} B unacknowledged, window ${RELAY_WINDOW_BYTES}`,
      );
      assert.ok(relayedIn >= RELAY_WINDOW_BYTES, `relayed only ${relayedIn} B`);
      assert.ok(offered > relayedIn + 4 * 1024 * 1024, 'the rest waits in the kernel, not in our memory');
      // Acknowledge as it arrives: everything flows.
      let acked = 0;
      const acker = setInterval(() => {
        const fresh = arrived - acked;
        if (fresh > 0) {
          acked += fresh;
          relay!.postMessage({ type: 'ack', bytes: fresh });
        }
      }, 5);
      try {
        // Whatever came with the handshake was handed over as `initial`, the rest relayed.
        await until(
          'all 32 MiB relayed',
          () => initial + listener.stats().relayedIn === 32 * 1024 * 1024 + 68,
          10_000,
        );
      } finally {
        clearInterval(acker);
      }
    } finally {
      socket.destroy();
      relay?.close();
      await listener.close();
    }
  });

  it('closes what is not a BitTorrent handshake at its first byte, and connections over maxHandshaking', async () => {
    let offered = 0;
    const listener = await Listener.listen({
      port: 0,
      host: '127.0.0.1',
      maxHandshaking: 2,
      onPeer: () => {
        offered++;
        return false;
      },
    });
    const sockets: Socket[] = [];
    try {
      const http = await dial(listener.port);
      sockets.push(http);
      const httpClosed = closedPromise(http);
      http.write('GET / HTTP/1.1\r\n\r\n');
      await httpClosed;

      // Two silent connections fill the handshake slots; a third is refused at once.
      sockets.push(await dial(listener.port), await dial(listener.port));
      await sleep(50);
      const third = await dial(listener.port);
      sockets.push(third);
      await closedPromise(third);
      assert.equal(offered, 0, 'no torrent was asked about any of them');
      assert.ok(listener.stats().refused >= 2);
    } finally {
      for (const socket of sockets) socket.destroy();
      await listener.close();
    }
  });
});
