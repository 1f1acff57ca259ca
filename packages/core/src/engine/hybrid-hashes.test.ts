import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { MessageChannel } from 'node:worker_threads';
import { ScriptedActorSystem, tempDir } from '@tork/testkit';
import { encodeTorrentV2 } from '../metainfo/create-torrent-v2.js';
import { fileMerkle } from '../metainfo/merkle-tree.js';
import { parseMetainfo } from '../metainfo/metainfo.js';
import { mseTorrentKey } from '../mse/mse-handshake.js';
import { Engine } from './engine.js';
import { hybridV2WireHash } from './hybrid-hashes.js';

const PIECE = 16_384;

/** A single-file hybrid of two pieces and a bit. */
function hybridTorrent(): Uint8Array {
  const data = randomBytes(2 * PIECE + 100);
  const merkle = fileMerkle(data, PIECE);
  const hashes: Buffer[] = [];
  for (let at = 0; at < data.length; at += PIECE) {
    hashes.push(
      createHash('sha1')
        .update(data.subarray(at, at + PIECE))
        .digest(),
    );
  }
  return encodeTorrentV2({
    version: 'hybrid',
    name: 'hy.bin',
    length: data.length,
    pieceLength: PIECE,
    pieceHashes: new Uint8Array(Buffer.concat(hashes)),
    fileHashes: [{ piecesRoot: merkle.root!, pieceLayer: merkle.pieceLayer! }],
  });
}

describe("a hybrid's truncated v2 hash leads to it", () => {
  it('incoming handshakes and MSE keys by either hash reach the torrent; add-torrent carries the v2 hash and roots', async () => {
    const meta = parseMetainfo(hybridTorrent());
    assert.equal(meta.version, 'hybrid');
    const v2Wire = hybridV2WireHash(meta)!;
    assert.deepEqual([...v2Wire], [...meta.infoHashV2!.subarray(0, 20)]);
    const actors = new ScriptedActorSystem();
    const engine = new Engine({ actors, port: 6881 });
    try {
      await engine.add({
        meta,
        outDir: await tempDir('tork-hybrid-'),
        useTrackers: false,
        resumeDir: false,
        peers: [{ host: '192.0.2.50', port: 1 }],
      });
      // Commands leave in batches, at the end of the turn.
      for (let turn = 0; turn < 100 && !actors.commands.some((c) => c.type === 'add-torrent'); turn++) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      const add = actors.commands.find((command) => command.type === 'add-torrent');
      assert.ok(add?.type === 'add-torrent');
      assert.deepEqual([...add.infoHash], [...meta.infoHash]);
      assert.deepEqual([...add.infoHashV2!], [...meta.infoHashV2!]);
      assert.deepEqual([...add.v2PiecesRoots!], [...meta.v2!.piecesRoots[0]!]);

      for (const hash of [meta.infoHash, v2Wire]) {
        assert.deepEqual([...engine.torrentForMseKey(mseTorrentKey(hash))!], [...hash], 'MSE key known');
      }
      const accept = (infoHashHex: string, address: string): boolean => {
        const { port1, port2 } = new MessageChannel();
        try {
          return engine.acceptIncoming({ infoHashHex, address, relay: port1, initial: new Uint8Array(68) });
        } finally {
          port1.close();
          port2.close();
        }
      };
      assert.equal(accept(meta.infoHashHex, '192.0.2.1:1'), true, 'by the v1 hash');
      assert.equal(
        accept(Buffer.from(v2Wire).toString('hex'), '192.0.2.2:1'),
        true,
        'by the truncated v2 hash',
      );
      assert.equal(accept('ee'.repeat(20), '192.0.2.3:1'), false, 'not by another');
      await new Promise((resolve) => setTimeout(resolve, 20));
      const accepted = actors.commands.filter((command) => command.type === 'accept');
      assert.deepEqual(
        accepted.map((command) => command.torrentId),
        [meta.infoHashHex, meta.infoHashHex],
      );

      await engine.remove(meta.infoHashHex);
      assert.equal(
        accept(Buffer.from(v2Wire).toString('hex'), '192.0.2.4:1'),
        false,
        'forgotten with the torrent',
      );
    } finally {
      await engine.close();
    }
  });

  it('v1 and v2-only torrents have no second hash', () => {
    assert.equal(hybridV2WireHash({ version: 1 }), undefined);
    assert.equal(hybridV2WireHash({ version: 2, infoHashV2: new Uint8Array(32) }), undefined);
    assert.equal(hybridV2WireHash({ version: 'hybrid', infoHashV2: new Uint8Array(32).fill(3) })?.length, 20);
  });
});
