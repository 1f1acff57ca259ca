import type { AddressInfo } from 'node:net';
import {
  DHT_CONCURRENCY,
  DHT_K,
  DHT_MAX_CONCURRENT_LOOKUPS,
  DHT_MAX_LOOKUP_TABLES,
  DHT_MAX_PEERS_PER_LOOKUP,
  DHT_MAX_STORED_PEERS,
  DHT_PEER_TTL_MS,
} from '@tork/core/internal/dht/dht-limits.js';
import type { DhtContact } from '@tork/core/internal/dht/dht-state.js';
import type { DhtBootstrapAddress } from '@tork/core/internal/messages/udp-host.js';
import type { PeerAddress } from '@tork/core/internal/tracker/types.js';
import DHT from 'bittorrent-dht';
import { ShimSocket } from './shim-socket.js';

export interface DhtNodeOptions {
  /** Our node id (20 bytes): kept across runs with the routing table. */
  readonly nodeId: Uint8Array;
  /** Routers asked when the routing table is short (`--dht-bootstrap`). Never undefined here: the library would fall back to the public routers. */
  readonly bootstrap: readonly DhtBootstrapAddress[];
  /** Contacts saved by an earlier run: put straight into the routing table. */
  readonly nodes: readonly DhtContact[];
  /** Sends a datagram (through the guard, on the shared socket). */
  readonly send: (bytes: Uint8Array, port: number, host: string) => void;
  readonly address: () => AddressInfo;
  /** True for our own peer address: never forwarded as a peer. */
  readonly isOwnPeer: (host: string, port: number) => boolean;
  /** Peers found for a torrent (each new to its lookup). */
  readonly onPeers: (torrentId: string, peers: PeerAddress[]) => void;
  /** A lookup ended: `nodes` answered, `announced` took our announce_peer. */
  readonly onLookupDone: (torrentId: string, nodes: number, announced: number) => void;
  readonly maxStoredPeers?: number;
  readonly queryTimeoutMs?: number;
}

/**
 * `bittorrent-dht`, announcing to the K closest nodes of a lookup. The library announces to every
 * node its lookup table holds (`KBucket.closest(hash)` with no count): 16 of 40 loopback nodes
 * with K = 8 (`scripts/dht-library-probe.mjs`); BEP 5 and libtorrent announce to the K closest
 * that gave a token.
 */
class BoundedDht extends DHT {
  override announce(infoHash: Buffer, port: number, cb: (error: Error | null, hits?: number) => void): void {
    const table = this._tables.get(infoHash.toString('hex'));
    if (!table) {
      this._preannounce(infoHash, port, cb);
      return;
    }
    const message = {
      q: 'announce_peer',
      a: { id: this._rpc.id, token: null, info_hash: infoHash, port, implied_port: 0 },
    };
    this._rpc.queryAll(table.closest(infoHash, DHT_K), message, null, cb);
  }
}

type Operation = { readonly kind: 'lookup' } | { readonly kind: 'announce'; readonly port: number };

interface RunningLookup {
  readonly found: Set<string>;
  pending: PeerAddress[];
  flushing: boolean;
  left: boolean;
  abort: () => void;
}

/**
 * The DHT node of the UDP host: `bittorrent-dht` (routing table with K = 8 buckets, ping /
 * find_node / get_peers / announce_peer, rotating tokens, iterative lookups) fed through a shim
 * socket, with tork's bounds around it: lookups run at most `DHT_MAX_CONCURRENT_LOOKUPS` at once
 * (one queued operation per torrent; an announce supersedes a lookup), every lookup forwards at
 * most `DHT_MAX_PEERS_PER_LOOKUP` distinct peers and never our own address, the peer store is
 * bounded (`DHT_MAX_STORED_PEERS` per generation, 30 min), and so are the lookup tables.
 */
export class DhtNode {
  readonly #options: DhtNodeOptions;
  readonly #shim: ShimSocket;
  readonly #dht: BoundedDht;
  readonly #queue = new Map<string, Operation>();
  readonly #running = new Map<string, RunningLookup>();
  #warnings = 0;
  #closed = false;

