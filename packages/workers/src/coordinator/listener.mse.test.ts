/**
 * The Listener's side of MSE/PE on a real socket: it runs the responder, finds the torrent by
 * SKEY, hands the actor the decrypted handshake and the streams' states (which must go on exactly
 * where the Listener left them), and refuses each hostile handshake by closing the connection.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { describe, it } from 'node:test';
import {
  type EncryptionPolicy,
  encodeHandshake,
  MseInitiator,
  MseMethod,
  type MseResult,
  mseTorrentKey,
  Rc4,
} from '@tork/core';
import { type IncomingPeer, Listener } from './listener.js';

const INFO_HASH = new Uint8Array(20).fill(0xab);
const OTHER = new Uint8Array(20).fill(0xcd);
const handshakeFor = (infoHash: Uint8Array) =>
  encodeHandshake({ infoHash, peerId: new Uint8Array(20).fill(0x31) });
const KEY = Buffer.from(mseTorrentKey(INFO_HASH)).toString('hex');

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
async function until(what: string, done: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`no ${what} within ${timeoutMs} ms`);
    await sleep(10);
  }
}

async function withListener(
  policy: EncryptionPolicy,
  run: (listener: Listener, peers: IncomingPeer[]) => Promise<void>,
): Promise<void> {
  const peers: IncomingPeer[] = [];
  const listener = await Listener.listen({
    port: 0,
    host: '127.0.0.1',
    handshakeTimeoutMs: 1_000,
    encryption: policy,
    findMseTorrent: (key) => (Buffer.from(key).toString('hex') === KEY ? INFO_HASH : undefined),
    onPeer: (peer) => {
      peers.push(peer);
      return true;
    },
  });
  try {
    await run(listener, peers);
  } finally {
    await listener.close();
  }
}

function dial(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port }, () => resolve(socket));
    socket.once('error', reject);
  });
}

const closed = (socket: Socket) =>
  new Promise<void>((resolve) => (socket.destroyed ? resolve() : socket.once('close', () => resolve())));

/** Runs an MSE initiator over a socket to the Listener; sends `handshake` encrypted once done. */
async function mseDial(
  port: number,
  options: { infoHash?: Uint8Array; provide?: number; handshake?: Uint8Array },
): Promise<{ socket: Socket; result: MseResult; received: () => Buffer }> {
  const socket = await dial(port);
  const initiator = new MseInitiator({ infoHash: options.infoHash ?? INFO_HASH, provide: options.provide });
  let after = Buffer.alloc(0);
  const result = await new Promise<MseResult>((resolve, reject) => {
    socket.once('close', () => reject(new Error('closed during the handshake')));
    socket.on('data', (chunk: Buffer) => {
      try {
        const step = initiator.push(chunk);
        for (const bytes of step.send) socket.write(bytes);
        if (step.done) {
          socket.removeAllListeners('data');
          socket.on('data', (more: Buffer) => {
            after = Buffer.concat([after, more]);
          });
          resolve(step.done);
        }
      } catch (error) {
        reject(error);
      }
    });
    socket.write(initiator.start());
  });
  socket.removeAllListeners('close');
  const handshake = new Uint8Array(options.handshake ?? handshakeFor(options.infoHash ?? INFO_HASH));
  result.encrypt?.transform(handshake);
  socket.write(handshake);
  return { socket, result, received: () => after };
}

