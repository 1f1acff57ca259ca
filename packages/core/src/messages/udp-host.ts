import * as z from 'zod';
import { DHT_MAX_PEERS_PER_LOOKUP, MAX_DHT_BOOTSTRAP_NODES, MAX_DHT_STATE_NODES } from '../dht/dht-limits.js';
import { DhtContact, DhtId, UdpPort } from '../dht/dht-state.js';
import { MessagePortSchema, PlainError, TorrentId } from './schema-helpers.js';

/**
 * The UDP host thread (one UDP socket on the torrent port, a datagram demultiplexer in front, the
 * DHT node behind it) and the coordinator talk only in these messages, over the worker's own
 * `parentPort`: settings once as `workerData`, then commands one way and events the other. Each
 * side parses what arrives (`parseUdpHost*` in validate.ts).
 */

/** A bootstrap address: a host name or IPv4 literal and a port (resolved in the UDP host). */
export const DhtBootstrapAddress = z.object({ host: z.string().min(1).max(253), port: UdpPort });
export type DhtBootstrapAddress = z.infer<typeof DhtBootstrapAddress>;

/** Tunables of the DHT node and the KRPC guard; each defaults to its named limit in `core/dht`. */
export const DhtNodeSettings = z.object({
  /** Largest KRPC datagram looked at (`MAX_KRPC_DATAGRAM_BYTES`). */
  maxDatagramBytes: z.number().int().min(64).max(65_535).optional(),
  /** Per-source-IP query rate and burst (`DHT_QUERIES_PER_IP_PER_SECOND`, `DHT_QUERY_BURST_PER_IP`). */
  queriesPerSecondPerIp: z.number().positive().max(1_000_000).optional(),
  queryBurstPerIp: z.number().int().min(1).max(1_000_000).optional(),
  /** Peers taken from one get_peers answer (`MAX_VALUES_PER_REPLY`). */
  maxValuesPerReply: z.number().int().min(1).max(10_000).optional(),
  /** Peers stored for others, per generation (`DHT_MAX_STORED_PEERS`). */
  maxStoredPeers: z.number().int().min(1).max(1_000_000).optional(),
  /** A query with no answer after this is given up (the library's default: 2 s). */
  queryTimeoutMs: z.number().int().min(100).max(60_000).optional(),
});
export type DhtNodeSettings = z.infer<typeof DhtNodeSettings>;

/**
 * Tunables of the uTP (BEP 29) side of the UDP host; each defaults to its named limit in
 * `core/utp` (tests lower the timeouts).
 */
export const UtpHostSettings = z.object({
  /** Connections at once, dialled and accepted (`UTP_MAX_CONNECTIONS`). */
  maxConnections: z.number().int().min(1).max(100_000).optional(),
  /** Accepted connections whose peer has not yet sent data (`UTP_MAX_HALF_OPEN`): a SYN flood's ceiling. */
  maxHalfOpen: z.number().int().min(1).max(100_000).optional(),
  /** Longest wait for an answer to our SYN (`UTP_CONNECT_TIMEOUT_MS`). */
  connectTimeoutMs: z.number().int().min(100).max(120_000).optional(),
  /** A connection the peer stopped answering is closed after this (`UTP_IDLE_TIMEOUT_MS`). */
  idleTimeoutMs: z.number().int().min(100).max(600_000).optional(),
  /** Lowest retransmission timeout (`UTP_MIN_RTO_MS`). */
  minRtoMs: z.number().int().min(10).max(10_000).optional(),
  /** Payload bytes per data packet (`UTP_MAX_PAYLOAD_BYTES`). */
  maxPayloadBytes: z.number().int().min(100).max(16_384).optional(),
});
export type UtpHostSettings = z.infer<typeof UtpHostSettings>;

/** `workerData` of the UDP host thread. */
export const UdpHostWorkerData = z.object({
  /** Address to bind (the TCP listener's host; an IPv6 one binds 0.0.0.0: the DHT is IPv4 only). */
  host: z.string().min(1).max(253),
  /** Port to bind: the TCP listener's port number (0 only in tests: any free port). */
  port: z.number().int().min(0).max(65535),
  /** The TCP port peers reach us on: a peer at our address with this port is ourselves. */
  peerPort: z.number().int().min(0).max(65535),
  nodeId: DhtId,
  /** Routing-table contacts saved by an earlier run. */
  nodes: z.array(DhtContact).max(MAX_DHT_STATE_NODES),
  bootstrap: z.array(DhtBootstrapAddress).max(MAX_DHT_BOOTSTRAP_NODES),
  settings: DhtNodeSettings,
  /** Run the DHT node. Default: true (false: the socket serves uTP only, KRPC is dropped). */
  dht: z.boolean().optional(),
  /**
   * Start the DHT node at the first `announce` or `lookup`, not at once: the socket may serve uTP
   * for a run of private torrents, which must never touch the DHT (BEP 27). Default: false.
   */
  dhtOnDemand: z.boolean().optional(),
  /** Serve uTP connections with these settings; absent: uTP datagrams are counted and dropped. */
  utp: UtpHostSettings.optional(),
});
export type UdpHostWorkerData = z.infer<typeof UdpHostWorkerData>;

