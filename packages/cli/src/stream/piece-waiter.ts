import type { Torrent } from '@tork/core';
import { TorkError, TorkErrorCode } from '@tork/core';

/** What the stream needs of a torrent: its pieces on disk, and word when one is written. */
export type WrittenPieces = Pick<Torrent, 'hasPiece' | 'on' | 'off'>;

interface Waiter {
  readonly resolve: () => void;
  readonly reject: (error: TorkError) => void;
}

/**
 * Waits for pieces to be verified and written (the `piece-written` event): only then are their
 * bytes read from the files and sent. Every wait has a timeout, and all of them end at `close`.
 */
export class PieceWaiter {
  readonly #torrent: WrittenPieces;
  readonly #waiting = new Map<number, Set<Waiter>>();
  #closed = false;
  readonly #onWritten = ({ index }: { index: number }) => {
    const waiters = this.#waiting.get(index);
    if (waiters === undefined) return;
    this.#waiting.delete(index);
    for (const waiter of waiters) waiter.resolve();
  };

  constructor(torrent: WrittenPieces) {
    this.#torrent = torrent;
    torrent.on('piece-written', this.#onWritten);
  }

  /** Pieces someone waits for now (a test and a diagnostic). */
  get waitingPieces(): number {
    return this.#waiting.size;
  }

  /**
   * Resolves once the piece is written (at once if it is); rejects with TORK_ERR_ABORTED after
   * `timeoutMs`, when `signal` aborts, or when the waiter closes.
   */
  wait(index: number, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    if (this.#torrent.hasPiece(index)) return Promise.resolve();
    if (this.#closed) return Promise.reject(new TorkError(TorkErrorCode.ABORTED, 'the stream is closing'));
    if (signal?.aborted) return Promise.reject(new TorkError(TorkErrorCode.ABORTED, 'the request ended'));
    return new Promise<void>((resolve, reject) => {
      let waiters = this.#waiting.get(index);
      if (waiters === undefined) {
        waiters = new Set();
        this.#waiting.set(index, waiters);
      }
      const set = waiters;
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        set.delete(waiter);
        if (set.size === 0 && this.#waiting.get(index) === set) this.#waiting.delete(index);
      };
      const waiter: Waiter = {
        resolve: () => {
          done();
          resolve();
        },
        reject: (error) => {
          done();
          reject(error);
        },
      };
      const timer = setTimeout(
        () =>
          waiter.reject(
            new TorkError(
              TorkErrorCode.ABORTED,
              `piece ${index} not downloaded within ${timeoutMs / 1000} s`,
              {
                index,
              },
            ),
          ),
        timeoutMs,
      );
      const onAbort = () => waiter.reject(new TorkError(TorkErrorCode.ABORTED, 'the request ended'));
      signal?.addEventListener('abort', onAbort, { once: true });
      set.add(waiter);
    });
  }

  close(): void {
    this.#closed = true;
    this.#torrent.off('piece-written', this.#onWritten);
    const error = new TorkError(TorkErrorCode.ABORTED, 'the stream is closing');
    for (const waiters of [...this.#waiting.values()])
      for (const waiter of [...waiters]) waiter.reject(error);
    this.#waiting.clear();
  }
}
