import { TorkError, TorkErrorCode } from '../errors.js';
import { UtpCongestion } from './utp-congestion.js';
import { resolveUtpConnectionOptions, type UtpConnectionOptions } from './utp-connection-options.js';
import { createUtpConnectionStats, type UtpConnectionStats } from './utp-connection-stats.js';
import {
  UTP_GAP_TIMEOUT_RTT_FACTOR,
  UTP_MAX_PACKETS_IN_FLIGHT,
  UTP_SEND_BUFFER_HARD_CAP_FACTOR,
  UTP_SYN_RESEND_MS,
} from './utp-limits.js';
import {
  UTP_EXTENSION_SACK,
  UTP_HEADER_BYTES,
  UTP_MAX_SENT_SACK_BYTES,
  type UtpPacket,
  UtpType,
  writeUtpHeader,
} from './utp-packet.js';
import { UtpReceiveBuffer } from './utp-receive-buffer.js';
import { UtpRtoOutcome, UtpSendWindow } from './utp-send-window.js';
import { seqDiff } from './utp-seq.js';

export type { UtpConnectionOptions } from './utp-connection-options.js';
export type { UtpConnectionStats } from './utp-connection-stats.js';

/** The connection's phase: handshake, data both ways, our FIN sent, ended. */
export type UtpConnectionState = 'syn-sent' | 'connected' | 'fin-sent' | 'closed';

const EMPTY = new Uint8Array(0);

/**
 * One uTP connection (BEP 29) with LEDBAT congestion control, as a pure state machine: decoded
 * packets in through receive(), datagrams out through `send`, time from `now`, timers driven by
 * tick(). The UDP host thread owns the socket, decodes datagrams and demultiplexes them by
 * (remote address, recvId).
 *
 * Sequence numbers are u16 and compared modulo 2^16 (`seqDiff`). The send side (UtpSendWindow:
 * write queue, packets in flight, ACK/SACK, retransmission, RTO), the receive side
 * (UtpReceiveBuffer: in-order delivery, reordering, SACK, advertised window) and the congestion
 * control (UtpCongestion: LEDBAT) live in modules of their own; this class is the state machine
 * tying them together: handshake, packet validation, what to send when, timers and the end.
 */
export class UtpConnection {
  /**
   * The connection_id the peer puts in packets to us: the host's demux key. (A RESET may carry
   * `sendId` instead: libutp resets with the id of the packet it could not place.)
   */
  readonly recvId: number;
  /** The connection_id we put in our packets (recvId + 1 when dialled, recvId − 1 when accepted). */
  readonly sendId: number;
  private readonly opts: UtpConnectionOptions;
  private readonly now: () => number;

  private readonly sendBufferBytes: number;
  private readonly maxPayload: number;
  private readonly maxCwnd: number;
  private readonly connectTimeoutMs: number;
  private readonly idleTimeoutMs: number;
  private readonly gapTimeoutMs: number;
  private readonly keepAliveMs: number;
  private readonly maxRetransmits: number;
  private readonly ackEvery: number;
  private readonly closeLingerMs: number;

  private _state: UtpConnectionState;
  private closing = false;
  private closeNotified = false;
  private peerFinished = false;
  private readonly dialled: boolean;
  private readonly startedAt: number;
  private synResendAt = 0;
  private synInterval = UTP_SYN_RESEND_MS;
  private synTransmissions = 0;
  private synSentAt = 0;
  private synSeq = 0;
  /** The seq of the SYN we accepted, to recognise a retransmission of it. */
  private readonly peerSynSeq: number;

  private readonly tx: UtpSendWindow;
  private readonly rx: UtpReceiveBuffer;
  private readonly congestion: UtpCongestion;
  private finSeq = -1;
  private finAckedAt = -1;
  private needDrain = false;
  private readonly sendBuf: Uint8Array;
  private lastSentAt: number;
  private lastReceivedAt: number;
  private lastAdvertised: number;
  /** timestamp_difference to put in our packets: our receive time minus the peer's send time. */
  private replyMicros = 0;

