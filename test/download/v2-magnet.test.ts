/**
 * BEP 52 magnets from libtorrent on 127.0.0.1: a v2-only link (`urn:btmh` alone) and a hybrid
 * link are downloaded byte-identical by `tork download`. BEP 9 metadata carries no piece layers,
 * so tork asks the seeder for them by hash request (the `piece-layers-received` event counts
 * them) and saves a complete .torrent in the resume directory: the second run fetches nothing.
 * A scripted peer over real TCP that answers hash requests with wrong hashes is banned and the
 * download completes from the honest libtorrent seeder beside it. Seeders are stopped by PID.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  encodeHandshake,
  encodeHashes,
  formatMagnet,
  type Metainfo,
  parseMetainfo,
  uncleCount,
  WireDecoder,
} from '@tork/core';
import { libtorrentCreate, writeRandomSet } from '../support/libtorrent-create.js';
import { requireLibtorrentPython, runTork, startLibtorrentSeeder, type TorkRun } from './support.js';

const PIECE = 16_384;
/** A file of 601 pieces (two hash requests of 512), one of a few pieces, one under a piece. */
const FILES: [string, number][] = [
  ['big.bin', 600 * PIECE + 777],
  ['small.txt', 5_000],
  ['mid.bin', 3 * PIECE + 5],
];

let work: string;
let dataDir: string;
before(async () => {
  work = await mkdtemp(join(tmpdir(), 'tork-v2-magnet-'));
  dataDir = join(work, 'seed');
  writeRandomSet(dataDir, FILES);
});
after(() => rm(work, { recursive: true, force: true }));

/** libtorrent's create_torrent with `flags` (0: hybrid, v2_only) over `dataDir/set`, 16 KiB pieces. */
async function libtorrentTorrent(python: string, flags: string, out: string): Promise<Metainfo> {
  await libtorrentCreate(python, { dataDir, flags, pieceLength: PIECE, out });
  return parseMetainfo(readFileSync(out));
}

function assertIdentical(out: string): void {
  for (const [name] of FILES) {
    assert.ok(
      readFileSync(join(out, 'set', name)).equals(readFileSync(join(dataDir, 'set', name))),
      `${name} byte-identical`,
    );
  }
}

function assertDone(run: TorkRun): void {
  assert.equal(run.status, 0, `tork exited ${run.status} (${run.signal}): ${run.stderr}`);
  assert.ok(run.events.some((event) => event.event === 'done'));
  assert.equal(run.events.filter((event) => event.event === 'hash-failed').length, 0);
}

/** The piece hashes tork had to fetch: one per piece of each file longer than a piece. */
const LAYER_HASHES = FILES.filter(([, length]) => length > PIECE).reduce(
  (sum, [, length]) => sum + Math.ceil(length / PIECE),
  0,
);

/**
 * A peer that completes the handshake for `infoHash` (v2 bit set, no extensions: it offers no
 * metadata) and answers every hash request with random hashes and uncles. Counts requests.
 */
