import type { UtpConnectionOptions } from './utp-connection-options.js';
import type { UtpConnectionStats } from './utp-connection-stats.js';
import { UTP_RECEIVE_WINDOW_SLACK_BYTES } from './utp-limits.js';
import { UTP_MAX_SENT_SACK_BYTES, type UtpPacket } from './utp-packet.js';
import { seqDiff } from './utp-seq.js';

const EMPTY = new Uint8Array(0);

function nextPowerOfTwo(value: number): number {
  let size = 1;
  while (size < value) size *= 2;
  return size;
}

/**
 * The receive side of a uTP connection: in-order delivery through onData, a bounded buffer of
 * packets received out of order (a ring indexed by `seq & mask`), the SACK bitmask describing it,
 * the advertised window, and whether an ACK is due. Ending the connection at the peer's FIN is the
 * connection's business: onDataPacket()/onFinPacket() say when to check, eofReady() whether to.
 */
export class UtpReceiveBuffer {
  /** The last seq received in order: the cumulative ACK we send. */
  ackNr = 0;
  /** The seq of the peer's FIN (-1: not seen). */
  eofSeq = -1;
  /** Packets held out of order. */
  heldCount = 0;
  /** In-order packets received since our last packet went out (each of ours carries the ACK). */
  ackPending = 0;
  /** An ACK is due at once (a duplicate, a gap, a drop, a FIN). */
  ackNow = false;
  private readonly opts: UtpConnectionOptions;
  private readonly stats: UtpConnectionStats;
  private readonly receiveWindowBytes: number;
  private readonly maxOutOfOrder: number;
  private readonly inMask: number;
  private readonly inPayload: (Uint8Array | undefined)[];
  private heldBytes = 0;
  /** Farthest held seq as a distance past ackNr (0: none). */
  private heldSpan = 0;
  /** Bytes delivered and not yet consumed() by the application. */
  private unconsumed = 0;
  private readonly sackBuf = new Uint8Array(UTP_MAX_SENT_SACK_BYTES);

  /** `options.onData` receives the in-order bytes; counts go to `stats`. */
  constructor(
    options: UtpConnectionOptions,
    stats: UtpConnectionStats,
    receiveWindowBytes: number,
    maxOutOfOrder: number,
  ) {
    this.opts = options;
    this.stats = stats;
    this.receiveWindowBytes = receiveWindowBytes;
    this.maxOutOfOrder = maxOutOfOrder;
    const inSize = nextPowerOfTwo(maxOutOfOrder + 2);
    this.inMask = inSize - 1;
    this.inPayload = new Array(inSize);
  }

  /**
   * A DATA packet: delivered (with the held packets it makes contiguous), held, or dropped.
   * Returns true when ackNr moved, the moment to check for the peer's end (eofReady()).
   */
  onDataPacket(packet: UtpPacket): boolean {
    const stats = this.stats;
    const seq = packet.seq;
    const payload = packet.payload;
    const distance = seqDiff(seq, this.ackNr);
    if (distance <= 0) {
      stats.duplicatesReceived++;
      this.ackNow = true;
      return false;
    }
    if (this.eofSeq >= 0 && seqDiff(seq, this.eofSeq) >= 0) {
      stats.invalid++;
      return false;
    }
    if (distance === 1) {
      if (this.unconsumed + payload.length > this.receiveWindowBytes + UTP_RECEIVE_WINDOW_SLACK_BYTES) {
        stats.droppedOutOfWindow++;
        this.ackNow = true;
        return false;
      }
      this.ackNr = seq;
      this.ackPending++;
      if (this.heldCount === 0) {
        if (payload.length > 0) this.deliver(payload.slice());
      } else {
        this.deliverWithHeld(payload);
      }
      return true;
    }
    if (distance > this.maxOutOfOrder + 1) {
      stats.droppedOutOfWindow++;
      return false;
    }
    const slot = seq & this.inMask;
    if (this.inPayload[slot] !== undefined) {
      stats.duplicatesReceived++;
      this.ackNow = true;
      return false;
    }
    if (
      this.heldCount >= this.maxOutOfOrder ||
      this.unconsumed + this.heldBytes + payload.length >
        this.receiveWindowBytes + UTP_RECEIVE_WINDOW_SLACK_BYTES
    ) {
      stats.droppedOutOfWindow++;
      return false;
    }
    this.inPayload[slot] = payload.length > 0 ? payload.slice() : EMPTY;
    this.heldCount++;
    this.heldBytes += payload.length;
    if (distance > this.heldSpan) this.heldSpan = distance;
    stats.outOfOrderReceived++;
    // The SACK tells the peer at once what is missing.
    this.ackNow = true;
    return false;
  }

