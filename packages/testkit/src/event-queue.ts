/**
 * A discrete-event queue over a virtual clock, for simulations: no timers, no real time. Events at
 * the same instant run in the order they were scheduled, so a run depends only on its inputs.
 */
export class EventQueue {
  #now = 0;
  #seq = 0;
  readonly #times: number[] = [];
  readonly #seqs: number[] = [];
  readonly #actions: Array<() => void> = [];

  /** Virtual seconds since the start. */
  get now(): number {
    return this.#now;
  }

  get size(): number {
    return this.#times.length;
  }

  /** Runs `action` `delay` virtual seconds from now (0 or more). */
  schedule(delay: number, action: () => void): void {
    const time = this.#now + Math.max(0, delay);
    const seq = this.#seq++;
    const times = this.#times;
    const seqs = this.#seqs;
    const actions = this.#actions;
    let i = times.length;
    times.push(time);
    seqs.push(seq);
    actions.push(action);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(time, seq, times[parent]!, seqs[parent]!)) break;
      times[i] = times[parent]!;
      seqs[i] = seqs[parent]!;
      actions[i] = actions[parent]!;
      i = parent;
    }
    times[i] = time;
    seqs[i] = seq;
    actions[i] = action;
  }

  /** Advances the clock to the next event and runs it; false when none is left. */
  runNext(): boolean {
    const times = this.#times;
    const seqs = this.#seqs;
    const actions = this.#actions;
    if (times.length === 0) return false;
    const time = times[0]!;
    const action = actions[0]!;
    const lastTime = times.pop()!;
    const lastSeq = seqs.pop()!;
    const lastAction = actions.pop()!;
    const n = times.length;
    if (n > 0) {
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        if (left >= n) break;
        const right = left + 1;
        const child =
          right < n && before(times[right]!, seqs[right]!, times[left]!, seqs[left]!) ? right : left;
        if (!before(times[child]!, seqs[child]!, lastTime, lastSeq)) break;
        times[i] = times[child]!;
        seqs[i] = seqs[child]!;
        actions[i] = actions[child]!;
        i = child;
      }
      times[i] = lastTime;
      seqs[i] = lastSeq;
      actions[i] = lastAction;
    }
    this.#now = time;
    action();
    return true;
  }
}

function before(timeA: number, seqA: number, timeB: number, seqB: number): boolean {
  return timeA < timeB || (timeA === timeB && seqA < seqB);
}
