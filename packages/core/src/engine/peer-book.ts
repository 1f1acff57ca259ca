import { networkInterfaces } from 'node:os';
import type { MessagePort } from 'node:worker_threads';
import type { PlainTorkError } from '../errors.js';
import type { HostCommand } from '../messages/host-command.js';
import {
  type ConnectionEncryption,
  dialEncryption,
  type EncryptionPolicy,
} from '../mse/encryption-policy.js';

type HostCommandOf<T extends HostCommand['type']> = Extract<HostCommand, { type: T }>;

import type { ActorStats } from '../messages/host-event.js';
import type { PeerAddress } from '../tracker/types.js';
import type { ChokerPeer } from './choker.js';
import { PeerPool, type PeerSource, peerKey } from './peer-pool.js';
import { PeerRecord } from './peer-record.js';
import type { PeerView } from './progress.js';
import type { TorrentEventMap } from './torrent-events.js';
import {
  dialTransportKind,
  isTransportFailure,
  type PeerTransportKind,
  type TransportPolicy,
} from './transport-policy.js';
import { webSeedTargets } from './web-seed-targets.js';

/** Most peer connections of a torrent (connected and connecting). */
export const DEFAULT_MAX_PEERS = 80;
/** Most connection attempts of a torrent under way at once. */
export const DEFAULT_MAX_CONNECTING = 24;
/** Seconds a peer may choke us (or have nothing we need) before it is rotated out when better candidates wait. */
export const DEFAULT_USELESS_AFTER_SECONDS = 60;

/** A connection the Listener accepted and matched to this torrent by its handshake. */
export interface IncomingConnection {
  /** `host:port` of the remote end. */
  readonly address: string;
  /** The actor's end of the relay (moved to the peer host); absent for a `hosted` connection. */
  readonly relay?: MessagePort;
  /**
   * A connection a peer host accepted on its own socket and holds (`incoming` event): the host's
   * index and the connection's id there. The actor is placed on that host.
   */
  readonly hosted?: { readonly host: number; readonly connection: number };
  /** Bytes read so far, the peer's handshake first (decrypted when `mse` is set). */
  readonly initial: Uint8Array;
  /** The Listener ran an MSE handshake: the streams' states for the actor. */
  readonly mse?: HostCommandOf<'accept'>['mse'];
  /** What carries it: a TCP socket (the Listener's) or uTP (the UDP host's). Default: tcp. */
  readonly transport?: PeerTransportKind;
}

/** What `applyStats` reports (the Torrent's `peer-stall` and `peer-requests-refused` events). */
export interface PeerStatsReport {
  stall(event: TorrentEventMap['peer-stall'][0]): void;
  refused(event: TorrentEventMap['peer-requests-refused'][0]): void;
  /** BEP 52 hash requests answered or rejected grew. Default: not reported. */
  hashes?(event: TorrentEventMap['peer-hash-requests'][0]): void;
}

/** How the book reaches the rest of the coordinator. */
export interface PeerBookContext {
  readonly torrentId: string;
  /** Our peer id, hex: decides which of two twin connections stays. */
  readonly ourPeerIdHex: string;
  /** The port we listen on: tracker peers at a local address on it are ourselves. */
  readonly listenPort: number;
  readonly nextActorId: () => number;
  /** The engine routes the actor's events to this torrent from now on / no longer. */
  readonly register: (actorId: number) => void;
  readonly unregister: (actorId: number) => void;
  readonly send: (command: HostCommand) => void;
  /** How connections are encrypted (MSE/PE). Default: `prefer`. */
  readonly encryption?: EncryptionPolicy;
  /** Which transports are dialled (`--transport`). Default: `both`. */
  readonly transport?: TransportPolicy;
  /**
   * Connections the engine still admits over all its torrents (its global cap minus what is open);
   * no dial or accept goes beyond it. Default: no engine-wide cap.
   */
  readonly engineRoom?: () => number;
}

export interface PeerBookOptions {
  /** Most peer connections (connected and connecting). Default 80 (`DEFAULT_MAX_PEERS`). */
  readonly maxPeers?: number;
  /** Most connection attempts under way at once. Default 24 (`DEFAULT_MAX_CONNECTING`). */
  readonly maxConnecting?: number;
  /** See `DEFAULT_USELESS_AFTER_SECONDS`. Default 60. */
  readonly uselessAfterSeconds?: number;
}

/**
 * The book's context for a torrent (or a magnet's metadata fetch) from the engine's wiring: the
 * same for both, so built in one place.
 */
