/**
 * BEP 52 wire interop with libtorrent: a libtorrent seeder of a v2-only and of a hybrid torrent
 * (created by libtorrent itself), a raw TCP connection from tork's codecs — the handshake with the
 * truncated SHA-256 info-hash (or a hybrid's SHA-1 one) and the v2 reserved bit, then hash
 * requests for the file's piece layer. libtorrent's `hashes` answers must decode, prove against
 * the file's pieces root with tork's proof checker, carry the torrent's piece layer, and be byte
 * for byte what tork's own serving side answers to the same requests.
 */
import '../support/hermetic.js';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import {
  encodeHandshake,
  encodeHashRequest,
  encodeHaveNone,
  type HashRange,
  pieceLayerOf,
  pieceLayerRequests,
  ServedMerkleTree,
  speaksV2,
  verifyHashProof,
  WireDecoder,
  type WireMessage,
  wireInfoHash,
} from '@tork/core';
import { root } from '../download/support.js';
import { requireLibtorrent } from '../seed/support.js';
import { startProgram, tcpPortOpen } from '../support/programs.js';

/** `run`, its failure carrying libtorrent's output (its alerts say why it closed a connection). */
async function withOutput(output: () => string, run: () => Promise<void>): Promise<void> {
  try {
    await run();
  } catch (error) {
    // libtorrent prints its alerts once a second: let the ones about this failure arrive.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    throw new Error(`${(error as Error).message}\n--- libtorrent ---\n${output().slice(-4000)}`, {
      cause: error,
    });
  }
}

const SCRIPT = join(root, 'test/wire/libtorrent-v2-seeder.py');
const PIECE_LENGTH = 32 * 1024;
/** 600 pieces of 32 KiB, the last one short: a piece layer of 600 hashes, padded to 1024. */
const FILE_LENGTH = 600 * PIECE_LENGTH - 1234;

interface SeederInfo {
  seeding: boolean;
  listenPort: number;
  infoHashV1: string | null;
  infoHashV2: string;
  pieceLength: number;
  files: { root: string; length: number; pieceLayer: string }[];
}

const fromHex = (text: string) => new Uint8Array(Buffer.from(text, 'hex'));

