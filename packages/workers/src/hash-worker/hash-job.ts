/**
 * The hash pool's job format, shared by the pool (main thread) and its worker. Plain data only:
 * it is structured-cloned into the worker.
 */

/** One contiguous read that is part of a piece; `path: null` is a BEP 47 pad file (zeros). */
export interface PieceSpan {
  readonly path: string | null;
  readonly offset: number;
  readonly length: number;
}

export interface HashJob {
  /** Each piece as the spans that make it up, in order. */
  readonly pieces: ReadonlyArray<ReadonlyArray<PieceSpan>>;
}

/** Errors cross the thread as plain data, or their class and code are lost. */
export type HashJobResult =
  | { readonly ok: true; readonly hashes: ArrayBuffer; readonly missing: readonly number[] }
  | {
      readonly ok: false;
      readonly error: { code: string; message: string; details: Record<string, unknown> };
    };
