import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { z } from 'zod';
import type { threadsBody } from './api-schemas.js';
import type { RouteModule } from './api-server.js';

/** Resolution of the main thread's event-loop delay histogram, ms (a libuv timer this often). */
const MAIN_LAG_RESOLUTION_MS = 20;
/** A main-thread lag sample younger than this is handed out again (several pages polling), ms. */
const MAIN_LAG_REUSE_MS = 900;

type Lag = Pick<z.infer<typeof threadsBody>['main'], 'eventLoopLagMs' | 'eventLoopLagMaxMs'>;

/**
 * The main (coordinator) thread's event-loop delay, by `perf_hooks.monitorEventLoopDelay`: started
 * at the first read (a daemon nobody watches pays nothing), then one timer every
 * MAIN_LAG_RESOLUTION_MS; each read gives mean and max since the previous one and resets.
 */
function mainLagSampler(): () => Lag {
  let histogram: ReturnType<typeof monitorEventLoopDelay> | undefined;
  let last: { at: number; lag: Lag } | undefined;
  return () => {
    if (!histogram) {
      histogram = monitorEventLoopDelay({ resolution: MAIN_LAG_RESOLUTION_MS });
      histogram.enable();
    }
    if (last && Date.now() - last.at < MAIN_LAG_REUSE_MS) return last.lag;
    // Samples (ns) include the timer's own period: only what lies beyond it is delay (as the peer
    // hosts count theirs). No sample yet: 0.
    const ms = (ns: number) =>
      histogram && histogram.count > 0 ? Math.max(0, ns / 1e6 - MAIN_LAG_RESOLUTION_MS) : 0;
    const lag = { eventLoopLagMs: ms(histogram.mean), eventLoopLagMaxMs: ms(histogram.max) };
    histogram.reset();
    last = { at: Date.now(), lag };
    return lag;
  };
}

/**
 * `GET /api/v1/threads`: each peer host thread's counters (actors, bytes, messages, event-loop
 * lag) and the main thread's lag: what the web page charts as thread load and lag.
 */
export const threadsRoute: RouteModule = {
  paths: ['/api/v1/threads'],
  mount(app, { threads }) {
    const mainLag = mainLagSampler();
    app.get('/api/v1/threads', async (c) => {
      const [stats, traffic] = threads ? [await threads.stats(), threads.traffic()] : [[], []];
      const body: z.infer<typeof threadsBody> = {
        time: Date.now(),
        main: mainLag(),
        // Both in host order (a host that died drops out of `stats`, as in `/metrics`).
        threads: stats.map((host, index) => {
          const moved = traffic[index];
          return {
            index,
            name: `peer-host-${index}`,
            actors: host.actors,
            torrents: host.torrents,
            bytesReceived: host.bytesReceived,
            bytesSent: host.bytesSent,
            eventLoopLagMs: host.eventLoopLagMs,
            eventLoopLagMaxMs: host.eventLoopLagMaxMs,
            commandBatches: moved?.commandBatches ?? 0,
            commands: moved?.commands ?? 0,
            eventBatches: moved?.eventBatches ?? 0,
            events: moved?.events ?? 0,
          };
        }),
      };
      return c.json(body);
    });
  },
};