  /** The peer's FIN at `seq`. Returns true when it was recorded (eofSeq), the moment to check for the end. */
  onFinPacket(seq: number): boolean {
    const distance = seqDiff(seq, this.ackNr);
    this.ackNow = true;
    if (distance <= 0 || (this.eofSeq >= 0 && this.eofSeq !== seq)) {
      this.stats.duplicatesReceived++;
      return false;
    }
    if (distance > this.maxOutOfOrder + 1) {
      this.stats.droppedOutOfWindow++;
      return false;
    }
    this.eofSeq = seq;
    return true;
  }

  /** Every byte before the peer's FIN delivered (the FIN is next in order). */
  eofReady(): boolean {
    return this.eofSeq >= 0 && ((this.ackNr + 1) & 0xffff) === this.eofSeq;
  }

  /** The application processed `bytes` of what onData delivered: the advertised window opens. */
  consumed(bytes: number): void {
    this.unconsumed = Math.max(0, this.unconsumed - bytes);
  }

  /** The receive window to advertise: the ceiling minus what is delivered unconsumed or held. */
  advertisedWindow(): number {
    return Math.max(0, this.receiveWindowBytes - this.unconsumed - this.heldBytes);
  }

  /** Where the window went, for a timed-out connection's error: delivered unconsumed, held. */
  windowState(): { unconsumedBytes: number; heldBytes: number; heldPackets: number } {
    return { unconsumedBytes: this.unconsumed, heldBytes: this.heldBytes, heldPackets: this.heldCount };
  }

  /** The SACK extension for the held packets: bit i is packet ackNr + 2 + i, 4..32 bytes. */
  writeSack(out: Uint8Array, at: number): number {
    const bits = Math.min(this.heldSpan - 1, UTP_MAX_SENT_SACK_BYTES * 8);
    const bytes = Math.max(4, Math.ceil(bits / 32) * 4);
    const sack = this.sackBuf;
    sack.fill(0, 0, bytes);
    const first = (this.ackNr + 2) & 0xffff;
    for (let i = 0; i < bits; i++) {
      if (this.inPayload[(first + i) & this.inMask] !== undefined) sack[i >> 3]! |= 1 << (i & 7);
    }
    out[at] = 0;
    out[at + 1] = bytes;
    out.set(sack.subarray(0, bytes), at + 2);
    return at + 2 + bytes;
  }

  /** The connection ended: held packets are let go. */
  clear(): void {
    this.inPayload.fill(undefined);
    this.heldCount = 0;
    this.heldBytes = 0;
  }

  /** The in-order packet and every held one it makes contiguous, delivered as one piece. */
  private deliverWithHeld(first: Uint8Array): void {
    let total = first.length;
    let next = (this.ackNr + 1) & 0xffff;
    let count = 0;
    while (this.inPayload[next & this.inMask] !== undefined) {
      total += this.inPayload[next & this.inMask]!.length;
      count++;
      next = (next + 1) & 0xffff;
    }
    if (count === 0) {
      if (first.length > 0) this.deliver(first.slice());
      this.heldSpan = Math.max(0, this.heldSpan - 1);
      return;
    }
    const out = new Uint8Array(total);
    out.set(first, 0);
    let at = first.length;
    let seq = (this.ackNr + 1) & 0xffff;
    for (let i = 0; i < count; i++) {
      const slot = seq & this.inMask;
      const held = this.inPayload[slot]!;
      out.set(held, at);
      at += held.length;
      this.heldBytes -= held.length;
      this.inPayload[slot] = undefined;
      seq = (seq + 1) & 0xffff;
    }
    this.heldCount -= count;
    this.heldSpan = this.heldCount === 0 ? 0 : Math.max(0, this.heldSpan - 1 - count);
    this.ackNr = (seq - 1) & 0xffff;
    this.ackPending += count;
    if (total > 0) this.deliver(out);
  }

  private deliver(bytes: Uint8Array): void {
    this.stats.bytesReceived += bytes.length;
    this.unconsumed += bytes.length;
    this.opts.onData(bytes);
  }
}
