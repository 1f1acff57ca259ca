/**
 * `ut_pex` (BEP 11) in a real PeerHost (in this thread) that dials scripted peers speaking raw
 * wire: offered only for public torrents with peer exchange on; what it sends (the difference
 * from the coordinator's `torrent-peers` list, never the peer itself, at most one message per
 * interval, 50 + 50 per message); what it receives (a `pex-peers` event; a message with
 * thousands of peers cut to the cap; a malformed one drops the peer; too many are ignored).
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import {
  decodeBencode,
  decodePexMessage,
  encodeBencode,
  encodeExtended,
  encodeHandshake,
  encodePexMessage,
  type HostCommand,
  type HostEvent,
  MAX_PEX_PEERS_PER_MESSAGE,
  PexFlag,
  type PexMessage,
  type PexPeer,
  parseHostEventBatch,
  type SwarmPeer,
  WireDecoder,
  type WireMessage,
} from '@tork/core';
import { PeerHost } from '../peer-host.js';
import { UtPexExtension } from './ut-pex.js';

/** Short, so the test sees a second message; the default is BEP 11's minute. */
const INTERVAL_MS = 400;
/** The id the scripted peers give ut_pex in their BEP 10 handshake. */
const PEER_PEX_ID = 9;

function torrent(byte: number, extra: Partial<Extract<HostCommand, { type: 'add-torrent' }>>) {
  const infoHash = new Uint8Array(20).fill(byte);
  const command: HostCommand = {
    type: 'add-torrent',
    torrentId: Buffer.from(infoHash).toString('hex'),
    infoHash,
    peerId: new Uint8Array(20).fill(0x2d),
    pieceLength: 16_384,
    length: 40_000,
    pieceHashes: new Uint8Array(60),
    have: new Uint8Array(1),
    files: [],
    ...extra,
  };
  return command;
}
const publicTorrent = torrent(0xa1, { pex: true });
const privateTorrent = torrent(0xa2, { pex: true, private: true });
const pexOffTorrent = torrent(0xa3, { pex: false });

type Extended = Extract<WireMessage, { type: 'extended' }>;

/** One accepted connection: answers the handshake with its own and a BEP 10 handshake naming ut_pex. */
class ScriptedPeer {
  readonly messages: WireMessage[] = [];
  /** When each ut_pex message arrived (Date.now()): the interval is measured between arrivals. */
  readonly pexArrivals: number[] = [];
  readonly #socket: Socket;
  readonly #decoder = new WireDecoder({ expectHandshake: true, pieceCount: 3 });

  constructor(socket: Socket) {
    this.#socket = socket;
    socket.on('error', () => {});
    socket.on('data', (chunk) => {
      for (const message of this.#decoder.push(chunk)) {
        this.messages.push(message);
        if (message.type === 'extended' && message.extId === PEER_PEX_ID) this.pexArrivals.push(Date.now());
        if (message.type !== 'handshake') continue;
        const handshake = encodeHandshake({
          infoHash: message.infoHash,
          peerId: new Uint8Array(20).fill(0x50),
          extensionProtocol: true,
          fastExtension: false,
        });
        const extended = encodeBencode({ m: { ut_pex: PEER_PEX_ID }, v: 'scripted' });
        socket.write(Buffer.concat([handshake, encodeExtended(0, extended)]));
      }
    });
  }

  /** Our (tork's) BEP 10 handshake, decoded. */
  theirHandshake(): Record<string, unknown> | undefined {
    const message = this.messages.find(
      (candidate): candidate is Extended => candidate.type === 'extended' && candidate.extId === 0,
    );
    return message && (decodeBencode(message.payload) as Record<string, unknown>);
  }

  /** The ut_pex messages tork sent, decoded. */
  pex(): PexMessage[] {
    return this.messages
      .filter((message): message is Extended => message.type === 'extended' && message.extId === PEER_PEX_ID)
      .map((message) => decodePexMessage(message.payload));
  }

