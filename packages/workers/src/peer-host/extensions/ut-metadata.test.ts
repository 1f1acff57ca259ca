/**
 * BEP 9 over a real loopback connection: a PeerHost (in this thread) with the ut_metadata
 * extension, against a scripted peer that serves (or mangles, or withholds) an info dictionary of
 * three metadata pieces, and that asks for ours.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import {
  decodeBencode,
  decodeMetadataMessage,
  encodeBencode,
  encodeExtended,
  encodeHandshake,
  encodeMetadataData,
  encodeMetadataReject,
  encodeMetadataRequest,
  type HostCommand,
  type HostEvent,
  MAX_METADATA_BYTES,
  METADATA_PIECE_BYTES,
  metadataPieceSize,
  parseHostEventBatch,
  WireDecoder,
  type WireMessage,
} from '@tork/core';
import { PeerHost } from '../peer-host.js';
import { MAX_METADATA_REQUESTS_PER_SECOND, UtMetadata } from './ut-metadata.js';

/** An info dictionary of 2,000 pieces (≈ 40 KB: three metadata pieces), no data needed. */
function infoDict(seed: number): Uint8Array {
  const pieces = createHash('sha256').update(String(seed)).digest();
  const hashes = new Uint8Array(2_000 * 20);
  for (let i = 0; i < hashes.length; i++) hashes[i] = pieces[i % 32]! ^ (i & 0xff);
  return encodeBencode({
    length: 2_000 * 16_384,
    name: `meta-${seed}`,
    'piece length': 16_384,
    pieces: hashes,
  });
}

const info = infoDict(1);
const infoHash = createHash('sha1').update(info).digest();
const torrentId = infoHash.toString('hex');
/** The same size, another dictionary: it does not hash to the info-hash. */
const wrong = infoDict(2);
assert.equal(wrong.length, info.length);

type Mode =
  | 'good'
  | 'wrong'
  | 'oversize'
  | 'out-of-range'
  | 'silent'
  | 'reject'
  | 'huge-size'
  | 'asks'
  | 'floods';

/** One accepted connection that plays `mode`. */
class ScriptedPeer {
  readonly messages: WireMessage[] = [];
  readonly #socket: Socket;
  readonly #decoder = new WireDecoder({ expectHandshake: true });
  #ourId = 0;

  constructor(
    socket: Socket,
    readonly mode: Mode,
  ) {
    this.#socket = socket;
    socket.on('error', () => {});
    socket.on('data', (chunk) => {
      for (const message of this.#decoder.push(chunk)) {
        this.messages.push(message);
        if (message.type === 'handshake') this.#greet();
        else if (message.type === 'extended' && message.extId === 0) {
          const theirs = decodeBencode(message.payload) as { m?: Record<string, number> };
          this.#ourId = theirs.m?.ut_metadata ?? 0;
          if (mode === 'asks' && this.#ourId !== 0)
            for (let piece = 0; piece < 4; piece++) this.send(encodeMetadataRequest(piece));
          if (mode === 'floods' && this.#ourId !== 0) {
            // One write: the burst arrives at once, well inside the one-second window even on a
            // loaded machine (written one by one, a stalled host once read them over a second).
            const burst = Array.from({ length: MAX_METADATA_REQUESTS_PER_SECOND + 36 }, () =>
              encodeExtended(this.#ourId, encodeMetadataRequest(0)),
            );
            this.#socket.write(Buffer.concat(burst));
          }
        } else if (message.type === 'extended' && message.extId === 7) this.#answer(message.payload);
      }
    });
  }

  /** What the host sent under our ut_metadata id (7). */
  metadataMessages() {
    return this.messages
      .filter((message) => message.type === 'extended' && message.extId === 7)
      .map((message) => decodeMetadataMessage((message as { payload: Uint8Array }).payload));
  }

  /** The host's id for ut_metadata, from its extended handshake (0: not offered). */
  get ourId(): number {
    return this.#ourId;
  }

  /** Whether the host's extended handshake arrived. */
  get greeted(): boolean {
    return this.messages.some((message) => message.type === 'extended' && message.extId === 0);
  }

  send(payload: Uint8Array): void {
    this.#socket.write(encodeExtended(this.#ourId, payload));
  }

  destroy(): void {
    this.#socket.destroy();
  }

  #greet(): void {
    const handshake = encodeHandshake({
      infoHash,
      peerId: new Uint8Array(20).fill(0x50),
      extensionProtocol: true,
      fastExtension: false,
    });
    const size = this.mode === 'huge-size' ? MAX_METADATA_BYTES + 1 : info.length;
    const ours =
      this.mode === 'asks' || this.mode === 'floods'
        ? { m: { ut_metadata: 7 } }
        : { m: { ut_metadata: 7 }, metadata_size: size };
    this.#socket.write(Buffer.concat([handshake, encodeExtended(0, encodeBencode(ours))]));
  }

  #answer(payload: Uint8Array): void {
    const request = decodeMetadataMessage(payload);
    if (request.type !== 'request') return;
    const { piece } = request;
    const from = piece * METADATA_PIECE_BYTES;
    const source = this.mode === 'wrong' ? wrong : info;
    const bytes = source.subarray(from, from + metadataPieceSize(source.length, piece));
    switch (this.mode) {
      case 'silent':
        return;
      case 'reject':
        this.send(encodeMetadataReject(piece));
        return;
      case 'oversize':
        this.send(encodeMetadataData(piece, info.length, new Uint8Array(METADATA_PIECE_BYTES + 1)));
        return;
      case 'out-of-range':
        this.send(encodeMetadataData(99, info.length, bytes));
        return;
      default:
        this.send(encodeMetadataData(piece, source.length, bytes));
    }
  }
}

