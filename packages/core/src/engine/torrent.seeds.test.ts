import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { buildTorrent, ScriptedActorSystem, tempDir } from '@tork/testkit';
import type { HostCommand } from '../messages/host-command.js';
import { parseMetainfo } from '../metainfo/metainfo.js';
import { Engine } from './engine.js';

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('Torrent: a peer that completes through its haves', () => {
  it('is a seed: a seeding torrent closes it (both seeds: nothing to trade)', async () => {
    const built = buildTorrent({ length: 100_000, pieceLength: 16_384, name: 'seeds.bin' });
    const outDir = await tempDir('tork-seeds-');
    await writeFile(join(outDir, 'seeds.bin'), built.data);
    const actors = new ScriptedActorSystem();
    const engine = new Engine({ actors, port: 0 });
    try {
      const torrent = await engine.add({
        meta: parseMetainfo(built.bytes),
        outDir,
        peers: [{ host: '127.0.0.1', port: 1 }],
        useTrackers: false,
        resumeDir: false,
        seeding: true,
      });
      const deadline = Date.now() + 10_000;
      let connect: HostCommand | undefined;
      while (!connect && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        connect = actors.commands.find((command) => command.type === 'connect');
      }
      assert.ok(connect?.type === 'connect', 'the seeding torrent dialled its peer');
      assert.equal(torrent.progress().state, 'seeding');
      const actorId = connect.actorId;
      const pieceCount = 7;
      actors.emit(
        {
          type: 'connected',
          actorId,
          peerId: '11'.repeat(20),
          client: 'test',
          fastExtension: false,
          extensionProtocol: false,
        },
        // Pieces 0..4 of 7: a leecher.
        { type: 'bitfield', actorId, bitfield: Uint8Array.from([0b1111_1000]) },
      );
      await tick();
      const closedAs = (reason: RegExp) =>
        actors.commands.some(
          (command) => command.type === 'close' && command.actorId === actorId && reason.test(command.reason),
        );
      assert.equal(closedAs(/both seeds/), false, 'a leecher stays');
      actors.emit({ type: 'have', actorId, pieces: [5] });
      await tick();
      assert.equal(closedAs(/both seeds/), false, 'one piece short: still a leecher');
      actors.emit({ type: 'have', actorId, pieces: [pieceCount - 1] });
      await tick();
      assert.ok(closedAs(/both seeds: nothing to trade/), JSON.stringify(actors.commands.slice(-3)));
    } finally {
      await engine.close();
    }
  });
});
