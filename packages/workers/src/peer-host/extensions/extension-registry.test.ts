/**
 * BEP 10 extensions over a real loopback connection: a PeerHost (in this thread) whose sessions
 * carry a test extension dials a scripted peer that speaks raw wire.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import {
  decodeBencode,
  encodeBencode,
  encodeExtended,
  encodeHandshake,
  type HostCommand,
  type HostEvent,
  parseHostEventBatch,
  WireDecoder,
  type WireMessage,
} from '@tork/core';
import { PeerHost } from '../peer-host.js';
import { DEFAULT_ADVERTISED_REQUEST_QUEUE } from '../upload/uploader.js';
import { ExtensionRegistry } from './extension-registry.js';
import type { ExtensionHandler, ExtensionPeer, PeerExtension } from './peer-extension.js';

const torrentId = 'cd'.repeat(20);
const infoHash = new Uint8Array(20).fill(0xcd);
const addTorrent: HostCommand = {
  type: 'add-torrent',
  torrentId,
  infoHash,
  peerId: new Uint8Array(20).fill(0x2d),
  pieceLength: 16_384,
  length: 40_000,
  pieceHashes: new Uint8Array(60),
  have: new Uint8Array(1),
  files: [],
};

type Extended = Extract<WireMessage, { type: 'extended' }>;

/** Records what the peer sends it, and greets the peer as soon as it knows the peer's id. */
class TestExtension implements PeerExtension {
  readonly name = 'tork_test';
  readonly peers: ExtensionPeer[] = [];
  readonly handshakes: Readonly<Record<string, unknown>>[] = [];
  readonly messages: string[] = [];
  /** What `send` returned before the peer's handshake named us. */
  readonly sentEarly: boolean[] = [];

  open(peer: ExtensionPeer): ExtensionHandler {
    this.peers.push(peer);
    this.sentEarly.push(peer.send(Buffer.from('too early')));
    return {
      onHandshake: (handshake) => {
        this.handshakes.push(handshake);
        peer.send(Buffer.from('hello'));
      },
      // Copied: the payload is only valid during the call.
      onMessage: (payload) => this.messages.push(Buffer.from(payload).toString()),
    };
  }
}

/** One accepted connection: answers the handshake with its own and the given BEP 10 handshake. */
class ScriptedPeer {
  readonly messages: WireMessage[] = [];
  readonly #socket: Socket;
  readonly #decoder = new WireDecoder({ expectHandshake: true, pieceCount: 3 });

  constructor(socket: Socket, extendedHandshake: Uint8Array) {
    this.#socket = socket;
    socket.on('error', () => {});
    socket.on('data', (chunk) => {
      for (const message of this.#decoder.push(chunk)) {
        this.messages.push(message);
        if (message.type !== 'handshake') continue;
        const handshake = encodeHandshake({
          infoHash,
          peerId: new Uint8Array(20).fill(0x50),
          extensionProtocol: true,
          fastExtension: false,
        });
        socket.write(Buffer.concat([handshake, encodeExtended(0, extendedHandshake)]));
      }
    });
  }

  extended(extId: number): Extended[] {
    return this.messages.filter(
      (message): message is Extended => message.type === 'extended' && message.extId === extId,
    );
  }

  send(bytes: Uint8Array): void {
    this.#socket.write(bytes);
  }

  destroy(): void {
    this.#socket.destroy();
  }
}

