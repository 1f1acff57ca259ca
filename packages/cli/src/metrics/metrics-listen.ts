import { TorkError, TorkErrorCode, type UdpHostStats } from '@tork/core';
import type { HostStats, HostTraffic } from '@tork/workers';
import type { MetricsTorrent } from './metrics.js';
import type { MetricsServer } from './metrics-server.js';

/**
 * Starts `--metrics-listen` for a running command. prom-client and the server are imported here,
 * on demand: a download that does not ask for metrics never loads them.
 */
export async function openMetrics(
  listen: { host: string; port: number },
  sources: {
    engine: { readonly torrents: readonly MetricsTorrent[] };
    hostStats: () => readonly HostStats[];
    hostTraffic: () => readonly HostTraffic[];
    udpStats: () => Promise<UdpHostStats | undefined>;
  },
): Promise<MetricsServer> {
  const [{ createMetrics }, { serveMetrics }] = await Promise.all([
    import('./metrics.js'),
    import('./metrics-server.js'),
  ]);
  return serveMetrics(createMetrics(sources), listen);
}

/** Where `--metrics-listen` binds when only a port is given. */
export const DEFAULT_METRICS_HOST = '127.0.0.1';

/**
 * Parses `--metrics-listen`: `PORT`, `HOST:PORT` or `[V6]:PORT`. Loopback unless a host is named;
 * port 0 picks a free one.
 */
export function parseMetricsListen(value: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]:|([^:[\]]+):)?(\d{1,5})$/.exec(value);
  const port = match ? Number(match[3]) : Number.NaN;
  if (!match || port > 65_535) {
    throw new TorkError(TorkErrorCode.USAGE, `--metrics-listen: expected [HOST:]PORT, got '${value}'`);
  }
  return { host: match[1] ?? match[2] ?? DEFAULT_METRICS_HOST, port };
}
