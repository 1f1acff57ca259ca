import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { MessageChannel } from 'node:worker_threads';
import {
  encodeHandshake,
  encodeHashRequest,
  encodeHaveNone,
  fileMerkle,
  type HashRange,
  isTorkError,
  pieceLayerRequests,
  TorkErrorCode,
  V2_PIECE_CHECK_SIZE,
  v2PieceChecks,
  verifyHashProof,
  WireDecoder,
  type WireMessage,
} from '@tork/core';
import { PeerHost } from '../peer-host.js';
import {
  enableV2IfSpoken,
  HashResponder,
  type HashServingTorrent,
  handshakeVersion,
} from './hash-responder.js';
import { hostTorrentHashes } from './host-torrent-hashes.js';
import { buildHashServer } from './torrent-hash-server.js';

const PIECE = 32_768;
/** 6 pieces with a short tail, a pad to the boundary, then a file under one piece. */
const LONG = 5 * PIECE + 100;
const SHORT = 5_000;

function torrent() {
  const long = randomBytes(LONG);
  const short = randomBytes(SHORT);
  const longTree = fileMerkle(long, PIECE);
  const shortTree = fileMerkle(short, PIECE);
  const files = [
    { length: LONG, pad: false },
    { length: 6 * PIECE - LONG, pad: true },
    { length: SHORT, pad: false },
  ];
  const piecesRoots = [longTree.root, undefined, shortTree.root];
  const table = v2PieceChecks({
    pieceLength: PIECE,
    pieceCount: 7,
    files,
    v2: {
      piecesRoots,
      pieceLayers: new Map([[Buffer.from(longTree.root!).toString('hex'), longTree.pieceLayer!]]),
      hasPieceLayers: true,
    },
  })!;
  const roots = new Uint8Array(files.length * 32);
  roots.set(longTree.root!, 0);
  roots.set(shortTree.root!, 64);
  const hostFiles = files.map((file) => ({ path: null, length: file.length }));
  return { table, roots, hostFiles, longRoot: longTree.root!, shortRoot: shortTree.root! };
}

function serving(options: ConstructorParameters<typeof HashResponder>[1] = {}) {
  const t = torrent();
  const server = buildHashServer({
    files: t.hostFiles,
    pieceLength: PIECE,
    v2PieceChecks: t.table,
    v2PiecesRoots: t.roots,
  });
  const served: HashServingTorrent = {
    infoHash: new Uint8Array(20),
    infoHashes: { v2: new Uint8Array(32) },
    hashServer: () => server,
  };
  return { ...t, responder: new HashResponder(served, options) };
}

function decode(bytes: Uint8Array): WireMessage {
  const messages = new WireDecoder({ hashMessages: true }).push(bytes);
  assert.equal(messages.length, 1);
  return messages[0]!;
}

