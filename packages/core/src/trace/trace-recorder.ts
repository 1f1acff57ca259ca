import {
  type EventLoopUtilization,
  monitorEventLoopDelay,
  PerformanceObserver,
  performance,
} from 'node:perf_hooks';
import type { HostStats } from '../messages/control-plane.js';
import { MAX_TRACE_EVENTS, TraceBuffer, type TraceFile } from './trace-buffer.js';

/** The process that holds one track per thread: the coordinator is thread 0, peer host N thread N + 1. */
export const THREADS_PID = 1;
export const COORDINATOR_TID = 0;
/** Each peer is a process of its own (its tracks: connection, choke, pieces): pid PEER_PID_BASE + actor id. */
export const PEER_PID_BASE = 1_000;

/** Default sampling interval of the coordinator's busy/lag and of the counters, ms. */
export const DEFAULT_TRACE_SAMPLE_MS = 250;

export interface TraceRecorderOptions {
  /** Ring buffer size. Default: MAX_TRACE_EVENTS. */
  readonly maxEvents?: number;
  /** How often the coordinator's event loop and the counters are sampled, ms. Default: 250. */
  readonly sampleIntervalMs?: number;
}

/** What the recorder samples besides the event loop (the engine gives these). */
export interface TraceCounterSources {
  /** Bytes accepted by the disk writers and not yet on disk. */
  readonly diskQueuedBytes: () => number;
  /** Bytes of pieces assigned to peers and not yet verified. */
  readonly bytesInFlight: () => number;
}

/** Microseconds on the wall clock, comparable between threads (each thread's time origin + now). */
export function traceNowUs(): number {
  return Math.round((performance.timeOrigin + performance.now()) * 1000);
}

/**
 * Collects a run's trace in the Chrome Trace Event format (Perfetto, chrome://tracing). Built on
 * the coordinator from what it already sees: peer events and commands (`TracingActorSystem`),
 * the hosts' stats and the data-plane batches. Nothing is recorded unless one is given to the
 * engine (`EngineOptions.trace`).
 */
export class TraceRecorder {
  readonly buffer: TraceBuffer;
  readonly sampleIntervalMs: number;
  #timer: NodeJS.Timeout | undefined;
  #elu: EventLoopUtilization | undefined;
  #lag: ReturnType<typeof monitorEventLoopDelay> | undefined;
  #gc: PerformanceObserver | undefined;
  readonly #hostsNamed = new Set<number>();

  constructor(options: TraceRecorderOptions = {}) {
    this.buffer = new TraceBuffer(options.maxEvents ?? MAX_TRACE_EVENTS);
    this.sampleIntervalMs = options.sampleIntervalMs ?? DEFAULT_TRACE_SAMPLE_MS;
    this.buffer.name(THREADS_PID, undefined, 'tork threads', 0);
    this.buffer.name(THREADS_PID, COORDINATOR_TID, 'coordinator', 0);
  }

