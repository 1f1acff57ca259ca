import type { Metrics } from '../metrics/metrics.js';
import type { RouteModule } from './api-server.js';

/**
 * `GET /metrics` on the daemon's API listener, behind the same guard (Host check, token): the
 * registry `createMetrics` builds over the daemon's engine, threads and UDP host. prom-client is
 * imported at the first scrape, so a daemon nobody scrapes never loads it.
 *
 * The peer hosts' `stats()` resets their lag maxima on each call; the daemon's `threads` is wrapped
 * by `sharedThreadStats` (one sample per ~second, shared with the web page's `/api/v1/threads`), so
 * a scrape's lag figures cover about the last second whoever else reads them.
 */
export const metricsRoute: RouteModule = {
  paths: ['/metrics'],
  mount(app, { engine, threads, udp }) {
    let metrics: Promise<Metrics> | undefined;
    app.get('/metrics', async (c) => {
      metrics ??= import('../metrics/metrics.js').then(({ createMetrics }) =>
        createMetrics({
          engine,
          ...(threads ? { hostStats: () => threads.stats(), hostTraffic: () => threads.traffic() } : {}),
          ...(udp ? { udpStats: () => udp.stats() } : {}),
        }),
      );
      const ready = await metrics;
      return c.body(await ready.render(), 200, { 'content-type': ready.contentType });
    });
  },
};
