import type { Socket } from 'node:net';
import { WireMessageId } from '@tork/core/internal/wire/messages.js';
import type { BufferPool } from './buffer-pool.js';

/** Bytes reserved per run buffer: 64 request messages. */
const RUN_BYTES = 17 * 64;
/** Capacity of a gather buffer for outgoing piece messages (a 128 KiB block and header fit). */
export const GATHER_BYTES = 256 * 1024;
const PIECE_HEADER = 13;

/**
 * A peer session's outgoing wire messages for the current event-loop turn, encoded and gathered
 * so the transport writes them once per turn (not the coordinator's command queue: this is bytes).
 * Small fixed-size messages (request, cancel, have, interested…) are encoded in place into one
 * shared run buffer instead of one allocation and one `socket.write` per 17-byte request; other
 * messages (handshake, bitfield, extended) are queued as the codec encoded them. Order is kept.
 */
export class WireWriter {
  #chunks: Uint8Array[] = [];
  #run: Buffer | null = null;
  #used = 0;
  #bytes = 0;
  readonly #pool: BufferPool | undefined;
  /** The gather buffer piece messages are copied into, and where its unsealed region starts. */
  #gather: Uint8Array | null = null;
  #gatherStart = 0;
  #gatherUsed = 0;
  /** Gather buffers of this turn: owned by whoever takes the chunks, until they are written. */
  #owned: ArrayBuffer[] = [];

  /**
   * `pool`: where gather buffers for piece messages come from (and go back to once written).
   * Default: none (`pushPiece` allocates).
   */
  constructor(pool?: BufferPool) {
    this.#pool = pool;
  }

  /** Bytes queued. */
  get size(): number {
    return this.#bytes;
  }

  /**
   * Queues a piece message, copying the block in: the caller's bytes (a view of the read cache)
   * may be reused as soon as this returns. Blocks are gathered into large pooled buffers, so an
   * upload allocates nothing per block and the cache can recycle its buffers.
   */
  pushPiece(index: number, begin: number, block: Uint8Array): void {
    this.#seal();
    const need = PIECE_HEADER + block.length;
    let gather = this.#gather;
    if (gather === null || this.#gatherUsed + need > gather.length) {
      this.#sealGather();
      const capacity = Math.max(GATHER_BYTES, need);
      const buffer = this.#pool ? this.#pool.take(capacity) : new ArrayBuffer(capacity);
      gather = new Uint8Array(buffer);
      this.#gather = gather;
      this.#gatherStart = 0;
      this.#gatherUsed = 0;
      this.#owned.push(buffer);
    }
    const at = this.#gatherUsed;
    writeU32(gather, at, 9 + block.length);
    gather[at + 4] = WireMessageId.piece;
    writeU32(gather, at + 5, index);
    writeU32(gather, at + 9, begin);
    gather.set(block, at + PIECE_HEADER);
    this.#gatherUsed = at + need;
    this.#bytes += need;
  }

  /** Queues an encoded message (handed to the socket as is: never mutate it afterwards). */
  push(message: Uint8Array): void {
    this.#seal();
    this.#sealGather();
    this.#chunks.push(message);
    this.#bytes += message.length;
  }

  keepAlive(): void {
    this.#reserve(4).writeUInt32BE(0, this.#used - 4);
  }

  /** choke, unchoke, interested, not interested: `<len=1><id>`. */
  simple(id: number): void {
    const run = this.#reserve(5);
    const at = this.#used - 5;
    run.writeUInt32BE(1, at);
    run[at + 4] = id;
  }

  have(index: number): void {
    const run = this.#reserve(9);
    const at = this.#used - 9;
    run.writeUInt32BE(5, at);
    run[at + 4] = WireMessageId.have;
    run.writeUInt32BE(index, at + 5);
  }

  /** request, cancel, reject-request: `<len=13><id><index><begin><length>`. */
  block(id: number, index: number, begin: number, length: number): void {
    const run = this.#reserve(17);
    const at = this.#used - 17;
    run.writeUInt32BE(13, at);
    run[at + 4] = id;
    run.writeUInt32BE(index, at + 5);
    run.writeUInt32BE(begin, at + 9);
    run.writeUInt32BE(length, at + 13);
  }

  /**
   * Takes everything queued, in order, for one write. `owned`: gather buffers the chunks live in;
   * the taker gives them back to the pool once the bytes are written (or copied).
   */
  take(): { chunks: Uint8Array[]; bytes: number; owned: ArrayBuffer[] } {
    this.#seal();
    this.#sealGather();
    this.#gather = null;
    const chunks = this.#chunks;
    const bytes = this.#bytes;
    const owned = this.#owned;
    this.#chunks = [];
    this.#bytes = 0;
    this.#owned = [];
    return { chunks, bytes, owned };
  }

  /** Writes everything queued in one go (corked: one writev); returns the bytes written. */
  writeTo(socket: Socket): number {
    const { chunks, bytes } = this.take();
    if (chunks.length === 0 || socket.destroyed) return 0;
    if (chunks.length === 1) {
      socket.write(chunks[0]!);
    } else {
      socket.cork();
      for (const chunk of chunks) socket.write(chunk);
      socket.uncork();
    }
    return bytes;
  }

  clear(): void {
    for (const buffer of this.#owned) this.#pool?.give(buffer);
    this.#owned = [];
    this.#gather = null;
    this.#chunks = [];
    this.#run = null;
    this.#used = 0;
    this.#bytes = 0;
  }

  /** Room for `length` more bytes in the run buffer; advances `#used` past them. */
  #reserve(length: number): Buffer {
    this.#sealGather();
    if (this.#run === null || this.#used + length > this.#run.length) {
      this.#seal();
      // From Node's pool: cheap for small sizes, and a socket write never needs to own a whole
      // ArrayBuffer (only transfers do).
      this.#run = Buffer.allocUnsafe(RUN_BYTES);
      this.#used = 0;
    }
    this.#used += length;
    this.#bytes += length;
    return this.#run;
  }

  /** Closes the gather buffer's current region: it joins the chunk list (the buffer stays current). */
  #sealGather(): void {
    if (this.#gather === null || this.#gatherUsed === this.#gatherStart) return;
    this.#chunks.push(this.#gather.subarray(this.#gatherStart, this.#gatherUsed));
    this.#gatherStart = this.#gatherUsed;
  }

  /** Closes the current run: it joins the chunk list and is never written to again. */
  #seal(): void {
    if (this.#run !== null && this.#used > 0) this.#chunks.push(this.#run.subarray(0, this.#used));
    this.#run = null;
    this.#used = 0;
  }
}

function writeU32(bytes: Uint8Array, at: number, value: number): void {
  bytes[at] = value >>> 24;
  bytes[at + 1] = (value >>> 16) & 0xff;
  bytes[at + 2] = (value >>> 8) & 0xff;
  bytes[at + 3] = value & 0xff;
}
