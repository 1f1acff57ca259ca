import { MAX_URGENT_PIECES } from '@tork/core';

/**
 * Bytes from each reader's position marked urgent (fetched before anything else): enough for a
 * player to keep going while the next pieces arrive, small enough that several readers and a
 * seek do not turn the whole torrent urgent. 16 MiB ≈ 10 s of a 12 Mbit/s video.
 */
export const STREAM_READ_AHEAD_BYTES = 16 * 1024 * 1024;

/** One reader's place: the next byte it needs and the end (exclusive) of what it asked for, torrent offsets. */
export interface ReadAheadReader {
  /** The reader has moved on to `position`. */
  move(position: number): void;
  /** The reader is gone (response ended). */
  close(): void;
}

interface Place {
  position: number;
  readonly end: number;
}

/**
 * Turns the open readers' positions into the torrent's urgent list (`PieceOrder.setUrgent`): for
 * each reader the pieces from its position through the read-ahead window (or the end of its
 * range), interleaved across readers so each one's next piece comes first; then the focus (the
 * start of `--file N`), after every reader. Recomputed when a reader crosses into another piece, opens or closes;
 * the scheduler skips pieces already had or taken.
 */
export class ReadAhead {
  readonly #order: { setUrgent(pieces: readonly number[]): void };
  readonly #pieceLength: number;
  readonly #windowBytes: number;
  readonly #readers = new Set<Place>();
  #focus: Place | undefined;

  constructor(
    order: { setUrgent(pieces: readonly number[]): void },
    pieceLength: number,
    windowBytes = STREAM_READ_AHEAD_BYTES,
  ) {
    this.#order = order;
    this.#pieceLength = pieceLength;
    this.#windowBytes = windowBytes;
  }

  /** Keeps `[start, end)` urgent while no reader needs anything (the start of `--file N`). */
  focus(start: number, end: number): void {
    this.#focus = { position: start, end };
    this.#update();
  }

  get readers(): number {
    return this.#readers.size;
  }

  open(position: number, end: number): ReadAheadReader {
    const place: Place = { position, end };
    this.#readers.add(place);
    this.#update();
    return {
      move: (next) => {
        const before = Math.floor(place.position / this.#pieceLength);
        place.position = next;
        if (Math.floor(next / this.#pieceLength) !== before) this.#update();
      },
      close: () => {
        if (this.#readers.delete(place)) this.#update();
      },
    };
  }

  #update(): void {
    const pieces: number[] = [];
    this.#interleave([...this.#readers], pieces);
    // The focus only after every reader's window: it matters while no one reads.
    if (this.#focus) this.#interleave([this.#focus], pieces);
    this.#order.setUrgent(pieces);
  }

  /** Appends the places' windows to `pieces`, one piece of each in turn (a reader's next piece first). */
  #interleave(places: readonly Place[], pieces: number[]): void {
    const windows = places.map((place) => {
      const last = Math.min(place.end, place.position + this.#windowBytes) - 1;
      return {
        next: Math.floor(place.position / this.#pieceLength),
        last: Math.floor(last / this.#pieceLength),
      };
    });
    for (let round = 0; pieces.length < MAX_URGENT_PIECES; round++) {
      let any = false;
      for (const window of windows) {
        const index = window.next + round;
        if (index > window.last) continue;
        any = true;
        pieces.push(index);
      }
      if (!any) break;
    }
  }
}
