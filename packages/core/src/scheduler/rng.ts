/**
 * A seeded pseudo-random source for the scheduler and the simulations: the scheduler never calls
 * `Math.random`, so a run is reproducible from its seed.
 */
export type Rng = () => number;

/**
 * mulberry32: 32 bits of state, full period 2^32, passes the usual small-state batteries — plenty
 * for tie-breaks and simulated swarms, and one multiply-xorshift per draw. Not for cryptography.
 * Returns a function that yields floats in [0, 1).
 */
export function createRng(seed: number): Rng {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** An integer in [0, bound). */
export function randomInt(rng: Rng, bound: number): number {
  return Math.floor(rng() * bound);
}