export function peerBookContext(
  torrentId: string,
  ctx: {
    readonly peerId: Uint8Array;
    readonly port: number;
    readonly nextActorId: () => number;
    readonly register: (actorId: number) => void;
    readonly unregister: (actorId: number) => void;
    readonly encryption?: EncryptionPolicy;
    readonly transport?: TransportPolicy;
    readonly engineRoom?: () => number;
  },
  send: (command: HostCommand) => void,
): PeerBookContext {
  return {
    torrentId,
    ourPeerIdHex: Buffer.from(ctx.peerId).toString('hex'),
    listenPort: ctx.port,
    nextActorId: ctx.nextActorId,
    register: ctx.register,
    unregister: ctx.unregister,
    send,
    ...(ctx.encryption ? { encryption: ctx.encryption } : {}),
    ...(ctx.transport ? { transport: ctx.transport } : {}),
    ...(ctx.engineRoom ? { engineRoom: ctx.engineRoom } : {}),
  };
}

/**
 * A torrent's peers: the addresses it may dial (the `PeerPool`, with backoff and bans) and the
 * connections it has (one `PeerRecord` per actor): dialling up to the limits, accepting incoming
 * connections, resolving twin connections, rotating useless peers out, and the counters that
 * outlive a connection. It decides nothing about pieces (that is the assignment policy's).
 */
export class PeerBook {
  readonly #ctx: PeerBookContext;
  readonly #pool = new PeerPool();
  readonly #peers = new Map<number, PeerRecord>();
  #maxPeers: number;
  readonly #maxConnecting: number;
  readonly #uselessAfterMs: number;
  #closedDownloaded = 0;
  #closedUploaded = 0;
  readonly #closedBySource: Partial<Record<PeerSource, number>> = {};
  #banned = 0;

  constructor(ctx: PeerBookContext, options: PeerBookOptions = {}) {
    this.#ctx = ctx;
    this.#maxPeers = checkedMaxPeers(options.maxPeers ?? DEFAULT_MAX_PEERS);
    this.#maxConnecting = options.maxConnecting ?? DEFAULT_MAX_CONNECTING;
    this.#uselessAfterMs = (options.uselessAfterSeconds ?? DEFAULT_USELESS_AFTER_SECONDS) * 1000;
  }

  get size(): number {
    return this.#peers.size;
  }

  /** Most peer connections (connected and connecting; web seeds apart). */
  get maxPeers(): number {
    return this.#maxPeers;
  }

