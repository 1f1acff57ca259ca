/** Default bytes of piece buffers a host keeps for reuse. */
export const DEFAULT_BUFFER_POOL_BYTES = 32 * 1024 * 1024;

/**
 * Piece buffers for reuse, per peer-host thread. Every verified piece travels to the coordinator
 * in its own ArrayBuffer and, once written, comes back (`recycle`). Allocating a fresh buffer per
 * piece made V8 count ever more external memory and run a full mark-compact every few dozen MiB
 * on every thread (about a fifth of the CPU per GiB): a buffer that goes round and round costs
 * nothing after the first lap. Bounded: beyond `maxBytes`, returned buffers are dropped.
 */
export class BufferPool {
  readonly maxBytes: number;
  readonly #free = new Map<number, ArrayBuffer[]>();
  #bytes = 0;
  #reused = 0;
  #allocated = 0;

  /** `maxBytes`: most bytes kept for reuse. Default: 32 MiB. */
  constructor(maxBytes = DEFAULT_BUFFER_POOL_BYTES) {
    this.maxBytes = Math.max(0, maxBytes);
  }

  /** Bytes held for reuse now. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Buffers handed out again / newly allocated, since the start. */
  get reused(): number {
    return this.#reused;
  }

  get allocated(): number {
    return this.#allocated;
  }

  /** A buffer of exactly `size` bytes, its own allocation (transferable); contents undefined. */
  take(size: number): ArrayBuffer {
    const free = this.#free.get(size);
    const buffer = free?.pop();
    if (buffer !== undefined) {
      this.#bytes -= size;
      this.#reused++;
      return buffer;
    }
    this.#allocated++;
    return allocatePieceBuffer(size);
  }

  /** Keeps `buffer` for reuse if there is room; a detached (transferred) one is ignored. */
  give(buffer: ArrayBuffer): void {
    const size = buffer.byteLength;
    if (size === 0 || this.#bytes + size > this.maxBytes) return;
    let free = this.#free.get(size);
    if (!free) {
      free = [];
      this.#free.set(size, free);
    }
    free.push(buffer);
    this.#bytes += size;
  }
}

/**
 * A fresh, exactly-sized ArrayBuffer for a piece. `Buffer.allocUnsafeSlow` is never pooled (a
 * pooled Buffer's ArrayBuffer is shared with other Buffers: transferring it would send, and
 * detach, the whole pool) and skips zero-filling, which is safe because a piece leaves the
 * Downloader only once every byte of it was written by a received block.
 */
export function allocatePieceBuffer(size: number): ArrayBuffer {
  const buffer = Buffer.allocUnsafeSlow(size);
  if (buffer.byteOffset === 0 && buffer.buffer.byteLength === size) return buffer.buffer as ArrayBuffer;
  return new ArrayBuffer(size);
}
