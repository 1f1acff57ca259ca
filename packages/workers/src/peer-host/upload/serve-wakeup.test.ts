/**
 * Serving over a direct socket must not wait for the peer's next message. A session's flush writes
 * its queued blocks and serves more at once (its socket took the bytes); the blocks it queues then
 * must be written in a later turn of their own. The host's flush used to clear every session it had
 * flushed, those included, so they waited in the writer until the peer sent something (a request,
 * a `have`) or the host's tick: seeders stalled for up to a second with a megabyte queued. Here the
 * high-water mark is one block, the tick ten minutes away and the peer silent once it has asked:
 * every block must arrive all the same. The host dials the peer (a direct socket on any Node).
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { encodeHandshake, encodeInterested, encodeRequest, WireDecoder, type WireMessage } from '@tork/core';
import { buildTorrent, EventLog, seedingAddTorrent } from '@tork/testkit';
import { ThreadActorSystem } from '../../coordinator/thread-actor-system.js';

/** Pieces of 16 blocks: once a piece is read, its blocks are served from the cache in the flush itself. */
const PIECE = 256 * 1024;
const BLOCK = 16 * 1024;
const built = buildTorrent({
  pieceLength: PIECE,
  name: 'wake',
  files: [{ path: ['w.bin'], length: 700_000 }],
});
const infoHashHex = Buffer.from(built.infoHash).toString('hex');
const pieceCount = Math.ceil(built.data.length / PIECE);

describe('serving over a direct socket: no block waits for the peer to speak again', {
  timeout: 30_000,
}, () => {
  let dir: string;
  let system: ThreadActorSystem;
  let log: EventLog;
  let server: Server;
  const messages: WireMessage[] = [];
  let socket: Socket | undefined;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tork-wakeup-'));
    await mkdir(join(dir, 'wake'), { recursive: true });
    await writeFile(join(dir, 'wake', 'w.bin'), built.data);
    // A tick ten minutes away: nothing periodic can stand in for the wake-up under test.
    system = await ThreadActorSystem.start({
      workers: 1,
      host: { tickMs: 600_000, actor: { uploadHighWaterBytes: BLOCK } },
    });
    log = new EventLog(system);
    system.send([
      seedingAddTorrent(built, PIECE, [{ path: join(dir, 'wake', 'w.bin'), length: built.data.length }]),
    ]);
    server = createServer((accepted) => {
      socket = accepted;
      const decoder = new WireDecoder({ expectHandshake: true, pieceCount });
      accepted.on('data', (chunk: Buffer) => {
        for (const message of decoder.push(chunk)) messages.push(message);
      });
      accepted.on('error', () => {});
      accepted.write(
        encodeHandshake({
          infoHash: built.infoHash,
          peerId: new Uint8Array(20).fill(0x4c),
          fastExtension: true,
        }),
      );
    });
    server.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
  });

  after(async () => {
    socket?.destroy();
    server.close();
    await system.close();
    await rm(dir, { recursive: true, force: true });
  });

  const until = async (what: string, done: () => boolean, timeoutMs = 5_000): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    while (!done()) {
      if (Date.now() > deadline) {
        throw new Error(`no ${what} within ${timeoutMs} ms (last: ${messages.slice(-5).map((m) => m.type)})`);
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  };
  const count = (type: WireMessage['type']) => messages.filter((message) => message.type === type).length;

  it('every requested block arrives, with the peer silent after its requests', async () => {
    const actorId = 1;
    const port = (server.address() as { port: number }).port;
    system.send([{ type: 'connect', actorId, torrentId: infoHashHex, host: '127.0.0.1', port }]);
    await log.wait('connected', actorId);
    await until('have-all', () => count('have-all') === 1);
    socket!.write(encodeInterested());
    await log.wait('peer-interest', actorId, 5_000, (event) => event.interested);
    system.send([{ type: 'choke', actorId, choked: false }]);
    await until('unchoke', () => count('unchoke') === 1);

    // Every block in one write, then nothing more from the peer.
    const requests: Uint8Array[] = [];
    for (let piece = 0; piece < pieceCount; piece++) {
      const size = Math.min(PIECE, built.data.length - piece * PIECE);
      for (let begin = 0; begin < size; begin += BLOCK)
        requests.push(encodeRequest(piece, begin, Math.min(BLOCK, size - begin)));
    }
    socket!.write(Buffer.concat(requests));
    await until(`all ${requests.length} blocks`, () => count('piece') === requests.length, 3_000);
    for (const message of messages) {
      if (message.type !== 'piece') continue;
      const at = message.index * PIECE + message.begin;
      assert.ok(
        Buffer.from(message.block).equals(Buffer.from(built.data.subarray(at, at + message.block.length))),
        `block ${message.index}:${message.begin} byte-identical`,
      );
    }
  });
});