  /**
   * A new peer limit, at once: raised, the next `connectMore` dials up to it; lowered below the
   * connections open, the surplus closes now, worst first (attempts still connecting, then the
   * connected peers giving and taking the least). Returns how many it closed.
   */
  setMaxPeers(maxPeers: number): number {
    this.#maxPeers = checkedMaxPeers(maxPeers);
    const open = [...this.#peers.values()].filter((peer) => !peer.closing && peer.source !== 'webseed');
    const surplus = open.length - this.#maxPeers;
    if (surplus <= 0) return 0;
    const worth = (peer: PeerRecord) => (peer.stats?.downloadRate ?? 0) + (peer.stats?.uploadRate ?? 0);
    open.sort(
      (a, b) =>
        Number(a.connected) - Number(b.connected) ||
        worth(a) - worth(b) ||
        // Among equals, the newest goes: the older ones have proved themselves longer.
        b.openedAt - a.openedAt ||
        b.actorId - a.actorId,
    );
    for (const peer of open.slice(0, surplus)) this.close(peer, `peer limit lowered to ${this.#maxPeers}`);
    return surplus;
  }

  get(actorId: number): PeerRecord | undefined {
    return this.#peers.get(actorId);
  }

  values(): IterableIterator<PeerRecord> {
    return this.#peers.values();
  }

  /** Addresses given by hand (`--peer`): never given up on. */
  addManual(addresses: readonly PeerAddress[], now: number): void {
    this.#pool.add(addresses, 'manual', now);
  }

  /**
   * Addresses a tracker listed; our own listening address among them is never dialled. Returns
   * how many were others than us.
   */
  addFromTracker(addresses: readonly PeerAddress[], now: number): number {
    return this.addFound(addresses, 'tracker', now).peers;
  }

  /**
   * Addresses from a peer source (tracker, DHT, PEX, LSD); our own listening address is dropped.
   * Returns how many were others than us, and how many of those were new.
   */
  addFound(
    addresses: readonly PeerAddress[],
    source: PeerSource,
    now: number,
  ): { peers: number; added: number } {
    const others = addresses.filter(
      (peer) => !(peer.port === this.#ctx.listenPort && isLocalAddress(peer.host)),
    );
    return { peers: others.length, added: this.#pool.add(others, source, now) };
  }

  /**
   * A peer that dialled us told the port it listens on (BEP 10 `p`): its listen address is this
   * connection, and is not dialled while it lasts (a tracker lists that address, not the
   * ephemeral port the peer dialled from).
   */
  identify(peer: PeerRecord, listenPort: number, now: number): void {
    if (peer.incoming && peer.listenPort === undefined) peer.listenPort = listenPort;
    if (!peer.incoming || peer.closing || peer.aliasKey !== undefined || peer.port === listenPort) return;
    peer.aliasKey = this.#pool.alias(peer.host, listenPort, now);
  }

  /**
   * Runs each web seed (BEP 19) as an actor; URLs that are not http(s) are returned with the
   * reason, not fetched. A web seed is no pool address: it is never redialled (its actor retries
   * with backoff itself) and, once closed, it is gone.
   */
  addWebSeeds(
    urls: readonly string[],
    layout: Parameters<typeof webSeedTargets>[1],
    now: number,
  ): Array<{ url: string; reason: string }> {
    const { targets, ignored } = webSeedTargets(urls, layout);
    for (const { url, host, port, files } of targets) {
      const record = new PeerRecord(this.#ctx.nextActorId(), url, host, port, now, false, 'webseed');
      this.#peers.set(record.actorId, record);
      this.#ctx.register(record.actorId);
      this.#ctx.send({
        type: 'web-seed',
        actorId: record.actorId,
        torrentId: this.#ctx.torrentId,
        url,
        files,
      });
    }
    return ignored;
  }

  /**
   * Dials ready addresses while under both limits (`seeding`: not the peers last seen as seeds).
   * Returns true when the torrent wants more addresses.
   */
  connectMore(now: number, seeding = false): boolean {
    let connecting = 0;
    let webSeeds = 0;
    for (const peer of this.#peers.values()) {
      // Web seeds take no peer slot: `--max-peers` counts BitTorrent connections.
      if (peer.source === 'webseed') webSeeds++;
      else if (!peer.connected) connecting++;
    }
    const peers = this.#peers.size - webSeeds;
    const room = Math.min(
      this.#maxPeers - peers,
      this.#maxConnecting - connecting,
      this.#ctx.engineRoom?.() ?? Number.POSITIVE_INFINITY,
    );
    if (room > 0) {
      for (const address of this.#pool.take(room, now, seeding)) {
        const peer = this.#add(address.host, address.port, false, now, address.source);
        peer.dialled = dialEncryption(this.#ctx.encryption ?? 'prefer', address.plainRetry);
        peer.plainRetry = address.plainRetry;
        peer.dialledTransport = dialTransportKind(this.#ctx.transport ?? 'both', address.transport);
        this.#ctx.send({
          type: 'connect',
          actorId: peer.actorId,
          torrentId: this.#ctx.torrentId,
          host: address.host,
          port: address.port,
          ...(peer.dialled !== 'none' ? { encryption: peer.dialled } : {}),
          ...(peer.dialledTransport === 'utp' ? { transport: 'utp' as const } : {}),
        });
      }
    }
    return peers < this.#maxPeers / 2;
  }

  /** Takes a connection the Listener accepted, unless full or banned (then the Listener closes it). */
  accept(incoming: IncomingConnection, now: number): boolean {
    if (this.#peers.size >= this.#maxPeers || (this.#ctx.engineRoom?.() ?? 1) <= 0) return false;
    const colon = incoming.address.lastIndexOf(':');
    const host = incoming.address.slice(0, colon).replace(/^\[|\]$/g, '');
    const port = Number(incoming.address.slice(colon + 1));
    if (this.#pool.isBanned(peerKey(host, port))) return false;
    const { actorId } = this.#add(host, port, true, now);
    this.#ctx.send({
      type: 'accept',
      actorId,
      torrentId: this.#ctx.torrentId,
      address: incoming.address,
      ...(incoming.relay ? { relay: incoming.relay } : {}),
      ...(incoming.hosted
        ? { hosted: { host: incoming.hosted.host, connection: incoming.hosted.connection } }
        : {}),
      initial: incoming.initial,
      ...(incoming.mse ? { mse: incoming.mse } : {}),
      ...(incoming.transport === 'utp' ? { transport: 'utp' as const } : {}),
    });
    return true;
  }

  /**
   * The handshake is done. Two tork-like peers that both dial each other end up with two
   * connections: both sides keep the one the peer with the smaller id started, so they agree on
   * which to close. Returns false when this connection is the one closed.
   */
  connected(
    peer: PeerRecord,
    peerId: string,
    client: string,
    now: number,
    how: { encryption?: ConnectionEncryption; transport?: 'tcp' | 'utp' } = {},
  ): boolean {
    peer.encryption = how.encryption ?? 'none';
    peer.transport = how.transport ?? 'tcp';
    for (const other of this.#peers.values()) {
      if (other === peer || !other.connected || other.closing || other.peerId !== peerId) continue;
      const keepOutgoing = this.#ctx.ourPeerIdHex < peerId;
      const drop = peer.incoming === keepOutgoing ? peer : other;
      const kept = drop === peer ? other : peer;
      this.close(drop, 'duplicate connection to the same peer');
      // The dialled address is the kept (incoming) connection's peer: not dialled again for it.
      if (!drop.incoming && kept.incoming) this.identify(kept, drop.port, now);
      if (drop === peer) return false;
      break;
    }
    peer.peerId = peerId;
    peer.connected = true;
    peer.client = client;
    this.#pool.connected(peer.key, peer.incoming ? undefined : peer.dialledTransport);
    return true;
  }

  /** Asks the peer's actor to close; its `closed` event follows. */
  close(peer: PeerRecord, reason: string): void {
    if (peer.closing) return;
    peer.closing = true;
    this.#ctx.send({ type: 'close', actorId: peer.actorId, reason });
  }

  /** Never dial this peer's address again for this torrent; the connection closes. */
  ban(peer: PeerRecord, reason: string): void {
    this.#pool.ban(peer.key);
    peer.banned = true;
    this.#banned++;
    this.close(peer, reason);
  }

  /** The actor is gone. Returns whether its address is banned. */
  closed(peer: PeerRecord, error: PlainTorkError, now: number): boolean {
    this.#peers.delete(peer.actorId);
    this.#ctx.unregister(peer.actorId);
    this.#closedDownloaded += peer.stats?.downloaded ?? 0;
    const bySource = this.#closedBySource;
    bySource[peer.source] = (bySource[peer.source] ?? 0) + (peer.stats?.downloaded ?? 0);
    this.#closedUploaded += peer.stats?.uploaded ?? 0;
    const banned = peer.banned || this.#pool.isBanned(peer.key);
    // A web seed has no pool address: nothing to back off or redial.
    if (peer.source === 'webseed') return banned;
    // We dialled our own listening port (a tracker lists us among the peers): never again.
    if (error.details.self) this.#pool.ban(peer.key);
    const otherTransport =
      !peer.incoming && (this.#ctx.transport ?? 'both') === 'both'
        ? peer.dialledTransport === 'tcp'
          ? 'utp'
          : 'tcp'
        : undefined;
    // `prefer`: an encrypted dial that failed at its MSE handshake is tried again in plain; a plain
    // one that the peer then closed at the BitTorrent handshake, encrypted again (they alternate;
    // under `both` the other transport is tried too: the peer may not take this one).
    if (peer.dialled === 'prefer' && !peer.connected && error.details.phase === 'mse') {
      this.#pool.encryptionFailed(peer.key, now);
    } else if (
      peer.plainRetry &&
      !peer.connected &&
      error.details.phase === 'handshake' &&
      (this.#ctx.encryption ?? 'prefer') === 'prefer'
    ) {
      this.#pool.plainFailed(peer.key, now, otherTransport);
    } else if (otherTransport && !peer.connected && isTransportFailure(error)) {
      // `both`: a peer that refuses or ignores one transport may speak the other (uTP-only peers).
      this.#pool.transportFailed(peer.key, otherTransport, now);
    } else this.#pool.disconnected(peer.key, peer.piecesReceived === 0, now);
    if (peer.aliasKey !== undefined) this.#pool.unalias(peer.aliasKey, now);
    // A connection that got as far as the peer's pieces says whether it is a seed; one that never
    // did (refused, a handshake cut short) says nothing, and the last answer stands.
    if (peer.connected) {
      this.#pool.lastSeenSeed(peer.key, peer.seed);
      if (peer.aliasKey !== undefined) this.#pool.lastSeenSeed(peer.aliasKey, peer.seed);
    }
    return banned;
  }

  /**
   * Peers that choke us or have nothing we need for a long time make room for untried ones (one
   * per call). `held` says how many pieces a peer holds: a peer still holding work stays.
   */
  rotateUseless(now: number, held: (actorId: number) => number): void {
    if (this.#peers.size < this.#maxPeers || this.#pool.candidates === 0) return;
    for (const peer of this.#peers.values()) {
      if (!peer.connected || peer.closing || now - peer.usefulAt < this.#uselessAfterMs) continue;
      // A web seed takes no peer slot: rotating it out makes no room.
      if (peer.source === 'webseed') continue;
      // A snubbed peer gets no pieces: as useless as one that chokes us.
      const useless = peer.peerChoking || !peer.amInterested || peer.snubbed;
      if (useless && held(peer.actorId) === 0) {
        this.close(
          peer,
          peer.peerChoking
            ? 'rotated out: choked us for too long'
            : peer.amInterested
              ? 'rotated out: snubbed us'
              : 'rotated out: has nothing we need',
        );
        return;
      }
    }
  }

  /** A peer's counters from its host; what users should see change goes to `report`. */
  applyStats(stats: ActorStats, report: PeerStatsReport): void {
    const peer = this.#peers.get(stats.actorId);
    if (!peer) return;
    const before = peer.stats;
    peer.stats = stats;
    peer.peerInterested = stats.peerInterested;
    const answered = stats.hashRequestsAnswered ?? 0;
    const rejected = stats.hashRequestsRejected ?? 0;
    if (answered > (before?.hashRequestsAnswered ?? 0) || rejected > (before?.hashRequestsRejected ?? 0)) {
      report.hashes?.({ actorId: peer.actorId, address: peer.key, answered, rejected });
    }
    if (stats.downloadRate > 0) peer.knownRate = stats.downloadRate;
    const base = { actorId: peer.actorId, address: peer.key };
    if (stats.uploadStalled !== peer.uploadStalled) {
      peer.uploadStalled = stats.uploadStalled;
      report.stall({ ...base, direction: 'upload', stalled: stats.uploadStalled });
    }
    if (stats.snubbed !== peer.downloadStalled) {
      peer.downloadStalled = stats.snubbed;
      report.stall({ ...base, direction: 'download', stalled: stats.snubbed });
    }
    if (stats.requestsRefused > peer.refusedReported) {
      peer.refusedReported = stats.requestsRefused;
      report.refused({ ...base, refused: stats.requestsRefused, queued: stats.requestsQueued });
    }
  }

  /** The choker's view of the open connections. */
  chokerPeers(): ChokerPeer[] {
    const peers: ChokerPeer[] = [];
    for (const peer of this.#peers.values()) {
      // A web seed takes nothing from us: no upload slot.
      if (!peer.connected || peer.closing || peer.source === 'webseed') continue;
      peers.push({
        actorId: peer.actorId,
        interested: peer.peerInterested,
        downloadRate: peer.stats?.downloadRate ?? 0,
        uploadRate: peer.stats?.uploadRate ?? 0,
        connectedAt: peer.openedAt,
        seed: peer.seed,
      });
    }
    return peers;
  }

  /** Sends the choker's decision where it changes something: chokes before unchokes. */
  applyChokes(unchoked: ReadonlySet<number>): void {
    // Chokes first: never more peers unchoked than the slots, even within one batch.
    for (const pass of [false, true]) {
      for (const peer of this.#peers.values()) {
        if (!peer.connected || peer.closing) continue;
        const wanted = unchoked.has(peer.actorId);
        if (wanted === peer.unchoked || wanted !== pass) continue;
        peer.unchoked = wanted;
        this.#ctx.send({ type: 'choke', actorId: peer.actorId, choked: !wanted });
      }
    }
  }

  /** Resolves once every connection's `closed` event arrived, or after `ms`. */
  whenEmpty(ms: number): Promise<void> {
    if (this.#peers.size === 0) return Promise.resolve();
    // Polled with setTimeout and a count, not Date: tests run the coordinator on a mocked clock.
    return new Promise((resolve) => {
      let polls = Math.ceil(ms / 10);
      const check = () => {
        if (this.#peers.size === 0 || --polls <= 0) resolve();
        else setTimeout(check, 10);
      };
      check();
    });
  }

  /** Payload bytes sent to peers in this run, closed connections included. */
  uploaded(): number {
    let total = this.#closedUploaded;
    for (const peer of this.#peers.values()) total += peer.stats?.uploaded ?? 0;
    return total;
  }

  /** Payload bytes received in this run by source (web seeds apart from peers), closed connections included. */
  downloadedBySource(): Partial<Record<PeerSource, number>> {
    const totals = { ...this.#closedBySource };
    for (const peer of this.#peers.values())
      totals[peer.source] = (totals[peer.source] ?? 0) + (peer.stats?.downloaded ?? 0);
    return totals;
  }

  /** Payload bytes received from peers in this run, as their actors counted them. */
  downloaded(): number {
    let total = this.#closedDownloaded;
    for (const peer of this.#peers.values()) total += peer.stats?.downloaded ?? 0;
    return total;
  }

  /** The peer counts and rates of `TorrentProgress`. */
  summary(): {
    connected: number;
    seeds: number;
    leechers: number;
    connecting: number;
    stalled: number;
    sources: Partial<Record<PeerSource, number>>;
    downloadedBySource: Partial<Record<PeerSource, number>>;
    known: number;
    banned: number;
    downloadRate: number;
    uploadRate: number;
  } {
    let connected = 0;
    let seeds = 0;
    let connecting = 0;
    let stalled = 0;
    const sources: Partial<Record<PeerSource, number>> = {};
    let downloadRate = 0;
    let uploadRate = 0;
    for (const peer of this.#peers.values()) {
      if (peer.connected) {
        connected++;
        if (peer.seed) seeds++;
        if (peer.uploadStalled || peer.downloadStalled) stalled++;
        sources[peer.source] = (sources[peer.source] ?? 0) + 1;
      } else connecting++;
      downloadRate += peer.stats?.downloadRate ?? 0;
      uploadRate += peer.stats?.uploadRate ?? 0;
    }
    return {
      connected,
      seeds,
      leechers: connected - seeds,
      connecting,
      stalled,
      sources,
      downloadedBySource: this.downloadedBySource(),
      known: this.#pool.candidates,
      banned: this.#banned,
      downloadRate,
      uploadRate,
    };
  }

  /** The per-peer view, fastest first; `held` gives each peer's assigned pieces. */
  views(held: (actorId: number) => number): PeerView[] {
    const views: PeerView[] = [];
    for (const peer of this.#peers.values()) {
      if (!peer.connected) continue;
      views.push({
        actorId: peer.actorId,
        address: peer.key,
        client: peer.client,
        seed: peer.seed,
        downloaded: peer.stats?.downloaded ?? 0,
        downloadRate: peer.stats?.downloadRate ?? 0,
        queueDepth: peer.stats?.queueDepth ?? 0,
        targetQueueDepth: peer.stats?.targetQueueDepth ?? 0,
        peerChoking: peer.peerChoking,
        snubbed: peer.stats?.snubbed ?? false,
        assigned: held(peer.actorId),
        agent: peer.agent,
        uploaded: peer.stats?.uploaded ?? 0,
        uploadRate: peer.stats?.uploadRate ?? 0,
        amChoking: !peer.unchoked,
        requestsQueued: peer.stats?.requestsQueued ?? 0,
        requestsRefused: peer.stats?.requestsRefused ?? 0,
        stalled: peer.uploadStalled ? 'upload' : peer.downloadStalled ? 'download' : null,
        source: peer.source,
        encryption: peer.encryption,
        transport: peer.transport,
      });
    }
    return views.sort((a, b) => b.downloadRate - a.downloadRate);
  }

  /** A new connection's record (dialled or accepted), registered with the engine. */
  #add(host: string, port: number, incoming: boolean, now: number, source?: PeerSource): PeerRecord {
    const record = new PeerRecord(
      this.#ctx.nextActorId(),
      peerKey(host, port),
      host,
      port,
      now,
      incoming,
      source ?? (incoming ? 'incoming' : 'manual'),
    );
    this.#peers.set(record.actorId, record);
    this.#ctx.register(record.actorId);
    return record;
  }
}

function checkedMaxPeers(maxPeers: number): number {
  if (!Number.isInteger(maxPeers) || maxPeers < 1)
    throw new RangeError(`maxPeers must be a positive integer, got ${maxPeers}`);
  return maxPeers;
}

/** Addresses of this machine: loopback, unspecified, and every interface's. */
function isLocalAddress(host: string): boolean {
  if (host.startsWith('127.') || host === '::1' || host === '0.0.0.0' || host === '::') return true;
  localAddresses ??= new Set(
    Object.values(networkInterfaces())
      .flat()
      .map((info) => info?.address)
      .filter((address): address is string => address !== undefined),
  );
  return localAddresses.has(host);
}
let localAddresses: Set<string> | undefined;