  private readonly _stats: UtpConnectionStats = createUtpConnectionStats();

  private constructor(options: UtpConnectionOptions, syn: UtpPacket | undefined) {
    this.opts = options;
    this.now = options.now;
    const o = resolveUtpConnectionOptions(options);
    this.sendBufferBytes = o.sendBufferBytes;
    this.maxPayload = o.maxPayload;
    this.maxCwnd = o.maxCwnd;
    this.connectTimeoutMs = o.connectTimeoutMs;
    this.idleTimeoutMs = o.idleTimeoutMs;
    this.gapTimeoutMs = o.gapTimeoutMs;
    this.keepAliveMs = o.keepAliveMs;
    this.maxRetransmits = o.maxRetransmits;
    this.closeLingerMs = o.closeLingerMs;
    this.ackEvery = o.ackEvery;

    this.sendBuf = new Uint8Array(UTP_HEADER_BYTES + 2 + UTP_MAX_SENT_SACK_BYTES + this.maxPayload);
    this.congestion = new UtpCongestion(o.maxPayload, o.maxCwnd, o.targetMicros);
    this.tx = new UtpSendWindow(
      this._stats,
      this.congestion,
      options.now,
      o.maxRetransmits,
      o.minRtoMs,
      o.maxRtoMs,
    );
    this.rx = new UtpReceiveBuffer(options, this._stats, o.receiveWindowBytes, o.maxOutOfOrder);
    this.lastAdvertised = o.receiveWindowBytes;
    const now = this.now();
    this.startedAt = now;
    this.lastReceivedAt = now;
    this.lastSentAt = now;
    const random = options.random ?? Math.random;
    const randomU16 = () => Math.floor(random() * 0x10000) & 0xffff;
    const tx = this.tx;
    tx.seqNext = randomU16();
    if (syn === undefined) {
      this.dialled = true;
      this.recvId = randomU16();
      this.sendId = (this.recvId + 1) & 0xffff;
      this.rx.ackNr = 0;
      this.peerSynSeq = -1;
      tx.peerWindow = this.maxPayload;
      this._state = 'syn-sent';
      this.synSeq = tx.seqNext;
      this.sendSyn();
      // The SYN takes a seq of its own; it lives outside the ring (oldest starts after it).
      tx.seqNext = (tx.seqNext + 1) & 0xffff;
    } else {
      this.dialled = false;
      this.sendId = syn.connectionId;
      this.recvId = (syn.connectionId + 1) & 0xffff;
      this.rx.ackNr = syn.seq;
      this.peerSynSeq = syn.seq;
      tx.peerWindow = Math.min(syn.windowSize, this.maxCwnd);
      this.replyMicros = (this.nowMicros() - syn.timestampMicros) >>> 0;
      this._state = 'connected';
      this.sendState();
    }
    tx.oldest = tx.seqNext;
    tx.resendCursor = tx.seqNext;
  }

  /** Outgoing: picks recvId at random, sendId = recvId + 1, sends a SYN now. */
  static dial(options: UtpConnectionOptions): UtpConnection {
    return new UtpConnection(options, undefined);
  }

  /**
   * Incoming: the peer's SYN (decoded); our sendId = syn.connectionId, recvId = syn.connectionId + 1;
   * answers ST_STATE at once. The caller has already checked the SYN is new.
   */
  static accept(syn: UtpPacket, options: UtpConnectionOptions): UtpConnection {
    return new UtpConnection(options, syn);
  }

  get state(): UtpConnectionState {
    return this._state;
  }

  /** Bytes written and not yet acknowledged by the peer (queued, in flight or SACKed). */
  get pending(): number {
    return this.tx.pending;
  }

  get stats(): Readonly<UtpConnectionStats> {
    const stats = this._stats;
    const tx = this.tx;
    stats.rttMs = tx.srtt;
    stats.rtoMs = tx.rto;
    stats.cwndBytes = Math.floor(this.congestion.cwnd);
    stats.delayMs = this.congestion.delayMicros / 1000;
    stats.peerWindowBytes = tx.peerWindow;
    stats.bytesInFlight = tx.inFlightBytes;
    return stats;
  }

