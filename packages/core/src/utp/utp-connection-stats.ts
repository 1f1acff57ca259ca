/** A connection's counters and gauges; UtpConnection.stats refreshes the gauges when read. */
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

/** A fresh, zeroed stats object (one per connection, updated in place). */
export function createUtpConnectionStats(): UtpConnectionStats {
  return {
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
}
