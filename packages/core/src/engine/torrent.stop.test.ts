import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildTorrent, ScriptedActorSystem, tempDir } from '@tork/testkit';
import { parseMetainfo } from '../metainfo/metainfo.js';
import { Engine } from './engine.js';

describe('Torrent.stop', () => {
  it('waits for its actors final counters at most STOP_PEERS_WAIT_MS (1 s), even when none answer', async () => {
    const built = buildTorrent({ length: 100_000, pieceLength: 16_384, name: 'stop.bin' });
    // Takes every command and never answers (nothing is emitted): its actors never report `closed`.
    const actors = new ScriptedActorSystem();
    const engine = new Engine({ actors, port: 0 });
    const torrent = await engine.add({
      meta: parseMetainfo(built.bytes),
      outDir: await tempDir('tork-stop-'),
      peers: [
        { host: '127.0.0.1', port: 1 },
        { host: '127.0.0.1', port: 2 },
      ],
      useTrackers: false,
      resumeDir: false,
    });
    await new Promise((resolve) => setImmediate(resolve));
    assert.ok(
      actors.commands.some((command) => command.type === 'connect'),
      'peers were dialled',
    );
    const started = performance.now();
    await engine.close();
    const took = performance.now() - started;
    assert.ok(took >= 900, `stop waited ${took.toFixed(0)} ms for counters that never came`);
    assert.ok(took < 3_000, `stop took ${took.toFixed(0)} ms: the wait is bounded`);
    assert.ok(actors.commands.some((command) => command.type === 'close'));
    await torrent.whenDone().catch(() => {});
  });
});
