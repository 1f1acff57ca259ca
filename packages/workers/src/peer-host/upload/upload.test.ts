/**
 * Uploading through the whole thread path: a raw TCP leecher dials the Listener, the connection
 * is relayed to a PeerSession in a peer-host thread, and blocks are read back from real files.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  encodeBencode,
  encodeBitfield,
  encodeCancel,
  encodeExtended,
  encodeHandshake,
  encodeHave,
  encodeHaveNone,
  encodeInterested,
  encodeKeepAlive,
  encodeRequest,
  type HostCommand,
  WireDecoder,
  type WireMessage,
} from '@tork/core';
import { buildTorrent, EventLog, seedingAddTorrent } from '@tork/testkit';
import { Listener } from '../../coordinator/listener.js';
import { ThreadActorSystem } from '../../coordinator/thread-actor-system.js';

const PIECE = 32 * 1024;
const built = buildTorrent({
  pieceLength: PIECE,
  name: 'up',
  files: [
    { path: ['a.bin'], length: 50_000 },
    { path: ['sub', 'b.bin'], length: 70_001 },
  ],
});
const infoHashHex = Buffer.from(built.infoHash).toString('hex');
const pieceCount = Math.ceil(built.data.length / PIECE);

/** A leecher speaking raw wire: handshake, then whatever the test sends. */
class Leecher {
  readonly messages: WireMessage[] = [];
  readonly #socket: Socket;
  readonly #decoder = new WireDecoder({ expectHandshake: true, pieceCount });
  #closed = false;
  #waiters: Array<() => void> = [];

  constructor(port: number, infoHash: Uint8Array = built.infoHash) {
    this.#socket = connect({ host: '127.0.0.1', port });
    this.#socket.on('data', (chunk) => {
      for (const message of this.#decoder.push(chunk)) this.messages.push(message);
      this.#wake();
    });
    this.#socket.on('close', () => {
      this.#closed = true;
      this.#wake();
    });
    this.#socket.on('error', () => {});
    this.send(
      encodeHandshake({
        infoHash,
        peerId: new Uint8Array(20).fill(0x4c),
        fastExtension: true,
        extensionProtocol: true,
      }),
    );
  }

  get closed(): boolean {
    return this.#closed;
  }

  send(bytes: Uint8Array): void {
    this.#socket.write(bytes);
  }

  async until(what: string, done: () => boolean, timeoutMs = 5_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!done()) {
      if (Date.now() > deadline) {
        const seen = this.messages.slice(-5).map((message) => message.type);
        throw new Error(`leecher: no ${what} within ${timeoutMs} ms (last: ${seen.join(', ')})`);
      }
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
  }

  count(type: WireMessage['type']): number {
    return this.messages.filter((message) => message.type === type).length;
  }

  destroy(): void {
    this.#socket.destroy();
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }
}

