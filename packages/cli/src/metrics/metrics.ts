import type { PeerSource, TorrentProgress, UdpHostStats } from '@tork/core';
import type { HostStats, HostTraffic } from '@tork/workers';
import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client';

/**
 * Most torrents given their own series in one scrape. Beyond it the rest are left out of the
 * per-torrent families (and counted in `tork_metrics_torrents_omitted`): a scrape's size, and a
 * Prometheus server's series count, stay bounded whatever is added to a daemon. Labels are only
 * ever a torrent, a thread, or a closed set (peer source, transport): never a peer.
 */
export const METRICS_MAX_TORRENTS = 1_000;

/** A snapshot may serve every family of one scrape: it is reused while younger than this, ms. */
const SNAPSHOT_REUSE_MS = 250;

/** What a torrent must offer to be measured (an Engine's `Torrent` does). */
export interface MetricsTorrent {
  progress(): TorrentProgress;
  peerViews(): ReadonlyArray<{ readonly source: PeerSource; readonly transport: 'tcp' | 'utp' }>;
  /** Bytes queued for the disk and not yet written. */
  readonly diskQueuedBytes: number;
}

/** Where the figures come from; every one is read at scrape time, nothing runs per piece. */
export interface MetricsSources {
  /** The engine (or anything with its `torrents`). */
  readonly engine: { readonly torrents: readonly MetricsTorrent[] };
  /**
   * The peer hosts' counters, in host order (e.g. `EventLoopWatchdog.lastHostStats`, which does
   * not reset the hosts' lag maxima between the watchdog's own samples). Default: none.
   */
  readonly hostStats?: () => readonly HostStats[] | Promise<readonly HostStats[]>;
  /** The data-plane traffic per host, in host order (`ThreadActorSystem.traffic`). Default: none. */
  readonly hostTraffic?: () => readonly HostTraffic[];
  /** The UDP host's counters (DHT nodes, uTP); undefined while it is not running. Default: none. */
  readonly udpStats?: () => Promise<UdpHostStats | undefined>;
}

/** Options of `createMetrics`. */
export interface MetricsOptions {
  /** Also export prom-client's standard `process_*` and `nodejs_*` metrics. Default: true. */
  readonly processMetrics?: boolean;
  /** Per-torrent series cap. Default: `METRICS_MAX_TORRENTS`. */
  readonly maxTorrents?: number;
}

export interface Metrics {
  /** The prom-client registry (a server may mount it directly). */
  readonly registry: Registry;
  /** The `Content-Type` of `render()`'s text (Prometheus text format 0.0.4). */
  readonly contentType: string;
  /** The exposition text: every family, read now. */
  render(): Promise<string>;
}

interface Snapshot {
  readonly at: number;
  readonly torrents: ReadonlyArray<{
    readonly labels: { torrent: string; name: string };
    readonly progress: TorrentProgress;
    readonly peers: ReadonlyMap<string, number>;
    readonly diskQueuedBytes: number;
  }>;
  readonly omitted: number;
  readonly hosts: readonly HostStats[];
  readonly traffic: readonly HostTraffic[];
  readonly udp: UdpHostStats | undefined;
}

const TORRENT = ['torrent', 'name'] as const;
const THREAD = ['thread'] as const;

/**
 * A Prometheus registry fed from a running engine: every family is a prom-client collector whose
 * `collect()` reads one snapshot of the live values (torrents' `progress()`, the hosts' counters)
 * when scraped. Between scrapes it costs nothing.
 */
