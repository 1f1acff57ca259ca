import type { Bitfield } from '../bitfield.js';
import type { Rng } from './rng.js';

/**
 * Word-at-a-time scans over pairs of `Bitfield`s. The scheduler keeps its candidate pieces in
 * bitsets (one per availability count), so "a piece this peer has, among the rarest" is an AND of
 * two bitsets: 32 pieces per step instead of one lookup per piece.
 */

/**
 * A 32-bit view of a bitfield's whole words (its last `bytes.length % 4` bytes are scanned one by
 * one). Bit order inside a word does not matter for AND / zero tests; hits are decoded per byte,
 * in BEP 3 order. `Bitfield` allocates its own buffer, so the view starts at offset 0.
 */
export function wordsOf(field: Bitfield): Uint32Array {
  return new Uint32Array(field.bytes.buffer, field.bytes.byteOffset, field.bytes.length >>> 2);
}

const hits = new Int32Array(32);

/**
 * Scan units of a bitfield of `bytes` bytes: one per whole 32-bit word, plus one for the tail
 * bytes when the length is not a multiple of 4. Unit `words` is the tail.
 */
export function unitCount(bytes: number): number {
  return (bytes >>> 2) + (bytes % 4 === 0 ? 0 : 1);
}

/** The scan unit holding `index`. */
export function unitOf(index: number, bytes: number): number {
  return Math.min(index >>> 5, bytes >>> 2);
}

/** Set bits of `bytes` in one scan unit. */
export function unitPopulation(bytes: Uint8Array, unit: number): number {
  const from = unit * 4;
  const to = Math.min(from + 4, bytes.length);
  let count = 0;
  for (let i = from; i < to; i++) {
    for (let byte = bytes[i]!; byte !== 0; byte &= byte - 1) count++;
  }
  return count;
}

/**
 * The scan units where `bytes` has set bits (a sparse peer's list, see `findCommon`), or
 * undefined once there are more than `limit`: the peer is dense and scanned whole.
 */
export function nonZeroUnits(bytes: Uint8Array, limit: number): number[] | undefined {
  const units: number[] = [];
  const total = unitCount(bytes.length);
  for (let unit = 0; unit < total; unit++) {
    const from = unit * 4;
    const to = Math.min(from + 4, bytes.length);
    let any = 0;
    for (let i = from; i < to; i++) any |= bytes[i]!;
    if (any !== 0) {
      units.push(unit);
      if (units.length > limit) return undefined;
    }
  }
  return units;
}

/**
 * A piece set in both `a` and `b` (and accepted by `accept`, when given), or -1. The scan starts
 * at a random word and wraps, and picks a random hit inside the first word that has any: a random
 * tie-break among equally good pieces without shuffling anything. O(words) in the worst case.
 *
 * `units`, when given, lists the only scan units where `b` may have bits (see `unitOf`): a sparse
 * peer's few non-zero words, so a scan costs its size instead of the whole field's.
 */
export function findCommon(
  a: Bitfield,
  aWords: Uint32Array,
  b: Bitfield,
  bWords: Uint32Array,
  rng: Rng,
  accept?: (index: number) => boolean,
  units?: readonly number[],
): number {
  const aBytes = a.bytes;
  const bBytes = b.bytes;
  const words = aWords.length;
  const total = units === undefined ? unitCount(aBytes.length) : units.length;
  if (total === 0) return -1;
  let at = Math.floor(rng() * total);
  for (let step = 0; step < total; step++, at = at + 1 === total ? 0 : at + 1) {
    const unit = units === undefined ? at : units[at]!;
    let from: number;
    let to: number;
    if (unit < words) {
      if ((aWords[unit]! & bWords[unit]!) === 0) continue;
      from = unit * 4;
      to = from + 4;
    } else {
      from = words * 4;
      to = aBytes.length;
    }
    let count = 0;
    for (let i = from; i < to; i++) {
      let byte = aBytes[i]! & bBytes[i]!;
      while (byte !== 0) {
        const offset = Math.clz32(byte) - 24;
        byte ^= 0x80 >> offset;
        hits[count++] = i * 8 + offset;
      }
    }
    if (count === 0) continue;
    const first = Math.floor(rng() * count);
    for (let j = 0; j < count; j++) {
      const index = hits[(first + j) % count]!;
      if (accept === undefined || accept(index)) return index;
    }
  }
  return -1;
}

/** Calls `visit` for every set piece, in order, skipping empty bytes. */
export function forEachSet(field: Bitfield, visit: (index: number) => void): void {
  const bytes = field.bytes;
  for (let i = 0; i < bytes.length; i++) {
    let byte = bytes[i]!;
    while (byte !== 0) {
      const offset = Math.clz32(byte) - 24;
      byte ^= 0x80 >> offset;
      visit(i * 8 + offset);
    }
  }
}

/**
 * The lowest piece ≥ `fromIndex` set in both `a` and `b` (and accepted by `accept`, when given),
 * or -1: the in-order counterpart of `findCommon`, for sequential download and streaming. Whole
 * words where `a AND b` is zero are skipped 32 pieces at a time. O(words from `fromIndex`).
 */
export function findFirstCommon(
  a: Bitfield,
  aWords: Uint32Array,
  b: Bitfield,
  bWords: Uint32Array,
  fromIndex: number,
  accept?: (index: number) => boolean,
): number {
  const aBytes = a.bytes;
  const bBytes = b.bytes;
  const words = aWords.length;
  let byteAt = Math.max(0, Math.floor(fromIndex)) >>> 3;
  // The first byte may hold pieces below `fromIndex`: mask them off.
  let mask = 0xff >> (Math.max(0, Math.floor(fromIndex)) & 7);
  while (byteAt < aBytes.length) {
    // A whole word at a time where aligned.
    if ((byteAt & 3) === 0 && byteAt >>> 2 < words && mask === 0xff) {
      const word = byteAt >>> 2;
      if ((aWords[word]! & bWords[word]!) === 0) {
        byteAt += 4;
        continue;
      }
    }
    let byte = aBytes[byteAt]! & bBytes[byteAt]! & mask;
    mask = 0xff;
    while (byte !== 0) {
      const offset = Math.clz32(byte) - 24;
      byte ^= 0x80 >> offset;
      const index = byteAt * 8 + offset;
      if (accept === undefined || accept(index)) return index;
    }
    byteAt++;
  }
  return -1;
}
