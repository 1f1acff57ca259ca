/**
 * RC4, for message stream encryption (MSE/PE). Node's OpenSSL 3 ships RC4 only in the legacy
 * provider, which is not loaded by default (and cannot be counted on), so this is our own: a
 * 256-byte state and two indices, transforming in place. The state is plain data, so a stream
 * can be handed from the thread that ran the handshake to the one that carries the connection
 * (`snapshot` / `Rc4.restore`).
 */
export class Rc4 {
  readonly #s: Uint8Array;
  #i: number;
  #j: number;

  private constructor(s: Uint8Array, i: number, j: number) {
    this.#s = s;
    this.#i = i;
    this.#j = j;
  }

  /** Keyed with `key` (1–256 bytes), then `discard` bytes of keystream thrown away (MSE: 1,024). */
  static create(key: Uint8Array, discard = 0): Rc4 {
    if (key.length === 0 || key.length > 256) throw new RangeError('RC4 key must be 1-256 bytes');
    const s = new Uint8Array(256);
    for (let i = 0; i < 256; i++) s[i] = i;
    let j = 0;
    for (let i = 0; i < 256; i++) {
      const si = s[i]!;
      j = (j + si + key[i % key.length]!) & 0xff;
      s[i] = s[j]!;
      s[j] = si;
    }
    const rc4 = new Rc4(s, 0, 0);
    if (discard > 0) rc4.skip(discard);
    return rc4;
  }

  /** Rebuilds a stream from `snapshot()`: it goes on exactly where that one was. */
  static restore(state: Rc4State): Rc4 {
    if (state.s.length !== 256) throw new RangeError('RC4 state must hold 256 bytes');
    return new Rc4(new Uint8Array(state.s), state.i & 0xff, state.j & 0xff);
  }

  /** The state as plain data (a copy), to cross a thread. */
  snapshot(): Rc4State {
    return { s: new Uint8Array(this.#s), i: this.#i, j: this.#j };
  }

  /** XORs `data[start, end)` with the keystream, in place. */
  transform(input: Uint8Array, start = 0, end = input.length): void {
    // Always a plain Uint8Array: called with Buffers (socket reads) and Uint8Arrays alike, the
    // loop's element accesses would go polymorphic.
    const data = plain(input);
    const s = this.#s;
    let i = this.#i;
    let j = this.#j;
    for (let k = start; k < end; k++) {
      i = (i + 1) & 0xff;
      const si = s[i]!;
      j = (j + si) & 0xff;
      const sj = s[j]!;
      s[i] = sj;
      s[j] = si;
      data[k]! ^= s[(si + sj) & 0xff]!;
    }
    this.#i = i;
    this.#j = j;
  }

  /** XORs `from` into `to` at `at` (`to` may be `from`). */
  transformInto(input: Uint8Array, output: Uint8Array, at = 0): void {
    const from = plain(input);
    const to = plain(output);
    const s = this.#s;
    let i = this.#i;
    let j = this.#j;
    for (let k = 0; k < from.length; k++) {
      i = (i + 1) & 0xff;
      const si = s[i]!;
      j = (j + si) & 0xff;
      const sj = s[j]!;
      s[i] = sj;
      s[j] = si;
      to[at + k] = from[k]! ^ s[(si + sj) & 0xff]!;
    }
    this.#i = i;
    this.#j = j;
  }

  /** Advances the keystream by `bytes` without data. */
  skip(bytes: number): void {
    const scratch = new Uint8Array(Math.min(bytes, 4096));
    let left = bytes;
    while (left > 0) {
      const n = Math.min(left, scratch.length);
      this.transform(scratch, 0, n);
      left -= n;
    }
  }
}

function plain(data: Uint8Array): Uint8Array {
  return data.constructor === Uint8Array
    ? data
    : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/** An RC4 stream's state as plain, structured-cloneable data. */
export interface Rc4State {
  readonly s: Uint8Array;
  readonly i: number;
  readonly j: number;
}
