/**
 * The `/metrics` module over a real Engine: 200 torrents (no peers, an in-memory ActorSystem)
 * each get their series, read from `Torrent.progress()` at scrape time, and a scrape of all of
 * them stays cheap. The same over a real download: `metrics-download.test.ts`.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createMetrics } from '@tork/cli/metrics';
import { Engine, parseMetainfo } from '@tork/core';
import { buildTorrent, parsePrometheusText, SimulatedActorSystem, sampleValue, tempDir } from '@tork/testkit';

const TORRENTS = 200;

describe('createMetrics over a real Engine', () => {
  it(`gives each of ${TORRENTS} torrents its series, read at scrape time`, async (t) => {
    const out = await tempDir('tork-metrics-engine-');
    const built = Array.from({ length: TORRENTS }, (_, index) =>
      buildTorrent({ name: `t${index}`, length: 40_000 + index, pieceLength: 16_384, seed: index + 1 }),
    );
    const sim = new SimulatedActorSystem({ seed: 1, peers: [], payload: built[0]!.data });
    const engine = new Engine({ actors: sim, peerId: new Uint8Array(20).fill(0x41) });
    try {
      for (const [index, torrent] of built.entries()) {
        await engine.add({
          meta: parseMetainfo(torrent.bytes),
          outDir: join(out, String(index)),
          // An address the in-memory swarm does not have: a peer source, never connected.
          peers: [{ host: '127.0.0.1', port: 9 }],
          useTrackers: false,
        });
      }
      const metrics = createMetrics({ engine }, { processMetrics: false });
      const timings: number[] = [];
      let text = '';
      for (let run = 0; run < 3; run++) {
        await new Promise((resolve) => setTimeout(resolve, 300)); // past the snapshot's reuse
        const started = process.hrtime.bigint();
        text = await metrics.render();
        timings.push(Number(process.hrtime.bigint() - started) / 1e6);
      }
      const parsed = parsePrometheusText(text);
      t.diagnostic(
        `${TORRENTS} torrents: scrapes ${timings.map((ms) => `${ms.toFixed(1)} ms`).join(', ')}, ${text.length} bytes`,
      );
      assert.equal(sampleValue(parsed, 'tork_torrents'), TORRENTS);
      assert.equal(parsed.get('tork_torrent_pieces')?.samples.length, TORRENTS);
      for (const [index, torrent] of built.entries()) {
        const labels = { torrent: torrent.infoHashHex, name: `t${index}` };
        assert.equal(sampleValue(parsed, 'tork_torrent_size_bytes', labels), 40_000 + index);
        assert.equal(sampleValue(parsed, 'tork_torrent_pieces', labels), 3);
        assert.equal(sampleValue(parsed, 'tork_torrent_verified_pieces', labels), 0);
        assert.equal(sampleValue(parsed, 'tork_torrent_downloaded_bytes_total', labels), 0);
        assert.equal(sampleValue(parsed, 'tork_torrent_disk_queue_bytes', labels), 0);
      }
      assert.equal(parsed.get('tork_torrent_peers')?.samples.length, 0, 'no peers, no peer series');
      assert.ok(
        Math.min(...timings) < 1_000,
        `a scrape of ${TORRENTS} torrents took ${Math.min(...timings)} ms`,
      );
    } finally {
      await engine.close();
    }
  });
});
