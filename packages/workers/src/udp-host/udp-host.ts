import dgram from 'node:dgram';
import { isIP } from 'node:net';
import type { MessagePort } from 'node:worker_threads';
import { MAX_DHT_STATE_NODES } from '@tork/core/internal/dht/dht-limits.js';
import type { DhtContact } from '@tork/core/internal/dht/dht-state.js';
import { TorkError, TorkErrorCode, toTorkError } from '@tork/core/internal/errors.js';
import type {
  UdpHostCommand,
  UdpHostEvent,
  UdpHostStats,
  UdpHostWorkerData,
} from '@tork/core/internal/messages/udp-host.js';
import { classifyDatagram } from './datagram-demux.js';
import { DhtNode } from './dht-node.js';
import { KrpcGuard } from './krpc-guard.js';
import { OwnAddress } from './own-address.js';
import { UtpHost } from './utp-host.js';

/** The UDP socket's kernel receive buffer asked for (capped by `net.core.rmem_max`). */
export const UDP_RECEIVE_BUFFER_BYTES = 4 * 1024 * 1024;
/** The UDP socket's kernel send buffer asked for (capped by `net.core.wmem_max`). */
export const UDP_SEND_BUFFER_BYTES = 1024 * 1024;

/** Posts an event to the coordinator; `transfer`: ports moved with it. */
export type UdpHostEmit = (event: UdpHostEvent, transfer?: MessagePort[]) => void;

export interface UdpHostOptions {
  /** Milliseconds clock of the guard (rate limits, pending queries). Default: `performance.now`. */
  readonly now?: () => number;
}

/**
 * The one UDP socket on the torrent port and what it serves. Every datagram is classified first
 * (`classifyDatagram`): KRPC goes through the `KrpcGuard` (size cap, sanitizer, per-IP query rate
 * limit, unsolicited answers dropped) to the `DhtNode`; uTP (next issue) will get its own branch
 * here; anything else is counted and dropped. Runs in its own thread (`udp-host-worker.ts`), or
 * in-process in tests.
 */
export class UdpHost {
  readonly #socket: dgram.Socket;
  readonly #emit: UdpHostEmit;
  readonly #guard: KrpcGuard;
  /** The DHT node; none when the socket serves uTP only (`workerData.dht` false) or until asked (`dhtOnDemand`). */
  #node: DhtNode | undefined;
  readonly #startNode: () => DhtNode;
  readonly #dhtEnabled: boolean;
  readonly #savedNodes: DhtContact[];
  readonly #utp: UtpHost | undefined;
  readonly #nodeId: string;
  readonly #self: OwnAddress;
  readonly #counts = { datagrams: 0, utp: 0, unknown: 0 };
  #closing: Promise<DhtContact[]> | undefined;

