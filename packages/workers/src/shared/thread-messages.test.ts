import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import { Worker } from 'node:worker_threads';
import { HostCommand, HostEvent, TorkErrorCode } from '@tork/core';
import { echoWorkerUrl } from '@tork/testkit';

type Reply = { ok: true; batch: unknown } | { ok: false; error: { code: string; message: string } };

const hex = (byte: number) => byte.toString(16).padStart(2, '0').repeat(20);
const bytes20 = (byte: number) => new Uint8Array(20).fill(byte);

/** One sample of every command kind: the test fails if a kind is added without a sample. */
const commands: HostCommand[] = [
  {
    type: 'add-torrent',
    torrentId: hex(0xab),
    infoHash: bytes20(0xab),
    peerId: bytes20(0x2d),
    pieceLength: 32_768,
    length: 100_000,
    pieceHashes: new Uint8Array(80).fill(7),
    have: Uint8Array.of(0b1010_0000),
    files: [
      { path: '/tmp/tork/a.bin', length: 60_000 },
      { path: null, length: 40_000 },
    ],
  },
  { type: 'remove-torrent', torrentId: hex(0xab) },
  { type: 'connect', actorId: 1, torrentId: hex(0xab), host: '127.0.0.1', port: 6881 },
  { type: 'assign', actorId: 1, pieces: [0, 3] },
  { type: 'unassign', actorId: 1, pieces: [3] },
  { type: 'interest', actorId: 1, interested: true },
  { type: 'have', torrentId: hex(0xab), pieces: [2] },
  { type: 'choke', actorId: 1, choked: false },
  { type: 'recycle', actorId: 1, buffers: [new ArrayBuffer(8)] },
  { type: 'close', actorId: 1, reason: 'endgame over' },
  {
    type: 'add-magnet',
    torrentId: hex(0xcd),
    infoHash: new Uint8Array(20).fill(0xcd),
    peerId: new Uint8Array(20).fill(2),
    v2: true,
    metadataHashes: { v1: new Uint8Array(20).fill(1), v2: new Uint8Array(32).fill(0xcd) },
  },
  { type: 'fetch-metadata', actorId: 2 },
  {
    type: 'fetch-hashes',
    actorId: 2,
    piecesRoot: new Uint8Array(32).fill(7),
    fileLength: 10_000_000,
    baseLayer: 2,
    index: 512,
    length: 512,
    proofLayers: 7,
  },
  { type: 'rate-limits', torrentId: hex(0xab), download: true, upload: false },
  { type: 'report-stats', torrentId: hex(0xab), intervalMs: 1_000 },
  {
    type: 'web-seed',
    actorId: 4,
    torrentId: hex(0xab),
    url: 'http://127.0.0.1:8080/pub/',
    files: [
      { url: 'http://127.0.0.1:8080/pub/set%20%231/a.bin', length: 60_000 },
      { url: null, length: 40_000 },
    ],
  },
  { type: 'rate-grant', actorId: 1, direction: 'download', bytes: 419_430 },
  {
    type: 'torrent-peers',
    torrentId: hex(0xab),
    peers: [
      { actorId: 2, host: '127.0.0.2', port: 6881, flags: 0x12 },
      { actorId: 3, host: '2001:db8::1', port: 51413, flags: 0 },
    ],
  },
  { type: 'refuse-incoming', connection: 7 },
];
/** `accept` carries a MessagePort, which cannot be echoed back: core's validate.test.ts covers it. */
const NOT_ECHOED = ['accept'];

const stats = {
  actorId: 1,
  downloaded: 1_000,
  uploaded: 0,
  downloadRate: 12.5,
  uploadRate: 0,
  queueDepth: 4,
  targetQueueDepth: 8,
  peerChoking: false,
  amInterested: true,
  amChoking: true,
  peerInterested: false,
  snubbed: false,
  requestsQueued: 3,
  requestsRefused: 0,
  uploadStalled: false,
};