async function startSeeder(
  t: TestContext,
  python: string,
  mode: 'v2' | 'hybrid',
): Promise<{ port: number; info: SeederInfo; output: () => string }> {
  const dir = await mkdtemp(join(tmpdir(), 'tork-v2wire-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  // Port 0: the kernel's choice, which nothing can take between pick and bind; it says which.
  const seeder = await startProgram(
    python,
    [SCRIPT, dir, '0', mode, String(PIECE_LENGTH), String(FILE_LENGTH)],
    {
      ready: async (output) => output.includes('"event": "ready"'),
      readyTimeoutMs: 30_000,
    },
  );
  t.after(() => seeder.stop());
  const line = seeder
    .output()
    .split('\n')
    .find((text) => text.includes('"event": "ready"'));
  assert.ok(line, seeder.output());
  const info = JSON.parse(line) as SeederInfo;
  assert.ok(info.listenPort > 0 && (await tcpPortOpen('127.0.0.1', info.listenPort)), seeder.output());
  return { port: info.listenPort, info, output: () => seeder.output() };
}

/** A plain TCP connection and the messages tork's decoder makes of what libtorrent sends. */
async function open(
  port: number,
): Promise<{ socket: Socket; next: (match: (m: WireMessage) => boolean) => Promise<WireMessage> }> {
  const socket = connect({ host: '127.0.0.1', port });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const decoder = new WireDecoder({ expectHandshake: true, hashMessages: true });
  const received: WireMessage[] = [];
  const log: string[] = [];
  const waiters: (() => void)[] = [];
  let failure: Error | undefined;
  socket.on('data', (chunk: Buffer) => {
    try {
      // Copy the views: the test keeps messages past this chunk.
      for (const message of decoder.push(new Uint8Array(chunk))) {
        log.push(message.type);
        received.push(structuredClone(message));
      }
    } catch (error) {
      failure = error as Error;
    }
    for (const wake of waiters.splice(0)) wake();
  });
  socket.on('close', () => {
    failure ??= new Error(`libtorrent closed the connection after ${log.join(', ') || 'nothing'}`);
    for (const wake of waiters.splice(0)) wake();
  });
  socket.on('error', () => {});
  const next = async (match: (m: WireMessage) => boolean): Promise<WireMessage> => {
    const deadline = Date.now() + 15_000;
    for (;;) {
      const at = received.findIndex(match);
      if (at >= 0) return received.splice(at, 1)[0]!;
      if (failure) throw failure;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out; received: ${received.map((m) => m.type).join(', ')}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  };
  return { socket, next };
}

const sameRange = (a: HashRange, b: HashRange) =>
  Buffer.from(a.piecesRoot).equals(Buffer.from(b.piecesRoot)) &&
  a.baseLayer === b.baseLayer &&
  a.index === b.index &&
  a.length === b.length &&
  a.proofLayers === b.proofLayers;

/** Connects with `handshakeHash` and the v2 bit, then fetches and checks the file's piece layer. */
async function fetchPieceLayer(port: number, info: SeederInfo, handshakeHash: Uint8Array): Promise<void> {
  assert.equal(info.seeding, true);
  assert.equal(info.listenPort, port);
  const file = info.files[0]!;
  const piecesRoot = fromHex(file.root);
  const pieceLayer = fromHex(file.pieceLayer);
  assert.equal(pieceLayer.length, 600 * 32, 'libtorrent wrote a piece layer of 600 hashes');
  const served = new ServedMerkleTree({
    piecesRoot,
    fileLength: file.length,
    layer: pieceLayerOf(PIECE_LENGTH),
    hashes: pieceLayer,
  });

  const { socket, next } = await open(port);
  try {
    socket.write(
      encodeHandshake({ infoHash: handshakeHash, peerId: Buffer.from('-TO0000-v2wire-test0'), v2: true }),
    );
    const handshake = await next((m) => m.type === 'handshake');
    assert.equal(handshake.type, 'handshake');
    if (handshake.type !== 'handshake') return;
    // libtorrent answers with the v2 hash (truncated): on a hybrid's v1 hash with the v2 bit too,
    // BEP 52's upgrade. It does not set the v2 bit in its own handshake: the hash says it all.
    assert.equal(
      Buffer.from(handshake.infoHash).toString('hex'),
      Buffer.from(wireInfoHash(fromHex(info.infoHashV2))).toString('hex'),
      'libtorrent replies with the truncated v2 info-hash',
    );
    socket.write(encodeHaveNone());

    // Whole slices of 512 (one uncle each) and small ones of 16 (5 uncles each).
    const requests = [
      ...pieceLayerRequests(piecesRoot, file.length, PIECE_LENGTH, 512),
      ...pieceLayerRequests(piecesRoot, file.length, PIECE_LENGTH, 16).slice(0, 6),
      ...pieceLayerRequests(piecesRoot, file.length, PIECE_LENGTH, 16).slice(-2),
    ];
    for (const request of requests) socket.write(encodeHashRequest(request));
    const collected = new Uint8Array(1024 * 32);
    for (const request of requests) {
      const answer = await next(
        (m) => (m.type === 'hashes' || m.type === 'hash-reject') && sameRange(m, request),
      );
      assert.equal(
        answer.type,
        'hashes',
        `libtorrent rejected ${JSON.stringify({ ...request, piecesRoot: file.root })}`,
      );
      if (answer.type !== 'hashes') return;
      assert.deepEqual(verifyHashProof(answer, file.length), { ok: true });
      const ours = served.answer(request);
      assert.equal(ours.type, 'hashes');
      if (ours.type === 'hashes') {
        assert.deepEqual(answer.hashes, ours.hashes, 'tork serves the same base hashes');
        assert.deepEqual(answer.uncles, ours.uncles, 'tork serves the same uncles');
      }
      collected.set(answer.hashes, request.index * 32);
    }
    // The fetched layer is the torrent's piece layer, then pad hashes up to 1024.
    assert.deepEqual(collected.subarray(0, 600 * 32), pieceLayer);
    // The pad hash of layer 1: SHA-256 of two zero leaves.
    const pad = new Uint8Array(createHash('sha256').update(new Uint8Array(64)).digest());
    for (let i = 600; i < 1024; i++) assert.deepEqual(collected.subarray(i * 32, (i + 1) * 32), pad);

    // Leaves (base layer 0) of the first piece, proof to the root: libtorrent may not have them (a
    // seed-mode torrent holds its piece layer only) but must answer, with hashes that prove.
    const height = Math.log2(1024) + pieceLayerOf(PIECE_LENGTH);
    const leaves: HashRange = { piecesRoot, baseLayer: 0, index: 0, length: 2, proofLayers: height - 1 };
    socket.write(encodeHashRequest(leaves));
    const leafAnswer = await next(
      (m) => (m.type === 'hashes' || m.type === 'hash-reject') && sameRange(m, leaves),
    );
    if (leafAnswer.type === 'hashes')
      assert.deepEqual(verifyHashProof(leafAnswer, file.length), { ok: true });

    // A tampered answer fails the same check.
    const [first] = pieceLayerRequests(piecesRoot, file.length, PIECE_LENGTH, 16);
    const good = served.answer(first!);
    if (good.type === 'hashes') {
      const hashes = good.hashes.slice();
      hashes[5]! ^= 1;
      assert.equal(verifyHashProof({ ...first!, hashes, uncles: good.uncles }, file.length).ok, false);
    }
  } finally {
    socket.destroy();
  }
}

describe('BEP 52 hash requests answered by libtorrent', { timeout: 120_000 }, () => {
  it('v2-only torrent: truncated SHA-256 info-hash, v2 bit, piece layer proven against the root', async (t) => {
    const python = requireLibtorrent(t);
    if (!python) return;
    const { port, info, output } = await startSeeder(t, python, 'v2');
    assert.equal(info.infoHashV1, null);
    await withOutput(output, () => fetchPieceLayer(port, info, wireInfoHash(fromHex(info.infoHashV2))));
  });

  it('hybrid torrent: either info-hash with the v2 bit (libtorrent upgrades the v1 one)', async (t) => {
    const python = requireLibtorrent(t);
    if (!python) return;
    const { port, info, output } = await startSeeder(t, python, 'hybrid');
    const v1 = info.infoHashV1;
    assert.ok(v1);
    await withOutput(output, () => fetchPieceLayer(port, info, wireInfoHash(fromHex(info.infoHashV2))));
    await withOutput(output, () => fetchPieceLayer(port, info, fromHex(v1)));
    // Without the v2 bit, the v1 hash makes a v1 connection: libtorrent answers with the v1 hash
    // and drops a peer that sends a hash request there (what `speaksV2` encodes).
    await withOutput(output, async () => {
      const { socket, next } = await open(port);
      try {
        socket.write(encodeHandshake({ infoHash: fromHex(v1), peerId: Buffer.from('-TO0000-v2wire-test1') }));
        const handshake = await next((m) => m.type === 'handshake');
        assert.equal(handshake.type === 'handshake' && Buffer.from(handshake.infoHash).toString('hex'), v1);
        assert.equal(speaksV2(1, false, { v1: fromHex(v1), v2: fromHex(info.infoHashV2) }), false);
        const [request] = pieceLayerRequests(
          fromHex(info.files[0]!.root),
          info.files[0]!.length,
          PIECE_LENGTH,
        );
        socket.write(encodeHashRequest(request!));
        await assert.rejects(
          next((m) => m.type === 'hashes' || m.type === 'hash-reject'),
          /libtorrent closed the connection/,
        );
      } finally {
        socket.destroy();
      }
    });
  });
});
