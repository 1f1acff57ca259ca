import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildTorrent, tempDir } from '@tork/testkit';
import { parseMetainfo } from '../metainfo/metainfo.js';
import type { ActorSystem } from './actor-system.js';
import { Engine } from './engine.js';

/** No peers are given: nothing reaches the actors. */
const idleActors: ActorSystem = { send() {}, onEvents() {}, close: async () => {} };

describe('Engine.remove', () => {
  it('stops a torrent and forgets it, so the same torrent can be added again (pause, then resume)', async () => {
    const built = buildTorrent({ length: 50_000, pieceLength: 16_384, name: 'again.bin' });
    const meta = parseMetainfo(built.bytes);
    const engine = new Engine({ actors: idleActors, port: 0 });
    const options = {
      meta,
      outDir: await tempDir('tork-remove-'),
      useTrackers: false,
      peers: [{ host: '127.0.0.1', port: 1 }],
    };
    const first = await engine.add(options);
    await assert.rejects(engine.add(options), /already added/);
    assert.equal(await engine.remove(meta.infoHashHex), true);
    assert.equal(first.state, 'stopped');
    assert.deepEqual(engine.torrents, []);
    assert.equal(await engine.remove(meta.infoHashHex), false, 'unknown now');
    const second = await engine.add(options);
    assert.notEqual(second, first);
    assert.deepEqual(engine.torrents, [second]);
    await engine.close();
    await first.whenDone().catch(() => {});
    await second.whenDone().catch(() => {});
  });
});