/** Coordinator → UDP host. */
export const UdpHostCommand = z.discriminatedUnion('type', [
  /** Walk the DHT towards the info-hash for peers (get_peers), then announce_peer `port` to the closest. */
  z.object({ type: z.literal('announce'), torrentId: TorrentId, port: UdpPort }),
  /** Walk the DHT for peers only. */
  z.object({ type: z.literal('lookup'), torrentId: TorrentId }),
  /** The torrent stopped: its queued or running lookup is dropped, nothing more is sent for it. */
  z.object({ type: z.literal('leave'), torrentId: TorrentId }),
  /**
   * Dial a uTP connection and relay its byte stream over `relay` (relay-message.ts: `open` once
   * the peer answers, then data both ways, `end` when it fails or closes). The port is the peer
   * host's actor's other end's twin: the UDP host owns the socket, the actor the session.
   */
  z.object({
    type: z.literal('utp-connect'),
    host: z.string().min(1).max(253),
    port: UdpPort,
    relay: MessagePortSchema,
  }),
  /** Counters and sizes, answered by a `stats` event with the same `requestId`. */
  z.object({ type: z.literal('stats'), requestId: z.number().int().nonnegative() }),
  /** Stop: answered by `closed` with the routing table to save, then the socket closes. */
  z.object({ type: z.literal('close') }),
]);
export type UdpHostCommand = z.infer<typeof UdpHostCommand>;

const Count = z.number().int().nonnegative();

/** What the UDP host counts (for `stats` answers, tests and the limits' proofs). */
export const UdpHostStats = z.object({
  /** Routing-table nodes, peers stored for others, token secrets held. */
  nodes: Count,
  storedPeers: Count,
  tokenSecrets: Count,
  /** Datagrams received, by what the demultiplexer saw. */
  datagrams: Count,
  krpc: Count,
  utp: Count,
  unknown: Count,
  /** KRPC dropped: over the size cap, malformed, over the per-IP query rate, unsolicited answers. */
  oversized: Count,
  malformed: Count,
  rateLimited: Count,
  unsolicited: Count,
  /** Queries handed to the node, answers matched to our queries. */
  queries: Count,
  responses: Count,
  /** Peers dropped from get_peers answers (over the cap, malformed, duplicates, our own address). */
  droppedValues: Count,
  /** Lookups running and waiting. */
  lookupsRunning: Count,
  lookupsQueued: Count,
  /** uTP connections open now, and of them accepted ones the peer has not sent data on yet. */
  utpConnections: Count,
  utpHalfOpen: Count,
  /** uTP connections dialled and accepted since the start; SYNs refused (over a cap, or uTP off). */
  utpDialled: Count,
  utpAccepted: Count,
  utpRefused: Count,
  /** uTP datagrams dropped: malformed (the codec refused them), or for no connection of ours. */
  utpMalformed: Count,
  utpStray: Count,
  /** Summed over every uTP connection so far: packets resent (timeout or fast), duplicates received. */
  utpRetransmits: Count,
  utpDuplicates: Count,
});
export type UdpHostStats = z.infer<typeof UdpHostStats>;

const PeerAddressSchema = z.object({ host: z.string().min(1).max(64), port: UdpPort });

/** UDP host → coordinator. */
export const UdpHostEvent = z.discriminatedUnion('type', [
  /** The socket is bound; the node runs with this id. */
  z.object({ type: z.literal('listening'), port: UdpPort, nodeId: DhtId }),
  /** The host cannot run (the socket could not be bound): it exits after this. */
  z.object({ type: z.literal('failed'), error: PlainError }),
  /** A command that failed its schema or its handling; the host goes on. */
  z.object({ type: z.literal('error'), error: PlainError }),
  /** Peers a lookup found for a torrent (new to this lookup). */
  z.object({
    type: z.literal('peers'),
    torrentId: TorrentId,
    peers: z.array(PeerAddressSchema).min(1).max(DHT_MAX_PEERS_PER_LOOKUP),
  }),
  /**
   * A lookup ended: `nodes` answered it; `announced` to how many nodes (0 for a plain lookup, or
   * when no node gave a token).
   */
  z.object({ type: z.literal('lookup-done'), torrentId: TorrentId, nodes: Count, announced: Count }),
  z.object({ type: z.literal('stats'), requestId: z.number().int().nonnegative(), stats: UdpHostStats }),
  /**
   * A peer opened a uTP connection to us: its byte stream comes over `relay` (transferred), as an
   * accepted TCP connection's does from the Listener. The coordinator reads the handshake from it
   * to find the torrent, then moves the port on to a peer host.
   */
  z.object({
    type: z.literal('utp-incoming'),
    address: z.string().min(1).max(300),
    relay: MessagePortSchema,
  }),
  /** Answer to `close`: the routing table to save. The socket is closed after this. */
  z.object({ type: z.literal('closed'), nodeId: DhtId, nodes: z.array(DhtContact).max(MAX_DHT_STATE_NODES) }),
]);
export type UdpHostEvent = z.infer<typeof UdpHostEvent>;