  /**
   * Queues bytes (kept by reference: the caller must not mutate them). Returns false once pending
   * bytes exceed sendBufferBytes, like a socket's write; onDrain follows. Throws TorkError(UTP)
   * past UTP_SEND_BUFFER_HARD_CAP_FACTOR × sendBufferBytes. After close() or the end of the
   * connection the bytes are dropped and false is returned.
   */
  write(bytes: Uint8Array): boolean {
    if (this._state === 'closed' || this.closing) return false;
    if (this.pending + bytes.length > this.sendBufferBytes * UTP_SEND_BUFFER_HARD_CAP_FACTOR)
      throw new TorkError(TorkErrorCode.UTP, 'uTP send buffer overflow: write() ignored back-pressure', {
        pending: this.pending,
        bytes: bytes.length,
        cap: this.sendBufferBytes * UTP_SEND_BUFFER_HARD_CAP_FACTOR,
      });
    if (bytes.length > 0) {
      this.tx.push(bytes);
      if (this._state !== 'syn-sent') this.trySend(false, false);
    }
    if (this.pending > this.sendBufferBytes) {
      this.needDrain = true;
      return false;
    }
    return true;
  }

  /** The application processed `bytes` of what onData delivered: the advertised window opens. */
  consumed(bytes: number): void {
    this.rx.consumed(bytes);
    if (this._state !== 'connected' && this._state !== 'fin-sent') return;
    // Only a (nearly) closed window needs an update of its own: otherwise the peer has packets in
    // flight and learns the new window from our next ACK.
    const threshold = 2 * this.maxPayload;
    if (this.lastAdvertised < threshold && this.rx.advertisedWindow() >= threshold) this.sendState();
  }

  /**
   * End of a host batch of datagrams: sends the delayed ACK now, and any partial packet held back
   * to coalesce small writes. Optional (tick() does the same), but it keeps ACKs and small writes
   * prompt without one ACK per data packet.
   */
  flush(): void {
    if (this._state !== 'connected' && this._state !== 'fin-sent') return;
    this.trySend(true, false);
    if (this.rx.ackPending > 0 || this.rx.ackNow) this.sendState();
  }

  /** Timers: RTO, delayed ACK, keep-alive, connect and idle timeouts. Call every ~20–50 ms. */
  tick(): void {
    const now = this.now();
    if (this._state === 'syn-sent') {
      if (now - this.startedAt >= this.connectTimeoutMs) {
        this.fail('timeout: could not connect', { afterMs: Math.round(now - this.startedAt) });
      } else if (now >= this.synResendAt) {
        this._stats.retransmits++;
        this.sendSyn();
      }
      return;
    }
    if (this._state === 'closed') return;
    if (this.finAckedAt >= 0 && now - this.finAckedAt >= this.closeLingerMs) {
      // Our bytes all arrived; the peer did not close in time: tell it, and end.
      this.sendReset();
      this.finish(null);
      return;
    }
    const silentMs = now - this.lastReceivedAt;
    if (silentMs >= this.idleTimeoutMs) {
      this.failSilent('timeout: peer stopped answering', now);
      return;
    }
    if (
      this.rx.heldCount > 0 &&
      silentMs >= Math.max(this.gapTimeoutMs, UTP_GAP_TIMEOUT_RTT_FACTOR * this.tx.srtt)
    ) {
      // It sent past a packet we never got and has not resent it: its end of the connection has
      // given up (libtorrent does so silently after 3 transmissions of one packet).
      this.failSilent('timeout: peer stopped resending', now);
      return;
    }
    if (this.tx.outstanding() > 0 && now - this.tx.rtoStart >= this.tx.rto) {
      this.onRetransmitTimeout(now);
      if (this.isClosed()) return;
    } else if (
      this.tx.zeroWindowSince >= 0 &&
      this.tx.inFlightBytes === 0 &&
      this.tx.outstanding() === 0 &&
      now - this.tx.zeroWindowSince >= this.tx.rto
    ) {
      // The peer's window stayed shut: one packet past it asks whether it reopened. Each probe
      // is a packet in flight, so the next one waits for its RTO: no spinning.
      this._stats.windowProbes++;
      this.tx.zeroWindowSince = -1;
      this.trySend(true, true);
    }
    this.trySend(true, false);
    if (this.rx.ackPending > 0 || this.rx.ackNow) this.sendState();
    if (now - this.lastSentAt >= this.keepAliveMs) {
      this._stats.keepAlivesSent++;
      this.sendState();
    }
  }

