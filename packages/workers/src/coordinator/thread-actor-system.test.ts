import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer as createHttpServer } from 'node:http';
import { type AddressInfo, createServer } from 'node:net';
import { after, describe, it } from 'node:test';
import {
  fileMerkle,
  type HostCommand,
  type HostEvent,
  MAX_PIECES_PER_EVENT,
  MERKLE_HASH_SIZE,
  pieceRootFromData,
  TorkError,
  TorkErrorCode,
  v2PieceChecks,
} from '@tork/core';
import {
  EventLog,
  makeTorrent,
  rogueHostWorkerUrl,
  ScriptedSeeder,
  type SeederScript,
  type TestTorrent,
} from '@tork/testkit';
import { ThreadActorSystem, type ThreadActorSystemOptions } from './thread-actor-system.js';

const PEER_ID = new Uint8Array(Buffer.from('-TK0010-abcdefghijkl'));

/** Fast timers so faults show up within a test's patience. */
const FAST: ThreadActorSystemOptions['host'] = { tickMs: 25, statsIntervalMs: 100 };

function addTorrent(torrent: TestTorrent): HostCommand {
  return {
    type: 'add-torrent',
    torrentId: torrent.torrentId,
    infoHash: torrent.infoHash,
    peerId: PEER_ID,
    pieceLength: torrent.pieceLength,
    length: torrent.length,
    pieceHashes: torrent.pieceHashes,
    have: new Uint8Array(Math.ceil(torrent.pieceCount / 8)),
    files: [],
  };
}

function pieceBytes(torrent: TestTorrent, index: number): Buffer {
  return torrent.data.subarray(
    index * torrent.pieceLength,
    Math.min(torrent.length, (index + 1) * torrent.pieceLength),
  );
}

