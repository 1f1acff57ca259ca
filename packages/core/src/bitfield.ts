import { TorkError, TorkErrorCode } from './errors.js';

/** BEP 3 bit order: piece 0 is the high bit of byte 0. */
export class Bitfield {
  readonly length: number;
  readonly bytes: Uint8Array;
  #count = 0;

  /** `bytes`, when given, is copied and must be exactly ceil(length / 8) long with spare bits clear. */
  constructor(length: number, bytes?: Uint8Array) {
    if (!Number.isSafeInteger(length) || length < 0) {
      throw new TorkError(TorkErrorCode.INTERNAL, `bitfield length ${length} is not a count`);
    }
    this.length = length;
    this.bytes = new Uint8Array(Math.ceil(length / 8));
    if (bytes !== undefined) {
      if (bytes.length !== this.bytes.length) {
        throw new TorkError(
          TorkErrorCode.WIRE_PROTOCOL,
          `bitfield of ${bytes.length} bytes for ${length} pieces`,
          {
            reason: 'length',
            bytes: bytes.length,
            pieces: length,
          },
        );
      }
      const spare = this.bytes.length * 8 - length;
      if (spare > 0 && (bytes[bytes.length - 1]! & ((1 << spare) - 1)) !== 0) {
        throw new TorkError(TorkErrorCode.WIRE_PROTOCOL, 'bitfield has spare bits set', {
          reason: 'spare-bits',
          pieces: length,
        });
      }
      this.bytes.set(bytes);
      for (const byte of this.bytes) this.#count += POPCOUNT[byte]!;
    }
  }

  static full(length: number): Bitfield {
    const field = new Bitfield(length);
    field.setAll();
    return field;
  }

  /**
   * Sets every piece (a have-all, a seed's own field). Why not `set` in a loop: 16,384 calls per
   * peer for a 16 KiB-piece torrent, in a loop V8 compiles on the spot and then throws away.
   */
  setAll(): void {
    this.bytes.fill(0xff);
    const spare = this.bytes.length * 8 - this.length;
    // Spare bits stay clear (BEP 3: a bitfield with them set is refused).
    if (spare > 0) this.bytes[this.bytes.length - 1] = (0xff << spare) & 0xff;
    this.#count = this.length;
  }

  /** Pieces set. */
  get count(): number {
    return this.#count;
  }

  get complete(): boolean {
    return this.#count === this.length;
  }

  has(index: number): boolean {
    if (index < 0 || index >= this.length) return false;
    return (this.bytes[index >> 3]! & (0x80 >> (index & 7))) !== 0;
  }

  /** Returns true when the bit changed. */
  set(index: number): boolean {
    this.#check(index);
    const mask = 0x80 >> (index & 7);
    const byte = this.bytes[index >> 3]!;
    if (byte & mask) return false;
    this.bytes[index >> 3] = byte | mask;
    this.#count++;
    return true;
  }

  /** Returns true when the bit changed. */
  clear(index: number): boolean {
    this.#check(index);
    const mask = 0x80 >> (index & 7);
    const byte = this.bytes[index >> 3]!;
    if (!(byte & mask)) return false;
    this.bytes[index >> 3] = byte & ~mask;
    this.#count--;
    return true;
  }

  *indices(): IterableIterator<number> {
    for (let i = 0; i < this.length; i++) if (this.has(i)) yield i;
  }

  #check(index: number): void {
    if (!Number.isInteger(index) || index < 0 || index >= this.length) {
      throw new TorkError(TorkErrorCode.OUT_OF_RANGE, `piece ${index} outside 0..${this.length - 1}`, {
        index,
        length: this.length,
      });
    }
  }
}

const POPCOUNT = Uint8Array.from({ length: 256 }, (_, byte) => {
  let bits = 0;
  for (let b = byte; b; b >>= 1) bits += b & 1;
  return bits;
});
