import type { Metrics } from '../metrics/metrics.js';
import type { RouteModule } from './api-server.js';

/**
 * How long one rendering of `/metrics` answers every scrape (ms). A render asks every peer host
 * for its counters and costs ~3 ms of CPU; 100 scrapes at once cost the coordinator 300 ms while
 * a download runs (docs/performance.md, API load). Prometheus scrapes every 15 s or so: a second-old
 * figure loses nothing.
 */
export const METRICS_CACHE_MS = 1_000;

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
    /** The last rendering (or the one under way, which concurrent scrapes share) and when it began. */
    let cached: { at: number; text: Promise<string> } | undefined;
    app.get('/metrics', async (c) => {
      metrics ??= import('../metrics/metrics.js').then(({ createMetrics }) =>
        createMetrics({
          engine,
          ...(threads ? { hostStats: () => threads.stats(), hostTraffic: () => threads.traffic() } : {}),
          ...(udp ? { udpStats: () => udp.stats() } : {}),
        }),
      );
      const ready = await metrics;
      const now = performance.now();
      if (!cached || now - cached.at >= METRICS_CACHE_MS) {
        const text = ready.render();
        cached = { at: now, text };
        // A failed render is not kept: the next scrape tries again.
        text.catch(() => {
          if (cached?.text === text) cached = undefined;
        });
      }
      return c.body(await cached.text, 200, { 'content-type': ready.contentType });
    });
  },
};