export function createMetrics(sources: MetricsSources, options: MetricsOptions = {}): Metrics {
  const registry = new Registry();
  const maxTorrents = options.maxTorrents ?? METRICS_MAX_TORRENTS;
  if (options.processMetrics ?? true) collectDefaultMetrics({ register: registry });

  let pending: Promise<Snapshot> | undefined;
  let last: Snapshot | undefined;
  const snapshot = (): Promise<Snapshot> => {
    if (last && Date.now() - last.at < SNAPSHOT_REUSE_MS) return Promise.resolve(last);
    pending ??= take(sources, maxTorrents).then(
      (taken) => {
        last = taken;
        pending = undefined;
        return taken;
      },
      (error: unknown) => {
        pending = undefined;
        throw error;
      },
    );
    return pending;
  };

  /** Sets one series: `Gauge.set`, or for a counter (which cannot be set) `inc` of a fresh one. */
  type Put = (labels: Record<string, string>, value: number) => void;
  const family = (
    kind: 'gauge' | 'counter',
    name: string,
    help: string,
    labelNames: readonly string[],
    fill: (put: Put, taken: Snapshot) => void,
  ): void => {
    const config = { name, help, labelNames, registers: [registry] };
    // Rebuilt each scrape (`reset` first): a removed torrent or host leaves no stale series.
    if (kind === 'gauge') {
      new Gauge({
        ...config,
        async collect() {
          const taken = await snapshot();
          this.reset();
          fill((labels, value) => this.set(labels, value), taken);
        },
      });
    } else {
      new Counter({
        ...config,
        async collect() {
          const taken = await snapshot();
          this.reset();
          fill((labels, value) => this.inc(labels, Math.max(0, value)), taken);
        },
      });
    }
  };
  const perTorrent = (
    kind: 'gauge' | 'counter',
    name: string,
    help: string,
    value: (progress: TorrentProgress) => number,
  ) =>
    family(kind, name, help, TORRENT, (put, taken) => {
      for (const torrent of taken.torrents) put(torrent.labels, value(torrent.progress));
    });

  family('gauge', 'tork_torrents', 'Torrents in the engine.', [], (put, taken) => {
    put({}, taken.torrents.length + taken.omitted);
  });
  family(
    'gauge',
    'tork_metrics_torrents_omitted',
    `Torrents left out of the per-torrent series (over the cap of ${maxTorrents}).`,
    [],
    (put, taken) => put({}, taken.omitted),
  );
  perTorrent('gauge', 'tork_torrent_size_bytes', 'Total size of the torrent.', (p) => p.length);
  perTorrent('gauge', 'tork_torrent_pieces', 'Pieces in the torrent.', (p) => p.pieceCount);
  perTorrent(
    'gauge',
    'tork_torrent_verified_pieces',
    'Pieces verified (downloaded in this run or found on disk).',
    (p) => p.verifiedPieces,
  );
  perTorrent('gauge', 'tork_torrent_verified_bytes', 'Bytes of the verified pieces.', (p) => p.verifiedBytes);
  perTorrent(
    'counter',
    'tork_torrent_downloaded_bytes_total',
    'Payload bytes received from peers and web seeds in this run, wasted bytes included.',
    (p) => p.downloadedBytes,
  );
  perTorrent(
    'counter',
    'tork_torrent_uploaded_bytes_total',
    'Payload bytes sent to peers in this run.',
    (p) => p.uploadedBytes,
  );
  perTorrent(
    'counter',
    'tork_torrent_wasted_bytes_total',
    'Payload bytes wasted: pieces that failed their hash and endgame duplicates.',
    (p) => p.wastedBytes,
  );
  perTorrent(
    'counter',
    'tork_torrent_hash_failures_total',
    'Pieces that failed their SHA-1 check.',
    (p) => p.hashFailures,
  );
  perTorrent(
    'gauge',
    'tork_torrent_download_rate_bytes_per_second',
    'Smoothed download rate over the last few seconds.',
    (p) => p.downloadRate,
  );
  perTorrent(
    'gauge',
    'tork_torrent_upload_rate_bytes_per_second',
    'Smoothed upload rate over the last few seconds.',
    (p) => p.uploadRate,
  );
  perTorrent(
    'gauge',
    'tork_torrent_in_flight_bytes',
    'Bytes of pieces assigned to peers and not yet verified.',
    (p) => p.bytesInFlight,
  );
  perTorrent(
    'gauge',
    'tork_torrent_peers_connecting',
    'Connections being opened.',
    (p) => p.peers.connecting,
  );
  perTorrent(
    'gauge',
    'tork_torrent_peers_known',
    'Peer addresses known and not banned.',
    (p) => p.peers.known,
  );
  family(
    'gauge',
    'tork_torrent_peers',
    'Connected peers by where their address came from and the transport in use.',
    [...TORRENT, 'source', 'transport'],
    (put, taken) => {
      for (const torrent of taken.torrents) {
        for (const [key, count] of torrent.peers) {
          const [source, transport] = key.split('/') as [string, string];
          put({ ...torrent.labels, source, transport }, count);
        }
      }
    },
  );
  family(
    'counter',
    'tork_torrent_source_downloaded_bytes_total',
    'Payload bytes received in this run by the source of the peer (webseed apart).',
    [...TORRENT, 'source'],
    (put, taken) => {
      for (const torrent of taken.torrents) {
        for (const [source, bytes] of Object.entries(torrent.progress.peers.downloadedBySource)) {
          if (bytes !== undefined) put({ ...torrent.labels, source }, bytes);
        }
      }
    },
  );
  family(
    'gauge',
    'tork_torrent_disk_queue_bytes',
    'Verified bytes waiting for the disk (the disk writer queue depth).',
    TORRENT,
    (put, taken) => {
      for (const torrent of taken.torrents) put(torrent.labels, torrent.diskQueuedBytes);
    },
  );

  const perHost = (
    kind: 'gauge' | 'counter',
    name: string,
    help: string,
    value: (host: HostStats) => number,
  ) =>
    family(kind, name, help, THREAD, (put, taken) => {
      taken.hosts.forEach((host, index) => {
        put({ thread: `peer-host-${index}` }, value(host));
      });
    });
  perHost(
    'gauge',
    'tork_thread_event_loop_lag_seconds',
    'Mean event-loop delay of a peer-host thread over its last sampling interval.',
    (host) => host.eventLoopLagMs / 1000,
  );
  perHost(
    'gauge',
    'tork_thread_event_loop_lag_max_seconds',
    'Longest event-loop delay of a peer-host thread over its last sampling interval.',
    (host) => host.eventLoopLagMaxMs / 1000,
  );
  perHost('gauge', 'tork_thread_actors', 'Peer connections hosted by the thread.', (host) => host.actors);
  perHost(
    'counter',
    'tork_thread_received_bytes_total',
    'Socket bytes received by the thread.',
    (host) => host.bytesReceived,
  );
  perHost(
    'counter',
    'tork_thread_sent_bytes_total',
    'Socket bytes sent by the thread.',
    (host) => host.bytesSent,
  );
  perHost(
    'counter',
    'tork_thread_rejected_batches_total',
    'Command batches the thread refused (failed their schema).',
    (host) => host.rejectedBatches,
  );
  const traffic: ReadonlyArray<[keyof HostTraffic, string, string]> = [
    ['commandBatches', 'tork_thread_command_batches_total', 'Command batches posted to the thread.'],
    ['commands', 'tork_thread_commands_total', 'Commands posted to the thread.'],
    ['eventBatches', 'tork_thread_event_batches_total', 'Event batches received from the thread.'],
    ['events', 'tork_thread_events_total', 'Events received from the thread.'],
  ];
  for (const [key, name, help] of traffic) {
    family('counter', name, help, THREAD, (put, taken) => {
      taken.traffic.forEach((host, index) => {
        put({ thread: `peer-host-${index}` }, host[key]);
      });
    });
  }
  const udp = (
    kind: 'gauge' | 'counter',
    name: string,
    help: string,
    value: (stats: UdpHostStats) => number,
  ) =>
    family(kind, name, help, [], (put, taken) => {
      if (taken.udp) put({}, value(taken.udp));
    });
  udp('gauge', 'tork_dht_nodes', 'Nodes in the DHT routing table.', (stats) => stats.nodes);
  udp('gauge', 'tork_utp_connections', 'uTP connections open.', (stats) => stats.utpConnections);
  udp(
    'counter',
    'tork_udp_datagrams_total',
    'Datagrams received on the UDP socket.',
    (stats) => stats.datagrams,
  );

  return {
    registry,
    contentType: registry.contentType,
    render: () => registry.metrics(),
  };
}