  /**
   * Orderly close: FIN once every queued byte is sent; onClose(null) when the FIN is acknowledged
   * and the peer's FIN arrived (its bytes delivered), or closeLingerMs after our FIN's ACK.
   */
  close(): void {
    if (this._state === 'closed' || this.closing) return;
    this.closing = true;
    if (this._state === 'syn-sent') {
      this.sendReset();
      this.finish(null);
      return;
    }
    this.trySend(true, false);
  }

  /** Abort: sends ST_RESET; onClose is not called (like socket.destroy()). */
  destroy(): void {
    if (this._state === 'closed') return;
    this.sendReset();
    this.closeNotified = true;
    this.toClosed();
  }

  /**
   * A decoded packet from this peer for this connection. `receivedAtMicros` (u32, the clock of
   * `now` in µs) defaults to now() × 1000. Never throws: hostile or stale packets are counted
   * in stats and ignored.
   */
  receive(packet: UtpPacket, receivedAtMicros?: number): void {
    const stats = this._stats;
    if (this._state === 'closed') {
      // The host may keep routing to a finished connection for a while: a FIN resent because our
      // ACK of it was lost gets that ACK again.
      if (this.peerFinished && packet.type === UtpType.fin && packet.connectionId === this.recvId) {
        this.sendState();
        if (this.finSeq < 0)
          this.sendRaw(UtpType.fin, this.sendId, this.tx.seqNext, this.rx.ackNr, EMPTY, false);
      }
      return;
    }
    stats.packetsReceived++;
    if (packet.type === UtpType.syn) {
      if (!this.dialled && packet.connectionId === this.sendId && packet.seq === this.peerSynSeq) {
        // The dialler did not get our answer: answer again.
        stats.duplicatesReceived++;
        this.lastReceivedAt = this.now();
        this.sendState();
      } else {
        stats.invalid++;
      }
      return;
    }
    const ack = packet.ack;
    if (packet.type === UtpType.reset) {
      // libutp answers a packet it has no connection for with a RESET carrying that packet's
      // connection id (our sendId) and seq (possibly an ST_STATE's, one past what we sent).
      const id = packet.connectionId;
      if ((id !== this.recvId && id !== this.sendId) || seqDiff(ack, this.tx.seqNext) > 0) {
        stats.invalid++;
        return;
      }
      this.fail('connection reset by peer', { state: this._state });
      return;
    }
    if (packet.connectionId !== this.recvId) {
      stats.invalid++;
      return;
    }
    // An ACK of a seq we never sent is forged or corrupt: the whole packet is ignored (libtorrent).
    if (seqDiff(ack, (this.tx.seqNext - 1) & 0xffff) > 0) {
      stats.invalid++;
      return;
    }
    // An ACK far behind what was already acknowledged is not from this connection's present.
    const stale = seqDiff((this.tx.oldest - 1) & 0xffff, ack);
    if (stale > UTP_MAX_PACKETS_IN_FLIGHT) {
      stats.invalid++;
      return;
    }
    const now = this.now();
    const nowMicros = receivedAtMicros ?? this.nowMicros();
    if (this._state === 'syn-sent') {
      if (ack !== ((this.tx.oldest - 1) & 0xffff)) {
        stats.invalid++;
        return;
      }
      // The answer's seq is the first the acceptor will use (an ST_STATE does not consume one).
      this.rx.ackNr = (packet.seq - 1) & 0xffff;
      this._state = 'connected';
      if (this.synTransmissions === 1) this.tx.rttSample(now - this.synSentAt);
    }
    this.lastReceivedAt = now;
    this.replyMicros = (nowMicros - packet.timestampMicros) >>> 0;
    this.tx.peerWindow = Math.min(packet.windowSize, this.maxCwnd);
    if (this.tx.peerWindow > 0) this.tx.zeroWindowSince = -1;
    if (this._state === 'connected' && this.dialled && this.synTransmissions > 0) {
      this.synTransmissions = 0;
      this.opts.onConnect();
      if (this.isClosed()) return;
    }
    if (stale <= 0) this.onAck(packet, now);
    if (this.isClosed()) return;
    if (packet.type === UtpType.data) {
      if (this.rx.onDataPacket(packet)) this.checkEof();
    } else if (packet.type === UtpType.fin) {
      if (this.rx.onFinPacket(packet.seq)) this.checkEof();
    }
    if (this.isClosed()) return;
    this.trySend(false, false);
    if (this.rx.ackNow || this.rx.ackPending >= this.ackEvery) this.sendState();
    if (this.needDrain && this.pending <= this.sendBufferBytes / 2) {
      this.needDrain = false;
      this.opts.onDrain();
    }
  }

