import { TorkError, TorkErrorCode } from '../errors.js';
import { UtpDelayHistory } from './utp-delay-history.js';
import {
  DEFAULT_UTP_ACK_EVERY_PACKETS,
  DEFAULT_UTP_CLOSE_LINGER_MS,
  DEFAULT_UTP_CONNECT_TIMEOUT_MS,
  DEFAULT_UTP_IDLE_TIMEOUT_MS,
  DEFAULT_UTP_KEEP_ALIVE_MS,
  DEFAULT_UTP_MAX_CWND_BYTES,
  DEFAULT_UTP_MAX_OUT_OF_ORDER_PACKETS,
  DEFAULT_UTP_MAX_PAYLOAD_BYTES,
  DEFAULT_UTP_MAX_RETRANSMITS,
  DEFAULT_UTP_MAX_RTO_MS,
  DEFAULT_UTP_MIN_RTO_MS,
  DEFAULT_UTP_RECEIVE_WINDOW_BYTES,
  DEFAULT_UTP_SEND_BUFFER_BYTES,
  DEFAULT_UTP_TARGET_DELAY_MS,
  UTP_DUPLICATE_ACK_LIMIT,
  UTP_INITIAL_RTO_MS,
  UTP_MAX_OUT_OF_ORDER_PACKETS,
  UTP_MAX_PACKETS_IN_FLIGHT,
  UTP_MAX_PAYLOAD_BYTES,
  UTP_MIN_CWND_PACKETS,
  UTP_RECEIVE_WINDOW_SLACK_BYTES,
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

/**
 * One uTP connection (BEP 29) with LEDBAT congestion control, as a pure state machine: decoded
 * packets in through receive(), datagrams out through `send`, time from `now`, timers driven by
 * tick(). The UDP host thread owns the socket, decodes datagrams and demultiplexes them by
 * (remote address, recvId).
 *
 * Sequence numbers are u16 and compared modulo 2^16 (`seqDiff`). Outgoing packets live in a ring
 * indexed by `seq & mask` (parallel typed arrays, no per-packet objects beyond the payload view);
 * packets received out of order in another ring indexed the same way. Cumulative ACKs free packets
 * in order; SACK processing touches only the bits the SACK carries.
 */

export interface UtpConnectionOptions {
  /** Clock in milliseconds (the host passes performance.now). */
  readonly now: () => number;
  /** Sends one datagram to the peer (the host adds nothing). The buffer may be reused after the call returns. */
  readonly send: (datagram: Uint8Array) => void;
  /**
   * In-order payload bytes from the peer: fresh memory per call, never touched again by the
   * connection (the host may transfer it). Packets released together (a gap filled) come as one call.
   */
  readonly onData: (bytes: Uint8Array) => void;
  /** Dialled connections: the peer answered our SYN. Never called for accepted ones. */
  readonly onConnect: () => void;
  /** Room in the send buffer again (pending ≤ half of sendBufferBytes) after write() returned false. */
  readonly onDrain: () => void;
  /**
   * The connection is over; called exactly once (never after destroy()). null: orderly end (the
   * peer's FIN received and every byte before it delivered, or our close() finished). Otherwise a
   * TorkError(UTP): 'connection reset by peer', 'timeout: could not connect', 'timeout: peer
   * stopped answering', 'timeout: peer stopped acknowledging'.
   */
  readonly onClose: (error: TorkError | null) => void;
  /** Random source in [0, 1) for the connection id and initial seq. Default Math.random. */
  readonly random?: () => number;
  /** write() returns false once this many bytes are pending. Default 1 MiB (DEFAULT_UTP_SEND_BUFFER_BYTES). */
  readonly sendBufferBytes?: number;
  /** Advertised receive window ceiling. Default 1 MiB (DEFAULT_UTP_RECEIVE_WINDOW_BYTES). */
  readonly receiveWindowBytes?: number;
  /** Payload bytes per DATA packet, at most 16 KiB. Default 1,400 (DEFAULT_UTP_MAX_PAYLOAD_BYTES). */
  readonly maxPayloadBytes?: number;
  /** LEDBAT target queuing delay. Default 100 ms (DEFAULT_UTP_TARGET_DELAY_MS). */
  readonly targetDelayMs?: number;
  /** SYN unanswered this long: onClose('timeout: could not connect'). Default 3,000 ms. */
  readonly connectTimeoutMs?: number;
  /** Nothing from the peer this long: onClose('timeout: peer stopped answering'). Default 60,000 ms. */
  readonly idleTimeoutMs?: number;
  /** An ST_STATE goes out when nothing was sent this long. Default 15,000 ms. */
  readonly keepAliveMs?: number;
  /** One packet resent this many times without an ACK: onClose('timeout: …'). Default 6. */
  readonly maxRetransmits?: number;
  /** RTO floor. Default 500 ms (libtorrent's). */
  readonly minRtoMs?: number;
  /** RTO ceiling after backoff. Default 60,000 ms. */
  readonly maxRtoMs?: number;
  /** Packets held out of order at most (≤ 8,192); beyond, dropped. Default 1,024. */
  readonly maxOutOfOrderPackets?: number;
  /** Congestion window ceiling. Default 4 MiB (DEFAULT_UTP_MAX_CWND_BYTES). */
  readonly maxCwndBytes?: number;
  /**
   * After close(), once our FIN is acknowledged, how long the peer's remaining bytes and FIN are
   * awaited (onData may still be called) before onClose(null). Default 5,000 ms.
   */
  readonly closeLingerMs?: number;
  /** Data packets received before an ACK is sent at once (others wait for flush()/tick()). Default 2. */
  readonly ackEveryPackets?: number;
}

export interface UtpConnectionStats {
  packetsSent: number;
  packetsReceived: number;
  /** Payload bytes sent, first transmissions only. */
  bytesSent: number;
  /** Payload bytes delivered in order through onData. */
  bytesReceived: number;
  /** Every resend: RTO, fast retransmit, SYN. */
  retransmits: number;
  fastRetransmits: number;
  /** RTO expiries (window probes excluded). */
  timeouts: number;
  /** DATA/FIN/SYN packets we already had. */
  duplicatesReceived: number;
  /** DATA packets held for reordering. */
  outOfOrderReceived: number;
  /** Our packets the peer acknowledged selectively. */
  sackedPackets: number;
  /** Packets ignored: ack for a seq never sent or far behind, wrong connection id, wrong type for the state. */
  invalid: number;
  /** DATA packets dropped: too far ahead, reorder buffer full, or past the receive window. */
  droppedOutOfWindow: number;
  /** Packets sent past a zero peer window (after an RTO) to learn when it reopens. */
  windowProbes: number;
  /** Standalone ST_STATE packets (ACKs, window updates, keep-alives). */
  acksSent: number;
  keepAlivesSent: number;
  /** Smoothed RTT (0 before the first sample). */
  rttMs: number;
  rtoMs: number;
  cwndBytes: number;
  /** Our packets' queuing delay as the peer's timestamp differences show it (LEDBAT's our_delay). */
  delayMs: number;
  /** The peer's advertised window, clamped to maxCwndBytes. */
  peerWindowBytes: number;
  /** Bytes sent and not yet acknowledged or SACKed. */
  bytesInFlight: number;
}

export type UtpConnectionState = 'syn-sent' | 'connected' | 'fin-sent' | 'closed';

// Outgoing packet flags.
const SACKED = 1;
const RESEND = 2;
const FAST_RESENT = 4;
const FIN = 8;

const EMPTY = new Uint8Array(0);
const GAIN = 1;

/** Signed distance a − b in 16-bit sequence space: positive when a is after b. */
function seqDiff(a: number, b: number): number {
  return (((a - b) & 0xffff) << 16) >> 16;
}

function nextPowerOfTwo(value: number): number {
  let size = 1;
  while (size < value) size *= 2;
  return size;
}

function checkOption(name: string, value: number, min: number, max: number): number {
  if (!Number.isFinite(value) || value < min || value > max)
    throw new TorkError(TorkErrorCode.USAGE, `uTP option ${name} must be in [${min}, ${max}]`, {
      option: name,
      value,
    });
  return value;
}

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
  private readonly receiveWindowBytes: number;
  private readonly maxPayload: number;
  private readonly targetMicros: number;
  private readonly connectTimeoutMs: number;
  private readonly idleTimeoutMs: number;
  private readonly keepAliveMs: number;
  private readonly maxRetransmits: number;
  private readonly minRtoMs: number;
  private readonly maxRtoMs: number;
  private readonly maxOutOfOrder: number;
  private readonly maxCwnd: number;
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

  // Send side.
  private seqNext: number;
  private oldest: number;
  private outMask = 63;
  private outPayload: (Uint8Array | undefined)[] = new Array(64);
  private outSentAt = new Float64Array(64);
  private outTransmissions = new Uint8Array(64);
  private outFlags = new Uint8Array(64);
  private inFlightBytes = 0;
  private unackedBytes = 0;
  private resendCount = 0;
  private resendCursor = 0;
  private finSeq = -1;
  private finAckedAt = -1;
  private readonly queue: Uint8Array[] = [];
  private queueHead = 0;
  private queueOffset = 0;
  private queuedBytes = 0;
  private needDrain = false;
  private readonly sendBuf: Uint8Array;
  private readonly sackBuf = new Uint8Array(UTP_MAX_SENT_SACK_BYTES);
  private lastSentAt: number;
  private rtoStart = 0;
  private dupAcks = 0;
  private zeroWindowSince = -1;

  // Congestion control.
  private cwnd: number;
  private ssthresh = Number.POSITIVE_INFINITY;
  private slowStart = true;
  /** Loss recovery lasts until the cumulative ACK passes this seq; one cwnd cut per window. */
  private recoverySeq = -1;
  private srtt = 0;
  private rttVar = 0;
  private rto = UTP_INITIAL_RTO_MS;
  private peerWindow: number;
  private readonly delayHistory = new UtpDelayHistory();
  /** timestamp_difference to put in our packets: our receive time minus the peer's send time. */
  private replyMicros = 0;

  // Receive side.
  private ackNr: number;
  private readonly inMask: number;
  private readonly inPayload: (Uint8Array | undefined)[];
  private heldCount = 0;
  private heldBytes = 0;
  /** Farthest held seq as a distance past ackNr (0: none). */
  private heldSpan = 0;
  private eofSeq = -1;
  private unconsumed = 0;
  private ackPending = 0;
  private ackNow = false;
  private lastReceivedAt: number;
  private lastAdvertised: number;

  private readonly _stats: UtpConnectionStats = {
    packetsSent: 0,
    packetsReceived: 0,
    bytesSent: 0,
    bytesReceived: 0,
    retransmits: 0,
    fastRetransmits: 0,
    timeouts: 0,
    duplicatesReceived: 0,
    outOfOrderReceived: 0,
    sackedPackets: 0,
    invalid: 0,
    droppedOutOfWindow: 0,
    windowProbes: 0,
    acksSent: 0,
    keepAlivesSent: 0,
    rttMs: 0,
    rtoMs: 0,
    cwndBytes: 0,
    delayMs: 0,
    peerWindowBytes: 0,
    bytesInFlight: 0,
  };

  private constructor(options: UtpConnectionOptions, syn: UtpPacket | undefined) {
    this.opts = options;
    this.now = options.now;
    this.sendBufferBytes = checkOption(
      'sendBufferBytes',
      options.sendBufferBytes ?? DEFAULT_UTP_SEND_BUFFER_BYTES,
      1,
      2 ** 30,
    );
    this.receiveWindowBytes = checkOption(
      'receiveWindowBytes',
      options.receiveWindowBytes ?? DEFAULT_UTP_RECEIVE_WINDOW_BYTES,
      0,
      2 ** 31,
    );
    this.maxPayload = checkOption(
      'maxPayloadBytes',
      options.maxPayloadBytes ?? DEFAULT_UTP_MAX_PAYLOAD_BYTES,
      64,
      UTP_MAX_PAYLOAD_BYTES,
    );
    this.targetMicros =
      checkOption('targetDelayMs', options.targetDelayMs ?? DEFAULT_UTP_TARGET_DELAY_MS, 1, 10_000) * 1000;
    this.connectTimeoutMs = checkOption(
      'connectTimeoutMs',
      options.connectTimeoutMs ?? DEFAULT_UTP_CONNECT_TIMEOUT_MS,
      1,
      3_600_000,
    );
    this.idleTimeoutMs = checkOption(
      'idleTimeoutMs',
      options.idleTimeoutMs ?? DEFAULT_UTP_IDLE_TIMEOUT_MS,
      1,
      86_400_000,
    );
    this.keepAliveMs = checkOption(
      'keepAliveMs',
      options.keepAliveMs ?? DEFAULT_UTP_KEEP_ALIVE_MS,
      1,
      86_400_000,
    );
    this.maxRetransmits = checkOption(
      'maxRetransmits',
      options.maxRetransmits ?? DEFAULT_UTP_MAX_RETRANSMITS,
      1,
      100,
    );
    this.minRtoMs = checkOption('minRtoMs', options.minRtoMs ?? DEFAULT_UTP_MIN_RTO_MS, 1, 600_000);
    this.maxRtoMs = checkOption(
      'maxRtoMs',
      options.maxRtoMs ?? DEFAULT_UTP_MAX_RTO_MS,
      this.minRtoMs,
      600_000,
    );
    this.maxOutOfOrder = checkOption(
      'maxOutOfOrderPackets',
      options.maxOutOfOrderPackets ?? DEFAULT_UTP_MAX_OUT_OF_ORDER_PACKETS,
      0,
      UTP_MAX_OUT_OF_ORDER_PACKETS,
    );
    this.maxCwnd = checkOption(
      'maxCwndBytes',
      options.maxCwndBytes ?? DEFAULT_UTP_MAX_CWND_BYTES,
      this.maxPayload * UTP_MIN_CWND_PACKETS,
      2 ** 30,
    );
    this.closeLingerMs = checkOption(
      'closeLingerMs',
      options.closeLingerMs ?? DEFAULT_UTP_CLOSE_LINGER_MS,
      0,
      3_600_000,
    );
    this.ackEvery = checkOption(
      'ackEveryPackets',
      options.ackEveryPackets ?? DEFAULT_UTP_ACK_EVERY_PACKETS,
      1,
      1024,
    );

    this.sendBuf = new Uint8Array(UTP_HEADER_BYTES + 2 + UTP_MAX_SENT_SACK_BYTES + this.maxPayload);
    const inSize = nextPowerOfTwo(this.maxOutOfOrder + 2);
    this.inMask = inSize - 1;
    this.inPayload = new Array(inSize);
    this.cwnd = this.maxPayload * UTP_MIN_CWND_PACKETS;
    this.rto = Math.max(this.minRtoMs, Math.min(this.maxRtoMs, UTP_INITIAL_RTO_MS));
    this.lastAdvertised = this.receiveWindowBytes;
    const now = this.now();
    this.startedAt = now;
    this.lastReceivedAt = now;
    this.lastSentAt = now;
    const random = options.random ?? Math.random;
    const randomU16 = () => Math.floor(random() * 0x10000) & 0xffff;
    this.seqNext = randomU16();
    if (syn === undefined) {
      this.dialled = true;
      this.recvId = randomU16();
      this.sendId = (this.recvId + 1) & 0xffff;
      this.ackNr = 0;
      this.peerSynSeq = -1;
      this.peerWindow = this.maxPayload;
      this._state = 'syn-sent';
      this.synSeq = this.seqNext;
      this.sendSyn();
      // The SYN takes a seq of its own; it lives outside the ring (oldest starts after it).
      this.seqNext = (this.seqNext + 1) & 0xffff;
    } else {
      this.dialled = false;
      this.sendId = syn.connectionId;
      this.recvId = (syn.connectionId + 1) & 0xffff;
      this.ackNr = syn.seq;
      this.peerSynSeq = syn.seq;
      this.peerWindow = Math.min(syn.windowSize, this.maxCwnd);
      this.replyMicros = (this.nowMicros() - syn.timestampMicros) >>> 0;
      this._state = 'connected';
      this.sendState();
    }
    this.oldest = this.seqNext;
    this.resendCursor = this.seqNext;
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
    return this.queuedBytes + this.unackedBytes;
  }

  get stats(): Readonly<UtpConnectionStats> {
    const stats = this._stats;
    stats.rttMs = this.srtt;
    stats.rtoMs = this.rto;
    stats.cwndBytes = Math.floor(this.cwnd);
    stats.delayMs = this.delayHistory.delayMicros / 1000;
    stats.peerWindowBytes = this.peerWindow;
    stats.bytesInFlight = this.inFlightBytes;
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
      this.queue.push(bytes);
      this.queuedBytes += bytes.length;
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
    this.unconsumed = Math.max(0, this.unconsumed - bytes);
    if (this._state !== 'connected' && this._state !== 'fin-sent') return;
    // Only a (nearly) closed window needs an update of its own: otherwise the peer has packets in
    // flight and learns the new window from our next ACK.
    const threshold = 2 * this.maxPayload;
    if (this.lastAdvertised < threshold && this.advertisedWindow() >= threshold) this.sendState();
  }

  /**
   * End of a host batch of datagrams: sends the delayed ACK now, and any partial packet held back
   * to coalesce small writes. Optional (tick() does the same), but it keeps ACKs and small writes
   * prompt without one ACK per data packet.
   */
  flush(): void {
    if (this._state !== 'connected' && this._state !== 'fin-sent') return;
    this.trySend(true, false);
    if (this.ackPending > 0 || this.ackNow) this.sendState();
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
    if (now - this.lastReceivedAt >= this.idleTimeoutMs) {
      this.fail('timeout: peer stopped answering', { silentMs: Math.round(now - this.lastReceivedAt) });
      return;
    }
    if (this.outstanding() > 0 && now - this.rtoStart >= this.rto) {
      this.onRetransmitTimeout(now);
      if (this.isClosed()) return;
    } else if (
      this.zeroWindowSince >= 0 &&
      this.inFlightBytes === 0 &&
      this.outstanding() === 0 &&
      now - this.zeroWindowSince >= this.rto
    ) {
      // The peer's window stayed shut: one packet past it asks whether it reopened. Each probe
      // is a packet in flight, so the next one waits for its RTO: no spinning.
      this._stats.windowProbes++;
      this.zeroWindowSince = -1;
      this.trySend(true, true);
    }
    this.trySend(true, false);
    if (this.ackPending > 0 || this.ackNow) this.sendState();
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
        if (this.finSeq < 0) this.sendRaw(UtpType.fin, this.sendId, this.seqNext, this.ackNr, EMPTY, false);
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
      if ((id !== this.recvId && id !== this.sendId) || seqDiff(ack, this.seqNext) > 0) {
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
    if (seqDiff(ack, (this.seqNext - 1) & 0xffff) > 0) {
      stats.invalid++;
      return;
    }
    // An ACK far behind what was already acknowledged is not from this connection's present.
    const stale = seqDiff((this.oldest - 1) & 0xffff, ack);
    if (stale > UTP_MAX_PACKETS_IN_FLIGHT) {
      stats.invalid++;
      return;
    }
    const now = this.now();
    const nowMicros = receivedAtMicros ?? this.nowMicros();
    if (this._state === 'syn-sent') {
      if (ack !== ((this.oldest - 1) & 0xffff)) {
        stats.invalid++;
        return;
      }
      // The answer's seq is the first the acceptor will use (an ST_STATE does not consume one).
      this.ackNr = (packet.seq - 1) & 0xffff;
      this._state = 'connected';
      if (this.synTransmissions === 1) this.rttSample(now - this.synSentAt);
    }
    this.lastReceivedAt = now;
    this.replyMicros = (nowMicros - packet.timestampMicros) >>> 0;
    this.peerWindow = Math.min(packet.windowSize, this.maxCwnd);
    if (this.peerWindow > 0) this.zeroWindowSince = -1;
    if (this._state === 'connected' && this.dialled && this.synTransmissions > 0) {
      this.synTransmissions = 0;
      this.opts.onConnect();
      if (this.isClosed()) return;
    }
    if (stale <= 0) this.onAck(packet, now);
    if (this.isClosed()) return;
    if (packet.type === UtpType.data) this.onDataPacket(packet);
    else if (packet.type === UtpType.fin) this.onFinPacket(packet.seq);
    if (this.isClosed()) return;
    this.trySend(false, false);
    if (this.ackNow || this.ackPending >= this.ackEvery) this.sendState();
    if (this.needDrain && this.pending <= this.sendBufferBytes / 2) {
      this.needDrain = false;
      this.opts.onDrain();
    }
  }

  // ---- receiving -------------------------------------------------------------------------------

  private onDataPacket(packet: UtpPacket): void {
    const stats = this._stats;
    const seq = packet.seq;
    const payload = packet.payload;
    const distance = seqDiff(seq, this.ackNr);
    if (distance <= 0) {
      stats.duplicatesReceived++;
      this.ackNow = true;
      return;
    }
    if (this.eofSeq >= 0 && seqDiff(seq, this.eofSeq) >= 0) {
      stats.invalid++;
      return;
    }
    if (distance === 1) {
      if (this.unconsumed + payload.length > this.receiveWindowBytes + UTP_RECEIVE_WINDOW_SLACK_BYTES) {
        stats.droppedOutOfWindow++;
        this.ackNow = true;
        return;
      }
      this.ackNr = seq;
      this.ackPending++;
      if (this.heldCount === 0) {
        if (payload.length > 0) this.deliver(payload.slice());
      } else {
        this.deliverWithHeld(payload);
      }
      this.checkEof();
      return;
    }
    if (distance > this.maxOutOfOrder + 1) {
      stats.droppedOutOfWindow++;
      return;
    }
    const slot = seq & this.inMask;
    if (this.inPayload[slot] !== undefined) {
      stats.duplicatesReceived++;
      this.ackNow = true;
      return;
    }
    if (
      this.heldCount >= this.maxOutOfOrder ||
      this.unconsumed + this.heldBytes + payload.length >
        this.receiveWindowBytes + UTP_RECEIVE_WINDOW_SLACK_BYTES
    ) {
      stats.droppedOutOfWindow++;
      return;
    }
    this.inPayload[slot] = payload.length > 0 ? payload.slice() : EMPTY;
    this.heldCount++;
    this.heldBytes += payload.length;
    if (distance > this.heldSpan) this.heldSpan = distance;
    stats.outOfOrderReceived++;
    // The SACK tells the peer at once what is missing.
    this.ackNow = true;
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
    this._stats.bytesReceived += bytes.length;
    this.unconsumed += bytes.length;
    this.opts.onData(bytes);
  }

  private onFinPacket(seq: number): void {
    const distance = seqDiff(seq, this.ackNr);
    this.ackNow = true;
    if (distance <= 0 || (this.eofSeq >= 0 && this.eofSeq !== seq)) {
      this._stats.duplicatesReceived++;
      return;
    }
    if (distance > this.maxOutOfOrder + 1) {
      this._stats.droppedOutOfWindow++;
      return;
    }
    this.eofSeq = seq;
    this.checkEof();
  }

  /** Every byte before the peer's FIN delivered: acknowledge the FIN and end. */
  private checkEof(): void {
    if (this.eofSeq < 0 || this.isClosed() || ((this.ackNr + 1) & 0xffff) !== this.eofSeq) return;
    this.ackNr = this.eofSeq;
    this.peerFinished = true;
    this.sendState();
    if (!this.closing) {
      // The peer is done and so are we: our FIN (sent once, not awaited) spares the peer its
      // linger. Whatever we had not sent is dropped, as a socket's close does.
      this.sendRaw(UtpType.fin, this.sendId, this.seqNext, this.ackNr, EMPTY, false);
      this.finish(null);
    } else if (this.finSeq >= 0 && this.outstanding() === 0) {
      this.finish(null);
    }
    // Otherwise close() was called and our own bytes still have to arrive: the end waits for the
    // ACK of our FIN.
  }

  // ---- acknowledgements of our packets ---------------------------------------------------------

  private onAck(packet: UtpPacket, now: number): void {
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
      if (this.recoverySeq >= 0 && seqDiff(this.oldest, this.recoverySeq) > 0) this.recoverySeq = -1;
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
    if (packet.timestampDifferenceMicros !== 0) this.delayHistory.add(packet.timestampDifferenceMicros, now);
    if (acked > 0) this.onBytesAcked(acked, before);
    // Our FIN is acknowledged, and with it every byte. The peer's bytes may still be on their way
    // (both ends closing at once): they are awaited until its FIN, for closeLingerMs at most.
    if (this.finSeq >= 0 && this.outstanding() === 0) {
      if (this.peerFinished) this.finish(null);
      else if (this.finAckedAt < 0) this.finAckedAt = now;
    }
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
          this._stats.sackedPackets++;
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
    this._stats.fastRetransmits++;
    if (this.recoverySeq < 0) {
      // One cut per window of data: the losses of one window are one congestion event.
      this.recoverySeq = (this.seqNext - 1) & 0xffff;
      this.cwnd = Math.max(this.cwnd / 2, this.minCwnd());
      this.ssthresh = this.cwnd;
      this.slowStart = false;
    }
  }

  private rttSample(rttMs: number): void {
    if (this.srtt === 0) {
      this.srtt = rttMs;
      this.rttVar = rttMs / 2;
    } else {
      this.rttVar = 0.75 * this.rttVar + 0.25 * Math.abs(this.srtt - rttMs);
      this.srtt = 0.875 * this.srtt + 0.125 * rttMs;
    }
    this.rto = Math.min(this.maxRtoMs, Math.max(this.minRtoMs, this.srtt + 4 * this.rttVar));
  }

  /** LEDBAT (with slow start until the delay reaches half the target or the first loss). */
  private onBytesAcked(acked: number, inFlightBefore: number): void {
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

  private minCwnd(): number {
    return this.maxPayload * UTP_MIN_CWND_PACKETS;
  }

  // ---- sending ---------------------------------------------------------------------------------

  /** Packets sent and not cumulatively acknowledged (SACKed ones included). */
  private outstanding(): number {
    return (this.seqNext - this.oldest) & 0xffff;
  }

  private onRetransmitTimeout(now: number): void {
    const slot = this.oldest & this.outMask;
    const payload = this.outPayload[slot];
    if (payload === undefined) return;
    const isFin = (this.outFlags[slot]! & FIN) !== 0;
    // A packet past a shut window that the peer answered (without taking it) is a probe, not a loss.
    const probe = this.peerWindow === 0 && this.lastReceivedAt > this.outSentAt[slot]!;
    if (!probe && this.outTransmissions[slot]! > this.maxRetransmits) {
      // Only our FIN unacknowledged: every byte arrived, the peer may just be gone.
      if (isFin) this.finish(null);
      else
        this.fail('timeout: peer stopped acknowledging', {
          retransmits: this.maxRetransmits,
          seq: this.oldest,
        });
      return;
    }
    this.rto = Math.min(this.maxRtoMs, this.rto * 2);
    this.rtoStart = now;
    if (probe) {
      this._stats.windowProbes++;
      this.outTransmissions[slot] = Math.max(1, this.outTransmissions[slot]! - 1);
      this.markResend(this.oldest);
    } else {
      this._stats.timeouts++;
      this.ssthresh = Math.max(this.cwnd / 2, this.minCwnd());
      this.cwnd = this.maxPayload;
      this.slowStart = true;
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
    this.trySend(true, true);
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

  /** Whether a packet of `size` fits the send window: min(cwnd, peer window), one always when idle. */
  private windowAllows(size: number): boolean {
    if (this.inFlightBytes === 0) {
      if (this.peerWindow > 0) return true;
      if (this.zeroWindowSince < 0) this.zeroWindowSince = this.now();
      return false;
    }
    return this.inFlightBytes + size <= Math.min(this.cwnd, this.peerWindow);
  }

  /**
   * Sends what the window allows: resends first, then new data packed into full packets (a
   * partial one only when nothing is outstanding, or `partial`: tick, flush, close), then the FIN.
   * `force` lets one packet past the window (an RTO's resend, a zero-window probe).
   */
  private trySend(partial: boolean, force: boolean): void {
    if (this._state !== 'connected' && this._state !== 'fin-sent') return;
    while (this.resendCount > 0) {
      const seq = this.nextResend();
      if (seq < 0) break;
      const size = this.outPayload[seq & this.outMask]!.length;
      if (!force && !this.windowAllows(size)) return;
      force = false;
      this.transmit(seq);
    }
    while (this.queuedBytes > 0 && this.outstanding() < UTP_MAX_PACKETS_IN_FLIGHT) {
      const size = Math.min(this.maxPayload, this.queuedBytes);
      if (size < this.maxPayload && !partial && !this.closing && this.outstanding() > 0) break;
      if (!force && !this.windowAllows(size)) return;
      force = false;
      const seq = this.seqNext;
      this.store(seq, this.take(size), 0);
      this.seqNext = (seq + 1) & 0xffff;
      this._stats.bytesSent += size;
      this.transmit(seq);
    }
    if (this.closing && this.queuedBytes === 0 && this.finSeq < 0) {
      const seq = this.seqNext;
      this.finSeq = seq;
      this.store(seq, EMPTY, FIN);
      this.seqNext = (seq + 1) & 0xffff;
      this._state = 'fin-sent';
      this.transmit(seq);
    }
  }

  private nextResend(): number {
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

  private transmit(seq: number): void {
    const slot = seq & this.outMask;
    const payload = this.outPayload[slot]!;
    const flags = this.outFlags[slot]!;
    const now = this.now();
    if (this.outstanding() === 1 || this.inFlightBytes === 0) this.rtoStart = now;
    if (flags & RESEND) {
      this.outFlags[slot] = flags & ~RESEND;
      this.resendCount--;
    }
    if (this.outTransmissions[slot]! > 0) this._stats.retransmits++;
    if (this.outTransmissions[slot]! < 255) this.outTransmissions[slot]!++;
    this.outSentAt[slot] = now;
    this.inFlightBytes += payload.length;
    this.sendPacket(flags & FIN ? UtpType.fin : UtpType.data, seq, payload);
  }

  private sendState(): void {
    this._stats.acksSent++;
    this.sendPacket(UtpType.state, this.seqNext, EMPTY);
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
    this.sendRaw(UtpType.reset, this.sendId, this.seqNext, this.ackNr, EMPTY, false);
  }

  private sendPacket(type: UtpType, seq: number, payload: Uint8Array): void {
    this.ackPending = 0;
    this.ackNow = false;
    this.sendRaw(type, this.sendId, seq, this.ackNr, payload, this.heldCount > 0);
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
    const window = this.advertisedWindow();
    this.lastAdvertised = window;
    let at = UTP_HEADER_BYTES;
    if (withSack) at = this.writeSack(out, at);
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

  /** The SACK extension for the held packets: bit i is packet ackNr + 2 + i, 4..32 bytes. */
  private writeSack(out: Uint8Array, at: number): number {
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

  private advertisedWindow(): number {
    return Math.max(0, this.receiveWindowBytes - this.unconsumed - this.heldBytes);
  }

  private nowMicros(): number {
    return (this.now() * 1000) >>> 0;
  }

  // ---- ending ----------------------------------------------------------------------------------

  private isClosed(): boolean {
    return this._state === 'closed';
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
    this.queue.length = 0;
    this.queueHead = 0;
    this.queuedBytes = 0;
    this.outPayload.fill(undefined);
    this.inPayload.fill(undefined);
    this.unackedBytes = 0;
    this.inFlightBytes = 0;
    this.heldCount = 0;
    this.heldBytes = 0;
  }
}
