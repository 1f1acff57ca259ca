import { availableParallelism } from 'node:os';
import {
  type HashJob,
  type HashJobResult,
  type HashPiecesOptions,
  type PieceSpanOnDisk,
  parseHashJobResult,
  TorkError,
  TorkErrorCode,
  V2_PIECE_CHECK_SIZE,
} from '@tork/core';
import type { Piscina } from 'piscina';
import { threadEntry } from '../shared/thread-entry.js';

export interface HashPoolOptions {
  /** Worker threads in the pool. Default: `os.availableParallelism()`. */
  readonly threads?: number;
  /**
   * Pieces per job: each job is one thread hop, so batching amortises it; too large and one slow
   * job holds up the rest. Default: 16.
   */
  readonly piecesPerJob?: number;
}

export interface HashResult {
  /** 20 bytes per piece, in the order given; all zeros for a missing piece. */
  readonly hashes: Uint8Array;
  /** Indices (into the given list) of pieces whose data is missing or short on disk. */
  readonly missing: readonly number[];
  /** With `options.v2Checks`: one byte per piece, 1 when it passed its BEP 52 merkle check. */
  readonly v2Ok?: Uint8Array;
}

/**
 * SHA-1 of pieces read from disk on a piscina pool: for rechecking existing data and for creating
 * torrents. Short CPU jobs only: piscina parks idle workers (`atomics: 'sync'`), so long-lived
 * actors live elsewhere (see DESIGN.md).
 */
export class HashPool {
  /** Created at the first job: most downloads never recheck, and piscina's modules cost start-up. */
  #pool: Promise<Piscina<HashJob, unknown>> | null = null;
  #closed = false;
  readonly #threads: number;
  readonly #piecesPerJob: number;

  constructor(options: HashPoolOptions = {}) {
    this.#threads = Math.max(1, options.threads ?? availableParallelism());
    this.#piecesPerJob = Math.max(1, options.piecesPerJob ?? 16);
  }

  get threads(): number {
    return this.#threads;
  }

  #started(): Promise<Piscina<HashJob, unknown>> {
    this.#pool ??= import('piscina').then(
      ({ Piscina }) =>
        // The worker is compiled JS (bundled when the build wrote one), so the shipped CLI needs no TS loader.
        new Piscina<HashJob, unknown>({
          filename: threadEntry('hash-worker.js', 'hash-worker/hash-worker.js').href,
          minThreads: 0,
          maxThreads: this.#threads,
          idleTimeout: 2_000,
        }),
    );
    return this.#pool;
  }

  /** Hashes each piece given as its spans; jobs run in parallel across the pool. */
  async hashPieces(
    pieces: ReadonlyArray<ReadonlyArray<PieceSpanOnDisk>>,
    options: HashPiecesOptions & { readonly signal?: AbortSignal } = {},
  ): Promise<HashResult> {
    const { signal, v2Checks } = options;
    if (v2Checks !== undefined && v2Checks.length !== pieces.length * V2_PIECE_CHECK_SIZE) {
      throw new TorkError(TorkErrorCode.INTERNAL, 'v2Checks must hold one record per piece');
    }
    if (this.#closed) throw new TorkError(TorkErrorCode.INTERNAL, 'hash pool failed: it is closed');
    let pool: Piscina<HashJob, unknown>;
    try {
      pool = await this.#started();
    } catch (error) {
      // piscina could not be loaded or could not start (an install without it): one typed error.
      throw new TorkError(TorkErrorCode.INTERNAL, `hash pool failed: ${(error as Error).message}`);
    }
    const jobs: Promise<HashJobResult>[] = [];
    for (let first = 0; first < pieces.length; first += this.#piecesPerJob) {
      const last = Math.min(pieces.length, first + this.#piecesPerJob);
      const job: HashJob = {
        pieces: pieces.slice(first, last),
        // A copy per job: the records of its pieces only.
        ...(v2Checks
          ? { v2Checks: v2Checks.slice(first * V2_PIECE_CHECK_SIZE, last * V2_PIECE_CHECK_SIZE) }
          : {}),
        ...(options.sha1 === false ? { sha1: false } : {}),
      };
      // Thread boundary: the job is structured-cloned into a pool thread (which parses it) and
      // its result is checked here on arrival.
      jobs.push(pool.run(job, signal ? { signal } : {}).then(parseHashJobResult));
    }
    let results: HashJobResult[];
    try {
      results = await Promise.all(jobs);
    } catch (error) {
      if (signal?.aborted) throw new TorkError(TorkErrorCode.ABORTED, 'hashing aborted');
      if (error instanceof TorkError) throw error;
      throw new TorkError(TorkErrorCode.INTERNAL, `hash pool failed: ${(error as Error).message}`);
    }
    const hashes = new Uint8Array(pieces.length * 20);
    const v2Ok = v2Checks ? new Uint8Array(pieces.length) : undefined;
    const missing: number[] = [];
    results.forEach((result, job) => {
      if (!result.ok) throw TorkError.fromPlain(result.error);
      const first = job * this.#piecesPerJob;
      hashes.set(new Uint8Array(result.hashes), first * 20);
      if (v2Ok) {
        if (!result.v2Ok) throw new TorkError(TorkErrorCode.INTERNAL, 'hash worker left out the v2 checks');
        v2Ok.set(new Uint8Array(result.v2Ok), first);
      }
      for (const index of result.missing) missing.push(first + index);
    });
    return v2Ok ? { hashes, missing, v2Ok } : { hashes, missing };
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#pool !== null) await (await this.#pool).destroy();
  }
}