async function startLyingPeer(
  infoHash: Uint8Array,
): Promise<{ port: number; requests: () => number; stop: () => Promise<void> }> {
  let requests = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    const decoder = new WireDecoder({ expectHandshake: true, hashMessages: true });
    socket.on('data', (chunk) => {
      let messages: ReturnType<WireDecoder['push']>;
      try {
        messages = decoder.push(new Uint8Array(chunk));
      } catch {
        socket.destroy();
        return;
      }
      for (const message of messages) {
        if (message.type === 'handshake') {
          socket.write(encodeHandshake({ infoHash, peerId: randomBytes(20), v2: true }));
        } else if (message.type === 'hash-request') {
          requests++;
          const range = { ...message, piecesRoot: new Uint8Array(message.piecesRoot) };
          const uncles = uncleCount(range.length, range.proofLayers);
          socket.write(encodeHashes(range, randomBytes(range.length * 32), randomBytes(uncles * 32)));
        }
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  assert.ok(address !== null && typeof address === 'object');
  return {
    port: address.port,
    requests: () => requests,
    stop: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('BEP 52 magnet links from a libtorrent seeder', { timeout: 90_000 }, () => {
  it('a v2-only magnet (urn:btmh): piece layers by hash request, byte-identical, saved for the next run', async (t) => {
    const python = await requireLibtorrentPython(t);
    if (!python) return;
    const torrent = join(work, 'v2.torrent');
    const meta = await libtorrentTorrent(python, 'lt.create_torrent.v2_only', torrent);
    assert.equal(meta.version, 2);
    const seeder = await startLibtorrentSeeder(python, torrent, dataDir);
    t.after(() => seeder.stop());
    const magnet = formatMagnet({
      infoHash: meta.infoHash,
      infoHashV2: meta.infoHashV2!,
      v2Only: true,
      peers: [{ host: '127.0.0.1', port: seeder.port }],
    });
    assert.match(magnet, /^magnet:\?xt=urn:btmh:1220[0-9a-f]{64}&/);
    assert.doesNotMatch(magnet, /btih/);
    const out = join(work, 'out-v2');
    const saveAs = join(work, 'saved-v2.torrent');
    const run = await runTork([magnet, '--out', out, '--no-trackers', '--no-dht', '--save-torrent', saveAs], {
      timeoutMs: 40_000,
    });
    assertDone(run);
    assert.equal(run.events.filter((event) => event.event === 'metadata-received').length, 1);
    const layers = run.events.find((event) => event.event === 'piece-layers-received');
    assert.ok(layers, `no piece-layers-received event: ${run.stderr}`);
    assert.equal(layers.files, 2);
    assert.equal(layers.hashes, LAYER_HASHES);
    assert.ok((layers.requests as number) >= 3, `${layers.requests} hash requests`);
    assertIdentical(out);
    // The saved .torrent carries the piece layers: the same torrent as libtorrent's, layers included.
    const saved = parseMetainfo(readFileSync(join(out, '.tork', `${meta.infoHashHex}.torrent`)));
    assert.equal(saved.infoHashV2Hex, meta.infoHashV2Hex);
    assert.equal(saved.v2?.hasPieceLayers, true);
    for (const [root, layer] of meta.v2!.pieceLayers) {
      assert.ok(Buffer.from(saved.v2!.pieceLayers.get(root)!).equals(Buffer.from(layer)), `layer ${root}`);
    }
    assert.equal(
      parseMetainfo(readFileSync(saveAs)).v2?.hasPieceLayers,
      true,
      '--save-torrent has the layers',
    );
    // Second run: nothing fetched (metadata and layers come from the resume directory).
    const again = await runTork([magnet, '--out', out, '--no-trackers', '--no-dht'], { timeoutMs: 30_000 });
    assertDone(again);
    assert.equal(again.events.filter((event) => event.event === 'metadata-received').length, 0);
    assert.equal(again.events.filter((event) => event.event === 'piece-layers-received').length, 0);
    assertIdentical(out);
  });

  it('a hybrid magnet (btih + btmh, and btih alone): both hashes checked, layers fetched, byte-identical', async (t) => {
    const python = await requireLibtorrentPython(t);
    if (!python) return;
    const torrent = join(work, 'hybrid.torrent');
    const meta = await libtorrentTorrent(python, '0', torrent);
    assert.equal(meta.version, 'hybrid');
    const seeder = await startLibtorrentSeeder(python, torrent, dataDir);
    t.after(() => seeder.stop());
    const peers = [{ host: '127.0.0.1', port: seeder.port }];
    const both = formatMagnet({ infoHash: meta.infoHash, infoHashV2: meta.infoHashV2!, peers });
    assert.match(both, /btih:.*btmh:1220/);
    const v1Only = formatMagnet({ infoHash: meta.infoHash, peers });
    // Both links at once (two tork processes, one seeder): the wall time of one.
    const variants = [
      ['btih+btmh', both],
      ['btih', v1Only],
    ] as const;
    const runs = await Promise.all(
      variants.map(([label, magnet]) =>
        runTork([magnet, '--out', join(work, `out-hybrid-${label}`), '--no-trackers', '--no-dht'], {
          timeoutMs: 40_000,
        }),
      ),
    );
    for (const [index, [label]] of variants.entries()) {
      const run = runs[index]!;
      const out = join(work, `out-hybrid-${label}`);
      assertDone(run);
      const layers = run.events.find((event) => event.event === 'piece-layers-received');
      assert.ok(layers, `${label}: no piece-layers-received event: ${run.stderr}`);
      assert.equal(layers.hashes, LAYER_HASHES);
      assertIdentical(out);
      const saved = parseMetainfo(readFileSync(join(out, '.tork', `${meta.infoHashHex}.torrent`)));
      assert.equal(saved.version, 'hybrid');
      assert.equal(saved.v2?.hasPieceLayers, true, label);
    }
  });

  it('a peer sending wrong piece-layer hashes is banned; the download completes from libtorrent', async (t) => {
    const python = await requireLibtorrentPython(t);
    if (!python) return;
    const torrent = join(work, 'v2.torrent');
    const meta = existsSync(torrent)
      ? parseMetainfo(readFileSync(torrent))
      : await libtorrentTorrent(python, 'lt.create_torrent.v2_only', torrent);
    const seeder = await startLibtorrentSeeder(python, torrent, dataDir);
    t.after(() => seeder.stop());
    const liar = await startLyingPeer(meta.infoHash);
    t.after(() => liar.stop());
    const magnet = formatMagnet({
      infoHash: meta.infoHash,
      infoHashV2: meta.infoHashV2!,
      v2Only: true,
      // The liar first: dialled first, so it is connected when the hash requests go out.
      peers: [
        { host: '127.0.0.1', port: liar.port },
        { host: '127.0.0.1', port: seeder.port },
      ],
    });
    const out = join(work, 'out-liar');
    // Plain dials: the liar speaks no MSE, and an encrypted dial's plain retry could miss the
    // moment the hash requests are spread (LAYER_GATHER_MS).
    const run = await runTork(
      [magnet, '--out', out, '--no-trackers', '--no-dht', '--encryption', 'disable'],
      {
        timeoutMs: 40_000,
      },
    );
    assertDone(run);
    assert.ok(liar.requests() >= 1, 'the lying peer was asked for hashes');
    const rejected = run.events.filter((event) => event.event === 'piece-layers-rejected');
    assert.equal(rejected.length, 1, JSON.stringify(rejected));
    assert.equal(rejected[0]!.address, `127.0.0.1:${liar.port}`);
    assert.match(String(rejected[0]!.reason), /bad hashes|do not chain/);
    const layers = run.events.find((event) => event.event === 'piece-layers-received');
    assert.equal(layers?.hashes, LAYER_HASHES);
    assertIdentical(out);
  });
});
