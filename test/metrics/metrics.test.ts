/**
 * The `/metrics` module over stand-in inputs: the exposition parses strictly, figures are read at
 * scrape time, labels stay bounded (`METRICS_MAX_TORRENTS`), and the `--metrics-listen` server
 * answers GET only. The same module over a real download: `metrics-download.test.ts`.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createMetrics, METRICS_MAX_TORRENTS, type MetricsTorrent } from '@tork/cli/metrics';
import type { PeerSource, TorrentProgress } from '@tork/core';
import { parsePrometheusText, sampleSum, sampleValue } from '@tork/testkit';
import type { HostStats, HostTraffic } from '@tork/workers';

function fakeTorrent(
  index: number,
  peers: number,
): MetricsTorrent & { progressValue: Partial<TorrentProgress> } {
  const sources: PeerSource[] = ['tracker', 'dht', 'pex', 'incoming'];
  const views = Array.from({ length: peers }, (_, i) => ({
    source: sources[i % sources.length]!,
    transport: i % 3 === 0 ? ('utp' as const) : ('tcp' as const),
  }));
  const torrent = {
    progressValue: {
      infoHash: index.toString(16).padStart(40, '0'),
      name: `torrent "${index}"\\n`,
      length: 1_000_000,
      pieceCount: 100,
      verifiedPieces: index % 100,
      verifiedBytes: (index % 100) * 10_000,
      downloadedBytes: 5_000 + index,
      uploadedBytes: 7,
      wastedBytes: 3,
      hashFailures: 1,
      downloadRate: 10,
      uploadRate: 0,
      bytesInFlight: 0,
      peers: {
        connected: peers,
        seeds: 0,
        leechers: peers,
        connecting: 2,
        stalled: 0,
        sources: {},
        downloadedBySource: { tracker: 4_000, dht: 1_000 },
        known: 9,
        banned: 0,
      },
    } as Partial<TorrentProgress>,
    progress: () => torrent.progressValue as TorrentProgress,
    peerViews: () => views,
    diskQueuedBytes: 65_536,
  };
  return torrent;
}

const hostStats = (lagMs: number): HostStats => ({
  actors: 3,
  torrents: 1,
  bytesReceived: 1_000,
  bytesSent: 10,
  eventLoopLagMs: lagMs,
  eventLoopLagMaxMs: lagMs * 2,
  rejectedBatches: 0,
  lastRejection: null,
  bufferPoolBytes: 0,
  buffersReused: 0,
  buffersAllocated: 0,
});

describe('createMetrics', () => {
  it('renders valid text with per-torrent, per-thread and DHT figures read at scrape time', async () => {
    const torrents = [fakeTorrent(1, 7), fakeTorrent(2, 0)];
    const traffic: HostTraffic[] = [
      { commandBatches: 4, commands: 40, eventBatches: 5, events: 50 },
      { commandBatches: 1, commands: 1, eventBatches: 0, events: 0 },
    ];
    const metrics = createMetrics({
      engine: { torrents },
      hostStats: () => [hostStats(2), hostStats(4)],
      hostTraffic: () => traffic,
      udpStats: async () => ({ nodes: 12, datagrams: 99, utpConnections: 1 }) as never,
    });
    assert.match(metrics.contentType, /^text\/plain; version=0\.0\.4/);
    const first = parsePrometheusText(await metrics.render());
    const one = { torrent: torrents[0]!.progress().infoHash };
    assert.equal(sampleValue(first, 'tork_torrents'), 2);
    assert.equal(sampleValue(first, 'tork_torrent_downloaded_bytes_total', one), 5_001);
    assert.equal(first.get('tork_torrent_downloaded_bytes_total')?.type, 'counter');
    assert.equal(first.get('tork_torrent_verified_pieces')?.type, 'gauge');
    assert.equal(sampleValue(first, 'tork_torrent_pieces', one), 100);
    assert.equal(sampleValue(first, 'tork_torrent_hash_failures_total', one), 1);
    assert.equal(sampleValue(first, 'tork_torrent_wasted_bytes_total', one), 3);
    assert.equal(sampleValue(first, 'tork_torrent_disk_queue_bytes', one), 65_536);
    // The name survives escaping (quote, backslash).
    const sample = first.get('tork_torrent_pieces')!.samples.find((s) => s.labels.torrent === one.torrent);
    assert.equal(sample?.labels.name, 'torrent "1"\\n');
    // 7 peers: by source × transport, summing to 7; none per peer.
    assert.equal(sampleSum(first, 'tork_torrent_peers', one), 7);
    assert.equal(
      sampleValue(first, 'tork_torrent_peers', { ...one, source: 'tracker', transport: 'utp' }),
      1,
    );
    assert.equal(sampleSum(first, 'tork_torrent_source_downloaded_bytes_total', one), 5_000);
    assert.equal(sampleValue(first, 'tork_thread_event_loop_lag_seconds', { thread: 'peer-host-1' }), 0.004);
    assert.equal(
      sampleValue(first, 'tork_thread_event_loop_lag_max_seconds', { thread: 'peer-host-1' }),
      0.008,
    );
    assert.equal(sampleValue(first, 'tork_thread_events_total', { thread: 'peer-host-0' }), 50);
    assert.equal(sampleValue(first, 'tork_thread_commands_total', { thread: 'peer-host-1' }), 1);
    assert.equal(sampleValue(first, 'tork_dht_nodes'), 12);
    assert.equal(sampleValue(first, 'tork_udp_datagrams_total'), 99);
    assert.ok(first.has('process_cpu_user_seconds_total'), 'the standard process metrics too');

    // Live values: the next scrape (past the snapshot's reuse window) sees the new figures, and a
    // torrent removed from the engine leaves no series behind.
    torrents[0]!.progressValue = { ...torrents[0]!.progressValue, downloadedBytes: 9_000 };
    torrents.pop();
    traffic[0]!.events = 80;
    await new Promise((resolve) => setTimeout(resolve, 300));
    const second = parsePrometheusText(await metrics.render());
    assert.equal(sampleValue(second, 'tork_torrent_downloaded_bytes_total', one), 9_000);
    assert.equal(second.get('tork_torrent_pieces')!.samples.length, 1);
    assert.equal(sampleValue(second, 'tork_thread_events_total', { thread: 'peer-host-0' }), 80);
  });

  it(`gives at most METRICS_MAX_TORRENTS (${METRICS_MAX_TORRENTS}) torrents their own series and counts the rest`, async () => {
    const torrents = Array.from({ length: METRICS_MAX_TORRENTS + 5 }, (_, i) => fakeTorrent(i, 0));
    const metrics = createMetrics({ engine: { torrents } }, { processMetrics: false });
    const parsed = parsePrometheusText(await metrics.render());
    assert.equal(parsed.get('tork_torrent_pieces')!.samples.length, METRICS_MAX_TORRENTS);
    assert.equal(sampleValue(parsed, 'tork_metrics_torrents_omitted'), 5);
    assert.equal(sampleValue(parsed, 'tork_torrents'), METRICS_MAX_TORRENTS + 5);
  });

  it('scrapes 200 torrents × 50 peers in bounded time', async (t) => {
    const torrents = Array.from({ length: 200 }, (_, i) => fakeTorrent(i, 50));
    const metrics = createMetrics({ engine: { torrents } }, { processMetrics: false });
    await metrics.render();
    const runs = 5;
    const started = process.hrtime.bigint();
    let text = '';
    for (let i = 0; i < runs; i++) {
      await new Promise((resolve) => setTimeout(resolve, 260)); // past the snapshot's reuse
      const before = process.hrtime.bigint();
      text = await metrics.render();
      t.diagnostic(`scrape ${i}: ${(Number(process.hrtime.bigint() - before) / 1e6).toFixed(1)} ms`);
    }
    const parsed = parsePrometheusText(text);
    const series = [...parsed.values()].reduce((sum, family) => sum + family.samples.length, 0);
    t.diagnostic(`200 torrents × 50 peers: ${series} series, ${text.length} bytes of text`);
    assert.ok(series < 200 * 40, `series bounded by torrents × closed label sets, got ${series}`);
    assert.ok(Number(process.hrtime.bigint() - started) / 1e6 < runs * 260 + 5_000, 'scrapes stay cheap');
  });
});

describe('serveMetrics', () => {
  it('serves GET /metrics on loopback, 404 elsewhere, 405 for other methods', async () => {
    const { serveMetrics } = await import('@tork/cli/metrics');
    const metrics = createMetrics({ engine: { torrents: [fakeTorrent(1, 1)] } }, { processMetrics: false });
    const server = await serveMetrics(metrics, { host: '127.0.0.1', port: 0 });
    const get = (method: string, path: string) =>
      new Promise<{ status: number; type: string; body: string }>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port: server.port, method, path }, (res) => {
          let body = '';
          res.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
          res.on('end', () =>
            resolve({ status: res.statusCode!, type: String(res.headers['content-type']), body }),
          );
        });
        req.on('error', reject);
        req.end(method === 'POST' ? 'x' : undefined);
      });
    try {
      assert.equal(server.host, '127.0.0.1');
      const ok = await get('GET', '/metrics');
      assert.equal(ok.status, 200);
      assert.equal(ok.type, metrics.contentType);
      assert.equal(sampleValue(parsePrometheusText(ok.body), 'tork_torrents'), 1);
      assert.equal((await get('GET', '/')).status, 404);
      assert.equal((await get('POST', '/metrics')).status, 405);
      assert.equal((await get('DELETE', '/metrics')).status, 405);
    } finally {
      await server.close();
    }
  });

  it('drops a connection that sends no headers, and connections over the cap', async () => {
    const { serveMetrics, METRICS_MAX_CONNECTIONS } = await import('@tork/cli/metrics');
    assert.equal(METRICS_MAX_CONNECTIONS, 16);
    const metrics = createMetrics({ engine: { torrents: [] } }, { processMetrics: false });
    const slow = await serveMetrics(metrics, { host: '127.0.0.1', port: 0 }, { headersTimeoutMs: 300 });
    const capped = await serveMetrics(metrics, { host: '127.0.0.1', port: 0 }, { maxConnections: 2 });
    const open = (port: number) =>
      new Promise<{ socket: Socket; closed: Promise<number> }>((resolve, reject) => {
        const started = Date.now();
        const socket = connect({ host: '127.0.0.1', port }, () =>
          resolve({
            socket,
            closed: new Promise((done) => socket.once('close', () => done(Date.now() - started))),
          }),
        );
        socket.on('error', () => {});
        socket.resume(); // read what comes (a 408), so its end and close are seen
        socket.once('error', reject);
      });
    const within = (closed: Promise<number>, ms: number) =>
      Promise.race([closed, new Promise<number>((resolve) => setTimeout(() => resolve(-1), ms))]);
    try {
      const idle = await open(slow.port);
      idle.socket.write('GET /metr'); // headers never finished
      assert.ok((await within(idle.closed, 5_000)) >= 0, 'the idle connection was dropped within 5 s');
      // The capped server's headers timeout is the default 10 s: a close within 2 s is the cap's.
      const kept = [await open(capped.port), await open(capped.port)];
      const third = await open(capped.port);
      assert.ok((await within(third.closed, 2_000)) >= 0, 'a connection over the cap is closed');
      assert.ok(
        kept.every(({ socket }) => !socket.destroyed),
        'those under the cap stay open',
      );
      for (const { socket } of kept) socket.destroy();
    } finally {
      await slow.close();
      await capped.close();
    }
  });

  it('parses --metrics-listen', async () => {
    const { parseMetricsListen } = await import('@tork/cli/metrics');
    assert.deepEqual(parseMetricsListen('9100'), { host: '127.0.0.1', port: 9100 });
    assert.deepEqual(parseMetricsListen('0.0.0.0:9100'), { host: '0.0.0.0', port: 9100 });
    assert.deepEqual(parseMetricsListen('[::1]:0'), { host: '::1', port: 0 });
    assert.throws(() => parseMetricsListen('host:99999'), /TORK_ERR_USAGE|expected/);
    assert.throws(() => parseMetricsListen('x'), /expected/);
  });
});

describe('loading', () => {
  it("keeps prom-client off tork's start-up path: only --metrics-listen imports it", () => {
    // The static import graph of the compiled CLI from its entry point (dynamic `import()` is
    // not followed: that is how `--metrics-listen` loads the module on demand).
    const cli = fileURLToPath(new URL('../../../packages/cli/dist/', import.meta.url));
    const seen = new Set<string>();
    const packages = new Set<string>();
    const walk = (file: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      const text = readFileSync(file, 'utf8');
      for (const match of text.matchAll(/^(?:import|export)\s[^;]*?from\s+'([^']+)'/gms)) {
        const target = match[1]!;
        if (target.startsWith('.')) walk(join(dirname(file), target));
        else packages.add(target);
      }
      for (const match of text.matchAll(/^import\s+'([^']+)'/gm)) packages.add(match[1]!);
    };
    // main.js picks its command's code by dynamic import: `download`/`seed` load
    // download-entry.js (or its bundle, below), the others cli.js. Both are start-up paths.
    const main = readFileSync(join(cli, 'main.js'), 'utf8');
    for (const entry of ['./download-entry.js', './cli.js']) {
      assert.ok(main.includes(`import('${entry}')`), `main.js loads ${entry}`);
      walk(join(cli, entry));
    }
    // The bundle of the same (scripts/bundle.mjs): the entry and the chunks it imports statically
    // (esbuild names every bundled package's files in a comment: node_modules/prom-client/…).
    assert.ok(main.includes("'./bundle/download.js'"), 'main.js loads the bundle when it exists');
    const bundleDir = join(cli, 'bundle');
    const bundled = new Set<string>();
    const walkBundle = (file: string) => {
      if (bundled.has(file)) return;
      bundled.add(file);
      const text = readFileSync(file, 'utf8');
      assert.ok(!text.includes('node_modules/prom-client/'), `${file} holds prom-client`);
      for (const match of text.matchAll(/^import\s[^;]*?from\s+"(\.\/[^"]+)"/gms))
        walkBundle(join(dirname(file), match[1]!));
    };
    walkBundle(join(bundleDir, 'download.js'));
    assert.ok(bundled.size > 1, `the bundle's start-up chunks: ${[...bundled].join(', ')}`);
    const lazy = readdirSync(bundleDir).filter(
      (name) => name.endsWith('.js') && !bundled.has(join(bundleDir, name)),
    );
    assert.ok(
      lazy.some((name) => readFileSync(join(bundleDir, name), 'utf8').includes('node_modules/prom-client/')),
      `prom-client is in a chunk loaded on demand (${lazy.join(', ')})`,
    );
    assert.ok(seen.has(join(cli, 'commands/download.js')), 'the walk reaches tork download');
    assert.ok(seen.has(join(cli, 'metrics/metrics-listen.js')), 'and the --metrics-listen option');
    assert.ok(!seen.has(join(cli, 'metrics/metrics.js')), 'not the metrics module');
    assert.ok(!packages.has('prom-client'), `packages on the start-up path: ${[...packages].join(', ')}`);
  });
});
