/**
 * `tork bench --seeder-rates LO..HI[@SEED]`: a heterogeneous swarm, each libtorrent seeder capped at
 * its own upload rate drawn log-uniformly from LO..HI bytes/s by a seeded generator, so the same
 * option gives the same caps in every run and on every machine.
 */
import { parseSize } from '../format.js';

export interface SeederRates {
  /** As given, e.g. `1MiB..50MiB`. */
  readonly text: string;
  readonly low: number;
  readonly high: number;
  readonly seed: number;
}

/** Default seed of the draw (any fixed number: the point is that runs repeat). */
export const DEFAULT_RATES_SEED = 17;

/** Parses `LO..HI[@SEED]` (sizes per second, LO ≤ HI, at least 16 KiB/s); a string is the reason it cannot. */
export function parseSeederRates(text: string): SeederRates | string {
  const match = /^([^.@]+)\.\.([^.@]+)(?:@(\d{1,9}))?$/.exec(text.trim());
  const low = match ? parseSize(match[1]!) : undefined;
  const high = match ? parseSize(match[2]!) : undefined;
  if (!match || low === undefined || high === undefined)
    return `--seeder-rates takes LO..HI[@SEED], sizes per second such as 1MiB..50MiB, got '${text}'`;
  if (low < 16_384 || high < low)
    return `--seeder-rates: LO must be at least 16KiB and HI at least LO, got '${text}'`;
  return { text, low, high, seed: match[3] === undefined ? DEFAULT_RATES_SEED : Number(match[3]) };
}

/** mulberry32: a small seeded generator, uniform in [0, 1). */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** The caps of `count` seeders, bytes/s, log-uniform in low..high (whole bytes). */
export function drawSeederRates(rates: SeederRates, count: number): number[] {
  const random = seededRandom(rates.seed);
  const span = Math.log(rates.high / rates.low);
  return Array.from({ length: count }, () => Math.round(rates.low * Math.exp(random() * span)));
}