describe('Listener: MSE/PE', { timeout: 30_000 }, () => {
  for (const [policy, provide, method] of [
    ['prefer', MseMethod.rc4 | MseMethod.plaintext, MseMethod.plaintext],
    ['prefer', MseMethod.rc4, MseMethod.rc4],
    ['require', MseMethod.rc4 | MseMethod.plaintext, MseMethod.rc4],
  ] as const) {
    it(`${policy}, offered ${provide}: method ${method}; the actor's streams go on where the Listener left them`, async () => {
      await withListener(policy, async (listener, peers) => {
        const { socket, result, received } = await mseDial(listener.port, { provide });
        try {
          assert.equal(result.method, method);
          await until('the peer handed over', () => peers.length === 1);
          const peer = peers[0]!;
          assert.equal(peer.infoHashHex, 'ab'.repeat(20));
          assert.deepEqual(Buffer.from(peer.initial.subarray(0, 68)), Buffer.from(handshakeFor(INFO_HASH)));
          assert.ok(peer.mse, 'the streams are handed over');
          assert.equal(peer.mse.method, method);
          assert.equal(listener.stats().encrypted, 1);
          // The actor's side: decrypt what comes next, encrypt what it sends.
          const decrypt = peer.mse.decrypt ? Rc4.restore(peer.mse.decrypt) : null;
          const encrypt = peer.mse.encrypt ? Rc4.restore(peer.mse.encrypt) : null;
          const chunks: Uint8Array[] = [];
          peer.relay.on('message', (value: unknown) => {
            if (value instanceof ArrayBuffer) chunks.push(new Uint8Array(value));
          });
          const payload = randomBytes(5_000);
          const wire = new Uint8Array(payload);
          result.encrypt?.transform(wire);
          socket.write(wire);
          await until('relayed bytes', () => chunks.reduce((sum, c) => sum + c.length, 0) >= payload.length);
          const relayed = Buffer.concat(chunks);
          decrypt?.transform(relayed);
          assert.deepEqual(relayed, payload);
          const reply = new Uint8Array(randomBytes(3_000));
          const expected = Buffer.from(reply);
          encrypt?.transform(reply);
          peer.relay.postMessage(reply.buffer, [reply.buffer]);
          await until('the reply', () => received().length >= 3_000);
          const back = new Uint8Array(received());
          result.decrypt?.transform(back);
          assert.deepEqual(Buffer.from(back), expected);
          peer.relay.close();
        } finally {
          socket.destroy();
        }
      });
    });
  }

  it('hostile: garbage instead of the DH key, a wrong SKEY, padding over the cap, a handshake cut short, another info-hash inside', async () => {
    await withListener('prefer', async (listener, peers) => {
      const cases: Array<[string, () => Promise<Socket>]> = [
        [
          'a zero DH key',
          async () => {
            const socket = await dial(listener.port);
            socket.write(new Uint8Array(96).fill(0, 0, 95).fill(1, 95));
            return socket;
          },
        ],
        [
          'garbage that is no handshake at all',
          async () => {
            const socket = await dial(listener.port);
            socket.write(Buffer.alloc(4_000, 0xff));
            return socket;
          },
        ],
        [
          'padding over 512 bytes (no req1 after it)',
          async () => {
            const socket = await dial(listener.port);
            socket.write(
              Buffer.concat([new MseInitiator({ infoHash: INFO_HASH, maxPad: 0 }).start(), randomBytes(700)]),
            );
            return socket;
          },
        ],
        [
          'a handshake cut short',
          async () => {
            const socket = await dial(listener.port);
            socket.write(new MseInitiator({ infoHash: INFO_HASH }).start().subarray(0, 50));
            return socket;
          },
        ],
      ];
      for (const [name, open] of cases) {
        const refused = listener.stats().refused;
        const socket = await open();
        await Promise.race([closed(socket), sleep(3_000).then(() => assert.fail(`${name}: not closed`))]);
        assert.equal(listener.stats().refused, refused + 1, name);
      }
      // A torrent we do not have (SKEY unknown): closed mid-handshake.
      await assert.rejects(mseDial(listener.port, { infoHash: OTHER }), /closed during the handshake/);
      // SKEY names ours, the handshake inside names another: refused after the MSE handshake.
      const inside = await mseDial(listener.port, { handshake: handshakeFor(OTHER) });
      await Promise.race([closed(inside.socket), sleep(3_000).then(() => assert.fail('not closed'))]);
      assert.equal(peers.length, 0, 'nothing handed to an actor');
      // And a good one still goes through.
      const good = await mseDial(listener.port, {});
      await until('the good peer', () => peers.length === 1);
      good.socket.destroy();
      peers[0]!.relay.close();
    });
  });

  it('disable refuses an encrypted handshake; require refuses a plain one', async () => {
    await withListener('disable', async (listener) => {
      await assert.rejects(mseDial(listener.port, {}), /closed during the handshake/);
    });
    await withListener('require', async (listener, peers) => {
      const socket = await dial(listener.port);
      socket.write(handshakeFor(INFO_HASH));
      await Promise.race([closed(socket), sleep(3_000).then(() => assert.fail('not closed'))]);
      assert.equal(peers.length, 0);
      // RC4 is all require accepts: an initiator offering only plaintext is refused.
      await assert.rejects(
        mseDial(listener.port, { provide: MseMethod.plaintext }),
        /closed during the handshake/,
      );
    });
  });
});
