import type { UtpCongestion } from './utp-congestion.js';
import type { UtpConnectionStats } from './utp-connection-stats.js';
import { UTP_DUPLICATE_ACK_LIMIT, UTP_INITIAL_RTO_MS } from './utp-limits.js';
import { type UtpPacket, UtpType } from './utp-packet.js';
import { seqDiff } from './utp-seq.js';

// Outgoing packet flags.
const SACKED = 1;
const RESEND = 2;
const FAST_RESENT = 4;
const FIN = 8;

const EMPTY = new Uint8Array(0);

/** What an RTO expiry calls for (UtpSendWindow.onRetransmitTimeout). */
export const UtpRtoOutcome = {
  /** Nothing outstanding to time out. */
  none: 0,
  /** Packets were marked for resending: send, one past the window. */
  resend: 1,
  /** A data packet was resent maxRetransmits times unacknowledged: the peer is gone. */
  giveUp: 2,
  /** Only our FIN went unacknowledged that often: every byte arrived, the peer may just be gone. */
  giveUpFin: 3,
} as const;

/**
 * The send side of a uTP connection: the queue of written bytes, the packets sent and not yet
 * acknowledged (a ring indexed by `seq & mask`: parallel typed arrays, no per-packet objects beyond
 * the payload view), cumulative ACK and SACK processing, fast retransmit, the RTT estimate, RTO and
 * its backoff, and the send window (min(cwnd, peer window)). The connection decides what to send
 * and sends it; this records it. Cumulative ACKs free packets in order; SACK processing touches
 * only the bits the SACK carries.
 */
export class UtpSendWindow {
  /** The seq the next packet gets. */
  seqNext = 0;
  /** The oldest seq not cumulatively acknowledged (seqNext when none is outstanding). */
  oldest = 0;
  /** Payload bytes sent and not yet acknowledged, SACKed or marked for resending. */
  inFlightBytes = 0;
  /** Packets marked for resending (RTO, fast retransmit). */
  resendCount = 0;
  /** No packet marked for resending is older than this. */
  resendCursor = 0;
  /** Written bytes not yet packetised. */
  queuedBytes = 0;
  /** When the RTO of the oldest outstanding packet started. */
  rtoStart = 0;
  /** When the peer's window was found shut with nothing in flight (-1: it is not). */
  zeroWindowSince = -1;
  /** The peer's advertised window, clamped to maxCwndBytes. */
  peerWindow = 0;
  /** Smoothed RTT, ms (0 before the first sample). */
  srtt = 0;
  rto = UTP_INITIAL_RTO_MS;
  private rttVar = 0;
  private dupAcks = 0;
  private unackedBytes = 0;
  private outMask = 63;
  private outPayload: (Uint8Array | undefined)[] = new Array(64);
  private outSentAt = new Float64Array(64);
  private outTransmissions = new Uint8Array(64);
  private outFlags = new Uint8Array(64);
  private readonly queue: Uint8Array[] = [];
  private queueHead = 0;
  private queueOffset = 0;
  private readonly stats: UtpConnectionStats;
  private readonly congestion: UtpCongestion;
  private readonly now: () => number;
  private readonly maxRetransmits: number;
  private readonly minRtoMs: number;
  private readonly maxRtoMs: number;

  /** Counts go to `stats`; `now` is the connection's clock (ms). */
  constructor(
    stats: UtpConnectionStats,
    congestion: UtpCongestion,
    now: () => number,
    maxRetransmits: number,
    minRtoMs: number,
    maxRtoMs: number,
  ) {
    this.stats = stats;
    this.congestion = congestion;
    this.now = now;
    this.maxRetransmits = maxRetransmits;
    this.minRtoMs = minRtoMs;
    this.maxRtoMs = maxRtoMs;
    this.rto = Math.max(minRtoMs, Math.min(maxRtoMs, UTP_INITIAL_RTO_MS));
  }

  /** Bytes written and not yet acknowledged by the peer (queued, in flight or SACKed). */
  get pending(): number {
    return this.queuedBytes + this.unackedBytes;
  }

  /** Queues written bytes, by reference. */
  push(bytes: Uint8Array): void {
    this.queue.push(bytes);
    this.queuedBytes += bytes.length;
  }

