import { decodeBencode, encodeBencode } from '@tork/core/internal/bencode/bencode.js';
import {
  DHT_MAX_PENDING_QUERIES,
  DHT_PENDING_QUERY_TTL_MS,
  DHT_QUERIES_PER_IP_PER_SECOND,
  DHT_QUERY_BURST_PER_IP,
  DHT_RATE_LIMITED_IPS,
  MAX_KRPC_DATAGRAM_BYTES,
  MAX_VALUES_IN_OUR_REPLY,
  MAX_VALUES_PER_REPLY,
} from '@tork/core/internal/dht/dht-limits.js';
import { sanitizeKrpc } from '@tork/core/internal/dht/krpc.js';
import type { OwnAddress } from './own-address.js';
import { PerKeyRateLimiter } from './rate-limiter.js';

export interface KrpcGuardOptions {
  readonly self: OwnAddress;
  readonly maxDatagramBytes?: number;
  readonly queriesPerSecondPerIp?: number;
  readonly queryBurstPerIp?: number;
  readonly maxValuesPerReply?: number;
  /** Milliseconds clock (rate limiter, pending queries). Default: `performance.now`. */
  readonly now?: () => number;
}

export interface Endpoint {
  readonly address: string;
  readonly port: number;
}

/** What the guard counts; every dropped datagram lands in exactly one of the drop counters. */
export interface KrpcGuardCounters {
  krpc: number;
  oversized: number;
  malformed: number;
  rateLimited: number;
  unsolicited: number;
  queries: number;
  responses: number;
  droppedValues: number;
}

/**
 * Stands between the UDP socket and the DHT node, both ways. In: the size cap (before anything is
 * read), the KRPC sanitizer (core's `sanitizeKrpc`: validating bencode, BEP 5 shapes, caps on
 * values and nodes, our own address dropped), a per-source-IP rate limit on queries, and answers
 * accepted only for queries we sent (same address, port and transaction id), once. Out: our
 * queries are remembered (bounded), and our get_peers answers carry at most
 * `MAX_VALUES_IN_OUR_REPLY` peers (the library would send every peer it stores for the hash).
 */
export class KrpcGuard {
  readonly counters: KrpcGuardCounters = {
    krpc: 0,
    oversized: 0,
    malformed: 0,
    rateLimited: 0,
    unsolicited: 0,
    queries: 0,
    responses: 0,
    droppedValues: 0,
  };
  readonly #self: OwnAddress;
  readonly #maxBytes: number;
  readonly #maxValues: number;
  readonly #limiter: PerKeyRateLimiter;
  readonly #now: () => number;
  /** `host:port:t` of our queries awaiting an answer → when they are forgotten. Oldest first. */
  readonly #pending = new Map<string, number>();

  constructor(options: KrpcGuardOptions) {
    this.#self = options.self;
    this.#maxBytes = options.maxDatagramBytes ?? MAX_KRPC_DATAGRAM_BYTES;
    this.#maxValues = options.maxValuesPerReply ?? MAX_VALUES_PER_REPLY;
    this.#now = options.now ?? (() => performance.now());
    this.#limiter = new PerKeyRateLimiter({
      rate: options.queriesPerSecondPerIp ?? DHT_QUERIES_PER_IP_PER_SECOND,
      burst: options.queryBurstPerIp ?? DHT_QUERY_BURST_PER_IP,
      maxKeys: DHT_RATE_LIMITED_IPS,
      now: this.#now,
    });
  }

  /** Queries of ours awaiting an answer (≤ `DHT_MAX_PENDING_QUERIES`). */
  get pendingQueries(): number {
    return this.#pending.size;
  }

  /** Source IPs the rate limiter remembers (≤ `DHT_RATE_LIMITED_IPS`). */
  get trackedIps(): number {
    return this.#limiter.size;
  }

  /** A KRPC datagram from the socket: the bytes to give the node, or undefined when dropped. */
  incoming(bytes: Uint8Array, from: Endpoint): Uint8Array | undefined {
    const counters = this.counters;
    counters.krpc++;
    if (bytes.length > this.#maxBytes) {
      counters.oversized++;
      return undefined;
    }
    let message: ReturnType<typeof sanitizeKrpc>;
    try {
      message = sanitizeKrpc(bytes, {
        maxBytes: this.#maxBytes,
        maxValues: this.#maxValues,
        isOwnPeer: (host, port) => this.#self.isOwnPeer(host, port),
        isOwnNode: (host, port) => this.#self.isOwnNode(host, port),
      });
    } catch {
      counters.malformed++;
      return undefined;
    }
    if (message.kind === 'query') {
      if (!this.#limiter.allow(from.address)) {
        counters.rateLimited++;
        return undefined;
      }
      counters.queries++;
      return message.bytes;
    }
    const key = pendingKey(from.address, from.port, message.t);
    const until = this.#pending.get(key);
    if (until === undefined || until < this.#now()) {
      counters.unsolicited++;
      return undefined;
    }
    this.#pending.delete(key);
    counters.responses++;
    if (message.kind === 'response') {
      counters.droppedValues += message.droppedValues;
      if (message.reportedIp !== undefined) this.#self.noteExternal(message.reportedIp);
    }
    return message.bytes;
  }

  /** A datagram the node sends: queries are remembered, our answers' peer lists trimmed. */
  outgoing(bytes: Uint8Array, to: Endpoint): Uint8Array {
    let message: Record<string, unknown>;
    try {
      message = decodeBencode(bytes) as Record<string, unknown>;
    } catch {
      return bytes;
    }
    const y = message.y instanceof Uint8Array ? String.fromCharCode(...message.y) : '';
    if (y === 'q' && message.t instanceof Uint8Array) {
      this.#remember(pendingKey(to.address, to.port, message.t));
      return bytes;
    }
    const r = message.r as Record<string, unknown> | undefined;
    if (y === 'r' && r && Array.isArray(r.values) && r.values.length > MAX_VALUES_IN_OUR_REPLY) {
      r.values = r.values.slice(0, MAX_VALUES_IN_OUR_REPLY);
      return encodeBencode(message);
    }
    return bytes;
  }

  #remember(key: string): void {
    const now = this.#now();
    // Forget expired queries from the front (oldest first), and the oldest when full.
    for (const [old, until] of this.#pending) {
      if (until >= now && this.#pending.size < DHT_MAX_PENDING_QUERIES) break;
      this.#pending.delete(old);
    }
    this.#pending.delete(key);
    this.#pending.set(key, now + DHT_PENDING_QUERY_TTL_MS);
  }
}

function pendingKey(host: string, port: number, t: Uint8Array): string {
  return `${host}:${port}:${Buffer.from(t.buffer, t.byteOffset, t.length).toString('hex')}`;
}