async function until(what: string, done: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`no ${what} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('ut_metadata (BEP 9) in a session', { timeout: 30_000 }, () => {
  const events: HostEvent[] = [];
  const modes: Mode[] = [];
  const peers: ScriptedPeer[] = [];
  let host: PeerHost;
  let port: MessagePort;
  let server: Server;
  let serverPort = 0;
  let nextActor = 1;

  before(async () => {
    server = createServer((socket) => peers.push(new ScriptedPeer(socket, modes.shift()!)));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    serverPort = (server.address() as { port: number }).port;
    host = new PeerHost({ tickMs: 50 }, [new UtMetadata({ pieceTimeoutMs: 500 })]);
    const channel = new MessageChannel();
    port = channel.port1;
    port.on('message', (value: unknown) => events.push(...parseHostEventBatch(value).events));
    host.attach(channel.port2);
  });
  after(() => {
    host.shutdown();
    port.close();
    for (const peer of peers) peer.destroy();
    server.close();
  });

  function command(commands: HostCommand[]): void {
    port.postMessage({ commands });
  }

  /** A magnet torrent's actor dialling a peer that plays `mode`; resolves with its actor id. */
  async function dial(mode: Mode, torrent: HostCommand): Promise<number> {
    modes.push(mode);
    const actorId = nextActor++;
    command([torrent, { type: 'connect', actorId, torrentId, host: '127.0.0.1', port: serverPort }]);
    await until('connected', () =>
      events.some((event) => event.type === 'connected' && event.actorId === actorId),
    );
    return actorId;
  }

  const magnet: HostCommand = {
    type: 'add-magnet',
    torrentId,
    infoHash,
    peerId: new Uint8Array(20).fill(0x2d),
  };
  const ofActor = <T extends HostEvent['type']>(type: T, actorId: number) =>
    events.find((event) => event.type === type && 'actorId' in event && event.actorId === actorId) as
      | Extract<HostEvent, { type: T }>
      | undefined;

  it('offers, then fetches on command: three pieces, checked against the info-hash, the dictionary transferred', async () => {
    const actorId = await dial('good', magnet);
    await until('metadata-available', () => ofActor('metadata-available', actorId) !== undefined);
    assert.equal(ofActor('metadata-available', actorId)!.size, info.length);
    assert.equal(
      peers.at(-1)!.messages.filter((message) => message.type === 'extended' && message.extId === 7).length,
      0,
      'nothing asked before the command',
    );
    command([{ type: 'fetch-metadata', actorId }]);
    await until('metadata', () => ofActor('metadata', actorId) !== undefined);
    assert.deepEqual(new Uint8Array(ofActor('metadata', actorId)!.info), new Uint8Array(info));
    assert.deepEqual(
      peers
        .at(-1)!
        .metadataMessages()
        .map((message) => message.piece),
      [0, 1, 2],
    );
  });

  for (const [mode, code, pattern] of [
    ['wrong', 'TORK_ERR_WIRE_PROTOCOL', /does not hash to the info-hash/],
    ['oversize', 'TORK_ERR_WIRE_PROTOCOL', /expected 16384/],
    ['out-of-range', 'TORK_ERR_WIRE_PROTOCOL', /out of range|beyond/],
    ['silent', 'TORK_ERR_METADATA', /no metadata piece for 0\.5 s/],
    ['reject', 'TORK_ERR_METADATA', /refused/],
  ] as const) {
    it(`drops a peer whose metadata is ${mode}: ${code}`, async () => {
      const actorId = await dial(mode, magnet);
      await until('metadata-available', () => ofActor('metadata-available', actorId) !== undefined);
      command([{ type: 'fetch-metadata', actorId }]);
      await until('closed', () => ofActor('closed', actorId) !== undefined);
      const closed = ofActor('closed', actorId)!;
      assert.equal(closed.error.code, code);
      assert.match(closed.error.message, pattern);
      if (mode === 'wrong')
        assert.equal(closed.error.details.cause, 'bad-metadata', 'the coordinator bans on this cause');
      assert.equal(ofActor('metadata', actorId), undefined, 'nothing reached the coordinator');
    });
  }

  it('drops a peer that offers metadata over MAX_METADATA_BYTES, before allocating it', async () => {
    const actorId = await dial('huge-size', magnet);
    await until('closed', () => ofActor('closed', actorId) !== undefined);
    assert.match(ofActor('closed', actorId)!.error.message, /the cap is/);
    assert.equal(ofActor('metadata-available', actorId), undefined);
  });

  it('serves its own metadata (public torrent): pieces in range as data, beyond as rejects; none for a private one', async () => {
    const serving: HostCommand = {
      type: 'add-torrent',
      torrentId,
      infoHash,
      peerId: new Uint8Array(20).fill(0x2d),
      pieceLength: 16_384,
      length: 2_000 * 16_384,
      pieceHashes: new Uint8Array(40_000),
      have: new Uint8Array(250),
      files: [],
      info,
    };
    command([{ type: 'remove-torrent', torrentId }]);
    const actorId = await dial('asks', serving);
    const peer = peers.at(-1)!;
    await until('four answers', () => peer.metadataMessages().length === 4);
    const replies = peer.metadataMessages();
    assert.deepEqual(
      replies.map((reply) => reply.type),
      ['data', 'data', 'data', 'reject'],
    );
    const joined = Buffer.concat(
      replies.flatMap((reply) => (reply.type === 'data' ? [Buffer.from(reply.data)] : [])),
    );
    assert.ok(joined.equals(Buffer.from(info)), 'the dictionary, byte for byte');
    void actorId;
    command([{ type: 'remove-torrent', torrentId }, { ...serving, private: true } as HostCommand]);
    await dial('asks', { ...serving, private: true } as HostCommand);
    const secret = peers.at(-1)!;
    await until('extended handshake', () => secret.greeted);
    assert.equal(secret.ourId, 0, 'a private torrent offers no ut_metadata');

    // A peer asking too fast gets rejects beyond MAX_METADATA_REQUESTS_PER_SECOND.
    command([{ type: 'remove-torrent', torrentId }]);
    await dial('floods', serving);
    const flood = peers.at(-1)!;
    const total = MAX_METADATA_REQUESTS_PER_SECOND + 36;
    await until('every answer', () => flood.metadataMessages().length === total);
    const answers = flood.metadataMessages();
    assert.equal(answers.filter((answer) => answer.type === 'data').length, MAX_METADATA_REQUESTS_PER_SECOND);
    assert.equal(answers.filter((answer) => answer.type === 'reject').length, 36);
  });
});

/**
 * Runs in a fresh process, whose clock (`performance.now()`, as in every thread of it) starts near
 * 0: 64 requests at once, then, once the process is 1 s old, 36 more. The window the first
 * request opened is still open then, so those are refused.
 */
const YOUNG_PROCESS_FLOOD = `
const [handlerUrl, coreUrl] = process.argv.slice(1);
const { UtMetadataHandler } = await import(handlerUrl);
const { decodeMetadataMessage, encodeMetadataRequest } = await import(coreUrl);
const answers = { data: 0, reject: 0 };
const peer = {
  remoteId: 7,
  actorId: 1,
  torrent: { private: false, metadataOnly: false, metadata: new Uint8Array(4 * 16384) },
  send(payload) { answers[decodeMetadataMessage(payload, 1 << 20).type]++; return true; },
  emit() {},
  close() {},
};
const handler = new UtMetadataHandler(peer);
const first = performance.now();
for (let i = 0; i < 64; i++) handler.onMessage(encodeMetadataRequest(0));
while (performance.now() < 1000) await new Promise((resolve) => setTimeout(resolve, Math.min(20, 1000 - performance.now())));
const late = performance.now();
for (let i = 0; i < 36; i++) handler.onMessage(encodeMetadataRequest(0));
console.log(JSON.stringify({ ...answers, first, late }));
`;

describe('ut_metadata: serving rate', () => {
  it("opens its one-second window at the first request, not at the process's start", async () => {
    // A loaded machine may start the process or its timer late: then the late requests fall in a
    // new window and prove nothing, so up to three fresh processes are tried.
    for (let attempt = 1; ; attempt++) {
      const child = spawn(
        process.execPath,
        [
          '--input-type=module',
          '-e',
          YOUNG_PROCESS_FLOOD,
          new URL('./ut-metadata.js', import.meta.url).href,
          import.meta.resolve('@tork/core'),
        ],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
      });
      const [code] = (await once(child, 'exit')) as [number | null];
      assert.equal(code, 0, out);
      const result = JSON.parse(out) as { data: number; reject: number; first: number; late: number };
      if (result.first < 1000 && result.late - result.first < 1000) {
        assert.equal(result.data, MAX_METADATA_REQUESTS_PER_SECOND, out);
        assert.equal(result.reject, 36, out);
        return;
      }
      assert.ok(attempt < 3, `the process never ran the two bursts within one second: ${out}`);
    }
  });
});