  /** Packets sent and not cumulatively acknowledged (SACKed ones included). */
  outstanding(): number {
    return (this.seqNext - this.oldest) & 0xffff;
  }

  rttSample(rttMs: number): void {
    if (this.srtt === 0) {
      this.srtt = rttMs;
      this.rttVar = rttMs / 2;
    } else {
      this.rttVar = 0.75 * this.rttVar + 0.25 * Math.abs(this.srtt - rttMs);
      this.srtt = 0.875 * this.srtt + 0.125 * rttMs;
    }
    this.rto = Math.min(this.maxRtoMs, Math.max(this.minRtoMs, this.srtt + 4 * this.rttVar));
  }

  /** Whether a packet of `size` fits the send window: min(cwnd, peer window), one always when idle. */
  windowAllows(size: number): boolean {
    if (this.inFlightBytes === 0) {
      if (this.peerWindow > 0) return true;
      if (this.zeroWindowSince < 0) this.zeroWindowSince = this.now();
      return false;
    }
    return this.inFlightBytes + size <= Math.min(this.congestion.cwnd, this.peerWindow);
  }

  /** The oldest packet marked for resending (from resendCursor on), or -1. */
  nextResend(): number {
    let seq = this.resendCursor;
    const end = this.seqNext;
    while (seq !== end) {
      const slot = seq & this.outMask;
      if (this.outPayload[slot] !== undefined && this.outFlags[slot]! & RESEND) {
        this.resendCursor = seq;
        return seq;
      }
      seq = (seq + 1) & 0xffff;
    }
    this.resendCursor = end;
    return -1;
  }

  /** Payload bytes of the stored packet `seq`. */
  sizeOf(seq: number): number {
    return this.outPayload[seq & this.outMask]!.length;
  }

  /** Whether the stored packet `seq` is our FIN. */
  isFin(seq: number): boolean {
    return (this.outFlags[seq & this.outMask]! & FIN) !== 0;
  }

  /** Takes `size` queued bytes into a new DATA packet at seqNext; returns its seq. */
  storeData(size: number): number {
    const seq = this.seqNext;
    this.store(seq, this.take(size), 0);
    this.seqNext = (seq + 1) & 0xffff;
    return seq;
  }

  /** Stores our FIN at seqNext; returns its seq. */
  storeFin(): number {
    const seq = this.seqNext;
    this.store(seq, EMPTY, FIN);
    this.seqNext = (seq + 1) & 0xffff;
    return seq;
  }

  /** Records a (re)transmission of the stored packet `seq` at `now`; returns its payload to send. */
  markSent(seq: number, now: number): Uint8Array {
    const slot = seq & this.outMask;
    const payload = this.outPayload[slot]!;
    const flags = this.outFlags[slot]!;
    if (this.outstanding() === 1 || this.inFlightBytes === 0) this.rtoStart = now;
    if (flags & RESEND) {
      this.outFlags[slot] = flags & ~RESEND;
      this.resendCount--;
    }
    if (this.outTransmissions[slot]! > 0) this.stats.retransmits++;
    if (this.outTransmissions[slot]! < 255) this.outTransmissions[slot]!++;
    this.outSentAt[slot] = now;
    this.inFlightBytes += payload.length;
    return payload;
  }

  /**
   * The peer's cumulative ACK, SACK and timestamp difference: frees, SACKs or marks lost our
   * packets, samples the RTT, and tells the congestion control.
   */
  onAck(packet: UtpPacket, now: number): void {
    const ack = packet.ack;
    const before = this.inFlightBytes;
    let acked = 0;
    const advance = seqDiff(ack, (this.oldest - 1) & 0xffff);
    if (advance > 0) {
      let seq = this.oldest;
      for (let i = 0; i < advance; i++) {
        acked += this.release(seq);
        seq = (seq + 1) & 0xffff;
      }
      const newest = ack & this.outMask;
      // Karn: only packets sent once give an RTT.
      if (this.outTransmissions[newest] === 1) this.rttSample(now - this.outSentAt[newest]!);
      this.oldest = (ack + 1) & 0xffff;
      if (seqDiff(this.resendCursor, this.oldest) < 0) this.resendCursor = this.oldest;
      this.dupAcks = 0;
      this.rtoStart = now;
      this.congestion.onCumulativeAck(this.oldest);
    } else if (
      packet.type === UtpType.state &&
      packet.sack === undefined &&
      this.outstanding() > 0 &&
      advance === 0 &&
      ++this.dupAcks === UTP_DUPLICATE_ACK_LIMIT
    ) {
      this.markLost(this.oldest);
    }
    if (packet.sack !== undefined && this.outstanding() > 0) acked += this.onSack(ack, packet.sack);
    if (packet.timestampDifferenceMicros !== 0)
      this.congestion.addDelaySample(packet.timestampDifferenceMicros, now);
    if (acked > 0) this.congestion.onBytesAcked(acked, before);
  }

