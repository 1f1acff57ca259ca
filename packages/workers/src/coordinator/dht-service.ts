import { randomBytes } from 'node:crypto';
import { Worker } from 'node:worker_threads';
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
  parseUdpHostEvent,
  parseUdpHostWorkerData,
  TorkError,
  TorkErrorCode,
  toTorkError,
  type UdpHostCommand,
  type UdpHostEvent,
  type UdpHostStats,
  type UdpHostWorkerData,
} from '@tork/core';
import { loadDhtState, saveDhtState } from './dht-state-file.js';

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

const WORKER_ENTRY = new URL('../udp-host/udp-host-worker.js', import.meta.url);

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
  readonly #joined = new Map<string, Joined>();
  readonly #requests = new Map<number, (stats: UdpHostStats | undefined) => void>();
  #state: 'idle' | 'starting' | 'running' | 'failed' | 'closed' = 'idle';
  #worker: Worker | undefined;
  #starting: Promise<void> | undefined;
  #queue: UdpHostCommand[] = [];
  #timer: NodeJS.Timeout | undefined;
  #nextRequest = 1;
  #onClosed: ((event: Extract<UdpHostEvent, { type: 'closed' }>) => void) | undefined;
  #closing: Promise<void> | undefined;
  #port: number | undefined;
  /** Contacts loaded from the saved table (reported with `listening`). */
  #loadedNodes = 0;
  #startedOnce = false;
  /** True once the thread said it listens. */
  #running = false;
  /** Ends `#launch`'s wait: the thread listens, failed or exited. */
  #launched: (() => void) | undefined;

  constructor(options: DhtServiceOptions) {
    this.#options = options;
  }

  /** True once the UDP host thread was started (a public torrent joined). */
  get started(): boolean {
    return this.#startedOnce;
  }

  /** The UDP port bound, once listening. */
  get udpPort(): number | undefined {
    return this.#port;
  }

  join(torrent: DiscoveryTorrent, found: (peers: readonly PeerAddress[]) => void): DiscoveryHandle {
    const torrentId = torrent.infoHashHex;
    if (this.#state === 'closed' || this.#state === 'failed') return { lookup() {}, leave() {} };
    const joined: Joined = { found, port: torrent.port, lastLookup: Date.now(), announced: false };
    this.#joined.set(torrentId, joined);
    this.#start();
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
    if (this.#state !== 'running') return Promise.resolve(undefined);
    const requestId = this.#nextRequest++;
    return new Promise((resolve) => {
      this.#requests.set(requestId, resolve);
      this.#send({ type: 'stats', requestId });
    });
  }

  /** Stops the node, saves the routing table (when `statePath` is set) and ends the thread. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    clearInterval(this.#timer);
    const wasStarting = this.#starting;
    const before = this.#state;
    this.#state = 'closed';
    if (before === 'idle') return;
    await wasStarting;
    const worker = this.#worker;
    if (!worker) return;
    if (before !== 'failed' && this.#running) {
      const table = await new Promise<Extract<UdpHostEvent, { type: 'closed' }> | undefined>((resolve) => {
        const timer = setTimeout(() => resolve(undefined), this.#options.closeTimeoutMs ?? 3_000);
        this.#onClosed = (event) => {
          clearTimeout(timer);
          resolve(event);
        };
        worker.once('exit', () => {
          clearTimeout(timer);
          resolve(undefined);
        });
        worker.postMessage({ type: 'close' } satisfies UdpHostCommand);
      });
      if (table) await this.#save(table.nodeId, table.nodes);
    }
    for (const resolve of this.#requests.values()) resolve(undefined);
    this.#requests.clear();
    await worker.terminate();
    this.#worker = undefined;
  }

  #start(): void {
    if (this.#state !== 'idle') return;
    this.#state = 'starting';
    this.#startedOnce = true;
    this.#starting = this.#launch().catch((error: unknown) =>
      this.#fail(toTorkError(error, TorkErrorCode.DHT)),
    );
  }

  async #launch(): Promise<void> {
    const { statePath } = this.#options;
    let nodeId = randomBytes(20).toString('hex');
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
    if (this.#state !== 'starting') return;
    this.#loadedNodes = nodes.length;
    let workerData: UdpHostWorkerData;
    try {
      workerData = parseUdpHostWorkerData({
        host: this.#options.host,
        port: this.#options.udpPort ?? this.#options.port,
        peerPort: this.#options.port,
        nodeId,
        nodes,
        bootstrap: [...this.#options.bootstrap],
        settings: this.#options.settings ?? {},
      });
    } catch (error) {
      throw new TorkError(TorkErrorCode.USAGE, `DHT settings refused: ${(error as Error).message}`);
    }
    const execArgv = process.execArgv.filter((arg) => !arg.startsWith('--input-type'));
    const worker = new Worker(WORKER_ENTRY, { workerData, execArgv });
    this.#worker = worker;
    worker.on('message', (raw: unknown) => this.#onMessage(raw));
    worker.on('error', (error) => this.#fail(toTorkError(error, TorkErrorCode.DHT)));
    await new Promise<void>((resolve) => {
      this.#launched = resolve;
      worker.once('exit', (code) => {
        if (this.#state !== 'closed')
          this.#fail(new TorkError(TorkErrorCode.DHT, `the UDP host thread exited (code ${code})`));
        resolve();
      });
    });
  }

  // Thread boundary: everything the UDP host sends is parsed first; a malformed event is
  // reported and dropped (it cannot be acted on), the thread goes on.
  #onMessage(raw: unknown): void {
    let event: UdpHostEvent;
    try {
      event = parseUdpHostEvent(raw);
    } catch (error) {
      this.#report(toTorkError(error, TorkErrorCode.THREAD_MESSAGE), false);
      return;
    }
    switch (event.type) {
      case 'listening':
        this.#port = event.port;
        this.#running = true;
        if (this.#state === 'starting') this.#state = 'running';
        this.#options.onEvent?.({
          type: 'listening',
          port: event.port,
          nodeId: event.nodeId,
          loadedNodes: this.#loadedNodes,
        });
        for (const command of this.#queue.splice(0)) this.#worker?.postMessage(command);
        this.#timer = setInterval(
          () => this.#reannounce(),
          this.#options.announceIntervalMs ?? DHT_ANNOUNCE_INTERVAL_MS,
        );
        this.#timer.unref();
        this.#launched?.();
        break;
      case 'failed':
        this.#fail(TorkError.fromPlain(event.error));
        break;
      case 'error':
        this.#report(TorkError.fromPlain(event.error), false);
        break;
      case 'peers':
        this.#joined.get(event.torrentId)?.found(event.peers);
        break;
      case 'lookup-done': {
        const joined = this.#joined.get(event.torrentId);
        if (joined && event.announced > 0) joined.announced = true;
        this.#options.onEvent?.({
          type: 'lookup-done',
          infoHash: event.torrentId,
          nodes: event.nodes,
          announced: event.announced,
        });
        break;
      }
      case 'stats':
        this.#requests.get(event.requestId)?.(event.stats);
        this.#requests.delete(event.requestId);
        break;
      case 'closed':
        this.#onClosed?.(event);
        break;
    }
  }

  #reannounce(): void {
    const now = Date.now();
    for (const [torrentId, joined] of this.#joined) {
      joined.lastLookup = now;
      this.#send(visit(torrentId, joined));
    }
  }

  #send(command: UdpHostCommand): void {
    if (this.#state === 'running') this.#worker?.postMessage(command);
    else if (this.#state === 'starting') this.#queue.push(command);
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

  #fail(error: TorkError): void {
    if (this.#state === 'failed' || this.#state === 'closed') return;
    this.#state = 'failed';
    this.#queue = [];
    clearInterval(this.#timer);
    this.#report(error, true);
    this.#launched?.();
  }

  #report(error: TorkError, fatal: boolean): void {
    this.#options.onEvent?.({ type: 'error', error: error.toPlain(), fatal });
  }
}
