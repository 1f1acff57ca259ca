/**
 * BEP 52 in the DHT: a `tork seed` of a hybrid torrent (made by libtorrent) on a loopback DHT of
 * libtorrent nodes announces itself under the v1 info-hash and under the truncated v2 one, as
 * libtorrent does for a hybrid: a libtorrent node's get_peers for either hash returns tork's
 * address. Nothing points beyond 127.0.0.0/8. Every process is stopped by PID.
 */
import '../support/hermetic.js';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseMetainfo } from '@tork/core';
import { requireLibtorrentPython } from '../download/support.js';
import { startTork, type TorkProcess } from '../seed/support.js';
import { libtorrentTorrent, writeV2Set } from '../seed/v2-support.js';
import { type LibtorrentDht, startLibtorrentDht } from './support.js';

let work: string;
before(async () => {
  work = await mkdtemp(join(tmpdir(), 'tork-hybrid-dht-'));
});
after(() => rm(work, { recursive: true, force: true }));

describe('a hybrid torrent in the DHT', () => {
  it('is announced under its v1 hash and its truncated v2 hash; get_peers for either finds tork', {
    timeout: 60_000,
  }, async (t) => {
    const python = await requireLibtorrentPython(t);
    if (!python) return;
    const dataDir = join(work, 'data');
    writeV2Set(dataDir);
    const torrent = join(work, 'hybrid.torrent');
    await libtorrentTorrent(python, dataDir, '0', torrent);
    const meta = parseMetainfo(readFileSync(torrent));
    assert.equal(meta.version, 'hybrid');
    const hashes = [meta.infoHashHex, meta.infoHashV2Hex!.slice(0, 40)];

    const dht: LibtorrentDht = await startLibtorrentDht(python, 8);
    let tork: TorkProcess | undefined;
    t.after(async () => {
      await tork?.stop();
      await dht.stop();
    });
    tork = await startTork('seed', [
      torrent,
      '--data',
      dataDir,
      '--no-trackers',
      '--dht-bootstrap',
      dht.bootstrap,
      '--dht-state',
      join(work, 'dht.json'),
    ]);
    for (const hash of hashes) {
      const done = await tork.waitFor(
        'dht-lookup-done',
        30_000,
        (event) => event.infoHash === hash && (event.announced as number) > 0,
      );
      t.diagnostic(`${hash}: announced to ${done.announced} of ${done.nodes} nodes`);
    }
    const torkAddress = `127.0.0.1:${tork.port}`;
    for (const hash of hashes) {
      dht.send({ cmd: 'get_peers', infohash: hash });
      const found = await dht.next('peers', 15_000, (event) => event.infohash === hash);
      assert.ok(
        (found.peers as string[]).includes(torkAddress),
        `get_peers ${hash}: ${JSON.stringify(found.peers)}, tork at ${torkAddress}`,
      );
    }
  });
});