  /**
   * The RTO of the oldest outstanding packet expired at `now` (`lastReceivedAt`: when the peer was
   * last heard from). Backs the RTO off and marks what to resend, or says to give up.
   */
  onRetransmitTimeout(now: number, lastReceivedAt: number): number {
    const slot = this.oldest & this.outMask;
    const payload = this.outPayload[slot];
    if (payload === undefined) return UtpRtoOutcome.none;
    const isFin = (this.outFlags[slot]! & FIN) !== 0;
    // A packet past a shut window that the peer answered (without taking it) is a probe, not a loss.
    const probe = this.peerWindow === 0 && lastReceivedAt > this.outSentAt[slot]!;
    if (!probe && this.outTransmissions[slot]! > this.maxRetransmits) {
      return isFin ? UtpRtoOutcome.giveUpFin : UtpRtoOutcome.giveUp;
    }
    this.rto = Math.min(this.maxRtoMs, this.rto * 2);
    this.rtoStart = now;
    if (probe) {
      this.stats.windowProbes++;
      this.outTransmissions[slot] = Math.max(1, this.outTransmissions[slot]! - 1);
      this.markResend(this.oldest);
    } else {
      this.stats.timeouts++;
      this.congestion.onTimeout();
      this.dupAcks = 0;
      // Go back N: whatever was in flight is presumed lost, resent as the window reopens.
      let seq = this.oldest;
      const count = this.outstanding();
      for (let i = 0; i < count; i++) {
        this.markResend(seq);
        const s = seq & this.outMask;
        this.outFlags[s] = this.outFlags[s]! & ~FAST_RESENT;
        seq = (seq + 1) & 0xffff;
      }
    }
    this.resendCursor = this.oldest;
    return UtpRtoOutcome.resend;
  }

  /** The connection ended: queued and stored bytes are let go. */
  clear(): void {
    this.queue.length = 0;
    this.queueHead = 0;
    this.queuedBytes = 0;
    this.outPayload.fill(undefined);
    this.unackedBytes = 0;
    this.inFlightBytes = 0;
  }

  /** Frees one cumulatively acknowledged packet; returns its bytes newly known delivered. */
  private release(seq: number): number {
    const slot = seq & this.outMask;
    const payload = this.outPayload[slot];
    if (payload === undefined) return 0;
    const flags = this.outFlags[slot]!;
    const size = payload.length;
    this.outPayload[slot] = undefined;
    this.unackedBytes -= size;
    if (flags & RESEND) this.resendCount--;
    else if (!(flags & SACKED)) this.inFlightBytes -= size;
    this.outFlags[slot] = 0;
    return flags & SACKED ? 0 : size;
  }

  /** Applies a SACK bitmask (bit i: packet ack + 2 + i); returns bytes newly SACKed. */
  private onSack(ack: number, sack: Uint8Array): number {
    let acked = 0;
    const last = (this.seqNext - 1) & 0xffff;
    // Bits past the last packet we sent are meaningless; clamping bounds the work too.
    const bits = Math.min(sack.length * 8, Math.max(0, seqDiff(last, ack) - 1));
    let seen = 0;
    for (let i = bits - 1; i >= 0; i--) {
      const seq = (ack + 2 + i) & 0xffff;
      const slot = seq & this.outMask;
      const payload = this.outPayload[slot];
      if (((sack[i >> 3]! >> (i & 7)) & 1) === 1) {
        seen++;
        if (payload !== undefined && !(this.outFlags[slot]! & SACKED)) {
          const flags = this.outFlags[slot]!;
          if (flags & RESEND) this.resendCount--;
          else this.inFlightBytes -= payload.length;
          this.outFlags[slot] = (flags & ~RESEND) | SACKED;
          this.stats.sackedPackets++;
          acked += payload.length;
        }
      } else if (seen >= UTP_DUPLICATE_ACK_LIMIT && payload !== undefined) {
        this.markLost(seq);
      }
    }
    // ack + 1 is missing by definition of a SACK.
    if (seen >= UTP_DUPLICATE_ACK_LIMIT) this.markLost((ack + 1) & 0xffff);
    return acked;
  }

