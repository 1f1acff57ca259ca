/**
 * The DHT's named bounds (BEP 5), one place for every number `docs/limits.md` lists. The UDP host
 * thread enforces the datagram, rate and store caps; the coordinator the lookup pacing and what it
 * loads from the saved routing table.
 */

/**
 * Largest KRPC datagram looked at; a larger one is dropped unread. BEP 5 messages fit one packet:
 * libtorrent's largest get_peers answer (100 values and 8 nodes) is ~1,100 bytes.
 */
export const MAX_KRPC_DATAGRAM_BYTES = 2048;
/** Nesting a KRPC message needs: message dict → `r` dict → `values` list (and one spare). */
export const KRPC_MAX_DEPTH = 4;
/** Peers (`values`) taken from one get_peers answer; the rest are dropped. libtorrent sends ≤ 100. */
export const MAX_VALUES_PER_REPLY = 100;
/** Peers we put in one get_peers answer of ours (a random sample of those stored): one packet. */
export const MAX_VALUES_IN_OUR_REPLY = 50;
/** Nodes taken from one answer's `nodes` (BEP 5 nodes send K = 8; some send 16). */
export const MAX_NODES_PER_REPLY = 16;
/** Transaction ids longer than this are refused (libtorrent and tork use 2 bytes, others 4). */
export const MAX_KRPC_TRANSACTION_ID_BYTES = 16;
/** Tokens longer than this are refused (libtorrent's are 4 bytes, ours 20). */
export const MAX_KRPC_TOKEN_BYTES = 64;
/** Error text kept from a KRPC error message. */
export const MAX_KRPC_ERROR_TEXT_BYTES = 256;

/** K: nodes per routing-table bucket. The table holds at most 161 × K nodes (160-bit ids). */
export const DHT_K = 8;
/** Most nodes the routing table can hold: k-bucket splits only the bucket holding our own id. */
export const DHT_MAX_ROUTING_NODES = 161 * DHT_K;
/** Queries in flight at once, every lookup together: the iterative lookups' parallelism. */
export const DHT_CONCURRENCY = 8;
/** Lookups (get_peers walks, with their announces) run at once; more wait their turn, one per torrent. */
export const DHT_MAX_CONCURRENT_LOOKUPS = 4;
/** Distinct peers one lookup forwards to its torrent. */
export const DHT_MAX_PEERS_PER_LOOKUP = 1000;

/** Queries accepted per source IP: a token bucket of this rate per second … */
export const DHT_QUERIES_PER_IP_PER_SECOND = 20;
/** … and this burst. Queries beyond it are dropped unanswered. */
export const DHT_QUERY_BURST_PER_IP = 40;
/** Source IPs the rate limiter remembers at once (the least recently seen is forgotten first). */
export const DHT_RATE_LIMITED_IPS = 4096;

/**
 * Queries of ours awaiting an answer that the guard remembers (address, port and transaction id):
 * an answer matching none is unsolicited and dropped. Forgotten after `DHT_PENDING_QUERY_TTL_MS`.
 */
export const DHT_MAX_PENDING_QUERIES = 1024;
export const DHT_PENDING_QUERY_TTL_MS = 15_000;

/**
 * Peers stored for others (announce_peer), every info-hash together. The store is two
 * generations (fresh and stale), so it holds at most twice this; a peer is kept 30 min at most.
 */
export const DHT_MAX_STORED_PEERS = 2000;
export const DHT_PEER_TTL_MS = 30 * 60_000;
/** Lookup tables kept (the closest nodes of a target and their tokens, for announce_peer). */
export const DHT_MAX_LOOKUP_TABLES = 256;
/**
 * Token secrets: two (current and previous), rotated every 5 minutes by the DHT library, so a
 * token we hand out is honoured for 5 to 10 minutes.
 */
export const DHT_TOKEN_SECRETS = 2;
export const DHT_TOKEN_ROTATE_MS = 5 * 60_000;

/** Bootstrap addresses accepted (`--dht-bootstrap`). */
export const MAX_DHT_BOOTSTRAP_NODES = 32;
/** Routing-table nodes saved, and loaded at start (the rest of a longer file is ignored). */
export const MAX_DHT_STATE_NODES = 512;
/** A saved routing table larger than this is not read. */
export const MAX_DHT_STATE_FILE_BYTES = 256 * 1024;

/** A joined torrent is looked up and announced again this often (libtorrent: 15 min). */
export const DHT_ANNOUNCE_INTERVAL_MS = 15 * 60_000;
/** A torrent short of peers asks for a lookup at most this often. */
export const DHT_MIN_LOOKUP_INTERVAL_MS = 30_000;