describe('ThreadActorSystem with a scripted seeder', { timeout: 60_000 }, () => {
  // 10 pieces of 4 blocks, the last one short and not block-aligned.
  const torrent = makeTorrent(64 * 1024, 9 * 64 * 1024 + 20_000);
  const cleanups: (() => Promise<void>)[] = [];
  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  async function start(
    script: SeederScript = {},
    options: ThreadActorSystemOptions = {},
  ): Promise<{
    system: ThreadActorSystem;
    log: EventLog;
    seeder: ScriptedSeeder;
    port: number;
    errors: TorkError[];
  }> {
    const seeder = new ScriptedSeeder(torrent, script);
    const port = await seeder.listen();
    const errors: TorkError[] = [];
    const system = await ThreadActorSystem.start({
      workers: 1,
      host: FAST,
      onError: (error) => errors.push(error),
      ...options,
    });
    cleanups.push(
      () => system.close(),
      () => seeder.close(),
    );
    const log = new EventLog(system);
    system.send([addTorrent(torrent)]);
    return { system, log, seeder, port, errors };
  }

  const connect = (actorId: number, port: number): HostCommand => ({
    type: 'connect',
    actorId,
    torrentId: torrent.torrentId,
    host: '127.0.0.1',
    port,
  });

  it('downloads every piece, verified and byte-identical, through several actors on 2 hosts', async () => {
    const { system, log, seeder, port, errors } = await start({}, { workers: 2 });
    const actors = [1, 2, 3, 4];
    system.send(actors.map((id) => connect(id, port)));
    for (const id of actors) {
      const connected = await log.wait('connected', id);
      assert.equal(connected.client.length > 0, true);
      assert.equal(connected.fastExtension, true);
      assert.equal(connected.extensionProtocol, true);
      await log.wait('bitfield', id);
      await log.wait('choke', id, 5_000, (event) => !event.choked);
    }
    const hosts = await system.stats();
    assert.equal(hosts.length, 2);
    assert.deepEqual(
      hosts.map((host) => host.actors),
      [2, 2],
      'connects go to the host with the fewest actors',
    );
    // hostOf names the thread each actor was placed on: two on each, every one on a real host.
    const placed = actors.map((id) => system.hostOf(id));
    assert.deepEqual([...placed].sort(), [0, 0, 1, 1], `actors' hosts ${JSON.stringify(placed)}`);
    assert.equal(system.hostOf(9_999), undefined, 'an unknown actor has no host');

    // A mini-coordinator: a few pieces per actor, reassign whatever comes back.
    const queue = Array.from({ length: torrent.pieceCount }, (_, index) => index);
    const received = new Map<number, Buffer>();
    const assignTo = (actorId: number, count: number) => {
      const pieces = queue.splice(0, count);
      if (pieces.length > 0) system.send([{ type: 'assign', actorId, pieces }]);
    };
    const done = new Promise<void>((resolve, reject) => {
      log.on((event: HostEvent) => {
        if (event.type === 'piece') {
          assert.ok(!received.has(event.index), `piece ${event.index} twice`);
          received.set(event.index, Buffer.from(event.data));
          if (received.size === torrent.pieceCount) resolve();
          else assignTo(event.actorId, 1);
        } else if (event.type === 'hash-failed' || event.type === 'closed') {
          reject(new Error(`unexpected ${JSON.stringify(event)}`));
        } else if (event.type === 'released') {
          queue.push(...event.pieces);
        }
      });
    });
    system.send(actors.map((actorId) => ({ type: 'interest', actorId, interested: true }) as const));
    for (const id of actors) assignTo(id, 2);
    await done;

    for (let index = 0; index < torrent.pieceCount; index++) {
      const data = received.get(index);
      assert.ok(data, `piece ${index}`);
      assert.equal(data.length, pieceBytes(torrent, index).length);
      assert.ok(data.equals(pieceBytes(torrent, index)), `piece ${index} byte-identical`);
    }
    const stats = await log.wait('stats', undefined, 2_000);
    assert.ok(stats.actors.length >= 1);
    // The data plane's traffic, counted on this side per host (what /metrics shows per thread).
    const traffic = system.traffic();
    assert.equal(traffic.length, 2);
    for (const host of traffic) {
      assert.ok(host.commandBatches > 0 && host.commands >= host.commandBatches, JSON.stringify(host));
      assert.ok(host.eventBatches > 0 && host.events >= host.eventBatches, JSON.stringify(host));
    }
    assert.ok(
      traffic.reduce((sum, host) => sum + host.events, 0) >= torrent.pieceCount,
      'every piece event counted',
    );
    assert.ok(seeder.log.interested >= actors.length, 'interested sent');
    assert.equal(seeder.log.extendedHandshakes, actors.length, 'BEP 10 handshake sent');
    assert.deepEqual(seeder.log.bitfields, ['have-none', 'have-none', 'have-none', 'have-none']);
    assert.ok(seeder.log.maxOutstanding >= 4, `pipelined: ${seeder.log.maxOutstanding} requests at once`);
    assert.ok(seeder.log.maxOutstanding <= 250, "never beyond the peer's reqq");
    assert.deepEqual(errors, []);

    // We tell peers what we verified.
    system.send([{ type: 'have', torrentId: torrent.torrentId, pieces: [0, 1] }]);
    const deadline = Date.now() + 5_000;
    while (seeder.log.haves.length < 2 * actors.length && Date.now() < deadline) await sleep(10);
    assert.equal(seeder.log.haves.length, 2 * actors.length);
  });

  it('runs a web seed (BEP 19) in a host thread: a peer with every piece, its assigned pieces verified', async () => {
    const { system, log } = await start({}, { workers: 2 });
    const server = createHttpServer((req, res) => {
      const [, from, to] = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '') ?? [];
      if (from === undefined || to === undefined) return res.writeHead(416).end();
      res
        .writeHead(206, { 'Content-Range': `bytes ${from}-${to}/${torrent.length}` })
        .end(torrent.data.subarray(Number(from), Number(to) + 1));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/seed.bin`;
    system.send([
      {
        type: 'web-seed',
        actorId: 40,
        torrentId: torrent.torrentId,
        url,
        files: [{ url, length: torrent.length }],
      },
    ]);
    await log.wait('connected', 40);
    await log.wait('choke', 40, 5_000, (event) => !event.choked);
    system.send([{ type: 'assign', actorId: 40, pieces: [0, 9] }]);
    for (const index of [0, 9]) {
      const piece = await log.wait('piece', 40, 5_000, (event) => event.index === index);
      assert.ok(Buffer.from(piece.data).equals(pieceBytes(torrent, index)));
    }
    system.send([{ type: 'close', actorId: 40, reason: 'done' }]);
    const closed = await log.wait('closed', 40);
    assert.match(closed.error.message, /closed by coordinator: done/);
  });

  it('assembles new pieces in the buffers the coordinator sends back (recycle)', async () => {
    const { system, log, port } = await start({}, { workers: 1 });
    system.send([connect(1, port)]);
    await log.wait('choke', 1, 5_000, (event) => !event.choked);
    system.send([{ type: 'interest', actorId: 1, interested: true }]);
    // One piece at a time; each written (here: copied) and its buffer sent straight back.
    const sent: ArrayBuffer[] = [];
    for (let index = 0; index < torrent.pieceCount; index++) {
      system.send([{ type: 'assign', actorId: 1, pieces: [index] }]);
      const piece = await log.wait('piece', 1, 5_000, (event) => event.index === index);
      assert.ok(Buffer.from(new Uint8Array(piece.data)).equals(pieceBytes(torrent, index)), `piece ${index}`);
      system.send([{ type: 'recycle', actorId: 1, buffers: [piece.data] }]);
      sent.push(piece.data);
    }
    const [host] = await system.stats();
    assert.ok(
      sent.every((buffer) => buffer.byteLength === 0),
      'every buffer was moved back, not copied',
    );
    assert.ok(host);
    // Pieces of one size after the first come out of the pool (the short last piece is its own size).
    assert.ok(
      host.buffersReused >= torrent.pieceCount - 3,
      `reused ${host.buffersReused} of ${torrent.pieceCount}`,
    );
    assert.ok(host.buffersAllocated <= 3, `allocated ${host.buffersAllocated}`);
  });

  it('reports a piece whose data fails SHA-1 as hash-failed, and carries on', async () => {
    const { system, log, port } = await start({ corruptPiece: 2 });
    system.send([connect(1, port)]);
    await log.wait('choke', 1, 5_000, (event) => !event.choked);
    system.send([{ type: 'assign', actorId: 1, pieces: [2, 3] }]);
    const failed = await log.wait('hash-failed', 1);
    assert.equal(failed.index, 2);
    const piece = await log.wait('piece', 1);
    assert.equal(piece.index, 3);
    assert.ok(Buffer.from(piece.data).equals(pieceBytes(torrent, 3)));
  });

  /** The torrent as a hybrid (one file, v2 layer from its data), piece `wrong`'s layer entry from other bytes. */
  function hybridChecks(wrong?: number): Uint8Array {
    const merkle = fileMerkle(torrent.data, torrent.pieceLength);
    const layer = Uint8Array.from(merkle.pieceLayer ?? []);
    if (wrong !== undefined) {
      const other = Buffer.alloc(torrent.pieceLength, 7);
      layer.set(pieceRootFromData(other, torrent.pieceLength), wrong * MERKLE_HASH_SIZE);
    }
    const table = v2PieceChecks({
      pieceLength: torrent.pieceLength,
      pieceCount: torrent.pieceCount,
      files: [{ length: torrent.length, pad: false }],
      v2: {
        piecesRoots: [merkle.root],
        pieceLayers: new Map([[Buffer.from(merkle.root ?? []).toString('hex'), layer]]),
        hasPieceLayers: true,
      },
    });
    assert.ok(table);
    return table;
  }

  it('hybrid: a piece must pass its v2 merkle check too (SHA-1 right, layer entry wrong: hash-failed)', async () => {
    const { system, log, port } = await start();
    // Replaces the v1-only add-torrent of start(): a fresh torrent id would need a new seeder.
    system.send([{ type: 'remove-torrent', torrentId: torrent.torrentId }]);
    system.send([{ ...addTorrent(torrent), v2PieceChecks: hybridChecks(2) } as HostCommand]);
    system.send([connect(1, port)]);
    await log.wait('choke', 1, 5_000, (event) => !event.choked);
    system.send([{ type: 'assign', actorId: 1, pieces: [2, 3, 9] }]);
    const failed = await log.wait('hash-failed', 1);
    assert.equal(failed.index, 2);
    const pieces = [await log.wait('piece', 1), await log.wait('piece', 1, 5_000, (e) => e.index === 9)];
    assert.equal(pieces[0]?.index, 3);
    for (const piece of pieces) {
      assert.ok(Buffer.from(piece.data).equals(pieceBytes(torrent, piece.index)), `piece ${piece.index}`);
    }
  });

  it('hybrid: every piece passes both checks when the layer is right (the short last piece too)', async () => {
    const { system, log, port } = await start();
    system.send([{ type: 'remove-torrent', torrentId: torrent.torrentId }]);
    system.send([{ ...addTorrent(torrent), v2PieceChecks: hybridChecks() } as HostCommand]);
    system.send([connect(1, port)]);
    await log.wait('choke', 1, 5_000, (event) => !event.choked);
    const all = Array.from({ length: torrent.pieceCount }, (_, index) => index);
    system.send([{ type: 'interest', actorId: 1, interested: true }]);
    system.send([{ type: 'assign', actorId: 1, pieces: all }]);
    const last = await log.wait('piece', 1, 10_000, (event) => event.index === torrent.pieceCount - 1);
    assert.ok(Buffer.from(last.data).equals(pieceBytes(torrent, torrent.pieceCount - 1)));
    assert.equal(log.events.filter((event) => event.type === 'hash-failed').length, 0);
  });

  it('refuses an add-torrent whose v2 checks do not match the piece count', async () => {
    const { system, errors } = await start();
    system.send([{ type: 'remove-torrent', torrentId: torrent.torrentId }]);
    system.send([{ ...addTorrent(torrent), v2PieceChecks: new Uint8Array(40) } as HostCommand]);
    for (let i = 0; i < 100 && errors.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    assert.match(errors[0]?.message ?? '', /v2 piece checks/);
  });

  it('releases its pieces when choked mid-piece (no fast extension: requests are void)', async () => {
    const { system, log, port } = await start({ fast: false, chokeAfterBlocks: 2 });
    system.send([connect(1, port)]);
    await log.wait('choke', 1, 5_000, (event) => !event.choked);
    system.send([{ type: 'assign', actorId: 1, pieces: [0, 1] }]);
    await log.wait('choke', 1, 5_000, (event) => event.choked);
    const released = await log.wait('released', 1);
    assert.equal(released.reason, 'choked');
    assert.deepEqual([...released.pieces].sort(), [0, 1]);
    // Assigning while choked is refused straight away.
    system.send([{ type: 'assign', actorId: 1, pieces: [5] }]);
    const again = await log.wait('released', 1, 5_000, (event) => event.pieces.includes(5));
    assert.equal(again.reason, 'choked');
  });

  it('releases pieces whose requests a fast-extension peer rejects after choking', async () => {
    const { system, log, port } = await start({ fast: true, chokeAfterBlocks: 2 });
    system.send([connect(1, port)]);
    await log.wait('choke', 1, 5_000, (event) => !event.choked);
    system.send([{ type: 'assign', actorId: 1, pieces: [0, 1] }]);
    await log.wait('choke', 1, 5_000, (event) => event.choked);
    const releasedPieces = new Set<number>();
    const deadline = Date.now() + 5_000;
    while (releasedPieces.size < 2 && Date.now() < deadline) {
      for (const event of log.of('released', 1)) {
        assert.equal(event.reason, 'choked');
        for (const piece of event.pieces) releasedPieces.add(piece);
      }
      await sleep(10);
    }
    assert.deepEqual([...releasedPieces].sort(), [0, 1]);
  });

  const closedWith = async (
    script: SeederScript,
    pattern: RegExp,
    code: string,
    options: ThreadActorSystemOptions = {},
  ) => {
    const { system, log, port, seeder } = await start(script, options);
    system.send([connect(1, port)]);
    const closed = await log.wait('closed', 1, 10_000);
    assert.equal(closed.error.code, code, closed.error.message);
    assert.match(closed.error.message, pattern);
    assert.equal(closed.error.details.actorId, 1);
    assert.equal(closed.error.details.peer, `127.0.0.1:${port}`);
    return { system, log, port, seeder, closed };
  };

  it('closes on a huge length prefix, with a clear reason', async () => {
    await closedWith(
      { afterHandshake: Uint8Array.of(0xff, 0xff, 0xff, 0xf0, 7) },
      /bytes/,
      TorkErrorCode.WIRE_TOO_LARGE,
    );
  });

  it('closes on garbage instead of a handshake', async () => {
    await closedWith(
      { handshakeReply: Buffer.from('HTTP/1.1 400 Bad Request\r\n\r\n'.repeat(4)) },
      /handshake/,
      TorkErrorCode.WIRE_HANDSHAKE,
    );
  });

  it('closes on a message of the wrong length', async () => {
    await closedWith(
      { afterHandshake: Uint8Array.of(0, 0, 0, 2, 4, 0) },
      /have/,
      TorkErrorCode.WIRE_PROTOCOL,
    );
  });

  it('closes on a wrong info-hash', async () => {
    await closedWith(
      { infoHash: new Uint8Array(20).fill(9) },
      /^info-hash mismatch$/,
      TorkErrorCode.WIRE_HANDSHAKE,
    );
  });

  it('closes on a bitfield with spare bits set', async () => {
    await closedWith(
      { fast: false, spareBits: true },
      /^peer sent a bitfield with spare bits set$/,
      TorkErrorCode.WIRE_PROTOCOL,
    );
  });

  it('closes a peer that floods blocks we never requested', async () => {
    const { system, log, port } = await start({ unrequestedBlocks: 100 });
    system.send([connect(1, port)]);
    await log.wait('choke', 1, 5_000, (event) => !event.choked);
    system.send([{ type: 'assign', actorId: 1, pieces: [0] }]);
    const closed = await log.wait('closed', 1);
    assert.equal(closed.error.code, TorkErrorCode.WIRE_PROTOCOL);
    assert.match(closed.error.message, /blocks we did not request/);
  });

  it('closes with "connection refused" when nothing listens', async () => {
    const probe = createServer();
    probe.listen(0, '127.0.0.1');
    await once(probe, 'listening');
    const address = probe.address();
    assert.ok(address && typeof address === 'object');
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const { system, log } = await start();
    system.send([connect(1, address.port)]);
    const closed = await log.wait('closed', 1);
    assert.equal(closed.error.code, TorkErrorCode.IO);
    assert.equal(closed.error.message, 'connection refused');
    assert.equal(closed.error.details.cause, 'ECONNREFUSED');
    assert.equal(closed.error.details.actorId, 1);
  });

  it('sends keep-alives and drops a silent peer after the idle timeout', async () => {
    const { seeder } = await closedWith({ silent: true }, /^timeout: no data for 0\.4 s$/, TorkErrorCode.IO, {
      host: { ...FAST, actor: { idleTimeoutMs: 400, keepAliveIntervalMs: 100 } },
    });
    assert.ok(seeder.log.keepAlives >= 2, `${seeder.log.keepAlives} keep-alives`);
  });

  it('treats a peer that delivered, then sends no block for snubTimeoutMs, as snubbed: depth 1, unstarted pieces released', async () => {
    const { system, log, port, seeder } = await start(
      { answerRequests: 1 },
      { host: { ...FAST, actor: { snubTimeoutMs: 300 } } },
    );
    system.send([connect(1, port)]);
    await log.wait('choke', 1, 5_000, (event) => !event.choked);
    system.send([{ type: 'assign', actorId: 1, pieces: [0, 1] }]);
    const released = await log.wait('released', 1, 5_000);
    assert.equal(released.reason, 'snubbed');
    // Piece 0 has its first block: it is kept (at depth 1); piece 1 never started: released.
    assert.deepEqual([...released.pieces].sort(), [1]);
    const stats = await log.wait('stats', undefined, 2_000, (event) =>
      event.actors.some((actor) => actor.snubbed),
    );
    assert.equal(stats.actors[0]?.targetQueueDepth, 1);
    const deadline = Date.now() + 2_000;
    while (seeder.log.cancels === 0 && Date.now() < deadline) await sleep(10);
    assert.ok(seeder.log.cancels > 0, "the released piece's requests were cancelled");
  });

  it('drops a peer that accepted requests and has never sent a block, with the reason', async () => {
    const { system, log, port } = await start(
      { ignoreRequests: true },
      { host: { ...FAST, actor: { snubTimeoutMs: 300 } } },
    );
    system.send([connect(1, port)]);
    await log.wait('choke', 1, 5_000, (event) => !event.choked);
    system.send([{ type: 'assign', actorId: 1, pieces: [0, 1] }]);
    const closed = await log.wait('closed', 1, 5_000);
    assert.equal(closed.error.code, 'TORK_ERR_IO');
    assert.match(closed.error.message, /accepted requests and sent no block/);
  });

  it('drops a fast-extension peer that sends no bitfield after its handshake', async () => {
    const { system, log, port } = await start(
      { silent: true },
      { host: { ...FAST, actor: { firstMessageTimeoutMs: 200 } } },
    );
    system.send([connect(1, port)]);
    await log.wait('connected', 1, 5_000);
    const closed = await log.wait('closed', 1, 5_000);
    assert.equal(closed.error.code, 'TORK_ERR_WIRE_PROTOCOL');
    assert.match(closed.error.message, /no bitfield, have-all or have-none within 0.2 s/);
  });

  it("never keeps more requests outstanding than the peer's reqq", async () => {
    const { system, log, port, seeder } = await start({ ignoreRequests: true, reqq: 2 });
    system.send([connect(1, port)]);
    await log.wait('choke', 1, 5_000, (event) => !event.choked);
    system.send([{ type: 'assign', actorId: 1, pieces: [0, 1] }]);
    const stats = await log.wait('stats', undefined, 2_000, (event) => event.actors[0]?.queueDepth === 2);
    assert.equal(stats.actors[0]?.targetQueueDepth, 2);
    await sleep(100);
    assert.equal(seeder.log.requests, 2);
  });

  it('unassign cancels outstanding requests; close closes with the reason', async () => {
    const { system, log, port, seeder } = await start({ ignoreRequests: true });
    system.send([connect(1, port)]);
    await log.wait('choke', 1, 5_000, (event) => !event.choked);
    system.send([{ type: 'assign', actorId: 1, pieces: [4] }]);
    const deadline = Date.now() + 2_000;
    while (seeder.log.requests < 4 && Date.now() < deadline) await sleep(10);
    assert.equal(seeder.log.requests, 4);
    system.send([{ type: 'unassign', actorId: 1, pieces: [4] }]);
    while (seeder.log.cancels < 4 && Date.now() < deadline) await sleep(10);
    assert.equal(seeder.log.cancels, 4);
    system.send([{ type: 'close', actorId: 1, reason: 'enough' }]);
    const closed = await log.wait('closed', 1);
    assert.equal(closed.error.code, TorkErrorCode.ABORTED);
    assert.match(closed.error.message, /enough/);
    assert.equal(log.of('released', 1).length, 0, 'unassigned pieces are not released back');
  });

  it('refuses a malformed command batch at the call site and sends nothing', async () => {
    const { system, seeder, port } = await start();
    assert.throws(
      () =>
        system.send([connect(1, port), { type: 'assign', actorId: 1, pieces: [] } as unknown as HostCommand]),
      (error: unknown) => error instanceof TorkError && error.code === TorkErrorCode.THREAD_MESSAGE,
    );
    await sleep(200);
    assert.equal(seeder.log.connections, 0, 'not acted on');
    assert.throws(
      () => system.send([connect(7, port), connect(7, port)]),
      (error: unknown) => error instanceof TorkError && /already exists/.test(error.message),
    );
  });

  it('drops a malformed event batch from a host with a clear error, and delivers the next one', async () => {
    const errors: TorkError[] = [];
    const system = await ThreadActorSystem.start({
      workers: 1,
      hostEntry: rogueHostWorkerUrl('malformed'),
      onError: (error) => errors.push(error),
    });
    cleanups.push(() => system.close());
    const log = new EventLog(system);
    await log.wait('choke', 1);
    assert.deepEqual(
      log.events,
      [{ type: 'choke', actorId: 1, choked: true }],
      'the malformed batch never reached the handler',
    );
    assert.equal(errors.length, 1);
    assert.equal(errors[0]?.code, TorkErrorCode.THREAD_MESSAGE);
    assert.match(errors[0]?.message ?? '', /events\.0/);
  });

  it('keeps the good events of a batch with one malformed event: the verified piece arrives', async () => {
    const errors: TorkError[] = [];
    const system = await ThreadActorSystem.start({
      workers: 1,
      hostEntry: rogueHostWorkerUrl('mixed'),
      onError: (error) => errors.push(error),
    });
    cleanups.push(() => system.close());
    const log = new EventLog(system);
    await log.wait('choke', 1);
    assert.deepEqual(
      log.events.map((event) => event.type),
      ['piece', 'choke'],
    );
    const piece = log.events[0] as Extract<HostEvent, { type: 'piece' }>;
    assert.equal(piece.data.byteLength, 16, 'the transferred buffer arrived whole');
    assert.equal(errors.length, 1);
    assert.equal(errors[0]?.code, TorkErrorCode.THREAD_MESSAGE);
    assert.match(errors[0]?.message ?? '', /events\.1\.pieces/);
  });

  it('checks the control plane: malformed stats reject, a malformed error report is reported as such', async () => {
    const statsSystem = await ThreadActorSystem.start({
      workers: 1,
      hostEntry: rogueHostWorkerUrl('bad-stats'),
    });
    cleanups.push(() => statsSystem.close());
    await assert.rejects(
      statsSystem.stats(),
      (error: unknown) =>
        error instanceof TorkError &&
        error.code === TorkErrorCode.THREAD_MESSAGE &&
        /actors/.test(error.message),
    );
    const errors: TorkError[] = [];
    const reportSystem = await ThreadActorSystem.start({
      workers: 1,
      hostEntry: rogueHostWorkerUrl('bad-report'),
      onError: (error) => errors.push(error),
    });
    cleanups.push(() => reportSystem.close());
    for (let i = 0; i < 100 && errors.length === 0; i++) await sleep(20);
    assert.equal(errors[0]?.code, TorkErrorCode.THREAD_MESSAGE);
    assert.match(errors[0]?.message ?? '', /error report/);
  });

  it('refuses host options that cannot cross to a thread, before starting one', () => {
    for (const host of [{ tickMs: -5 }, { reader: { fs: {} } }, { mode: 'crash' }]) {
      assert.throws(
        () => new ThreadActorSystem({ workers: 1, host: host as ThreadActorSystemOptions['host'] }),
        (error: unknown) => error instanceof TorkError && error.code === TorkErrorCode.USAGE,
      );
    }
  });
});

describe('ThreadActorSystem when a host thread dies', () => {
  it("reports it and closes that host's actors, so their pieces can be reassigned", {
    timeout: 20_000,
  }, async () => {
    const errors: TorkError[] = [];
    const system = await ThreadActorSystem.start({
      workers: 1,
      hostEntry: rogueHostWorkerUrl('crash'),
      onError: (error) => errors.push(error),
    });
    try {
      const log = new EventLog(system);
      system.send([{ type: 'connect', actorId: 5, torrentId: 'ab'.repeat(20), host: '127.0.0.1', port: 1 }]);
      const closed = await log.wait('closed', 5, 10_000);
      assert.equal(closed.error.code, TorkErrorCode.INTERNAL);
      assert.match(closed.error.message, /peer host thread 0 exited \(code 3\)/);
      assert.ok(errors.some((error) => /exited/.test(error.message)));
      system.send([{ type: 'connect', actorId: 6, torrentId: 'ab'.repeat(20), host: '127.0.0.1', port: 1 }]);
      const none = await log.wait('closed', 6);
      assert.match(none.error.message, /no peer host thread is running/);
    } finally {
      await system.close();
    }
  });
});

describe('ThreadActorSystem.start', () => {
  it('rejects, instead of hanging, when a host thread cannot start', { timeout: 20_000 }, async () => {
    const errors: TorkError[] = [];
    await assert.rejects(
      ThreadActorSystem.start({
        workers: 2,
        hostEntry: new URL('./no-such-host-worker.js', import.meta.url),
        onError: (error) => errors.push(error),
      }),
      (error: unknown) =>
        error instanceof TorkError && /exited \(code 1\) before it started/.test(error.message),
    );
    assert.ok(errors.length >= 1, 'the cause was reported');
  });
});

describe('ThreadActorSystem.close', () => {
  it('leaves no thread running: a process that used it exits promptly', { timeout: 20_000 }, async () => {
    const url = new URL('./thread-actor-system.js', import.meta.url).href;
    const script = `
      import { ThreadActorSystem } from ${JSON.stringify(url)};
      const system = await ThreadActorSystem.start({ workers: 2 });
      const closed = new Promise((resolve) => system.onEvents((events) => events.some((e) => e.type === 'closed') && resolve()));
      const torrentId = '${'ab'.repeat(20)}';
      system.send([
        { type: 'add-torrent', torrentId, infoHash: new Uint8Array(20), peerId: new Uint8Array(20).fill(1),
          pieceLength: 16384, length: 16384, pieceHashes: new Uint8Array(20), have: new Uint8Array(1), files: [] },
        { type: 'connect', actorId: 1, torrentId, host: '127.0.0.1', port: 1 },
      ]);
      await closed;
      await system.close();
      console.log('closed');
    `;
    const started = Date.now();
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    const [code] = (await once(child, 'exit')) as [number | null];
    clearTimeout(timer);
    assert.equal(code, 0, 'exited on its own');
    assert.equal(output.trim(), 'closed');
    assert.ok(Date.now() - started < 10_000, `took ${Date.now() - started} ms`);
  });
});

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

describe('ThreadActorSystem: small pieces travel packed', { timeout: 60_000 }, () => {
  // 16 KiB: every piece one block, verified and packed straight from the received block; 32 KiB:
  // two blocks, assembled in a piece buffer first.
  for (const pieceKiB of [16, 32]) {
    it(`sends ${pieceKiB} KiB pieces packed into shared buffers per host turn: far fewer messages and buffers than pieces`, async () => {
      // 512 pieces (8 or 16 MiB).
      const torrent = makeTorrent(pieceKiB * 1024, 512 * pieceKiB * 1024);
      const seeder = new ScriptedSeeder(torrent, {});
      const port = await seeder.listen();
      const system = await ThreadActorSystem.start({ workers: 1, host: FAST });
      try {
        const log = new EventLog(system);
        system.send([addTorrent(torrent)]);
        system.send([{ type: 'connect', actorId: 1, torrentId: torrent.torrentId, host: '127.0.0.1', port }]);
        await log.wait('choke', 1, 5_000, (event) => !event.choked);
        const received = new Map<number, Buffer>();
        let packedEvents = 0;
        let singleEvents = 0;
        const buffers = new Set<ArrayBuffer>();
        const done = new Promise<void>((resolve, reject) => {
          log.on((event: HostEvent) => {
            if (event.type === 'pieces') {
              packedEvents++;
              assert.ok(event.pieces.length <= MAX_PIECES_PER_EVENT);
              buffers.add(event.data);
              for (const { actorId, index, offset, length } of event.pieces) {
                assert.equal(actorId, 1);
                assert.ok(!received.has(index), `piece ${index} twice`);
                received.set(index, Buffer.from(new Uint8Array(event.data, offset, length)));
              }
              // Written (here: copied): the shared buffer goes back whole.
              system.send([{ type: 'recycle', actorId: 1, buffers: [event.data] }]);
              if (received.size === torrent.pieceCount) resolve();
            } else if (event.type === 'piece') {
              singleEvents++;
            } else if (event.type === 'hash-failed' || event.type === 'closed') {
              reject(new Error(`unexpected ${JSON.stringify(event)}`));
            }
          });
        });
        system.send([{ type: 'interest', actorId: 1, interested: true }]);
        // Every piece at once, in four assignments (a coordinator's runs).
        for (let from = 0; from < torrent.pieceCount; from += 128) {
          const pieces = Array.from({ length: 128 }, (_, i) => from + i);
          system.send([{ type: 'assign', actorId: 1, pieces }]);
        }
        await done;
        for (let index = 0; index < torrent.pieceCount; index++) {
          assert.ok(received.get(index)?.equals(pieceBytes(torrent, index)), `piece ${index} byte-identical`);
        }
        assert.equal(singleEvents, 0, 'no small piece travels alone');
        // Bounded well below one message (and one transferred buffer) per piece.
        const [traffic] = system.traffic();
        assert.ok(traffic);
        assert.ok(
          packedEvents <= torrent.pieceCount / 4,
          `${packedEvents} packed events for ${torrent.pieceCount} pieces`,
        );
        assert.ok(buffers.size <= torrent.pieceCount / 4, `${buffers.size} buffers`);
        assert.ok(
          traffic.eventBatches <= torrent.pieceCount / 4,
          `${traffic.eventBatches} event batches for ${torrent.pieceCount} pieces`,
        );
      } finally {
        await system.close();
        await seeder.close();
      }
    });
  }
});
