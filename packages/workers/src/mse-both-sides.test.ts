/**
 * MSE/PE's dialling side (`mseDialTransport`, peer host) over real sockets: against tork's own
 * Listener (coordinator) for each method, and against hostile or MSE-less peers, whose failures
 * must carry `phase: 'mse'` (what makes the coordinator retry in plain BitTorrent). It spans both
 * thread groups, so it sits above them.
 */
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { describe, it } from 'node:test';
import {
  type EncryptionPolicy,
  encodeHandshake,
  mseTorrentKey,
  type TorkError,
  TorkErrorCode,
} from '@tork/core';
import { type IncomingPeer, Listener } from './coordinator/listener.js';
import { BufferPool } from './peer-host/buffer-pool.js';
import { dialTransport } from './peer-host/transport/dial-transport.js';
import { mseDialTransport } from './peer-host/transport/mse-dial-transport.js';
import type { PeerTransport } from './peer-host/transport/peer-transport.js';

const INFO_HASH = new Uint8Array(20).fill(0x42);
const KEY = Buffer.from(mseTorrentKey(INFO_HASH)).toString('hex');
const handshake = encodeHandshake({ infoHash: INFO_HASH, peerId: new Uint8Array(20).fill(0x33) });

function dialer(port: number, encryption: 'prefer' | 'require') {
  const state: { connected: boolean; data: Buffer; closed: TorkError | null } = {
    connected: false,
    data: Buffer.alloc(0),
    closed: null,
  };
  let transport: PeerTransport | undefined;
  const done = new Promise<void>((resolve) => {
    transport = mseDialTransport(
      (handlers) => dialTransport('127.0.0.1', port, handlers),
      {
        onConnect: () => {
          state.connected = true;
          transport!.write([handshake], handshake.length);
          resolve();
        },
        onData: (chunk) => {
          state.data = Buffer.concat([state.data, chunk]);
        },
        onDrain: () => {},
        onClose: (error) => {
          state.closed = error;
          resolve();
        },
      },
      new BufferPool(),
      { infoHash: INFO_HASH, encryption },
    );
  });
  return { state, done, transport: () => transport! };
}

async function server(
  onSocket: (socket: Socket) => void,
): Promise<{ port: number; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  const s: Server = createServer((socket) => {
    sockets.add(socket);
    onSocket(socket);
  });
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', () => resolve()));
  const port = (s.address() as { port: number }).port;
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        s.close(() => resolve());
      }),
  };
}

describe('mseDialTransport', { timeout: 20_000 }, () => {
  for (const [policy, encryption, expected] of [
    ['prefer', 'prefer', 'plaintext'],
    ['prefer', 'require', 'rc4'],
    ['require', 'prefer', 'rc4'],
  ] as const) {
    it(`listener ${policy}, dial ${encryption}: ${expected}; the BitTorrent handshake arrives intact`, async () => {
      const peers: IncomingPeer[] = [];
      const listener = await Listener.listen({
        port: 0,
        host: '127.0.0.1',
        encryption: policy as EncryptionPolicy,
        findMseTorrent: (key) => (Buffer.from(key).toString('hex') === KEY ? INFO_HASH : undefined),
        onPeer: (peer) => {
          peers.push(peer);
          return true;
        },
      });
      try {
        const { state, done, transport } = dialer(listener.port, encryption);
        await done;
        assert.equal(state.closed, null);
        assert.equal(transport().encryption, expected);
        const deadline = Date.now() + 5_000;
        while (peers.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
        assert.deepEqual(Buffer.from(peers[0]!.initial.subarray(0, 68)), Buffer.from(handshake));
        peers[0]!.relay.close();
        transport().destroy();
      } finally {
        await listener.close();
      }
    });
  }

  it('a peer that answers with a trivial DH key: TORK_ERR_WIRE_HANDSHAKE, phase mse', async () => {
    const peer = await server((socket) => socket.write(new Uint8Array(96)));
    try {
      const { state, done } = dialer(peer.port, 'prefer');
      await done;
      assert.equal(state.connected, false);
      assert.equal(state.closed?.code, TorkErrorCode.WIRE_HANDSHAKE);
      assert.equal(state.closed?.details.phase, 'mse');
    } finally {
      await peer.close();
    }
  });

  it('a peer that speaks no MSE and hangs up on our key: closed with phase mse', async () => {
    const peer = await server((socket) => socket.once('data', () => socket.destroy()));
    try {
      const { state, done } = dialer(peer.port, 'prefer');
      await done;
      assert.equal(state.connected, false);
      assert.equal(state.closed?.details.phase, 'mse');
      assert.match(state.closed?.message ?? '', /during the encrypted handshake/);
    } finally {
      await peer.close();
    }
  });
});
