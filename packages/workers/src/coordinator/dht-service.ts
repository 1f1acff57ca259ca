import {
  DHT_ANNOUNCE_INTERVAL_MS,
  DHT_MIN_LOOKUP_INTERVAL_MS,
  type DhtBootstrapAddress,
  type DhtContact,
  type DhtNodeSettings,
  type DiscoveryHandle,
  type DiscoveryTorrent,
  type PeerAddress,
  type PeerDiscovery,
  type PlainTorkError,
  type TorkError,
  TorkErrorCode,
  toTorkError,
  type UdpHostCommand,
  type UdpHostStats,
} from '@tork/core';
import { loadDhtState, saveDhtState } from './dht-state-file.js';
import { type UdpHostPart, UdpHostThread } from './udp-host-thread.js';

export interface DhtServiceOptions {
  /** The TCP listener's host: the UDP socket binds it too (an IPv6 host binds 0.0.0.0). */
  readonly host: string;
  /**
   * The TCP listener's port: the UDP socket binds the same number, and announces it. 0: no
   * listener (nothing announced; the socket binds `udpPort`, or any free port).
   */
  readonly port: number;
  /** Routers asked when the routing table is short. Tests pass loopback nodes; see `defaultDhtBootstrap`. */
  readonly bootstrap: readonly DhtBootstrapAddress[];
  /** Where the routing table is loaded from at start and saved to at close; none: not kept. */
  readonly statePath?: string;
  /** The node's tunables (tests); each defaults to its named limit. */
  readonly settings?: DhtNodeSettings;
  /** What the service does, for the CLI's output: listening, lookups done, errors, the table saved. */
  readonly onEvent?: (event: DhtServiceEvent) => void;
  /** UDP port to bind instead of `port` (tests: 0, any free port). */
  readonly udpPort?: number;
  /** Default {@link DHT_ANNOUNCE_INTERVAL_MS}. */
  readonly announceIntervalMs?: number;
  /** Default {@link DHT_MIN_LOOKUP_INTERVAL_MS}. */
  readonly minLookupIntervalMs?: number;
  /** Longest wait for the thread's routing table at close. Default 3 s. */
  readonly closeTimeoutMs?: number;
  /**
   * The UDP host thread to run the node in, shared with uTP (one socket on the port). Default: a
   * thread of its own, built from `host`, `port` and `udpPort`.
   */
  readonly thread?: UdpHostThread;
}

export type DhtServiceEvent =
  | {
      readonly type: 'listening';
      readonly port: number;
      readonly nodeId: string;
      readonly loadedNodes: number;
    }
  | {
      readonly type: 'lookup-done';
      readonly infoHash: string;
      readonly nodes: number;
      readonly announced: number;
    }
  /** Not fatal to the torrents: the DHT stops (`failed`) or goes on without what failed. */
  | { readonly type: 'error'; readonly error: PlainTorkError; readonly fatal: boolean }
  | { readonly type: 'saved'; readonly path: string; readonly nodes: number };

interface Joined {
  readonly found: (peers: readonly PeerAddress[]) => void;
  readonly port: number;
  lastLookup: number;
  /** Some node took our announce_peer: until then, a lookup announces too. */
  announced: boolean;
}

/**
 * A lookup that announces the torrent's port at its end — or only looks when there is no port to
 * announce (port 0: `tork info <magnet>` accepts no peers, it only dials them).
 */
function visit(torrentId: string, joined: Joined): UdpHostCommand {
  return joined.port > 0 ? { type: 'announce', torrentId, port: joined.port } : { type: 'lookup', torrentId };
}

/**
 * The DHT as a peer source (core's `PeerDiscovery`, `source: 'dht'`), on the coordinator thread.
 * The DHT node itself runs in the UDP host thread, which is started on the first `join` — only a
 * public torrent joins, so a run of private torrents never opens the socket. A joined torrent is
 * looked up and announced at once and every `DHT_ANNOUNCE_INTERVAL_MS`; `lookup()` (the torrent
 * is short of peers) asks again at most every `DHT_MIN_LOOKUP_INTERVAL_MS`, and announces too
 * while no node has taken our announce yet (the routing table may have been empty at join). At `close` the routing
 * table is saved (`statePath`), so the next run starts from it rather than from the routers.
 */
export class DhtService implements PeerDiscovery {
  readonly source = 'dht' as const;
  readonly #options: DhtServiceOptions;
  readonly #thread: UdpHostThread;
  readonly #joined = new Map<string, Joined>();
  #timer: NodeJS.Timeout | undefined;
  #closing: Promise<void> | undefined;
  /** Contacts loaded from the saved table (reported with `listening`). */
  #loadedNodes = 0;
  #startedOnce = false;
  #closed = false;
  /** The thread's socket, once bound (maybe before any torrent joined: uTP started it). */
  #listening: { port: number; nodeId: string } | undefined;