async function until(what: string, done: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`no ${what} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('BEP 10 extensions in a session', { timeout: 30_000 }, () => {
  const extension = new TestExtension();
  const events: HostEvent[] = [];
  /** The BEP 10 handshake the next accepted connection sends. */
  const scripts: Uint8Array[] = [];
  const peers: ScriptedPeer[] = [];
  let host: PeerHost;
  let port: MessagePort;
  let server: Server;
  let serverPort = 0;
  let nextActor = 1;

  before(async () => {
    server = createServer((socket) => peers.push(new ScriptedPeer(socket, scripts.shift()!)));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const address = server.address();
    assert.ok(address && typeof address === 'object');
    serverPort = address.port;
    host = new PeerHost({ tickMs: 25 }, [extension]);
    const channel = new MessageChannel();
    port = channel.port1;
    port.on('message', (value: unknown) => events.push(...parseHostEventBatch(value).events));
    host.attach(channel.port2);
    port.postMessage({ commands: [addTorrent] });
  });

  after(async () => {
    host.shutdown();
    port.close();
    for (const peer of peers) peer.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  /** Dials the scripted peer, which answers with `extendedHandshake`. */
  async function connect(extendedHandshake: Uint8Array): Promise<{ actorId: number; peer: ScriptedPeer }> {
    const actorId = nextActor++;
    scripts.push(extendedHandshake);
    const accepted = peers.length;
    port.postMessage({
      commands: [{ type: 'connect', actorId, torrentId, host: '127.0.0.1', port: serverPort }],
    });
    await until('connection', () => peers.length > accepted);
    return { actorId, peer: peers[accepted]! };
  }

  it("advertises the extension, routes by our id, sends with the peer's, ignores unknown ids", async () => {
    const { actorId, peer } = await connect(
      encodeBencode({ m: { tork_test: 7, ut_other: 3 }, v: 'scripted' }),
    );
    await until('our extended handshake', () => peer.extended(0).length > 0);
    const ours = decodeBencode(peer.extended(0)[0]!.payload) as Record<string, unknown>;
    assert.deepEqual(ours.m, { tork_test: 1 }, 'm names the extension with its local id');
    assert.equal(ours.reqq, DEFAULT_ADVERTISED_REQUEST_QUEUE, "the session's own fields are there too");

    await until('the greeting', () => peer.extended(7).length > 0);
    assert.equal(Buffer.from(peer.extended(7)[0]!.payload).toString(), 'hello', "sent under the peer's id");
    const session = extension.peers.length - 1;
    assert.equal(extension.sentEarly[session], false, 'nothing is sent before the peer names the extension');
    assert.equal(extension.peers[session]!.remoteId, 7);
    assert.equal(
      extension.handshakes.at(-1)!.v instanceof Uint8Array,
      true,
      'the whole handshake is handed over',
    );

    // An id we never gave out, then ours: only ours arrives, and the connection stays up.
    peer.send(
      Buffer.concat([encodeExtended(9, Buffer.from('lost')), encodeExtended(1, Buffer.from('ping'))]),
    );
    await until('the ping', () => extension.messages.length > 0);
    assert.deepEqual(extension.messages, ['ping']);

    // BEP 10: a later handshake may disable an extension (id 0): nothing is sent to it then.
    peer.send(encodeExtended(0, encodeBencode({ m: { tork_test: 0 } })));
    await until('the second handshake', () => extension.handshakes.length === 2);
    assert.equal(extension.peers[session]!.remoteId, 0);
    assert.equal(extension.peers[session]!.send(Buffer.from('x')), false);
    assert.equal(
      events.some((event) => event.type === 'closed' && event.actorId === actorId),
      false,
      'still connected',
    );
  });

  it('drops a peer whose extended handshake is malformed with TORK_ERR_WIRE_PROTOCOL', async () => {
    const { actorId } = await connect(Buffer.from('d3:foo'));
    await until('closed', () => events.some((event) => event.type === 'closed' && event.actorId === actorId));
    const closed = events.find(
      (event): event is Extract<HostEvent, { type: 'closed' }> =>
        event.type === 'closed' && event.actorId === actorId,
    )!;
    assert.equal(closed.error.code, 'TORK_ERR_WIRE_PROTOCOL');
    assert.match(closed.error.message, /malformed extended handshake/);
  });

  it('refuses two extensions of one name', () => {
    assert.throws(
      () =>
        new ExtensionRegistry([extension, new TestExtension()], () => true, {
          actorId: 1,
          torrent: {} as never,
          emit: () => {},
          close: () => {},
        }),
      (error: unknown) => error instanceof Error && /distinct names/.test(error.message),
    );
  });
});