describe('uploading over a relayed connection', { timeout: 60_000 }, () => {
  let dir: string;
  let system: ThreadActorSystem;
  let listener: Listener;
  let log: EventLog;
  let nextActor = 1;
  const accept = true;
  /** Info-hashes the listener hands to the host. */
  const known = new Set([infoHashHex]);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tork-upload-'));
    await mkdir(join(dir, 'up', 'sub'), { recursive: true });
    await writeFile(join(dir, 'up', 'a.bin'), built.data.subarray(0, 50_000));
    await writeFile(join(dir, 'up', 'sub', 'b.bin'), built.data.subarray(50_000));
    system = await ThreadActorSystem.start({ workers: 1, host: { tickMs: 25, statsIntervalMs: 100 } });
    log = new EventLog(system);
    system.send([
      seedingAddTorrent(built, PIECE, [
        { path: join(dir, 'up', 'a.bin'), length: 50_000 },
        { path: join(dir, 'up', 'sub', 'b.bin'), length: 70_001 },
      ]),
    ]);
    listener = await Listener.listen({
      port: 0,
      host: '127.0.0.1',
      handshakeTimeoutMs: 500,
      onPeer: (peer) => {
        if (!accept || !known.has(peer.infoHashHex)) return false;
        system.send([
          {
            type: 'accept',
            actorId: nextActor++,
            torrentId: peer.infoHashHex,
            address: peer.address,
            relay: peer.relay,
            initial: peer.initial,
          },
        ]);
        return true;
      },
    });
  });

  after(async () => {
    await listener.close();
    await system.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('serves blocks byte-identical once unchoked; choked requests and cancels are rejected', async () => {
    const actorId = nextActor;
    const leecher = new Leecher(listener.port);
    try {
      await log.wait('connected', actorId);
      await leecher.until('handshake and have-all', () => leecher.count('have-all') === 1);
      const extended = leecher.messages.find((message) => message.type === 'extended');
      assert.ok(extended, 'BEP 10 handshake (advertising reqq) sent');

      leecher.send(encodeInterested());
      await log.wait('peer-interest', actorId, 5_000, (event) => event.interested);
      // Still choked: a request is rejected (BEP 6), not served, and not held against the peer.
      leecher.send(encodeRequest(0, 0, 16_384));
      await leecher.until('reject while choked', () => leecher.count('reject-request') === 1);

      system.send([{ type: 'choke', actorId, choked: false }]);
      await leecher.until('unchoke', () => leecher.count('unchoke') === 1);
      // Every block of every piece, the last one short.
      let requested = 0;
      for (let piece = 0; piece < pieceCount; piece++) {
        const size = Math.min(PIECE, built.data.length - piece * PIECE);
        for (let begin = 0; begin < size; begin += 16_384) {
          leecher.send(encodeRequest(piece, begin, Math.min(16_384, size - begin)));
          requested++;
        }
      }
      await leecher.until('every block', () => leecher.count('piece') === requested, 10_000);
      for (const message of leecher.messages) {
        if (message.type !== 'piece') continue;
        const at = message.index * PIECE + message.begin;
        assert.ok(
          Buffer.from(message.block).equals(Buffer.from(built.data.subarray(at, at + message.block.length))),
          `block ${message.index}:${message.begin} byte-identical`,
        );
      }
      const stats = await log.wait('stats', undefined, 2_000, (event) =>
        event.actors.some((actor) => actor.actorId === actorId && actor.uploaded >= built.data.length),
      );
      const mine = stats.actors.find((actor) => actor.actorId === actorId)!;
      assert.equal(mine.uploaded, built.data.length, 'uploaded counts payload bytes exactly');
      assert.equal(mine.peerInterested, true);
      assert.equal(mine.amChoking, false);

      // Choking drops the queue: requests sent after the choke are rejected, never served.
      system.send([{ type: 'choke', actorId, choked: true }]);
      await leecher.until('choke', () => leecher.count('choke') === 1);
      const rejectsBefore = leecher.count('reject-request');
      leecher.send(encodeRequest(1, 0, 16_384));
      leecher.send(encodeCancel(1, 0, 16_384));
      await leecher.until('reject after choke', () => leecher.count('reject-request') > rejectsBefore);
      assert.equal(leecher.count('piece'), requested, 'nothing served while choked');
    } finally {
      leecher.destroy();
    }
  });

  it('drops a peer that keeps making bad requests, with the reason', async () => {
    const actorId = nextActor;
    const leecher = new Leecher(listener.port);
    try {
      await log.wait('connected', actorId);
      system.send([{ type: 'choke', actorId, choked: false }]);
      await leecher.until('unchoke', () => leecher.count('unchoke') === 1);
      // Beyond the piece's end: each refused (BEP 6 reject); past the limit of 32, dropped.
      for (let i = 0; i < 40; i++) leecher.send(encodeRequest(0, PIECE - 100, 16_384));
      const closed = await log.wait('closed', actorId, 5_000);
      assert.equal(closed.error.code, 'TORK_ERR_WIRE_PROTOCOL');
      assert.match(
        closed.error.message,
        /33 bad requests; the last requested 16384 bytes at 32668 of piece 0/,
      );
      await leecher.until('connection closed', () => leecher.closed);
    } finally {
      leecher.destroy();
    }
  });

  it('drops a peer at once for a request over 128 KiB (the decoder caps it before anything else)', async () => {
    const actorId = nextActor;
    const leecher = new Leecher(listener.port);
    try {
      await log.wait('connected', actorId);
      leecher.send(encodeRequest(0, 0, 256 * 1024));
      const closed = await log.wait('closed', actorId, 5_000);
      assert.equal(closed.error.code, 'TORK_ERR_WIRE_PROTOCOL');
      assert.match(closed.error.message, /262144 bytes/);
    } finally {
      leecher.destroy();
    }
  });

  it('takes a bitfield sent again mid-connection (aria2c does) as more pieces, not a protocol error', async () => {
    const actorId = nextActor;
    const leecher = new Leecher(listener.port);
    try {
      await log.wait('connected', actorId);
      leecher.send(encodeHaveNone());
      leecher.send(encodeInterested());
      await log.wait('peer-interest', actorId);
      leecher.send(encodeBitfield(Uint8Array.of(0b1010_0000)));
      const first = await log.wait('bitfield', actorId, 5_000, (event) => event.bitfield[0] === 0b1010_0000);
      assert.ok(first);
      leecher.send(encodeBitfield(Uint8Array.of(0b0100_0000)));
      // Merged: pieces 0 and 2 stay, piece 1 joins.
      await log.wait('bitfield', actorId, 5_000, (event) => event.bitfield[0] === 0b1110_0000);
      assert.equal(log.of('closed', actorId).length, 0, 'still connected');
    } finally {
      leecher.destroy();
    }
  });

  it('drops a peer that floods us with redundant have and keep-alive messages', async () => {
    const actorId = nextActor;
    const leecher = new Leecher(listener.port);
    try {
      await log.wait('connected', actorId);
      leecher.send(encodeHave(0));
      // 3,000 messages in one go: a have it already sent, and keep-alives.
      const flood = Buffer.concat(
        Array.from({ length: 1_500 }, () => Buffer.concat([encodeHave(0), encodeKeepAlive()])),
      );
      leecher.send(flood);
      const closed = await log.wait('closed', actorId, 5_000);
      assert.equal(closed.error.code, 'TORK_ERR_WIRE_PROTOCOL');
      assert.match(closed.error.message, /flooded us with more than 1000 redundant/);
    } finally {
      leecher.destroy();
    }
  });

  it('drops a peer whose BEP 10 handshake is over 64 KiB (before decoding it)', async () => {
    const actorId = nextActor;
    const leecher = new Leecher(listener.port);
    try {
      await log.wait('connected', actorId);
      // A valid bencoded dict of 100 KiB: within the wire cap (128 KiB), over the handshake's.
      const big = encodeBencode({ m: {}, v: 'x'.repeat(100 * 1024) });
      leecher.send(encodeExtended(0, big));
      const closed = await log.wait('closed', actorId, 5_000);
      assert.equal(closed.error.code, 'TORK_ERR_WIRE_PROTOCOL');
      assert.match(closed.error.message, /malformed extended handshake/);
    } finally {
      leecher.destroy();
    }
  });

  it('refuses a handshake for a torrent it does not have, and one that never comes', async () => {
    const accepted = listener.stats().accepted;
    const stranger = new Leecher(listener.port, new Uint8Array(20).fill(0x99));
    const silent = connect({ host: '127.0.0.1', port: listener.port });
    silent.on('error', () => {});
    const silentClosed = new Promise<void>((resolve) => silent.once('close', () => resolve()));
    try {
      await stranger.until('close', () => stranger.closed);
      assert.equal(stranger.count('handshake'), 0, 'no handshake answers an unknown info-hash');
      await silentClosed; // the 500 ms handshake timeout
      assert.equal(listener.stats().accepted, accepted);
    } finally {
      stranger.destroy();
      silent.destroy();
    }
  });

  it('reads an unselected file from the part file at its offset, and takes new file places on a re-add', async () => {
    // Same layout, other bytes: another torrent on the same host.
    const other = buildTorrent({
      pieceLength: PIECE,
      name: 'up',
      seed: 9,
      files: [
        { path: ['a.bin'], length: 50_000 },
        { path: ['sub', 'b.bin'], length: 70_001 },
      ],
    });
    const otherHex = Buffer.from(other.infoHash).toString('hex');
    known.add(otherHex);
    const aPath = join(dir, 'other-a.bin');
    const parts = join(dir, 'other.parts');
    const empty = join(dir, 'other-empty.bin');
    await writeFile(aPath, other.data.subarray(0, 50_000));
    await writeFile(parts, other.data); // b.bin's bytes at their torrent offset, 50,000
    await writeFile(empty, new Uint8Array(0));
    const add = (b: { path: string; length: number; offset?: number }): HostCommand =>
      seedingAddTorrent(other, PIECE, [{ path: aPath, length: 50_000 }, b]);
    // First b.bin "lives" in an empty file (nothing was read from it), then it moves to the part
    // file at offset 50,000: every block must come from there.
    system.send([add({ path: empty, length: 70_001 }), add({ path: parts, length: 70_001, offset: 50_000 })]);
    const actorId = nextActor;
    const leecher = new Leecher(listener.port, other.infoHash);
    try {
      await log.wait('connected', actorId);
      await leecher.until('have-all', () => leecher.count('have-all') === 1);
      leecher.send(encodeInterested());
      await log.wait('peer-interest', actorId, 5_000, (event) => event.interested);
      system.send([{ type: 'choke', actorId, choked: false }]);
      await leecher.until('unchoke', () => leecher.count('unchoke') === 1);
      let requested = 0;
      for (let piece = 1; piece < pieceCount; piece++) {
        const size = Math.min(PIECE, other.data.length - piece * PIECE);
        for (let begin = 0; begin < size; begin += 16_384) {
          leecher.send(encodeRequest(piece, begin, Math.min(16_384, size - begin)));
          requested++;
        }
      }
      await leecher.until('every block of b.bin', () => leecher.count('piece') === requested, 10_000);
      for (const message of leecher.messages) {
        if (message.type !== 'piece') continue;
        const at = message.index * PIECE + message.begin;
        assert.ok(
          Buffer.from(message.block).equals(Buffer.from(other.data.subarray(at, at + message.block.length))),
          `block ${message.index}:${message.begin} byte-identical`,
        );
      }
      assert.equal(log.of('unreadable', actorId).length, 0, 'no piece was refused');
    } finally {
      leecher.destroy();
    }
  });
});
