import { type IntervalHistogram, monitorEventLoopDelay } from 'node:perf_hooks';
import type { HostStats } from '@tork/workers';

/** Sampling interval of the coordinator's delay histogram, ms. */
const RESOLUTION_MS = 10;

/** The longest event-loop stalls seen during a run, in milliseconds (beyond the sampling interval). */
export interface EventLoopReport {
  /** The coordinator (main) thread: longest stall and the 99th percentile of loop delay. */
  readonly coordinatorMaxMs: number;
  readonly coordinatorP99Ms: number;
  /** Each peer-host thread's longest stall, in host order. */
  readonly hostsMaxMs: readonly number[];
}

/**
 * Watches the event loops of a run: the coordinator's with a delay histogram, each peer host's
 * through its own (reset at every `stats` call, so it is sampled every `intervalMs` and the
 * maximum kept). A stalled coordinator starves every peer at once: this is how the benchmark
 * shows it never is.
 */
export class EventLoopWatchdog {
  readonly #coordinator: IntervalHistogram;
  readonly #hostsMax: number[] = [];
  readonly #timer: NodeJS.Timeout;
  readonly #stats: () => Promise<HostStats[]>;
  #last: readonly HostStats[] = [];
  #watching = true;
  /** Told of every sample (a trace records the hosts' busy share and lag). */
  onSample: ((hosts: readonly HostStats[]) => void) | undefined;

  /** `stats`: the hosts' counters (`ThreadActorSystem.stats`); `intervalMs` default 1,000. */
  constructor(stats: () => Promise<HostStats[]>, intervalMs = 1_000) {
    this.#stats = stats;
    this.#coordinator = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
    this.#coordinator.enable();
    this.#timer = setInterval(() => void this.#sample(), intervalMs);
    this.#timer.unref();
  }

  /**
   * The hosts' counters from the last sample (at most `intervalMs` old). A reader that wants the
   * hosts' event-loop lag reads it here: a `stats` call of its own would reset the hosts' maxima
   * between two samples and hide a stall from this watchdog.
   */
  get lastHostStats(): readonly HostStats[] {
    return this.#last;
  }

  /** Whether the coordinator's delay histogram runs now (while some host has a connection). */
  get watching(): boolean {
    return this.#watching;
  }

  /** Samples the hosts one last time and stops watching. */
  async stop(): Promise<EventLoopReport> {
    clearInterval(this.#timer);
    await this.#sample();
    this.#coordinator.disable();
    // Samples include the sampling interval itself: only what lies beyond it is a stall.
    const ms = (ns: number) => Math.max(0, Math.round((ns / 1e6 - RESOLUTION_MS) * 10) / 10);
    return {
      coordinatorMaxMs: ms(this.#coordinator.max),
      coordinatorP99Ms: ms(this.#coordinator.percentile(99)),
      hostsMaxMs: this.#hostsMax.map((value) => Math.round(value * 10) / 10),
    };
  }

  async #sample(): Promise<void> {
    try {
      const hosts = await this.#stats();
      this.#last = hosts;
      // The coordinator's histogram (a 10 ms timer: most of an idle seeder's CPU) runs while some
      // host has a connection, and from the start (peers connect then): with no peer, a stall
      // starves nobody.
      const active = hosts.some((host) => host.actors > 0);
      if (active !== this.#watching) {
        this.#watching = active;
        if (active) this.#coordinator.enable();
        else this.#coordinator.disable();
      }
      this.onSample?.(hosts);
      hosts.forEach((host, index) => {
        this.#hostsMax[index] = Math.max(this.#hostsMax[index] ?? 0, host.eventLoopLagMaxMs);
      });
    } catch {
      // A host that is gone reports nothing more; what was seen stands.
    }
  }
}