  private constructor(
    socket: dgram.Socket,
    data: UdpHostWorkerData,
    emit: UdpHostEmit,
    options: UdpHostOptions,
  ) {
    this.#socket = socket;
    this.#emit = emit;
    // The address actually bound (a host name such as `localhost` resolved): who we are.
    const bound = socket.address();
    this.#self = new OwnAddress(bound.address, data.peerPort, bound.port);
    this.#guard = new KrpcGuard({
      self: this.#self,
      ...data.settings,
      ...(options.now ? { now: options.now } : {}),
    });
    this.#nodeId = data.nodeId;
    this.#utp = data.utp
      ? new UtpHost({
          settings: data.utp,
          send: (bytes, toPort, host) => {
            if (this.#closing) return;
            // dgram sends after this returns, and the connection reuses its encode buffer: a copy
            // (from Node's small-buffer pool, no allocation of its own for a packet under 4 KiB).
            const copy = Buffer.allocUnsafe(bytes.length);
            copy.set(bytes);
            socket.send(copy, toPort, host);
          },
          // Thread boundary: the stream's port is moved to the coordinator with the event.
          onIncoming: (address, relay) => emit({ type: 'utp-incoming', address, relay }, [relay]),
          ...(options.now ? { now: options.now } : {}),
        })
      : undefined;
    this.#startNode = () =>
      new DhtNode({
        nodeId: Buffer.from(data.nodeId, 'hex'),
        bootstrap: data.bootstrap,
        nodes: data.nodes,
        send: (bytes, toPort, host) => this.#send(bytes, toPort, host),
        address: () => socket.address(),
        isOwnPeer: (host, peerPort) => this.#self.isOwnPeer(host, peerPort),
        onPeers: (torrentId, peers) => emit({ type: 'peers', torrentId, peers }),
        onLookupDone: (torrentId, nodes, announced) =>
          emit({ type: 'lookup-done', torrentId, nodes, announced }),
        ...(data.settings.maxStoredPeers ? { maxStoredPeers: data.settings.maxStoredPeers } : {}),
        ...(data.settings.queryTimeoutMs ? { queryTimeoutMs: data.settings.queryTimeoutMs } : {}),
      });
    this.#dhtEnabled = data.dht !== false;
    // A table loaded but never used goes back unchanged at close (it is not lost by a private run).
    this.#savedNodes = data.nodes;
    if (this.#dhtEnabled && !data.dhtOnDemand) this.#node = this.#startNode();
    socket.on('message', (bytes, from) => this.#onDatagram(bytes, from));
    // After binding, socket errors (ICMP unreachable and the like) are the network's, not ours.
    socket.on('error', () => {});
  }

  /** Binds the socket (IPv4: the DHT speaks no BEP 32) and starts the node; TORK_ERR_DHT if it cannot bind. */
  static async open(
    data: UdpHostWorkerData,
    emit: UdpHostEmit,
    options: UdpHostOptions = {},
  ): Promise<UdpHost> {
    // Large kernel buffers: uTP peers send bursts of a window's worth of 1.4 KB datagrams, and the
    // default 208 KiB receive buffer overflowed under 8 seeders (each drop a retransmission and
    // a halved window). The kernel caps them at net.core.[rw]mem_max.
    const socket = dgram.createSocket({
      type: 'udp4',
      recvBufferSize: UDP_RECEIVE_BUFFER_BYTES,
      sendBufferSize: UDP_SEND_BUFFER_BYTES,
    });
    const host = bindHost(data.host);
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.bind(data.port, host, () => {
          socket.off('error', reject);
          resolve();
        });
      });
    } catch (error) {
      socket.close();
      const cause = toTorkError(error, TorkErrorCode.DHT);
      throw new TorkError(
        TorkErrorCode.DHT,
        `DHT: cannot bind UDP ${host}:${data.port}: ${cause.message}`,
        { host, port: data.port },
        { cause },
      );
    }
    return new UdpHost(socket, data, emit, options);
  }

  get port(): number {
    return this.#socket.address().port;
  }

  get nodeId(): string {
    return this.#node?.nodeId ?? this.#nodeId;
  }

  command(command: UdpHostCommand): void {
    switch (command.type) {
      case 'announce':
        this.#dht()?.announce(command.torrentId, command.port);
        break;
      case 'lookup':
        this.#dht()?.lookup(command.torrentId);
        break;
      case 'leave':
        this.#node?.leave(command.torrentId);
        break;
      case 'utp-connect':
        if (this.#utp) this.#utp.dial(command.host, command.port, command.relay);
        else {
          command.relay.postMessage({ type: 'end', reason: 'uTP is off' });
          command.relay.close();
        }
        break;
      case 'stats':
        this.#emit({ type: 'stats', requestId: command.requestId, stats: this.stats() });
        break;
      case 'close':
        void this.close().then((nodes) => this.#emit({ type: 'closed', nodeId: this.nodeId, nodes }));
        break;
    }
  }

  /** The node, started on first use when `dhtOnDemand`; none when the DHT is off. */
  #dht(): DhtNode | undefined {
    if (!this.#node && this.#dhtEnabled && !this.#closing) this.#node = this.#startNode();
    return this.#node;
  }

  stats(): UdpHostStats {
    const guard = this.#guard.counters;
    const utp = this.#utp?.counters();
    return {
      nodes: this.#node?.nodeCount ?? 0,
      storedPeers: this.#node?.storedPeers ?? 0,
      tokenSecrets: this.#node?.tokenSecrets ?? 0,
      datagrams: this.#counts.datagrams,
      krpc: guard.krpc,
      utp: this.#counts.utp,
      unknown: this.#counts.unknown,
      oversized: guard.oversized,
      malformed: guard.malformed,
      rateLimited: guard.rateLimited,
      unsolicited: guard.unsolicited,
      queries: guard.queries,
      responses: guard.responses,
      droppedValues: guard.droppedValues,
      lookupsRunning: this.#node?.lookupsRunning ?? 0,
      lookupsQueued: this.#node?.lookupsQueued ?? 0,
      utpConnections: this.#utp?.connections ?? 0,
      utpHalfOpen: this.#utp?.halfOpen ?? 0,
      utpDialled: utp?.dialled ?? 0,
      utpAccepted: utp?.accepted ?? 0,
      utpRefused: utp?.refused ?? 0,
      utpMalformed: utp?.malformed ?? 0,
      utpStray: utp?.stray ?? 0,
      utpRetransmits: utp?.retransmits ?? 0,
      utpDuplicates: utp?.duplicates ?? 0,
    };
  }

  /** Stops the node and closes the socket; resolves with the routing table to save. Idempotent. */
  close(): Promise<DhtContact[]> {
    this.#closing ??= (async () => {
      this.#utp?.close();
      const nodes = this.#node ? this.#node.contacts(MAX_DHT_STATE_NODES) : this.#savedNodes;
      await this.#node?.close();
      await new Promise<void>((resolve) => this.#socket.close(() => resolve()));
      return nodes;
    })();
    return this.#closing;
  }

  #onDatagram(bytes: Buffer, from: dgram.RemoteInfo): void {
    this.#counts.datagrams++;
    switch (classifyDatagram(bytes)) {
      case 'krpc': {
        if (!this.#node) {
          this.#counts.unknown++;
          break;
        }
        const accepted = this.#guard.incoming(bytes, from);
        if (accepted) this.#node.receive(accepted, from);
        break;
      }
      case 'utp':
        this.#counts.utp++;
        this.#utp?.receive(bytes, from.address, from.port);
        break;
      default:
        this.#counts.unknown++;
    }
  }

  #send(bytes: Uint8Array, port: number, host: string): void {
    if (this.#closing) return;
    const out = this.#guard.outgoing(bytes, { address: host, port });
    this.#socket.send(out, port, host);
  }
}

/** The DHT is IPv4 only: an IPv6 listen host binds the IPv4 wildcard. */
function bindHost(host: string): string {
  // isIP tries the short IPv4 pattern first: Node's IPv6 one costs a few ms to compile per thread.
  return isIP(host) === 6 || host === '::' ? '0.0.0.0' : host;
}
