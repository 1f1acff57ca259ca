import { TorkError, TorkErrorCode } from '../errors.js';
import {
  DEFAULT_UTP_ACK_EVERY_PACKETS,
  DEFAULT_UTP_CLOSE_LINGER_MS,
  DEFAULT_UTP_CONNECT_TIMEOUT_MS,
  DEFAULT_UTP_GAP_TIMEOUT_MS,
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
  UTP_MAX_OUT_OF_ORDER_PACKETS,
  UTP_MAX_PAYLOAD_BYTES,
  UTP_MIN_CWND_PACKETS,
} from './utp-limits.js';

/** What a UtpConnection is given: its callbacks, its clock, and limits that default from utp-limits. */
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
   * stopped answering', 'timeout: peer stopped resending', 'timeout: peer stopped acknowledging'.
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
  /**
   * Nothing from the peer this long while packets past a gap are held (at least
   * UTP_GAP_TIMEOUT_RTT_FACTOR smoothed RTTs): onClose('timeout: peer stopped resending').
   * Default 10,000 ms (DEFAULT_UTP_GAP_TIMEOUT_MS).
   */
  readonly gapTimeoutMs?: number;
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

/** UtpConnectionOptions' limits with their defaults applied, each checked against its range. */
export interface ResolvedUtpConnectionOptions {
  readonly sendBufferBytes: number;
  readonly receiveWindowBytes: number;
  readonly maxPayload: number;
  readonly targetMicros: number;
  readonly connectTimeoutMs: number;
  readonly idleTimeoutMs: number;
  readonly gapTimeoutMs: number;
  readonly keepAliveMs: number;
  readonly maxRetransmits: number;
  readonly minRtoMs: number;
  readonly maxRtoMs: number;
  readonly maxOutOfOrder: number;
  readonly maxCwnd: number;
  readonly closeLingerMs: number;
  readonly ackEvery: number;
}

function checkOption(name: string, value: number, min: number, max: number): number {
  if (!Number.isFinite(value) || value < min || value > max)
    throw new TorkError(TorkErrorCode.USAGE, `uTP option ${name} must be in [${min}, ${max}]`, {
      option: name,
      value,
    });
  return value;
}

/**
 * Applies the defaults and checks every limit, in a fixed order (the first bad one is the one
 * reported). Throws TorkError(USAGE) naming the option and its range.
 */
export function resolveUtpConnectionOptions(options: UtpConnectionOptions): ResolvedUtpConnectionOptions {
  const sendBufferBytes = checkOption(
    'sendBufferBytes',
    options.sendBufferBytes ?? DEFAULT_UTP_SEND_BUFFER_BYTES,
    1,
    2 ** 30,
  );
  const receiveWindowBytes = checkOption(
    'receiveWindowBytes',
    options.receiveWindowBytes ?? DEFAULT_UTP_RECEIVE_WINDOW_BYTES,
    0,
    2 ** 31,
  );
  const maxPayload = checkOption(
    'maxPayloadBytes',
    options.maxPayloadBytes ?? DEFAULT_UTP_MAX_PAYLOAD_BYTES,
    64,
    UTP_MAX_PAYLOAD_BYTES,
  );
  const targetMicros =
    checkOption('targetDelayMs', options.targetDelayMs ?? DEFAULT_UTP_TARGET_DELAY_MS, 1, 10_000) * 1000;
  const connectTimeoutMs = checkOption(
    'connectTimeoutMs',
    options.connectTimeoutMs ?? DEFAULT_UTP_CONNECT_TIMEOUT_MS,
    1,
    3_600_000,
  );
  const idleTimeoutMs = checkOption(
    'idleTimeoutMs',
    options.idleTimeoutMs ?? DEFAULT_UTP_IDLE_TIMEOUT_MS,
    1,
    86_400_000,
  );
  const gapTimeoutMs = checkOption(
    'gapTimeoutMs',
    options.gapTimeoutMs ?? DEFAULT_UTP_GAP_TIMEOUT_MS,
    1,
    24 * 3600_000,
  );
  const keepAliveMs = checkOption(
    'keepAliveMs',
    options.keepAliveMs ?? DEFAULT_UTP_KEEP_ALIVE_MS,
    1,
    86_400_000,
  );
  const maxRetransmits = checkOption(
    'maxRetransmits',
    options.maxRetransmits ?? DEFAULT_UTP_MAX_RETRANSMITS,
    1,
    100,
  );
  const minRtoMs = checkOption('minRtoMs', options.minRtoMs ?? DEFAULT_UTP_MIN_RTO_MS, 1, 600_000);
  const maxRtoMs = checkOption('maxRtoMs', options.maxRtoMs ?? DEFAULT_UTP_MAX_RTO_MS, minRtoMs, 600_000);
  const maxOutOfOrder = checkOption(
    'maxOutOfOrderPackets',
    options.maxOutOfOrderPackets ?? DEFAULT_UTP_MAX_OUT_OF_ORDER_PACKETS,
    0,
    UTP_MAX_OUT_OF_ORDER_PACKETS,
  );
  const maxCwnd = checkOption(
    'maxCwndBytes',
    options.maxCwndBytes ?? DEFAULT_UTP_MAX_CWND_BYTES,
    maxPayload * UTP_MIN_CWND_PACKETS,
    2 ** 30,
  );
  const closeLingerMs = checkOption(
    'closeLingerMs',
    options.closeLingerMs ?? DEFAULT_UTP_CLOSE_LINGER_MS,
    0,
    3_600_000,
  );
  const ackEvery = checkOption(
    'ackEveryPackets',
    options.ackEveryPackets ?? DEFAULT_UTP_ACK_EVERY_PACKETS,
    1,
    1024,
  );
  return {
    sendBufferBytes,
    receiveWindowBytes,
    maxPayload,
    targetMicros,
    connectTimeoutMs,
    idleTimeoutMs,
    gapTimeoutMs,
    keepAliveMs,
    maxRetransmits,
    minRtoMs,
    maxRtoMs,
    maxOutOfOrder,
    maxCwnd,
    closeLingerMs,
    ackEvery,
  };
}
