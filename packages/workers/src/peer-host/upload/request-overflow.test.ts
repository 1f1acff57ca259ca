/**
 * Peers that keep more requests outstanding than the `reqq` we advertise (rtorrent keeps ~1,200
 * whatever it is told; aria2c re-requests rejected blocks at once). None may lose a request
 * silently: each scripted leecher here keeps far more outstanding than the host holds, behaves as
 * BEP 3/6 say (a choke voids its requests, a reject voids one) and must still get every block.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { type ActorStats, encodeHandshake, encodeInterested, encodeRequest, WireDecoder } from '@tork/core';
import { buildTorrent, EventLog, seedingAddTorrent } from '@tork/testkit';
import { Listener } from '../../coordinator/listener.js';
import { ThreadActorSystem, type ThreadActorSystemOptions } from '../../coordinator/thread-actor-system.js';

const PIECE = 64 * 1024;
const BLOCK = 16 * 1024;

interface Served {
  readonly blocks: number;
  readonly chokes: number;
  readonly rejects: number;
  readonly stats: ActorStats;
}

/**
 * A host serving `length` bytes through a Listener, and a raw leecher that keeps `window` requests
 * outstanding (re-requesting what a choke or reject voided) until it has every block.
 */
async function serveTo(
  cleanups: Array<() => Promise<void>>,
  options: { length: number; window: number; fast: boolean; host?: ThreadActorSystemOptions['host'] },
): Promise<Served> {
  const built = buildTorrent({ pieceLength: PIECE, name: 'o.bin', length: options.length, seed: 5 });
  const pieceCount = Math.ceil(options.length / PIECE);
  const dir = await mkdtemp(join(tmpdir(), 'tork-overflow-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'o.bin'), built.data);
  const system = await ThreadActorSystem.start({
    workers: 1,
    host: { tickMs: 50, statsIntervalMs: 100, ...options.host },
  });
  cleanups.push(() => system.close());
  const log = new EventLog(system);
  const _infoHashHex = Buffer.from(built.infoHash).toString('hex');
  system.send([seedingAddTorrent(built, PIECE, [{ path: join(dir, 'o.bin'), length: options.length }])]);
  const listener = await Listener.listen({
    port: 0,
    host: '127.0.0.1',
    onPeer: (peer) => {
      system.send([
        {
          type: 'accept',
          actorId: 1,
          torrentId: peer.infoHashHex,
          address: peer.address,
          relay: peer.relay,
          initial: peer.initial,
        },
        // The choker's decision, as the coordinator would send it for an interested peer.
        { type: 'choke', actorId: 1, choked: false },
      ]);
      return true;
    },
  });
  cleanups.push(() => listener.close());

  const blocks: Array<{ index: number; begin: number; length: number }> = [];
  for (let index = 0; index < pieceCount; index++) {
    const size = Math.min(PIECE, options.length - index * PIECE);
    for (let begin = 0; begin < size; begin += BLOCK)
      blocks.push({ index, begin, length: Math.min(BLOCK, size - begin) });
  }
  const key = (index: number, begin: number) => index * PIECE + begin;
  const missing = new Map(blocks.map((block) => [key(block.index, block.begin), block]));
  const outstanding = new Set<number>();
  let unchoked = false;
  let chokes = 0;
  let rejects = 0;
  const socket: Socket = connect({ host: '127.0.0.1', port: listener.port });
  cleanups.push(async () => {
    socket.destroy();
  });
  socket.on('error', () => {});
  const decoder = new WireDecoder({ expectHandshake: true, pieceCount });
  const fill = () => {
    if (!unchoked) return;
    const out: Uint8Array[] = [];
    for (const [k, block] of missing) {
      if (outstanding.size >= options.window) break;
      if (outstanding.has(k)) continue;
      outstanding.add(k);
      out.push(encodeRequest(block.index, block.begin, block.length));
    }
    if (out.length > 0) socket.write(Buffer.concat(out));
  };
  const done = new Promise<void>((resolve, reject) => {
    socket.on('close', () => reject(new Error(`connection closed with ${missing.size} blocks missing`)));
    socket.on('data', (chunk) => {
      for (const message of decoder.push(chunk)) {
        switch (message.type) {
          case 'unchoke':
            unchoked = true;
            fill();
            break;
          case 'choke':
            // BEP 3: every request outstanding is void; ask again after the unchoke.
            chokes++;
            unchoked = false;
            outstanding.clear();
            break;
          case 'reject-request':
            rejects++;
            outstanding.delete(key(message.index, message.begin));
            fill();
            break;
          case 'piece': {
            const k = key(message.index, message.begin);
            const at = message.index * PIECE + message.begin;
            assert.ok(
              Buffer.from(message.block).equals(
                Buffer.from(built.data.subarray(at, at + message.block.length)),
              ),
              `block ${message.index}:${message.begin} byte-identical`,
            );
            outstanding.delete(k);
            missing.delete(k);
            if (missing.size === 0) resolve();
            else fill();
            break;
          }
          default:
            break;
        }
      }
    });
  });
  socket.write(
    encodeHandshake({
      infoHash: built.infoHash,
      peerId: new Uint8Array(20).fill(0x52),
      fastExtension: options.fast,
      extensionProtocol: false,
    }),
  );
  socket.write(encodeInterested());
  await done;
  const stats = await log.wait('stats', undefined, 5_000, (event) =>
    event.actors.some((actor) => actor.actorId === 1 && actor.uploaded >= options.length),
  );
  return {
    blocks: blocks.length,
    chokes,
    rejects,
    stats: stats.actors.find((actor) => actor.actorId === 1)!,
  };
}

describe('a peer with more requests outstanding than the host holds', { timeout: 60_000 }, () => {
  const cleanups: Array<() => Promise<void>> = [];
  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
  });
  const small = { advertisedRequestQueue: 20, maxQueuedRequests: 40 };

  it('without the fast extension: choked (its requests void, BEP 3), unchoked, and it gets every block', async () => {
    const served = await serveTo(cleanups, {
      length: 3 * 1024 * 1024 - 5_000,
      window: 150,
      fast: false,
      host: { actor: small },
    });
    assert.ok(served.chokes > 0, 'the overflow choked it');
    assert.ok(served.stats.requestsRefused > 0, 'refused requests are counted');
    assert.equal(served.stats.uploaded, 3 * 1024 * 1024 - 5_000, 'each block served once');
  });

  it('with the fast extension: rejected (BEP 6), and it gets every block', async () => {
    const served = await serveTo(cleanups, {
      length: 3 * 1024 * 1024 - 5_000,
      window: 150,
      fast: true,
      host: { actor: small },
    });
    assert.ok(served.rejects > 0, 'requests over the cap were rejected');
    assert.equal(served.chokes, 0);
    assert.equal(served.stats.requestsRefused, served.rejects, 'every reject is counted');
  });

  it('by default, 1,200 outstanding (as rtorrent keeps) are all held: no choke, no reject', async () => {
    const served = await serveTo(cleanups, { length: 24 * 1024 * 1024, window: 1_200, fast: false });
    assert.equal(served.blocks, 1_536);
    assert.equal(served.chokes, 0);
    assert.equal(served.rejects, 0);
    assert.equal(served.stats.requestsRefused, 0);
  });
});
