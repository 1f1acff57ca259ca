import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildTorrent, ScriptedActorSystem, tempDir } from '@tork/testkit';
import { isTorkError, TorkErrorCode } from '../errors.js';
import { parseMetainfo } from '../metainfo/metainfo.js';
import type { PeerAddress } from '../tracker/types.js';
import { Engine } from './engine.js';
import { type DiscoveryTorrent, type PeerDiscovery, TorrentDiscovery } from './peer-discovery.js';

/** A discovery service that records joins and lets the test hand out peers. */
class FakeLsd implements PeerDiscovery {
  readonly source = 'lsd' as const;
  readonly joined: DiscoveryTorrent[] = [];
  left = 0;
  found: ((peers: readonly PeerAddress[]) => void) | undefined;
  join(torrent: DiscoveryTorrent, found: (peers: readonly PeerAddress[]) => void) {
    this.joined.push(torrent);
    this.found = found;
    return { lookup: () => {}, leave: () => void this.left++ };
  }
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('peer discovery as the only peer source', () => {
  it('a public torrent without trackers or --peer starts on discovery alone and dials what it finds', async () => {
    const built = buildTorrent({ length: 100_000, pieceLength: 16_384, name: 'public.bin' });
    const actors = new ScriptedActorSystem();
    const lsd = new FakeLsd();
    const engine = new Engine({ actors, port: 6881, discovery: [lsd] });
    const events: Array<{ peers: number; added: number }> = [];
    const torrent = await engine.add(
      {
        meta: parseMetainfo(built.bytes),
        outDir: await tempDir('tork-lsd-'),
        useTrackers: false,
        resumeDir: false,
      },
      (created) => created.on('lsd-peers', (event) => events.push(event)),
    );
    assert.equal(torrent.state, 'downloading');
    assert.equal(lsd.joined.length, 1);
    assert.equal(lsd.joined[0]!.port, 6881);
    assert.equal(lsd.joined[0]!.infoHashHex, torrent.meta.infoHashHex);
    lsd.found!([{ host: '192.0.2.7', port: 51413 }]);
    await tick();
    assert.deepEqual(events, [{ peers: 1, added: 1 }]);
    assert.ok(
      actors.commands.some(
        (command) => command.type === 'connect' && command.host === '192.0.2.7' && command.port === 51413,
      ),
      'the peer found is dialled',
    );
    await engine.close();
    assert.equal(lsd.left, 1);
    await torrent.whenDone().catch(() => {});
  });

  it('a private torrent never joins, and without trackers or --peer has no peer source (BEP 27)', async () => {
    const built = buildTorrent({ length: 100_000, pieceLength: 16_384, name: 'private.bin', private: true });
    const lsd = new FakeLsd();
    const engine = new Engine({ actors: new ScriptedActorSystem(), port: 6881, discovery: [lsd] });
    const errors: string[] = [];
    const torrent = await engine.add(
      {
        meta: parseMetainfo(built.bytes),
        outDir: await tempDir('tork-lsd-'),
        useTrackers: false,
        resumeDir: false,
      },
      (created) => created.on('error', ({ error }) => errors.push(error.code)),
    );
    await assert.rejects(
      torrent.whenDone(),
      (error) => isTorkError(error, TorkErrorCode.USAGE) && /no peer source/.test(error.message),
    );
    assert.deepEqual(errors, [TorkErrorCode.USAGE]);
    assert.equal(lsd.joined.length, 0);
    await engine.close();
  });
});

describe('BEP 52: a hybrid in the DHT and LSD', () => {
  it('joins each service under its v1 hash and its truncated v2 hash; what either finds goes to the torrent', () => {
    const lsd = new FakeLsd();
    const v1 = new Uint8Array(20).fill(1);
    const v2 = Uint8Array.from({ length: 32 }, (_, i) => i + 100);
    const hybrid = new TorrentDiscovery([lsd], {
      infoHash: v1,
      infoHashHex: Buffer.from(v1).toString('hex'),
      port: 6881,
      version: 'hybrid',
      infoHashV2: v2,
    });
    const found: number[] = [];
    hybrid.join((_source, peers) => found.push(peers.length));
    assert.deepEqual(
      lsd.joined.map((torrent) => torrent.infoHashHex),
      [Buffer.from(v1).toString('hex'), Buffer.from(v2.subarray(0, 20)).toString('hex')],
    );
    assert.deepEqual([...lsd.joined[1]!.infoHash], [...v2.subarray(0, 20)]);
    assert.equal(lsd.joined[1]!.port, 6881);
    lsd.found!([{ host: '192.0.2.9', port: 1 }]);
    assert.deepEqual(found, [1]);
    hybrid.leave();
    assert.equal(lsd.left, 2);
    // A v1 torrent (and a v2-only one, whose infoHash already is the truncated v2 hash): one swarm.
    const v1Only = new FakeLsd();
    new TorrentDiscovery([v1Only], { infoHash: v1, infoHashHex: 'x', port: 1, version: 1 }).join(() => {});
    assert.equal(v1Only.joined.length, 1);
  });
});
