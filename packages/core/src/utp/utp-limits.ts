/**
 * uTP's named bounds and defaults (BEP 29 with LEDBAT, tuned as libtorrent and libutp are), one
 * place for every number a UtpConnection uses. Each `DEFAULT_*` is the default of the option of the
 * same name in `UtpConnectionOptions`.
 */

/** Bytes queued by write() (sent or not, until acknowledged) beyond which write() returns false. */
export const DEFAULT_UTP_SEND_BUFFER_BYTES = 1024 * 1024;
/**
 * write() throws TorkError(UTP) past this many times `sendBufferBytes`: the host ignored
 * back-pressure, a bug, and the memory must stay bounded.
 */
export const UTP_SEND_BUFFER_HARD_CAP_FACTOR = 4;
/** Advertised receive window ceiling: bytes delivered but not yet consumed, plus held out of order. */
export const DEFAULT_UTP_RECEIVE_WINDOW_BYTES = 1024 * 1024;
/**
 * In-order bytes accepted past the advertised window before a DATA packet is dropped unread: room
 * for a zero-window probe and for a sender that rounds up to a whole packet (libtorrent does).
 */
export const UTP_RECEIVE_WINDOW_SLACK_BYTES = 64 * 1024;
/** Payload bytes per DATA packet: 1,400 keeps a packet under a 1,500-byte Ethernet MTU with room. */
export const DEFAULT_UTP_MAX_PAYLOAD_BYTES = 1400;
/** Largest `maxPayloadBytes` accepted (loopback experiments; real paths fragment past the MTU). */
export const UTP_MAX_PAYLOAD_BYTES = 16 * 1024;
/** LEDBAT's target queuing delay (BEP 29 and libtorrent: 100 ms). */
export const DEFAULT_UTP_TARGET_DELAY_MS = 100;
/** A dial whose SYN is unanswered this long fails ('timeout: could not connect'). */
export const DEFAULT_UTP_CONNECT_TIMEOUT_MS = 3000;
/** First SYN retransmission after this long (then doubling), bounded by the connect timeout. */
export const UTP_SYN_RESEND_MS = 1000;
/**
 * No packet at all from the peer this long: the connection fails ('timeout: peer stopped
 * answering'). Twice libutp's and libtorrent's 29 s keep-alive, so one lost keep-alive from an idle
 * peer does not end the connection.
 */
export const DEFAULT_UTP_IDLE_TIMEOUT_MS = 60_000;
/**
 * Nothing from the peer this long while we hold packets past a gap (ones it sent after one we never
 * got): the connection fails ('timeout: peer stopped resending'). A live sender resends its oldest
 * unacknowledged packet on its RTO; libtorrent gives a packet up after 3 transmissions (about 5 s)
 * and then falls silent without a RESET, so without this a lost packet and its two resends cost
 * the whole idle timeout (CI, a lossy relay under load: 60 s). Longer paths get
 * UTP_GAP_TIMEOUT_RTT_FACTOR × the smoothed RTT when that is more.
 */
export const DEFAULT_UTP_GAP_TIMEOUT_MS = 10_000;
/** The gap timeout is at least this many smoothed RTTs (a 1 s RTT path waits 16 s). */
export const UTP_GAP_TIMEOUT_RTT_FACTOR = 16;
/**
 * An ST_STATE is sent when nothing was sent for this long: keeps the peer's idle timer and NAT
 * mappings alive (UDP mappings are often dropped after 30 s, so half of that).
 */
export const DEFAULT_UTP_KEEP_ALIVE_MS = 15_000;
/**
 * After close() and the ACK of our FIN, the peer's FIN (and the bytes before it) is awaited this
 * long, then the connection ends anyway (with an ST_RESET to a peer that kept it open).
 */
export const DEFAULT_UTP_CLOSE_LINGER_MS = 5000;
/** One packet sent this many times more without an ACK: the connection fails. */
export const DEFAULT_UTP_MAX_RETRANSMITS = 6;
/** RTO floor (libtorrent's); loopback tests lower it. */
export const DEFAULT_UTP_MIN_RTO_MS = 500;
/** RTO ceiling, after exponential backoff. */
export const DEFAULT_UTP_MAX_RTO_MS = 60_000;
/** RTO before any RTT sample (RFC 6298). */
export const UTP_INITIAL_RTO_MS = 1000;
/** Packets held out of order at most; more are dropped (and resent by the peer). */
export const DEFAULT_UTP_MAX_OUT_OF_ORDER_PACKETS = 1024;
/** Largest `maxOutOfOrderPackets` accepted: seq arithmetic needs distances well under 2^15. */
export const UTP_MAX_OUT_OF_ORDER_PACKETS = 8192;
/** Congestion window ceiling. */
export const DEFAULT_UTP_MAX_CWND_BYTES = 4 * 1024 * 1024;
/**
 * Data packets received before an ACK goes out at once (TCP's delayed-ACK rule). Others are
 * flushed by flush() (the host calls it after each batch of datagrams) or by tick().
 */
export const DEFAULT_UTP_ACK_EVERY_PACKETS = 2;
/** Packets in flight at most (sent, not yet cumulatively acknowledged), whatever the windows say. */
export const UTP_MAX_PACKETS_IN_FLIGHT = 8192;
/** Packets SACKed past a missing one (or duplicate ACKs) that make it lost: fast retransmit. */
export const UTP_DUPLICATE_ACK_LIMIT = 3;
/** Congestion window floor in packets, except right after a timeout (one packet). */
export const UTP_MIN_CWND_PACKETS = 2;
/** LEDBAT's base delay is the minimum over this many one-minute buckets (~2 minutes of history). */
export const UTP_BASE_DELAY_MINUTES = 2;