describe('BEP 52 hash serving in the peer host', () => {
  it("answers the piece-layer request libtorrent makes with hashes that prove against the file's root", () => {
    const { responder, longRoot } = serving();
    const [request] = pieceLayerRequests(longRoot, LONG, PIECE);
    const message = decode(responder.onRequest(request!, 0, 0));
    assert.equal(message.type, 'hashes');
    if (message.type !== 'hashes') return;
    assert.deepEqual(verifyHashProof(message, LONG), { ok: true });
    assert.equal(responder.answered, 1);
    assert.equal(responder.rejected, 0);
  });

  it('rejects what it does not hold: leaves, a file of one piece (root only), an unknown root, a bad range', () => {
    const { responder, longRoot, shortRoot } = serving();
    const requests: HashRange[] = [
      { piecesRoot: longRoot, baseLayer: 0, index: 0, length: 2, proofLayers: 3 },
      { piecesRoot: shortRoot, baseLayer: 0, index: 0, length: 2, proofLayers: 0 },
      { piecesRoot: new Uint8Array(32).fill(7), baseLayer: 1, index: 0, length: 8, proofLayers: 2 },
      { piecesRoot: longRoot, baseLayer: 1, index: 1, length: 8, proofLayers: 2 },
    ];
    for (const request of requests) {
      const message = decode(responder.onRequest(request, 0, 0));
      assert.equal(message.type, 'hash-reject', JSON.stringify({ ...request, piecesRoot: undefined }));
      assert.deepEqual(
        { ...message, type: undefined, piecesRoot: [...message.piecesRoot] },
        {
          ...request,
          type: undefined,
          piecesRoot: [...request.piecesRoot],
        },
      );
    }
    assert.equal(responder.rejected, 4);
    assert.equal(responder.answered, 0);
  });

  it('serves at most maxServedHashesPerSecond hashes a second, rejects the rest, and again the next second', () => {
    const { responder, longRoot } = serving({ maxServedHashesPerSecond: 16 });
    const [request] = pieceLayerRequests(longRoot, LONG, PIECE);
    assert.equal(request!.length, 8);
    const types = [0, 10, 20].map((at) => decode(responder.onRequest(request!, at, 0)).type);
    assert.deepEqual(types, ['hashes', 'hashes', 'hash-reject']);
    assert.equal(decode(responder.onRequest(request!, 1_000, 0)).type, 'hashes');
  });

  it('rejects while more than maxHashBacklogBytes wait to be sent to the peer', () => {
    const { responder, longRoot } = serving({ maxHashBacklogBytes: 1_000 });
    const [request] = pieceLayerRequests(longRoot, LONG, PIECE);
    assert.equal(decode(responder.onRequest(request!, 0, 1_001)).type, 'hash-reject');
    assert.equal(decode(responder.onRequest(request!, 0, 1_000)).type, 'hashes');
  });

  it('drops a peer past maxHashRequestsPerSecond as a flood', () => {
    const { responder, longRoot } = serving({ maxHashRequestsPerSecond: 3 });
    const [request] = pieceLayerRequests(longRoot, LONG, PIECE);
    for (let i = 0; i < 3; i++) responder.onRequest(request!, 0, 0);
    assert.throws(
      () => responder.onRequest(request!, 999, 0),
      (error) =>
        isTorkError(error) && error.code === TorkErrorCode.WIRE_PROTOCOL && error.details?.cause === 'flood',
    );
    // A new second, a new count.
    assert.doesNotThrow(() => responder.onRequest(request!, 1_000, 0));
  });

  it('a layer that does not hash to its root, or roots not fitting the files, are refused', () => {
    const t = torrent();
    const bad = t.table.slice();
    bad[V2_PIECE_CHECK_SIZE] = (bad[V2_PIECE_CHECK_SIZE] ?? 0) ^ 1;
    assert.throws(
      () =>
        buildHashServer({
          files: t.hostFiles,
          pieceLength: PIECE,
          v2PieceChecks: bad,
          v2PiecesRoots: t.roots,
        }),
      (error) => isTorkError(error) && error.code === TorkErrorCode.THREAD_MESSAGE,
    );
    const command = {
      type: 'add-torrent' as const,
      torrentId: 'a'.repeat(40),
      infoHash: new Uint8Array(20),
      peerId: new Uint8Array(20),
      pieceLength: PIECE,
      length: 7 * PIECE,
      pieceHashes: new Uint8Array(0),
      v2PieceChecks: t.table,
      infoHashV2: new Uint8Array(32),
      v2PiecesRoots: t.roots.subarray(0, 64),
      have: new Uint8Array(1),
      files: t.hostFiles,
    };
    assert.throws(
      () => hostTorrentHashes(command),
      (error) => isTorkError(error) && error.code === TorkErrorCode.THREAD_MESSAGE,
    );
    // Well formed: a v2-only torrent (no SHA-1 hashes) known by its v2 hash alone, served lazily.
    const ok = hostTorrentHashes({ ...command, v2PiecesRoots: t.roots });
    assert.deepEqual(Object.keys(ok.infoHashes!), ['v2']);
    assert.ok(ok.hashServer!()?.get(t.longRoot));
    assert.equal(ok.hashServer!(), ok.hashServer!(), 'built once');
    // A v1 torrent: nothing.
    assert.deepEqual(hostTorrentHashes({ ...command, v2PieceChecks: undefined, infoHashV2: undefined }), {});
  });

  it('handshakes: either hash of a hybrid names it; hash messages only on a v2 connection', () => {
    const v1 = new Uint8Array(20).fill(1);
    const v2 = Uint8Array.from({ length: 32 }, (_, i) => i);
    const hybrid: HashServingTorrent = { infoHash: v1, infoHashes: { v1, v2 }, hashServer: () => null };
    assert.equal(handshakeVersion(hybrid, v1), 1);
    assert.equal(handshakeVersion(hybrid, v2.subarray(0, 20)), 2);
    assert.equal(handshakeVersion(hybrid, new Uint8Array(20)), undefined);
    const v1Torrent: HashServingTorrent = { infoHash: v1 };
    assert.equal(handshakeVersion(v1Torrent, v1), 1);
    assert.equal(handshakeVersion(v1Torrent, v2.subarray(0, 20)), undefined);

    const decoder = () => new WireDecoder({ expectHandshake: false });
    const plain = decoder();
    assert.equal(enableV2IfSpoken(hybrid, 1, false, plain), null);
    assert.equal(plain.hashMessages, false, 'a v1 connection to a hybrid: ids 21-23 stay unknown');
    const upgraded = decoder();
    assert.ok(enableV2IfSpoken(hybrid, 1, true, upgraded));
    assert.equal(upgraded.hashMessages, true);
    const named = decoder();
    assert.ok(enableV2IfSpoken(hybrid, 2, false, named));
    assert.equal(named.hashMessages, true);
    const v1Decoder = decoder();
    assert.equal(enableV2IfSpoken(v1Torrent, 1, true, v1Decoder), null);
    assert.equal(v1Decoder.hashMessages, false);
  });
});

