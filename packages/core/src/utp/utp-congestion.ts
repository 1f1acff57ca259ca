import { UtpDelayHistory } from './utp-delay-history.js';
import { UTP_MIN_CWND_PACKETS } from './utp-limits.js';
import { seqDiff } from './utp-seq.js';

const GAIN = 1;

/**
 * A uTP connection's congestion window (BEP 29's LEDBAT): slow start until the queuing delay reaches
 * half the target or the first loss, then growth or shrinkage in proportion to how far the delay is
 * off target; halved once per window of data on fast-retransmit losses, reset to one packet on an
 * RTO. The send window asks it for `cwnd` and reports ACKs, losses and timeouts to it.
 */
export class UtpCongestion {
  /** Congestion window, bytes (fractional: LEDBAT grows it by fractions of a packet). */
  cwnd: number;
  private readonly maxPayload: number;
  private readonly maxCwnd: number;
  private readonly targetMicros: number;
  private ssthresh = Number.POSITIVE_INFINITY;
  private slowStart = true;
  /** Loss recovery lasts until the cumulative ACK passes this seq; one cwnd cut per window. */
  private recoverySeq = -1;
  private readonly delayHistory = new UtpDelayHistory();

  constructor(maxPayload: number, maxCwnd: number, targetMicros: number) {
    this.maxPayload = maxPayload;
    this.maxCwnd = maxCwnd;
    this.targetMicros = targetMicros;
    this.cwnd = maxPayload * UTP_MIN_CWND_PACKETS;
  }

  /** Our packets' queuing delay as the peer's timestamp differences show it, µs. */
  get delayMicros(): number {
    return this.delayHistory.delayMicros;
  }

  /** A timestamp difference the peer reported (u32 µs), received at `nowMs`. */
  addDelaySample(timestampDifferenceMicros: number, nowMs: number): void {
    this.delayHistory.add(timestampDifferenceMicros, nowMs);
  }

  /** LEDBAT (with slow start until the delay reaches half the target or the first loss). */
  onBytesAcked(acked: number, inFlightBefore: number): void {
    const delay = this.delayHistory.delayMicros;
    const offTarget = Math.min(1, (this.targetMicros - delay) / this.targetMicros);
    if (this.slowStart && (delay > this.targetMicros / 2 || this.cwnd >= this.ssthresh))
      this.slowStart = false;
    // Only a window that was in use may grow: an application-limited sender proves nothing.
    const windowFull = inFlightBefore + this.maxPayload >= this.cwnd;
    let gain: number;
    if (this.slowStart) {
      gain = windowFull ? acked : 0;
    } else {
      gain = (GAIN * offTarget * acked * this.maxPayload) / this.cwnd;
      if (gain > 0) gain = windowFull ? Math.min(gain, this.maxPayload) : 0;
    }
    if (gain >= 0) this.cwnd = Math.min(this.maxCwnd, this.cwnd + gain);
    else this.cwnd = Math.max(Math.min(this.cwnd, this.minCwnd()), this.cwnd + gain);
  }

  /** A packet found lost by fast retransmit; `lastSentSeq` ends the window this loss belongs to. */
  onLoss(lastSentSeq: number): void {
    if (this.recoverySeq < 0) {
      // One cut per window of data: the losses of one window are one congestion event.
      this.recoverySeq = lastSentSeq;
      this.cwnd = Math.max(this.cwnd / 2, this.minCwnd());
      this.ssthresh = this.cwnd;
      this.slowStart = false;
    }
  }

  /** The cumulative ACK moved: `oldest` is the first seq not yet acknowledged. Ends loss recovery once past it. */
  onCumulativeAck(oldest: number): void {
    if (this.recoverySeq >= 0 && seqDiff(oldest, this.recoverySeq) > 0) this.recoverySeq = -1;
  }

  /** An RTO expired (not a window probe): back to one packet, slow start up to half the old window. */
  onTimeout(): void {
    this.ssthresh = Math.max(this.cwnd / 2, this.minCwnd());
    this.cwnd = this.maxPayload;
    this.slowStart = true;
  }

  private minCwnd(): number {
    return this.maxPayload * UTP_MIN_CWND_PACKETS;
  }
}