  // ---- the peer's end and acknowledgements of our packets --------------------------------------

  /** Every byte before the peer's FIN delivered: acknowledge the FIN and end. */
  private checkEof(): void {
    const rx = this.rx;
    if (this.isClosed() || !rx.eofReady()) return;
    rx.ackNr = rx.eofSeq;
    this.peerFinished = true;
    this.sendState();
    if (!this.closing) {
      // The peer is done and so are we: our FIN (sent once, not awaited) spares the peer its
      // linger. Whatever we had not sent is dropped, as a socket's close does.
      this.sendRaw(UtpType.fin, this.sendId, this.tx.seqNext, rx.ackNr, EMPTY, false);
      this.finish(null);
    } else if (this.finSeq >= 0 && this.tx.outstanding() === 0) {
      this.finish(null);
    }
    // Otherwise close() was called and our own bytes still have to arrive: the end waits for the
    // ACK of our FIN.
  }

  private onAck(packet: UtpPacket, now: number): void {
    this.tx.onAck(packet, now);
    // Our FIN is acknowledged, and with it every byte. The peer's bytes may still be on their way
    // (both ends closing at once): they are awaited until its FIN, for closeLingerMs at most.
    if (this.finSeq >= 0 && this.tx.outstanding() === 0) {
      if (this.peerFinished) this.finish(null);
      else if (this.finAckedAt < 0) this.finAckedAt = now;
    }
  }

  private onRetransmitTimeout(now: number): void {
    const outcome = this.tx.onRetransmitTimeout(now, this.lastReceivedAt);
    if (outcome === UtpRtoOutcome.resend) {
      this.trySend(true, true);
    } else if (outcome === UtpRtoOutcome.giveUpFin) {
      // Only our FIN unacknowledged: every byte arrived, the peer may just be gone.
      this.finish(null);
    } else if (outcome === UtpRtoOutcome.giveUp) {
      this.fail('timeout: peer stopped acknowledging', {
        retransmits: this.maxRetransmits,
        seq: this.tx.oldest,
      });
    }
  }

  // ---- sending ---------------------------------------------------------------------------------

  /**
   * Sends what the window allows: resends first, then new data packed into full packets (a
   * partial one only when nothing is outstanding, or `partial`: tick, flush, close), then the FIN.
   * `force` lets one packet past the window (an RTO's resend, a zero-window probe).
   */
  private trySend(partial: boolean, force: boolean): void {
    if (this._state !== 'connected' && this._state !== 'fin-sent') return;
    const tx = this.tx;
    while (tx.resendCount > 0) {
      const seq = tx.nextResend();
      if (seq < 0) break;
      const size = tx.sizeOf(seq);
      if (!force && !tx.windowAllows(size)) return;
      force = false;
      this.transmit(seq);
    }
    while (tx.queuedBytes > 0 && tx.outstanding() < UTP_MAX_PACKETS_IN_FLIGHT) {
      const size = Math.min(this.maxPayload, tx.queuedBytes);
      if (size < this.maxPayload && !partial && !this.closing && tx.outstanding() > 0) break;
      if (!force && !tx.windowAllows(size)) return;
      force = false;
      const seq = tx.storeData(size);
      this._stats.bytesSent += size;
      this.transmit(seq);
    }
    if (this.closing && tx.queuedBytes === 0 && this.finSeq < 0) {
      const seq = tx.storeFin();
      this.finSeq = seq;
      this._state = 'fin-sent';
      this.transmit(seq);
    }
  }