async function take(sources: MetricsSources, maxTorrents: number): Promise<Snapshot> {
  const all = sources.engine.torrents;
  const shown = all.length > maxTorrents ? all.slice(0, maxTorrents) : all;
  const torrents = shown.map((torrent) => {
    const progress = torrent.progress();
    const peers = new Map<string, number>();
    for (const view of torrent.peerViews()) {
      const key = `${view.source}/${view.transport}`;
      peers.set(key, (peers.get(key) ?? 0) + 1);
    }
    return {
      labels: { torrent: progress.infoHash, name: progress.name },
      progress,
      peers,
      diskQueuedBytes: torrent.diskQueuedBytes,
    };
  });
  const [hosts, udp] = await Promise.all([
    sources.hostStats ? Promise.resolve(sources.hostStats()).catch(() => []) : [],
    sources.udpStats ? sources.udpStats().catch(() => undefined) : undefined,
  ]);
  return {
    at: Date.now(),
    torrents,
    omitted: all.length - shown.length,
    hosts,
    traffic: sources.hostTraffic?.() ?? [],
    udp,
  };
}

export { parseMetricsListen } from './metrics-listen.js';
export {
  METRICS_HEADERS_TIMEOUT_MS,
  METRICS_MAX_CONNECTIONS,
  type MetricsServer,
  type ServeMetricsOptions,
  serveMetrics,
} from './metrics-server.js';