  constructor(options: DhtServiceOptions) {
    this.#options = options;
    this.#thread =
      options.thread ??
      new UdpHostThread({
        host: options.host,
        port: options.port,
        ...(options.udpPort !== undefined ? { udpPort: options.udpPort } : {}),
        ...(options.closeTimeoutMs !== undefined ? { closeTimeoutMs: options.closeTimeoutMs } : {}),
      });
    this.#thread.contribute(() => this.#prepare());
    this.#thread.listen({
      listening: (port, nodeId) => {
        this.#listening = { port, nodeId };
        if (this.#startedOnce) this.#running();
      },
      peers: (event) => this.#joined.get(event.torrentId)?.found(event.peers),
      lookupDone: (event) => {
        const joined = this.#joined.get(event.torrentId);
        if (joined && event.announced > 0) joined.announced = true;
        this.#options.onEvent?.({
          type: 'lookup-done',
          infoHash: event.torrentId,
          nodes: event.nodes,
          announced: event.announced,
        });
      },
      error: (error, fatal) => {
        if (fatal) clearInterval(this.#timer);
        this.#report(error, fatal);
      },
    });
  }

  /** True once a public torrent joined (the node runs from then on). */
  get started(): boolean {
    return this.#startedOnce;
  }

  /** The UDP port bound, once listening. */
  get udpPort(): number | undefined {
    return this.#thread.port;
  }

  join(torrent: DiscoveryTorrent, found: (peers: readonly PeerAddress[]) => void): DiscoveryHandle {
    const torrentId = torrent.infoHashHex;
    if (this.#closed || this.#thread.state === 'failed' || this.#thread.state === 'closed')
      return { lookup() {}, leave() {} };
    const joined: Joined = { found, port: torrent.port, lastLookup: Date.now(), announced: false };
    this.#joined.set(torrentId, joined);
    if (!this.#startedOnce) {
      this.#startedOnce = true;
      // The node starts with this first join (`dhtOnDemand`), on a socket maybe already bound.
      if (this.#listening) this.#running();
    }
    void this.#thread.start();
    this.#send(visit(torrentId, joined));
    return {
      lookup: () => {
        if (this.#joined.get(torrentId) !== joined) return;
        const now = Date.now();
        if (now - joined.lastLookup < (this.#options.minLookupIntervalMs ?? DHT_MIN_LOOKUP_INTERVAL_MS))
          return;
        joined.lastLookup = now;
        this.#send(joined.announced ? { type: 'lookup', torrentId } : visit(torrentId, joined));
      },
      leave: () => {
        if (this.#joined.get(torrentId) !== joined) return;
        this.#joined.delete(torrentId);
        this.#send({ type: 'leave', torrentId });
      },
    };
  }

  /** The UDP host's counters; undefined when it is not running. */
  stats(): Promise<UdpHostStats | undefined> {
    return this.#thread.stats();
  }

  /** Stops the node, saves the routing table (when `statePath` is set) and ends the thread. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    const table = await this.#thread.close();
    // A node that never ran (private torrents only) keeps no table of its own to save.
    if (table && this.#startedOnce) await this.#save(table.nodeId, table.nodes);
  }

  /** The node's part of the thread's `workerData`: the saved table (or a fresh id), the routers. */
  async #prepare(): Promise<UdpHostPart> {
    const { statePath } = this.#options;
    let nodeId: string | undefined;
    let nodes: DhtContact[] = [];
    if (statePath) {
      try {
        const saved = await loadDhtState(statePath);
        if (saved) {
          nodeId = saved.nodeId;
          nodes = saved.nodes;
        }
      } catch (error) {
        this.#report(toTorkError(error, TorkErrorCode.DHT), false);
      }
    }
    this.#loadedNodes = nodes.length;
    return {
      dht: true,
      dhtOnDemand: true,
      ...(nodeId ? { nodeId } : {}),
      nodes,
      bootstrap: [...this.#options.bootstrap],
      settings: this.#options.settings ?? {},
    };
  }

  /** The node runs (a torrent joined, the socket is bound): say so, and re-announce periodically. */
  #running(): void {
    const listening = this.#listening;
    if (!listening || this.#timer) return;
    this.#options.onEvent?.({ type: 'listening', ...listening, loadedNodes: this.#loadedNodes });
    this.#timer = setInterval(
      () => this.#reannounce(),
      this.#options.announceIntervalMs ?? DHT_ANNOUNCE_INTERVAL_MS,
    );
    this.#timer.unref();
  }

  #reannounce(): void {
    const now = Date.now();
    for (const [torrentId, joined] of this.#joined) {
      joined.lastLookup = now;
      this.#send(visit(torrentId, joined));
    }
  }

  #send(command: UdpHostCommand): void {
    this.#thread.send(command);
  }

  async #save(nodeId: string, nodes: DhtContact[]): Promise<void> {
    const path = this.#options.statePath;
    if (!path) return;
    try {
      await saveDhtState(path, { version: 1, nodeId, nodes });
      this.#options.onEvent?.({ type: 'saved', path, nodes: nodes.length });
    } catch (error) {
      this.#report(toTorkError(error, TorkErrorCode.IO, `cannot save the DHT state ${path}`), false);
    }
  }

  #report(error: TorkError, fatal: boolean): void {
    this.#options.onEvent?.({ type: 'error', error: error.toPlain(), fatal });
  }
}