  /** Sends a ut_pex payload under tork's id for it (or `id`, when tork gave none). */
  sendPex(payload: Uint8Array, id?: number): void {
    const m = this.theirHandshake()?.m as Record<string, number>;
    this.#socket.write(encodeExtended(id ?? m.ut_pex!, payload));
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

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function swarmPeer(actorId: number, index: number, flags = 0): SwarmPeer {
  return { actorId, host: `10.0.${index >> 8}.${index & 0xff}`, port: 6881, flags };
}

describe('ut_pex in a session (BEP 11)', { timeout: 60_000 }, () => {
  const events: HostEvent[] = [];
  const peers: ScriptedPeer[] = [];
  let host: PeerHost;
  let port: MessagePort;
  let server: Server;
  let serverPort = 0;
  let nextActor = 1;

  before(async () => {
    server = createServer((socket) => peers.push(new ScriptedPeer(socket)));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const address = server.address();
    assert.ok(address && typeof address === 'object');
    serverPort = address.port;
    host = new PeerHost({ tickMs: 25 }, [new UtPexExtension({ intervalMs: INTERVAL_MS })]);
    const channel = new MessageChannel();
    port = channel.port1;
    port.on('message', (value: unknown) => events.push(...parseHostEventBatch(value).events));
    host.attach(channel.port2);
    port.postMessage({ commands: [publicTorrent, privateTorrent, pexOffTorrent] });
  });

  after(async () => {
    host.shutdown();
    port.close();
    for (const peer of peers) peer.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  async function connect(command = publicTorrent): Promise<{ actorId: number; peer: ScriptedPeer }> {
    const actorId = nextActor++;
    const accepted = peers.length;
    port.postMessage({
      commands: [
        { type: 'connect', actorId, torrentId: command.torrentId, host: '127.0.0.1', port: serverPort },
      ],
    });
    await until('connection', () => peers.length > accepted);
    const peer = peers[accepted]!;
    await until('our extended handshake', () => peer.theirHandshake() !== undefined);
    return { actorId, peer };
  }

  function list(peersOfTorrent: SwarmPeer[], command = publicTorrent): void {
    port.postMessage({
      commands: [{ type: 'torrent-peers', torrentId: command.torrentId, peers: peersOfTorrent }],
    });
  }

  const closedEvent = (actorId: number) =>
    events.find(
      (event): event is Extract<HostEvent, { type: 'closed' }> =>
        event.type === 'closed' && event.actorId === actorId,
    );
  const pexEvents = (actorId: number) =>
    events.filter(
      (event): event is Extract<HostEvent, { type: 'pex-peers' }> =>
        event.type === 'pex-peers' && event.actorId === actorId,
    );

  it('is offered in m for a public torrent only: not for a private one, nor with peer exchange off', async () => {
    const open = await connect(publicTorrent);
    assert.equal(typeof (open.peer.theirHandshake()!.m as Record<string, unknown>).ut_pex, 'number');
    for (const closed of [privateTorrent, pexOffTorrent]) {
      const { actorId, peer } = await connect(closed);
      assert.deepEqual(peer.theirHandshake()!.m, {}, 'no ut_pex in m');
      // A PEX message anyway (under an id we never gave): ignored, nothing reaches the coordinator.
      peer.sendPex(encodePexMessage([{ host: '10.9.9.9', port: 1, flags: 0 }], []), 1);
      list([swarmPeer(99, 1)], closed);
      await sleep(INTERVAL_MS / 2);
      assert.deepEqual(pexEvents(actorId), []);
      assert.deepEqual(peer.pex(), [], 'nothing sent to it');
      assert.equal(closedEvent(actorId), undefined, 'still connected');
    }
  });

  it('sends the difference from the last message, never the peer itself (nor its twin connection), at most once per interval', async () => {
    const { actorId, peer } = await connect();
    const itself = { actorId, host: '127.0.0.1', port: serverPort, flags: PexFlag.reachable };
    // A second connection to the same peer (both ends dialled): its address is the peer's own.
    const twin = { ...itself, actorId: actorId + 99 };
    const b = swarmPeer(actorId + 100, 1, PexFlag.seed | PexFlag.reachable);
    const c = swarmPeer(actorId + 101, 2);
    list([twin, itself, b, c]);
    await until('a first PEX message', () => peer.pex().length === 1);
    const toPex = ({ host, port, flags }: SwarmPeer): PexPeer => ({ host, port, flags });
    assert.deepEqual(peer.pex()[0], { added: [toPex(b), toPex(c)], dropped: [], omitted: 0 });

    // c leaves, d comes: told in one message, not before the interval is over.
    const d = swarmPeer(actorId + 102, 3);
    list([itself, b, d]);
    await until('a second PEX message', () => peer.pex().length === 2);
    // Between arrivals, not detections: a poll late under load would shorten the gap measured.
    const apart = peer.pexArrivals[1]! - peer.pexArrivals[0]!;
    assert.ok(apart >= INTERVAL_MS * 0.9, `${apart} ms apart`);
    assert.deepEqual(peer.pex()[1], {
      added: [toPex(d)],
      dropped: [{ host: c.host, port: c.port }],
      omitted: 0,
    });

    // The same list again: nothing to say, nothing sent.
    list([itself, b, d]);
    await sleep(INTERVAL_MS * 2);
    assert.equal(peer.pex().length, 2);
  });

  it('sends at most 50 added and 50 dropped per message; the rest follows', async () => {
    const many = Array.from({ length: 120 }, (_, i) => swarmPeer(1_000 + i, 100 + i));
    list(many);
    const { actorId, peer } = await connect();
    await until('three messages', () => peer.pex().length === 3, 10_000);
    assert.deepEqual(
      peer.pex().map((message) => message.added.length),
      [50, 50, 20],
    );
    assert.equal(new Set(peer.pex().flatMap((message) => message.added.map((p) => p.host))).size, 120);
    list([]);
    await until('the drops', () => peer.pex().length === 6, 10_000);
    assert.deepEqual(
      peer
        .pex()
        .slice(3)
        .map((message) => message.dropped.length),
      [50, 50, 20],
    );
    assert.equal(closedEvent(actorId), undefined);
  });

  it("hands a peer's message to the coordinator as a pex-peers event", async () => {
    const { actorId, peer } = await connect();
    peer.sendPex(
      encodePexMessage(
        [
          { host: '10.1.1.1', port: 6881, flags: PexFlag.seed },
          { host: '2001:db8::1', port: 51413, flags: 0 },
        ],
        [{ host: '10.1.1.2', port: 6882 }],
      ),
    );
    await until('a pex-peers event', () => pexEvents(actorId).length === 1);
    assert.deepEqual(pexEvents(actorId)[0], {
      type: 'pex-peers',
      actorId,
      added: [
        { host: '10.1.1.1', port: 6881, flags: PexFlag.seed },
        { host: '2001:db8::1', port: 51413, flags: 0 },
      ],
      dropped: [{ host: '10.1.1.2', port: 6882 }],
    });
  });

  it('hostile: a message with thousands of peers gives the coordinator MAX_PEX_PEERS_PER_MESSAGE, and the peer stays', async () => {
    const { actorId, peer } = await connect();
    const thousands = Array.from({ length: 17_000 }, (_, i) => ({
      host: `10.${(i >> 16) & 0xff}.${(i >> 8) & 0xff}.${i & 0xff}`,
      port: 6881,
      flags: 0,
    }));
    peer.sendPex(encodePexMessage(thousands, []));
    await until('a pex-peers event', () => pexEvents(actorId).length === 1);
    assert.equal(pexEvents(actorId)[0]!.added.length, MAX_PEX_PEERS_PER_MESSAGE);
    await sleep(100);
    assert.equal(
      closedEvent(actorId),
      undefined,
      'a well-formed message, however large, does not drop the peer',
    );
  });

  it('ignores messages beyond 4 per interval (undecoded)', async () => {
    const { actorId, peer } = await connect();
    for (let i = 0; i < 7; i++)
      peer.sendPex(encodePexMessage([{ host: `10.2.0.${i}`, port: 1, flags: 0 }], []));
    await until('four pex-peers events', () => pexEvents(actorId).length === 4);
    await sleep(100);
    assert.equal(pexEvents(actorId).length, 4);
    // A new interval: heard again.
    await sleep(INTERVAL_MS);
    peer.sendPex(encodePexMessage([{ host: '10.2.1.1', port: 1, flags: 0 }], []));
    await until('a fifth event', () => pexEvents(actorId).length === 5);
  });

  it('drops a peer whose PEX message is malformed with TORK_ERR_WIRE_PROTOCOL', async () => {
    const { actorId, peer } = await connect();
    peer.sendPex(encodeBencode({ added: new Uint8Array(5) }));
    await until('closed', () => closedEvent(actorId) !== undefined);
    assert.equal(closedEvent(actorId)!.error.code, 'TORK_ERR_WIRE_PROTOCOL');
    assert.match(closedEvent(actorId)!.error.message, /PEX message: added of 5 bytes/);
  });
});
