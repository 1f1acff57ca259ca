import { createHash } from 'node:crypto';
import { BLOCK_LENGTH } from '@tork/core/internal/wire/messages.js';
import { allocatePieceBuffer } from '../buffer-pool.js';

const WANTED = 0;
const REQUESTED = 1;
const RECEIVED = 2;

/** What became of a block the peer sent. */
export type BlockOutcome = 'accepted' | 'unrequested' | 'wrong-size' | 'duplicate';

/**
 * One assigned piece being fetched: its buffer, and which of its 16 KiB blocks are wanted,
 * requested or received. Blocks are copied straight into the piece's own ArrayBuffer (one copy;
 * the wire decoder hands out views into socket chunks), and that buffer is what gets transferred
 * to the coordinator once the piece verifies — never copied again. The buffer is taken when the
 * first block arrives, not at assignment: a peer may hold hundreds of assigned pieces it has not
 * started (with 16 KiB pieces, thousands of buffers that all had to be fresh memory).
 */
export class PieceAssembler {
  readonly index: number;
  readonly size: number;
  readonly blockCount: number;
  readonly #take: (size: number) => ArrayBuffer;
  #buffer: ArrayBuffer | null = null;
  #bytes: Uint8Array | null = null;
  readonly #state: Uint8Array;
  /** No block below this one is wanted: `takeNext` never rescans what it already handed out. */
  #cursor = 0;
  #requested = 0;
  #received = 0;
  /** Blocks wholly past `dataSize`: pad zeros, filled here and never requested. */
  readonly #padBlocks: number;

  /**
   * `take`: where the piece's buffer comes from when its first block arrives (a pool's `take`;
   * a buffer of another size is not used). Default: a fresh allocation.
   * `dataSize`: the bytes a peer must send (default `size`); the blocks wholly after it are pad,
   * zero-filled here and counted as received.
   */
  constructor(
    index: number,
    size: number,
    take: (size: number) => ArrayBuffer = allocatePieceBuffer,
    dataSize = size,
  ) {
    this.index = index;
    this.size = size;
    this.blockCount = Math.ceil(size / BLOCK_LENGTH);
    this.#take = take;
    this.#state = new Uint8Array(this.blockCount);
    const data = dataSize > 0 ? Math.min(dataSize, size) : size;
    const firstPad = Math.ceil(data / BLOCK_LENGTH);
    this.#padBlocks = this.blockCount - firstPad;
    if (this.#padBlocks > 0) {
      this.#state.fill(RECEIVED, firstPad);
      this.#received = this.#padBlocks;
    }
  }

  /**
   * Exactly `size` bytes, its own allocation (never a pooled Buffer's), so it can be transferred:
   * taken now if no block has arrived yet.
   */
  get buffer(): ArrayBuffer {
    if (this.#buffer === null) this.#allocate();
    return this.#buffer!;
  }

  /** The buffer if one was taken (to give back to the pool), else null. */
  get heldBuffer(): ArrayBuffer | null {
    return this.#buffer;
  }

  #allocate(): Uint8Array {
    const taken = this.#take(this.size);
    const buffer = taken.byteLength === this.size ? taken : allocatePieceBuffer(this.size);
    const bytes = new Uint8Array(buffer);
    // Pad blocks are zeros; a recycled buffer holds an earlier piece's bytes.
    if (this.#padBlocks > 0) bytes.fill(0, (this.blockCount - this.#padBlocks) * BLOCK_LENGTH);
    this.#buffer = buffer;
    this.#bytes = bytes;
    return bytes;
  }

  /** Blocks requested and not yet received. */
  get requested(): number {
    return this.#requested;
  }

  /** Some block has arrived: dropping the piece now would waste received data. */
  get started(): boolean {
    return this.#received > this.#padBlocks;
  }

  get complete(): boolean {
    return this.#received === this.blockCount;
  }

  /** The length of block `block` (the last one may be short). */
  blockLength(block: number): number {
    return Math.min(BLOCK_LENGTH, this.size - block * BLOCK_LENGTH);
  }

  /** Marks the lowest wanted block requested and returns it, or -1 when none is left to request. */
  takeNext(): number {
    const state = this.#state;
    while (this.#cursor < this.blockCount && state[this.#cursor] !== WANTED) this.#cursor++;
    if (this.#cursor === this.blockCount) return -1;
    const block = this.#cursor++;
    state[block] = REQUESTED;
    this.#requested++;
    return block;
  }

  /** A request was rejected or voided: the block is wanted again. Returns false if it was not requested. */
  unrequest(block: number): boolean {
    if (block < 0 || block >= this.blockCount || this.#state[block] !== REQUESTED) return false;
    this.#state[block] = WANTED;
    this.#requested--;
    if (block < this.#cursor) this.#cursor = block;
    return true;
  }

  /** Block indices currently requested (to send `cancel`s for). */
  *requestedBlocks(): IterableIterator<number> {
    for (let block = 0; block < this.blockCount; block++) {
      if (this.#state[block] === REQUESTED) yield block;
    }
  }

  /** Every requested block becomes wanted again (the peer voided our requests by choking). */
  unrequestAll(): void {
    for (let block = 0; block < this.blockCount; block++) {
      if (this.#state[block] === REQUESTED) this.#state[block] = WANTED;
    }
    this.#requested = 0;
    this.#cursor = 0;
  }

  /** Copies a block in if it was requested and has the right size; anything else is refused. */
  accept(begin: number, data: Uint8Array): BlockOutcome {
    if (begin % BLOCK_LENGTH !== 0 || begin >= this.size) return 'unrequested';
    const block = begin / BLOCK_LENGTH;
    const state = this.#state[block];
    if (state === RECEIVED) return 'duplicate';
    if (state !== REQUESTED) return 'unrequested';
    if (data.length !== this.blockLength(block)) return 'wrong-size';
    (this.#bytes ?? this.#allocate()).set(data, begin);
    this.#state[block] = RECEIVED;
    this.#requested--;
    this.#received++;
    return 'accepted';
  }

  /**
   * As `accept`, but nothing is copied: for a piece of one block, verified and packed straight
   * from the received block by the caller (the piece never takes a buffer).
   */
  acceptInPlace(begin: number, data: Uint8Array): BlockOutcome {
    if (this.blockCount !== 1) return 'unrequested';
    if (begin !== 0) return 'unrequested';
    const state = this.#state[0];
    if (state === RECEIVED) return 'duplicate';
    if (state !== REQUESTED) return 'unrequested';
    if (data.length !== this.size) return 'wrong-size';
    this.#state[0] = RECEIVED;
    this.#requested--;
    this.#received++;
    return 'accepted';
  }

  /** SHA-1 of the assembled piece against the 20 bytes expected. */
  verify(expected: Uint8Array): boolean {
    const digest = createHash('sha1').update(new Uint8Array(this.buffer)).digest();
    if (expected.length !== 20) return false;
    for (let i = 0; i < 20; i++) if (digest[i] !== expected[i]) return false;
    return true;
  }
}