  /** Starts sampling the coordinator's event loop, GC and the counters; `stop` ends it. */
  start(sources: TraceCounterSources): void {
    if (this.#timer) return;
    this.#elu = performance.eventLoopUtilization();
    this.#lag = monitorEventLoopDelay({ resolution: 10 });
    this.#lag.enable();
    try {
      this.#gc = new PerformanceObserver((list) => {
        for (const entry of list.getEntries()) {
          const kind = (entry as { detail?: { kind?: number } }).detail?.kind;
          this.buffer.push({
            ph: 'X',
            name: 'GC',
            cat: 'gc',
            ts: Math.round((performance.timeOrigin + entry.startTime) * 1000),
            dur: Math.max(1, Math.round(entry.duration * 1000)),
            pid: THREADS_PID,
            tid: COORDINATOR_TID,
            args: { kind: kind ?? null },
          });
        }
      });
      this.#gc.observe({ entryTypes: ['gc'] });
    } catch {
      // No GC entries on this runtime: the trace goes without them.
      this.#gc = undefined;
    }
    this.#timer = setInterval(() => this.#sample(sources), this.sampleIntervalMs);
    this.#timer.unref();
  }

  /** Takes one last sample and stops. */
  stop(sources?: TraceCounterSources): void {
    if (!this.#timer) return;
    clearInterval(this.#timer);
    this.#timer = undefined;
    if (sources) this.#sample(sources);
    this.#lag?.disable();
    this.#gc?.disconnect();
  }

  /** A command batch the coordinator posted to host `host`. */
  commandBatch(host: number, commands: number): void {
    this.buffer.push({
      ph: 'i',
      name: `commands → host ${host}`,
      cat: 'batch',
      ts: traceNowUs(),
      pid: THREADS_PID,
      tid: COORDINATOR_TID,
      s: 't',
      args: { host, commands },
    });
  }

  /**
   * An event batch from host `host`: drawn on the host's track from when it was posted
   * (`sentAtMs`, the host's clock) to its arrival here, so its length is the queueing delay.
   */
  eventBatch(host: number, events: number, sentAtMs: number | undefined): void {
    const now = traceNowUs();
    const sent = sentAtMs === undefined ? now : Math.min(now, Math.round(sentAtMs * 1000));
    this.#nameHost(host);
    this.buffer.push({
      ph: 'X',
      name: 'events → coordinator',
      cat: 'batch',
      ts: sent,
      dur: Math.max(1, now - sent),
      pid: THREADS_PID,
      tid: host + 1,
      args: { events, queueMs: (now - sent) / 1000 },
    });
  }

  /** The hosts' counters (about once a second): each host's busy % and event-loop lag. */
  hostStats(stats: readonly HostStats[]): void {
    const ts = traceNowUs();
    stats.forEach((host, index) => {
      this.#nameHost(index);
      const args: Record<string, number> = {
        lagMs: round(host.eventLoopLagMs),
        lagMaxMs: round(host.eventLoopLagMaxMs),
      };
      if (host.eventLoopUtilization !== undefined) args.busyPercent = round(host.eventLoopUtilization * 100);
      if (host.commandQueueMs !== undefined) args.commandQueueMs = round(host.commandQueueMs);
      if (host.commandQueueMaxMs !== undefined) args.commandQueueMaxMs = round(host.commandQueueMaxMs);
      this.buffer.push({
        ph: 'C',
        name: `host ${index}`,
        cat: 'thread',
        ts,
        pid: THREADS_PID,
        tid: index + 1,
        args,
      });
    });
  }

  toJSON(): TraceFile {
    return this.buffer.toJSON();
  }

  #nameHost(host: number): void {
    if (this.#hostsNamed.has(host)) return;
    this.#hostsNamed.add(host);
    this.buffer.name(THREADS_PID, host + 1, `peer host ${host}`, host + 1);
  }

  #sample(sources: TraceCounterSources): void {
    const ts = traceNowUs();
    const elu = performance.eventLoopUtilization(this.#elu);
    this.#elu = performance.eventLoopUtilization();
    const lag = this.#lag;
    const lagMs = lag && lag.count > 0 ? Math.max(0, lag.mean / 1e6 - 10) : 0;
    const lagMaxMs = lag && lag.count > 0 ? Math.max(0, lag.max / 1e6 - 10) : 0;
    lag?.reset();
    this.buffer.push({
      ph: 'C',
      name: 'coordinator',
      cat: 'thread',
      ts,
      pid: THREADS_PID,
      tid: COORDINATOR_TID,
      args: { busyPercent: round(elu.utilization * 100), lagMs: round(lagMs), lagMaxMs: round(lagMaxMs) },
    });
    this.buffer.push({
      ph: 'C',
      name: 'disk queue',
      cat: 'counter',
      ts,
      pid: THREADS_PID,
      tid: COORDINATOR_TID,
      args: { bytes: sources.diskQueuedBytes() },
    });
    this.buffer.push({
      ph: 'C',
      name: 'bytes in flight',
      cat: 'counter',
      ts,
      pid: THREADS_PID,
      tid: COORDINATOR_TID,
      args: { bytes: sources.bytesInFlight() },
    });
  }
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}
