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
 * to the coordinator once the piece verifies — never copied again.
 */
export class PieceAssembler {
  readonly index: number;
  readonly size: number;
  readonly blockCount: number;
  /** Exactly `size` bytes, its own allocation (never a pooled Buffer's), so it can be transferred. */
  readonly buffer: ArrayBuffer;
  readonly #bytes: Uint8Array;
  readonly #state: Uint8Array;
  /** No block below this one is wanted: `takeNext` never rescans what it already handed out. */
  #cursor = 0;
  #requested = 0;
  #received = 0;
  /** Blocks wholly past `dataSize`: pad zeros, filled here and never requested. */
  readonly #padBlocks: number;

  /**
   * `buffer`: where the piece is assembled (a recycled one); default: a fresh allocation.
   * `dataSize`: the bytes a peer must send (default `size`); the blocks wholly after it are pad,
   * zero-filled here and counted as received.
   */
  constructor(index: number, size: number, buffer?: ArrayBuffer, dataSize = size) {
    this.index = index;
    this.size = size;
    this.blockCount = Math.ceil(size / BLOCK_LENGTH);
    this.buffer = buffer !== undefined && buffer.byteLength === size ? buffer : allocatePieceBuffer(size);
    this.#bytes = new Uint8Array(this.buffer);
    this.#state = new Uint8Array(this.blockCount);
    const data = dataSize > 0 ? Math.min(dataSize, size) : size;
    const firstPad = Math.ceil(data / BLOCK_LENGTH);
    this.#padBlocks = this.blockCount - firstPad;
    if (this.#padBlocks > 0) {
      // A recycled buffer holds an earlier piece's bytes.
      this.#bytes.fill(0, firstPad * BLOCK_LENGTH);
      this.#state.fill(RECEIVED, firstPad);
      this.#received = this.#padBlocks;
    }
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
    this.#bytes.set(data, begin);
    this.#state[block] = RECEIVED;
    this.#requested--;
    this.#received++;
    return 'accepted';
  }

  /** SHA-1 of the assembled piece against the 20 bytes expected. */
  verify(expected: Uint8Array): boolean {
    const digest = createHash('sha1').update(this.#bytes).digest();
    if (expected.length !== 20) return false;
    for (let i = 0; i < 20; i++) if (digest[i] !== expected[i]) return false;
    return true;
  }
}