  /** Fast retransmit: a packet the peer reports missing behind UTP_DUPLICATE_ACK_LIMIT others. */
  private markLost(seq: number): void {
    const slot = seq & this.outMask;
    const payload = this.outPayload[slot];
    const flags = this.outFlags[slot]!;
    if (payload === undefined || flags & (SACKED | RESEND | FAST_RESENT)) return;
    if (seqDiff(seq, this.oldest) < 0 || seqDiff(seq, this.seqNext) >= 0) return;
    // Resent enough already: the next RTO decides whether the peer is gone.
    if (this.outTransmissions[slot]! > this.maxRetransmits) return;
    this.outFlags[slot] = flags | RESEND | FAST_RESENT;
    this.inFlightBytes -= payload.length;
    this.resendCount++;
    if (seqDiff(seq, this.resendCursor) < 0) this.resendCursor = seq;
    this.stats.fastRetransmits++;
    this.congestion.onLoss((this.seqNext - 1) & 0xffff);
  }

  private markResend(seq: number): void {
    const slot = seq & this.outMask;
    const payload = this.outPayload[slot];
    const flags = this.outFlags[slot]!;
    if (payload === undefined || flags & (SACKED | RESEND)) return;
    this.outFlags[slot] = flags | RESEND;
    this.inFlightBytes -= payload.length;
    this.resendCount++;
  }

  private store(seq: number, payload: Uint8Array, flags: number): void {
    if (this.outstanding() >= this.outMask) this.growOut();
    const slot = seq & this.outMask;
    this.outPayload[slot] = payload;
    this.outFlags[slot] = flags;
    this.outTransmissions[slot] = 0;
    this.unackedBytes += payload.length;
  }

  private growOut(): void {
    const size = (this.outMask + 1) * 2;
    const mask = size - 1;
    const payloads: (Uint8Array | undefined)[] = new Array(size);
    const sentAt = new Float64Array(size);
    const transmissions = new Uint8Array(size);
    const flags = new Uint8Array(size);
    let seq = this.oldest;
    const count = this.outstanding();
    for (let i = 0; i < count; i++) {
      const from = seq & this.outMask;
      const to = seq & mask;
      payloads[to] = this.outPayload[from];
      sentAt[to] = this.outSentAt[from]!;
      transmissions[to] = this.outTransmissions[from]!;
      flags[to] = this.outFlags[from]!;
      seq = (seq + 1) & 0xffff;
    }
    this.outPayload = payloads;
    this.outSentAt = sentAt;
    this.outTransmissions = transmissions;
    this.outFlags = flags;
    this.outMask = mask;
  }

  /** `size` bytes off the write queue: a view when one buffer holds them, else a copy. */
  private take(size: number): Uint8Array {
    this.queuedBytes -= size;
    const head = this.queue[this.queueHead]!;
    if (head.length - this.queueOffset >= size) {
      const view = head.subarray(this.queueOffset, this.queueOffset + size);
      this.queueOffset += size;
      if (this.queueOffset === head.length) this.shiftQueue();
      return view;
    }
    const out = new Uint8Array(size);
    let at = 0;
    while (at < size) {
      const chunk = this.queue[this.queueHead]!;
      const n = Math.min(size - at, chunk.length - this.queueOffset);
      out.set(chunk.subarray(this.queueOffset, this.queueOffset + n), at);
      at += n;
      this.queueOffset += n;
      if (this.queueOffset === chunk.length) this.shiftQueue();
    }
    return out;
  }

  private shiftQueue(): void {
    this.queue[this.queueHead] = EMPTY;
    this.queueHead++;
    this.queueOffset = 0;
    if (this.queueHead === this.queue.length) {
      this.queue.length = 0;
      this.queueHead = 0;
    } else if (this.queueHead >= 1024) {
      this.queue.splice(0, this.queueHead);
      this.queueHead = 0;
    }
  }
}