  private transmit(seq: number): void {
    const payload = this.tx.markSent(seq, this.now());
    this.sendPacket(this.tx.isFin(seq) ? UtpType.fin : UtpType.data, seq, payload);
  }

  private sendState(): void {
    this._stats.acksSent++;
    this.sendPacket(UtpType.state, this.tx.seqNext, EMPTY);
  }

  private sendSyn(): void {
    const now = this.now();
    this.synTransmissions++;
    this.synSentAt = now;
    this.synResendAt = now + this.synInterval;
    this.synInterval *= 2;
    // BEP 29's quirk: the SYN carries the dialler's recvId; every later packet its sendId.
    this.sendRaw(UtpType.syn, this.recvId, this.synSeq, 0, EMPTY, false);
  }

  private sendReset(): void {
    this.sendRaw(UtpType.reset, this.sendId, this.tx.seqNext, this.rx.ackNr, EMPTY, false);
  }

  private sendPacket(type: UtpType, seq: number, payload: Uint8Array): void {
    const rx = this.rx;
    rx.ackPending = 0;
    rx.ackNow = false;
    this.sendRaw(type, this.sendId, seq, rx.ackNr, payload, rx.heldCount > 0);
  }

  private sendRaw(
    type: UtpType,
    connectionId: number,
    seq: number,
    ack: number,
    payload: Uint8Array,
    withSack: boolean,
  ): void {
    const out = this.sendBuf;
    const window = this.rx.advertisedWindow();
    this.lastAdvertised = window;
    let at = UTP_HEADER_BYTES;
    if (withSack) at = this.rx.writeSack(out, at);
    writeUtpHeader(
      out,
      type,
      withSack ? UTP_EXTENSION_SACK : 0,
      connectionId,
      this.nowMicros(),
      this.replyMicros,
      window,
      seq,
      ack,
    );
    out.set(payload, at);
    this._stats.packetsSent++;
    this.lastSentAt = this.now();
    this.opts.send(out.subarray(0, at + payload.length));
  }

  private nowMicros(): number {
    return (this.now() * 1000) >>> 0;
  }

  // ---- ending ----------------------------------------------------------------------------------

  private isClosed(): boolean {
    return this._state === 'closed';
  }

  /** A silence timeout, with where both windows and the outstanding packets stood: who waited. */
  private failSilent(reason: string, now: number): void {
    const tx = this.tx;
    this.fail(reason, {
      silentMs: Math.round(now - this.lastReceivedAt),
      sinceSentMs: Math.round(now - this.lastSentAt),
      advertisedBytes: this.rx.advertisedWindow(),
      ...this.rx.windowState(),
      ackNr: this.rx.ackNr,
      peerWindowBytes: tx.peerWindow,
      cwndBytes: Math.floor(this.congestion.cwnd),
      outstandingPackets: tx.outstanding(),
      inFlightBytes: tx.inFlightBytes,
      queuedBytes: tx.queuedBytes,
      rtoMs: Math.round(tx.rto),
    });
  }

  private fail(reason: string, details: Record<string, number | string>): void {
    this.finish(new TorkError(TorkErrorCode.UTP, reason, { reason, ...details }));
  }

  private finish(error: TorkError | null): void {
    if (this._state === 'closed') return;
    this.toClosed();
    if (!this.closeNotified) {
      this.closeNotified = true;
      this.opts.onClose(error);
    }
  }

  private toClosed(): void {
    this._state = 'closed';
    this.tx.clear();
    this.rx.clear();
  }
}
