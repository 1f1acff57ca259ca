import { Bitfield } from '../bitfield.js';
import { TorkError, TorkErrorCode } from '../errors.js';
import { wordsOf } from './bit-scan.js';

/** A piece's priority: 0 = skip (never fetched), 1 = low, 2 = normal (the default), 3 = high. */
export type PiecePriority = 0 | 1 | 2 | 3;
export const PRIORITY_SKIP = 0;
export const PRIORITY_LOW = 1;
export const PRIORITY_NORMAL = 2;
export const PRIORITY_HIGH = 3;
/** The highest tier: the scheduler picks from tier 3 down to tier 1. */
export const TOP_PRIORITY = PRIORITY_HIGH;

export interface Bucket {
  readonly bits: Bitfield;
  readonly words: Uint32Array;
}

/**
 * The scheduler's candidates sorted by priority tier, then by availability: `bucket(tier, a)`
 * holds the candidates of that priority that `a` connected peers have. Rarest-first runs within a
 * tier; a higher tier is always looked at first. Skipped pieces (tier 0) are in no bucket.
 * Buckets are created on first use, so a torrent with one tier costs what it did before tiers.
 */
export class PriorityTiers {
  readonly #pieceCount: number;
  /** Index = tier (1..3); each an array indexed by availability. */
  readonly #tiers: Array<Array<Bucket | undefined>> = [[], [], [], []];

  constructor(pieceCount: number) {
    this.#pieceCount = pieceCount;
  }

  /** The bucket of `tier` (1..3) for `availability`, created if missing. */
  bucket(tier: number, availability: number): Bucket {
    const buckets = this.#tiers[tier];
    if (buckets === undefined || tier === PRIORITY_SKIP) {
      throw new TorkError(TorkErrorCode.INTERNAL, `no bucket for priority tier ${tier}`, { tier });
    }
    // Checked against the length first: a read past the end deoptimises the optimised callers
    // once (V8's "out of bounds"), the first time a piece is seen by more peers than any before.
    let bucket = availability < buckets.length ? buckets[availability] : undefined;
    if (bucket === undefined) {
      for (let a = buckets.length; a <= availability; a++) {
        if (buckets[a] !== undefined) continue;
        const bits = new Bitfield(this.#pieceCount);
        buckets[a] = { bits, words: wordsOf(bits) };
      }
      bucket = buckets[availability]!;
    }
    return bucket;
  }

  /** Makes `bits` (copied by the caller) the availability-0 bucket of `tier`: the start state. */
  seed(tier: number, bits: Bitfield): void {
    this.#tiers[tier]![0] = { bits, words: wordsOf(bits) };
  }

  /** The buckets of one tier, by availability (holes are undefined). */
  tier(tier: number): ReadonlyArray<Bucket | undefined> {
    return this.#tiers[tier] ?? [];
  }

  /** Candidates no connected peer has, over every tier. */
  get unavailable(): number {
    let count = 0;
    for (let tier = PRIORITY_LOW; tier <= TOP_PRIORITY; tier++)
      count += this.#tiers[tier]![0]?.bits.count ?? 0;
    return count;
  }

  /** At most one tier holds candidates (so a pick among all candidates respects priority). */
  get singleTier(): boolean {
    let tiers = 0;
    for (let tier = PRIORITY_LOW; tier <= TOP_PRIORITY; tier++) {
      if (this.#tiers[tier]!.some((bucket) => bucket !== undefined && bucket.bits.count > 0)) tiers++;
    }
    return tiers <= 1;
  }

  /** Every tier's buckets as bitfields, for `inspect`. */
  view(): ReadonlyArray<ReadonlyArray<Bitfield | undefined>> {
    return this.#tiers.map((buckets) => buckets.map((bucket) => bucket?.bits));
  }
}

/**
 * Checks a per-piece priority array (one entry per piece, each 0..3) and returns it, or throws
 * TORK_ERR_USAGE.
 */
export function checkPriorities(priorities: Uint8Array, pieceCount: number): Uint8Array {
  if (priorities.length !== pieceCount) {
    throw new TorkError(
      TorkErrorCode.USAGE,
      `${priorities.length} piece priorities for ${pieceCount} pieces`,
      {
        length: priorities.length,
        pieceCount,
      },
    );
  }
  for (let i = 0; i < priorities.length; i++) {
    if (priorities[i]! > TOP_PRIORITY) {
      throw new TorkError(TorkErrorCode.USAGE, `piece ${i} has priority ${priorities[i]}; 0..3 expected`, {
        index: i,
      });
    }
  }
  return priorities;
}

/** Which peers are interesting now (`wanted > 0`), to compare after a change. */
export function interestOf(peers: ReadonlyMap<number, { readonly wanted: number }>): Map<number, boolean> {
  return new Map([...peers].map(([id, q]) => [id, q.wanted > 0]));
}

/** The peers whose interest differs from `before` (see `interestOf`). */
export function interestChanges(
  before: ReadonlyMap<number, boolean>,
  peers: ReadonlyMap<number, { readonly wanted: number }>,
): { interesting: number[]; uninteresting: number[] } {
  const interesting: number[] = [];
  const uninteresting: number[] = [];
  for (const [id, q] of peers) {
    if (before.get(id) !== q.wanted > 0) (q.wanted > 0 ? interesting : uninteresting).push(id);
  }
  return { interesting, uninteresting };
}
