import type { Socket } from 'node:net';
import { WireMessageId } from '@tork/core';

/** Bytes reserved per run buffer: 64 request messages. */
const RUN_BYTES = 17 * 64;

/**
 * An actor's outgoing bytes for the current event-loop turn, written to the socket once per turn.
 * Small fixed-size messages (request, cancel, have, interested…) are encoded in place into one
 * shared run buffer instead of one allocation and one `socket.write` per 17-byte request; other
 * messages (handshake, bitfield, extended) are queued as the codec encoded them. Order is kept.
 */
export class Outbox {
  #chunks: Uint8Array[] = [];
  #run: Buffer | null = null;
  #used = 0;
  #bytes = 0;

  /** Bytes queued. */
  get size(): number {
    return this.#bytes;
  }

  /** Queues an encoded message (handed to the socket as is: never mutate it afterwards). */
  push(message: Uint8Array): void {
    this.#seal();
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

  /** Takes everything queued, in order, for one write. */
  take(): { chunks: Uint8Array[]; bytes: number } {
    this.#seal();
    const chunks = this.#chunks;
    const bytes = this.#bytes;
    this.#chunks = [];
    this.#bytes = 0;
    return { chunks, bytes };
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
    this.#chunks = [];
    this.#run = null;
    this.#used = 0;
    this.#bytes = 0;
  }

  /** Room for `length` more bytes in the run buffer; advances `#used` past them. */
  #reserve(length: number): Buffer {
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

  /** Closes the current run: it joins the chunk list and is never written to again. */
  #seal(): void {
    if (this.#run !== null && this.#used > 0) this.#chunks.push(this.#run.subarray(0, this.#used));
    this.#run = null;
    this.#used = 0;
  }
}
