import type { Bitfield } from '../bitfield.js';
import { TorkError, TorkErrorCode } from '../errors.js';
import { findFirstCommon } from './bit-scan.js';

/**
 * Most pieces `PieceOrder.setUrgent` keeps (the rest of a longer list is dropped). Every pick
 * looks through the list, so it must stay short; 1,024 pieces cover a 16 MiB read-ahead window
 * for several readers at 64 KiB pieces, and far more at usual piece sizes.
 */
export const MAX_URGENT_PIECES = 1024;

export interface PieceOrderOptions {
  /**
   * Fetch pieces in index order (from `sequentialFrom`, then from 0) instead of rarest-first:
   * streaming, or media played while it downloads. The scheduler's byte budget
   * (`maxBytesInFlight`) is the read-ahead window; the endgame is unchanged. Default: false.
   */
  sequential?: boolean;
  /** Where in-order picking starts (a file's first piece); lower pieces come after. Default: 0. */
  sequentialFrom?: number;
}

/**
 * The order part of the piece pick, beside the scheduler's rarest-first: pieces a reader waits
 * for (`setUrgent`, ordered, taken first) and sequential mode (the lowest missing piece the peer
 * has). The scheduler consults `pick` after its retry step and before its random / rarest pick,
 * over its candidates (missing, unassigned, wanted pieces) and the peer's bits only.
 *
 * It keeps `cursor`, a lower bound of the candidates (no candidate lies below it), advanced
 * lazily, so in-order picks do not rescan the finished start of the torrent; the scheduler calls
 * `returned` when a piece becomes a candidate again. The object outlives a scheduler (a torrent
 * rebuilds its scheduler after the resume check): `attach` resets what belongs to one.
 */
export class PieceOrder {
  #sequential: boolean;
  #from: number;
  #urgent: number[] = [];
  #cursor = 0;
  /** Lowest candidate ≥ `#from` at most (no candidate in `[#from, #fromCursor)`). */
  #fromCursor: number;
  #pieceCount = Number.MAX_SAFE_INTEGER;
  /** Called after every change, so the owner can hand out work at once (a Torrent fills its peers). */
  onChange: (() => void) | undefined;

  constructor(options: PieceOrderOptions = {}) {
    this.#sequential = options.sequential ?? false;
    this.#from = nonNegative(options.sequentialFrom ?? 0, 'sequentialFrom');
    this.#fromCursor = this.#from;
  }

  get sequential(): boolean {
    return this.#sequential;
  }

  set sequential(on: boolean) {
    if (on === this.#sequential) return;
    this.#sequential = on;
    this.onChange?.();
  }

  get sequentialFrom(): number {
    return this.#from;
  }

  set sequentialFrom(index: number) {
    this.#from = nonNegative(index, 'sequentialFrom');
    this.#fromCursor = this.#from;
    this.onChange?.();
  }

  /** The urgent pieces, in order (a copy is not made: do not modify). */
  get urgent(): readonly number[] {
    return this.#urgent;
  }

  /**
   * Pieces to fetch before any other (except released ones, which were picked once already), in
   * this order: what readers are waiting for. Replaces the previous list; repeats are dropped, and
   * anything beyond `MAX_URGENT_PIECES`. Pieces already had or assigned are skipped at pick time.
   */
  setUrgent(pieces: readonly number[]): void {
    const seen = new Set<number>();
    const list: number[] = [];
    for (const index of pieces) {
      if (list.length >= MAX_URGENT_PIECES) break;
      if (!Number.isSafeInteger(index) || index < 0 || index >= this.#pieceCount || seen.has(index)) continue;
      seen.add(index);
      list.push(index);
    }
    const same = list.length === this.#urgent.length && list.every((index, i) => this.#urgent[i] === index);
    this.#urgent = list;
    if (!same) this.onChange?.();
  }

  /** Lowest index that may still be a candidate (an invariant the test kit checks). */
  get cursor(): number {
    return this.#cursor;
  }

  /** @internal A (new) scheduler of `pieceCount` pieces uses this order from now on. */
  attach(pieceCount: number): void {
    this.#pieceCount = pieceCount;
    this.#cursor = 0;
    this.#fromCursor = this.#from;
    this.#urgent = this.#urgent.filter((index) => index < pieceCount);
  }

  /** @internal The piece is a candidate again (released, failed, write failed). */
  returned(index: number): void {
    if (index < this.#cursor) this.#cursor = index;
    if (index >= this.#from && index < this.#fromCursor) this.#fromCursor = index;
  }

  /**
   * @internal The first urgent candidate the peer has, else (sequential) the lowest candidate it
   * has from `sequentialFrom`, then from 0; -1 when neither applies (rarest-first decides).
   */
  pick(
    candidates: Bitfield,
    candidateWords: Uint32Array,
    peerBits: Bitfield,
    peerWords: Uint32Array,
    accept?: (index: number) => boolean,
  ): number {
    for (const index of this.#urgent) {
      if (candidates.has(index) && peerBits.has(index) && (accept === undefined || accept(index)))
        return index;
    }
    if (!this.#sequential) return -1;
    this.#cursor = advance(candidates, candidateWords, this.#cursor);
    if (this.#from > this.#cursor) {
      this.#fromCursor = advance(candidates, candidateWords, Math.max(this.#fromCursor, this.#from));
      const index = findFirstCommon(
        candidates,
        candidateWords,
        peerBits,
        peerWords,
        this.#fromCursor,
        accept,
      );
      if (index >= 0) return index;
    }
    return findFirstCommon(candidates, candidateWords, peerBits, peerWords, this.#cursor, accept);
  }
}

/** The lowest candidate from `from` (the field's length when none): the cursor moves past done pieces. */
function advance(candidates: Bitfield, words: Uint32Array, from: number): number {
  const index = findFirstCommon(candidates, words, candidates, words, from);
  return index < 0 ? Math.max(from, candidates.length) : index;
}

function nonNegative(value: number, name: string): number {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new TorkError(TorkErrorCode.USAGE, `${name} must be a non-negative integer`, { [name]: value });
  }
  return value;
}
