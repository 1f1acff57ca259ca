import { performance } from 'node:perf_hooks';

/**
 * The phases of a `tork download` start, in the order they happen: `modulesLoaded` (the command's
 * code runs), `parsed` (options and .torrent read), `listening` (TCP port bound), `threadsStarted`
 * (peer hosts up), `engineReady`, `added` (storage opened, resume check done, announce sent),
 * `trackerPeers` (first tracker answer), `firstPeer` (first peer connected), `firstPiece` (first
 * piece verified). Beside them, not on the way to the first peer under `--transport both`:
 * `utpListening` (the UDP host's socket listens).
 */
export type StartupPhase =
  | 'modulesLoaded'
  | 'parsed'
  | 'listening'
  | 'threadsStarted'
  | 'engineReady'
  | 'added'
  | 'trackerPeers'
  | 'firstPeer'
  | 'firstPiece'
  | 'utpListening';

/** Milliseconds since the process started (performance.timeOrigin), one decimal. */
export function sinceStartMs(): number {
  return Math.round(performance.now() * 10) / 10;
}

/**
 * When each start-up phase was first reached, in ms since the process started; `--json` prints
 * them as one `startup` event at the first verified piece (or at the end, for what was reached).
 */
export class StartupTimes {
  readonly #marks: Partial<Record<StartupPhase, number>> = {};

  /** Records the phase's time the first time only; returns that time then, undefined after. */
  mark(phase: StartupPhase): number | undefined {
    if (this.#marks[phase] !== undefined) return undefined;
    const ms = sinceStartMs();
    this.#marks[phase] = ms;
    return ms;
  }

  /** The phases reached, each as `<phase>Ms`. */
  toJson(): Record<string, number> {
    return Object.fromEntries(Object.entries(this.#marks).map(([phase, ms]) => [`${phase}Ms`, ms]));
  }
}
