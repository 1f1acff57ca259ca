/**
 * Most events a trace keeps (`TraceBuffer`): past it the oldest are overwritten and counted as
 * dropped. About 150 bytes each in the file, so a full trace is near 30 MB.
 */
export const MAX_TRACE_EVENTS = 200_000;

/** One event of the Chrome Trace Event format (the subset tork writes). */
export interface TraceEvent {
  /** `X` complete (ts + dur), `i` instant, `C` counter, `b`/`e` async begin/end, `M` metadata. */
  readonly ph: 'X' | 'i' | 'C' | 'b' | 'e' | 'M';
  readonly name: string;
  readonly cat?: string;
  /** Microseconds. */
  readonly ts: number;
  readonly dur?: number;
  readonly pid: number;
  readonly tid: number;
  /** Async events: pairs `b` with its `e`. */
  readonly id?: string;
  /** Instant scope: `t` thread. */
  readonly s?: 't' | 'p' | 'g';
  readonly args?: Record<string, unknown>;
}

/** What a trace file holds: the format's JSON object form, plus tork's own bookkeeping. */
export interface TraceFile {
  readonly traceEvents: TraceEvent[];
  readonly displayTimeUnit: 'ms';
  readonly otherData: {
    readonly tool: 'tork';
    /** Events overwritten because the buffer was full (the oldest go first). */
    readonly droppedEvents: number;
    readonly maxEvents: number;
  };
}

/**
 * A ring of trace events: bounded memory whatever the run's length. Metadata (names of threads
 * and peers) is kept apart, one entry per track, so a long run still labels every track.
 */
export class TraceBuffer {
  readonly maxEvents: number;
  readonly #ring: TraceEvent[] = [];
  #next = 0;
  #dropped = 0;
  readonly #metadata = new Map<string, TraceEvent>();

  /** `maxEvents`: default MAX_TRACE_EVENTS. */
  constructor(maxEvents = MAX_TRACE_EVENTS) {
    if (!Number.isInteger(maxEvents) || maxEvents < 1)
      throw new RangeError('maxEvents must be a positive integer');
    this.maxEvents = maxEvents;
  }

  get size(): number {
    return this.#ring.length;
  }

  get dropped(): number {
    return this.#dropped;
  }

  push(event: TraceEvent): void {
    if (this.#ring.length < this.maxEvents) {
      this.#ring.push(event);
      return;
    }
    this.#ring[this.#next] = event;
    this.#next = (this.#next + 1) % this.maxEvents;
    this.#dropped++;
  }

  /** Names a process (`tid` undefined) or a thread; the last name given wins. At most `maxEvents` names. */
  name(pid: number, tid: number | undefined, name: string, sortIndex?: number): void {
    const key = `${pid}/${tid ?? ''}`;
    if (!this.#metadata.has(key) && this.#metadata.size >= this.maxEvents) return;
    this.#metadata.set(key, {
      ph: 'M',
      name: tid === undefined ? 'process_name' : 'thread_name',
      ts: 0,
      pid,
      tid: tid ?? 0,
      args: { name },
    });
    if (sortIndex !== undefined) {
      this.#metadata.set(`${key}/sort`, {
        ph: 'M',
        name: tid === undefined ? 'process_sort_index' : 'thread_sort_index',
        ts: 0,
        pid,
        tid: tid ?? 0,
        args: { sort_index: sortIndex },
      });
    }
  }

  /** The events oldest first, metadata first of all. */
  events(): TraceEvent[] {
    const ordered = [...this.#ring.slice(this.#next), ...this.#ring.slice(0, this.#next)];
    return [...this.#metadata.values(), ...ordered];
  }

  toJSON(): TraceFile {
    return {
      traceEvents: this.events(),
      displayTimeUnit: 'ms',
      otherData: { tool: 'tork', droppedEvents: this.#dropped, maxEvents: this.maxEvents },
    };
  }
}
