import type { HostStats, ThreadActorSystem } from '@tork/workers';

/** A sample of the peer hosts' counters younger than this is handed out again rather than re-read, ms. */
export const THREAD_SAMPLE_REUSE_MS = 900;

/** What the daemon's routes read of its `ThreadActorSystem`. */
export type DaemonThreads = Pick<ThreadActorSystem, 'stats' | 'traffic' | 'hostOf'>;

/**
 * The peer hosts' `stats()` resets their event-loop lag maxima on every call, so two readers (the
 * web page polling each second, a Prometheus scrape) would each see the maxima since the other's
 * last read. Wrapped here, `stats()` asks the threads at most once per `reuseMs` and every caller
 * in that window gets the same sample: the lag figures mean "over about the last second", as in
 * `tork download`'s watchdog samples. `traffic()` and `hostOf()` cost no round trip and pass through.
 */
export function sharedThreadStats(threads: DaemonThreads, reuseMs = THREAD_SAMPLE_REUSE_MS): DaemonThreads {
  let last: { readonly at: number; readonly stats: HostStats[] } | undefined;
  let pending: Promise<HostStats[]> | undefined;
  return {
    stats() {
      if (last && Date.now() - last.at < reuseMs) return Promise.resolve(last.stats);
      pending ??= threads.stats().then(
        (stats) => {
          last = { at: Date.now(), stats };
          pending = undefined;
          return stats;
        },
        (error: unknown) => {
          pending = undefined;
          throw error;
        },
      );
      return pending;
    },
    traffic: () => threads.traffic(),
    hostOf: (actorId) => threads.hostOf(actorId),
  };
}