const events = (piece: ArrayBuffer, packed: ArrayBuffer): HostEvent[] => [
  {
    type: 'connected',
    actorId: 1,
    peerId: hex(0x41),
    client: 'qBittorrent 4.6.0',
    fastExtension: true,
    extensionProtocol: true,
  },
  { type: 'bitfield', actorId: 1, bitfield: Uint8Array.of(0xff, 0x80) },
  { type: 'have', actorId: 1, pieces: [4, 5] },
  { type: 'choke', actorId: 1, choked: false },
  { type: 'piece', actorId: 1, index: 0, data: piece },
  {
    type: 'pieces',
    data: packed,
    pieces: [
      { actorId: 1, index: 2, offset: 0, length: 16_384 },
      { actorId: 1, index: 3, offset: 16_384, length: 16_384 },
    ],
  },
  { type: 'hash-failed', actorId: 1, index: 1 },
  { type: 'peer-interest', actorId: 1, interested: true },
  { type: 'peer-info', actorId: 1, listenPort: 6881, client: 'rtorrent 0.9.8' },
  { type: 'metadata-available', actorId: 2, size: 40_000 },
  { type: 'metadata', actorId: 2, info: Uint8Array.of(0x64, 0x65).buffer },
  {
    type: 'piece-hashes',
    actorId: 2,
    piecesRoot: new Uint8Array(32).fill(7),
    index: 0,
    length: 2,
    hashes: new Uint8Array(64).fill(9).buffer,
  },
  { type: 'hashes-rejected', actorId: 2, piecesRoot: new Uint8Array(32).fill(7), index: 2, length: 2 },
  {
    type: 'pex-peers',
    actorId: 1,
    added: [{ host: '10.0.0.7', port: 6881, flags: 0x02 }],
    dropped: [{ host: '::1', port: 7000 }],
  },
  {
    type: 'unreadable',
    actorId: 1,
    index: 3,
    error: { code: 'TORK_ERR_IO', message: 'piece 3 changed on disk', details: { cause: 'corrupt' } },
  },
  { type: 'released', actorId: 1, pieces: [2], reason: 'choked' },
  { type: 'rate-need', actorId: 1, direction: 'upload' },
  { type: 'stats', actors: [stats] },
  {
    type: 'closed',
    actorId: 1,
    error: { code: 'TORK_ERR_IO', message: 'connection refused', details: { peer: '127.0.0.1:1' } },
  },
  {
    type: 'incoming',
    connection: 7,
    infoHashHex: 'ab'.repeat(20),
    address: '127.0.0.1:51413',
    encrypted: true,
  },
];

const kinds = (union: { options: readonly { shape: { type: { value: string } } }[] }) =>
  union.options.map((option) => option.shape.type.value).sort();

describe('thread messages across a real worker boundary', () => {
  let worker: Worker;
  before(() => {
    worker = new Worker(echoWorkerUrl);
  });
  after(async () => {
    await worker.terminate();
  });

  const roundTrip = async (message: unknown, transfer: ArrayBuffer[] = []): Promise<Reply> => {
    const reply = once(worker, 'message');
    worker.postMessage(message, transfer);
    const [value] = (await reply) as [Reply];
    return value;
  };

  it('every HostCommand kind parses on the other side and comes back equal', async () => {
    assert.deepEqual(
      [...commands.map((command) => command.type), ...NOT_ECHOED].sort(),
      kinds(HostCommand as never),
    );
    const reply = await roundTrip({ commands });
    assert.ok(reply.ok, JSON.stringify(reply));
    assert.deepEqual(reply.batch, { commands });
  });

  it('every HostEvent kind parses on the other side and comes back equal; a piece is moved, not copied', async () => {
    const piece = new ArrayBuffer(64 * 1024);
    new Uint8Array(piece).fill(0x5a);
    const packed = new ArrayBuffer(32 * 1024);
    new Uint8Array(packed).fill(0x3c);
    const sent = events(piece, packed);
    assert.deepEqual(sent.map((event) => event.type).sort(), kinds(HostEvent as never));
    const expected = events(
      new Uint8Array(64 * 1024).fill(0x5a).buffer,
      new Uint8Array(32 * 1024).fill(0x3c).buffer,
    );
    const reply = roundTrip({ events: sent }, [piece, packed]);
    assert.equal(piece.byteLength, 0, 'the piece buffer was transferred (detached here)');
    assert.equal(packed.byteLength, 0, 'so was the packed pieces buffer');
    const value = await reply;
    assert.ok(value.ok, JSON.stringify(value));
    assert.deepEqual(value.batch, { events: expected });
  });

  it('a malformed batch is refused with TORK_ERR_THREAD_MESSAGE naming the fault', async () => {
    const bad = await roundTrip({ commands: [{ type: 'assign', actorId: 1, pieces: [] }] });
    assert.ok(!bad.ok);
    assert.equal(bad.error.code, TorkErrorCode.THREAD_MESSAGE);
    assert.match(bad.error.message, /commands\.0\.pieces/);
    const badEvent = await roundTrip({
      events: [{ type: 'piece', actorId: 1, index: 0, data: new Uint8Array(4) }],
    });
    assert.ok(!badEvent.ok);
    assert.equal(badEvent.error.code, TorkErrorCode.THREAD_MESSAGE);
    assert.match(badEvent.error.message, /events\.0/);
  });
});