describe('BEP 52 hash serving through a peer host session (accepted connection, relayed)', () => {
  const v1 = new Uint8Array(20).fill(0xab);
  const v2 = Uint8Array.from({ length: 32 }, (_, i) => i + 1);

  /**
   * Runs hybrid torrent `t` in an in-thread host, accepts a connection whose first bytes (one
   * chunk) are `initial`, and returns what the session wrote within `waitMs`.
   */
  async function accepted(t: ReturnType<typeof torrent>, initial: Uint8Array, waitMs: number) {
    const host = new PeerHost({ tickMs: 50 });
    const data = new MessageChannel();
    host.attach(data.port2);
    const relay = new MessageChannel();
    const decoder = new WireDecoder({ expectHandshake: true, hashMessages: true });
    const received: WireMessage[] = [];
    relay.port1.on('message', (value: unknown) => {
      let bytes: Uint8Array | undefined;
      if (value instanceof ArrayBuffer) bytes = new Uint8Array(value);
      else if (typeof value === 'object' && value !== null && (value as { type?: string }).type === 'data') {
        const chunk = value as { buffer: ArrayBuffer; length: number };
        bytes = new Uint8Array(chunk.buffer, 0, chunk.length);
      }
      if (bytes) received.push(...decoder.push(bytes));
    });
    const torrentId = Buffer.from(v1).toString('hex');
    data.port1.postMessage(
      {
        commands: [
          {
            type: 'add-torrent',
            torrentId,
            infoHash: v1,
            peerId: new Uint8Array(20).fill(0x2d),
            pieceLength: PIECE,
            length: 6 * PIECE + SHORT,
            pieceHashes: new Uint8Array(7 * 20),
            v2PieceChecks: t.table,
            infoHashV2: v2,
            v2PiecesRoots: t.roots,
            have: new Uint8Array(1),
            files: t.hostFiles,
          },
          { type: 'accept', actorId: 1, torrentId, address: '192.0.2.1:6881', relay: relay.port2, initial },
        ],
      },
      [relay.port2],
    );
    await new Promise((resolve) => setTimeout(resolve, waitMs));
    host.shutdown();
    relay.port1.close();
    data.port1.close();
    return received;
  }

  /** The peer's first chunk: handshake, have-none and a request for the long file's piece layer. */
  function opening(t: ReturnType<typeof torrent>, infoHash: Uint8Array, v2Bit: boolean): Uint8Array {
    const [request] = pieceLayerRequests(t.longRoot, LONG, PIECE);
    return Buffer.concat([
      encodeHandshake({ infoHash, peerId: new Uint8Array(20).fill(0x41), v2: v2Bit }),
      encodeHaveNone(),
      encodeHashRequest(request!),
    ]);
  }

  it("a hybrid named by its truncated v2 hash: replies with that hash and the v2 bit, answers a request in the handshake's chunk", async () => {
    const t = torrent();
    const messages = await accepted(t, opening(t, v2.subarray(0, 20), false), 300);
    const handshake = messages[0];
    assert.ok(handshake?.type === 'handshake', messages.map((m) => m.type).join(', '));
    assert.deepEqual([...handshake.infoHash], [...v2.subarray(0, 20)]);
    assert.equal(handshake.v2, true);
    const hashes = messages.find((message) => message.type === 'hashes');
    assert.ok(hashes?.type === 'hashes', `a hashes answer: ${messages.map((m) => m.type).join(', ')}`);
    assert.deepEqual(verifyHashProof(hashes, LONG), { ok: true });
  });

  it('its v1 hash without the v2 bit: a v1 connection (v1 hash replied), the request skipped as an unknown id', async () => {
    const t = torrent();
    const messages = await accepted(t, opening(t, v1, false), 300);
    const handshake = messages[0];
    assert.ok(handshake?.type === 'handshake', messages.map((m) => m.type).join(', '));
    assert.deepEqual([...handshake.infoHash], [...v1]);
    assert.ok(messages.length > 1, 'the session is open (bitfield or extended handshake sent)');
    assert.ok(!messages.some((message) => message.type === 'hashes' || message.type === 'hash-reject'));
  });
});