  constructor(options: DhtNodeOptions) {
    this.#options = options;
    this.#shim = new ShimSocket(options.send, options.address);
    this.#dht = new BoundedDht({
      socket: this.#shim,
      nodeId: Buffer.from(options.nodeId),
      // An explicit list, even empty: undefined would make k-rpc use the public routers.
      bootstrap: options.bootstrap.map((node) => ({ host: node.host, port: node.port })),
      k: DHT_K,
      concurrency: DHT_CONCURRENCY,
      maxTables: DHT_MAX_LOOKUP_TABLES,
      maxPeers: options.maxStoredPeers ?? DHT_MAX_STORED_PEERS,
      maxAge: DHT_PEER_TTL_MS,
      ...(options.queryTimeoutMs ? { timeout: options.queryTimeoutMs } : {}),
    });
    this.#dht.on('peer', (peer: PeerAddress, infoHash: Buffer) => this.#onPeer(peer, infoHash));
    // Bad answers, timeouts and the like: counted, never fatal.
    this.#dht.on('warning', () => this.#warnings++);
    this.#dht.on('error', () => this.#warnings++);
    for (const node of options.nodes) {
      this.#dht.addNode({ id: Buffer.from(node.id, 'hex'), host: node.host, port: node.port });
    }
    this.#dht.listen();
  }

  get nodeId(): string {
    return this.#dht.nodeId.toString('hex');
  }

  /** Nodes in the routing table (≤ `DHT_MAX_ROUTING_NODES`). */
  get nodeCount(): number {
    return this.#dht.nodes.count();
  }

  /** Peers stored for others (≤ 2 × `maxStoredPeers`). */
  get storedPeers(): number {
    return this.#dht._peers.size;
  }

  /** Token secrets held (current and previous). */
  get tokenSecrets(): number {
    return this.#dht._secrets?.length ?? 0;
  }

  get lookupsRunning(): number {
    return this.#running.size;
  }

  get lookupsQueued(): number {
    return this.#queue.size;
  }

  get warnings(): number {
    return this.#warnings;
  }

  /** A KRPC datagram that passed the guard. */
  receive(bytes: Uint8Array, from: { address: string; port: number }): void {
    if (!this.#closed) this.#shim.deliver(bytes, from);
  }

  /** Look up the torrent's peers, then announce `port` to the closest nodes. */
  announce(torrentId: string, port: number): void {
    this.#enqueue(torrentId, { kind: 'announce', port });
  }

  lookup(torrentId: string): void {
    this.#enqueue(torrentId, { kind: 'lookup' });
  }

  /** Nothing more for this torrent: its queued operation is dropped, its running one forwards nothing. */
  leave(torrentId: string): void {
    this.#queue.delete(torrentId);
    const running = this.#running.get(torrentId);
    if (running) {
      running.left = true;
      running.abort();
    }
  }

  /** The routing table's contacts, closest to our id first, at most `max`. */
  contacts(max: number): DhtContact[] {
    return this.#dht.nodes
      .closest(this.#dht.nodeId, max)
      .filter((node) => Buffer.isBuffer(node.id) && node.id.length === 20 && node.port > 0)
      .map((node) => ({ id: node.id.toString('hex'), host: node.host, port: node.port }));
  }

  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    this.#queue.clear();
    for (const running of this.#running.values()) {
      running.left = true;
      running.abort();
    }
    return new Promise((resolve) => this.#dht.destroy(() => resolve()));
  }

  #enqueue(torrentId: string, operation: Operation): void {
    if (this.#closed) return;
    const queued = this.#queue.get(torrentId);
    if (queued?.kind === 'announce' && operation.kind === 'lookup') return;
    this.#queue.set(torrentId, operation);
    this.#pump();
  }

  #pump(): void {
    for (const [torrentId, operation] of this.#queue) {
      if (this.#running.size >= DHT_MAX_CONCURRENT_LOOKUPS) return;
      if (this.#running.has(torrentId)) continue;
      this.#queue.delete(torrentId);
      this.#run(torrentId, operation);
    }
  }

  #run(torrentId: string, operation: Operation): void {
    const infoHash = Buffer.from(torrentId, 'hex');
    const running: RunningLookup = {
      found: new Set(),
      pending: [],
      flushing: false,
      left: false,
      abort: () => {},
    };
    this.#running.set(torrentId, running);
    const finish = (nodes: number, announced: number): void => {
      this.#flush(torrentId, running);
      this.#running.delete(torrentId);
      if (!running.left) this.#options.onLookupDone(torrentId, nodes, announced);
      this.#pump();
    };
    running.abort = this.#dht.lookup(infoHash, (error, nodes) => {
      const answered = error ? 0 : (nodes ?? 0);
      if (operation.kind === 'lookup' || running.left || this.#closed) {
        finish(answered, 0);
        return;
      }
      this.#dht.announce(infoHash, operation.port, (announceError, hits) =>
        finish(answered, announceError ? 0 : (hits ?? 0)),
      );
    });
  }

  #onPeer(peer: PeerAddress, infoHash: Buffer): void {
    const torrentId = infoHash.toString('hex');
    const running = this.#running.get(torrentId);
    if (!running || running.left || running.found.size >= DHT_MAX_PEERS_PER_LOOKUP) return;
    if (this.#options.isOwnPeer(peer.host, peer.port)) return;
    const key = `${peer.host}:${peer.port}`;
    if (running.found.has(key)) return;
    running.found.add(key);
    running.pending.push({ host: peer.host, port: peer.port });
    if (!running.flushing) {
      running.flushing = true;
      setImmediate(() => this.#flush(torrentId, running));
    }
  }

  #flush(torrentId: string, running: RunningLookup): void {
    running.flushing = false;
    if (running.pending.length === 0) return;
    const peers = running.pending;
    running.pending = [];
    if (!running.left && !this.#closed) this.#options.onPeers(torrentId, peers);
  }
}
