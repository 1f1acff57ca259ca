import { TorkError, TorkErrorCode } from '@tork/core/internal/errors.js';
import type { HostEvent } from '@tork/core/internal/messages/host-event.js';
import {
  MAX_PIECE_BATCH_BYTES,
  MAX_PIECES_PER_EVENT,
  SMALL_PIECE_EVENT_BYTES,
} from '@tork/core/internal/messages/message-limits.js';
import type { BufferPool } from './buffer-pool.js';

/**
 * The least packed buffer; the others are powers of two up to MAX_PIECE_BATCH_BYTES (5 sizes), so
 * a buffer the coordinator recycles fits the next turns' requests and the pool hands it out again.
 */
export const PACK_UNIT_BYTES = 64 * 1024;

type PiecesEvent = Extract<HostEvent, { type: 'pieces' }>;

/**
 * Verified small pieces (torrents of pieces ≤ SMALL_PIECE_EVENT_BYTES) copied back to back into
 * shared buffers, each sent as one `pieces` event: with 16 KiB pieces a transferred buffer per
 * piece, and its trip back (`recycle`), were a thread hop's worth of work per 16 KiB.
 *
 * A piece is copied in as it verifies: a single-block piece straight from the received block (the
 * wire decoder's view, valid only until the next read), so its bytes are copied once on their way
 * to the coordinator, not into a piece buffer first and into the batch at the end of the turn.
 * A buffer is opened with room for about what the last turn packed (a power of two from
 * PACK_UNIT_BYTES to MAX_PIECE_BATCH_BYTES), so a batch in flight holds at most about as much
 * unused memory as it carries; a turn that packs more opens another, twice as big. `seal`, once per turn, hands
 * out what was packed.
 */
export class PiecePacker {
  readonly #pool: BufferPool;
  #buffer: ArrayBuffer | null = null;
  #view: Uint8Array | null = null;
  #used = 0;
  #entries: PiecesEvent['pieces'] = [];
  #sealed: PiecesEvent[] = [];
  #turnBytes = 0;
  #lastTurnBytes = 0;
  /** The size of the last buffer opened this turn: a turn that outgrows it opens one twice as big. */
  #turnBuffer = 0;
  #events = 0;
  #pieces = 0;

  constructor(pool: BufferPool) {
    this.#pool = pool;
  }

  /** Something was packed this turn and `seal` has not taken it yet. */
  get pending(): boolean {
    return this.#entries.length > 0 || this.#sealed.length > 0;
  }

  /** `pieces` events sealed, and the pieces in them, since the start. */
  get packed(): { events: number; pieces: number } {
    return { events: this.#events, pieces: this.#pieces };
  }

  /** Copies a verified piece in (`bytes` may be a view that is reused after this call returns). */
  add(actorId: number, index: number, bytes: Uint8Array): void {
    const length = bytes.length;
    if (length === 0 || length > SMALL_PIECE_EVENT_BYTES) {
      throw new TorkError(TorkErrorCode.INTERNAL, `a packed piece of ${length} bytes`, { index, length });
    }
    if (
      this.#view === null ||
      this.#used + length > this.#view.length ||
      this.#entries.length >= MAX_PIECES_PER_EVENT
    ) {
      this.#close();
      this.#open(length);
    }
    this.#view!.set(bytes, this.#used);
    this.#entries.push({ actorId, index, offset: this.#used, length });
    this.#used += length;
    this.#turnBytes += length;
  }

  /**
   * This turn's `pieces` events, in the order their pieces were added, with the buffers to
   * transfer. An opened buffer nothing was packed into stays for the next turn.
   */
  seal(): { events: PiecesEvent[]; transfer: ArrayBuffer[] } {
    this.#close();
    const events = this.#sealed;
    this.#sealed = [];
    this.#lastTurnBytes = this.#turnBytes;
    this.#turnBytes = 0;
    this.#turnBuffer = 0;
    return { events, transfer: events.map((event) => event.data) };
  }

  /** The buffer being filled, if anything is in it, becomes an event. */
  #close(): void {
    if (this.#buffer === null || this.#entries.length === 0) return;
    this.#sealed.push({ type: 'pieces', data: this.#buffer, pieces: this.#entries });
    this.#events++;
    this.#pieces += this.#entries.length;
    this.#buffer = null;
    this.#view = null;
    this.#used = 0;
    this.#entries = [];
  }

  #open(atLeast: number): void {
    // About the last turn's bytes; within a turn that outgrows its buffers, twice the last one, so
    // a burst after a quiet turn takes a few events, not one per 64 KiB.
    const want = Math.max(
      atLeast,
      Math.min(Math.max(this.#lastTurnBytes, 2 * this.#turnBuffer), MAX_PIECE_BATCH_BYTES),
    );
    let size = PACK_UNIT_BYTES;
    while (size < want) size *= 2;
    this.#buffer = this.#pool.take(size);
    this.#view = new Uint8Array(this.#buffer);
    this.#turnBuffer = size;
  }
}
