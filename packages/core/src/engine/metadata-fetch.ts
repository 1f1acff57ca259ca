import { EventEmitter } from 'node:events';
import { TorkError, TorkErrorCode } from '../errors.js';
import type { ActorStats, HostEvent } from '../messages/host-event.js';
import type { Magnet } from '../metainfo/magnet.js';
import { magnetInfoHashes, metadataMatches } from '../metainfo/metadata-hashes.js';
import { type Metainfo, parseMetainfo } from '../metainfo/metainfo.js';
import type { TrackerClientOptions } from '../tracker/create-tracker-client.js';
import { Announcer } from './announcer.js';
import { CommandBatch } from './command-batch.js';
import { type IncomingConnection, PeerBook, peerBookContext } from './peer-book.js';
import { TorrentDiscovery } from './peer-discovery.js';
import { PeerExchange } from './peer-exchange.js';
import type { PeerRecord } from './peer-record.js';
import type { PieceLayerFetchEventMap } from './piece-layer-fetch.js';
import type { TorrentContext } from './torrent-options.js';

/** Longest wait for a magnet's metadata before giving up, ms. */
export const DEFAULT_METADATA_TIMEOUT_MS = 5 * 60_000;
/** Peers the metadata is fetched from at once (each fetches all of it; the first good copy wins). */
export const METADATA_FETCHERS = 2;

export interface MetadataFetchOptions {
  readonly magnet: Magnet;
  /** Peers given by hand, besides the magnet's `x.pe`. Default: none. */
  readonly peers?: readonly { readonly host: string; readonly port: number }[];
  /** Announce to the magnet's `tr` trackers. Default: true. */
  readonly useTrackers?: boolean;
  /** Tracker client options. Default: see Announcer. */
  readonly trackerClients?: TrackerClientOptions;
  /** Longest wait for the metadata, ms. Default: 300,000 (`DEFAULT_METADATA_TIMEOUT_MS`). */
  readonly timeoutMs?: number;
  /** Most connections while fetching. Default: 80 (as a torrent). */
  readonly maxPeers?: number;
  /** Coordinator tick, ms. Default: 1,000. */
  readonly tickMs?: number;
  /**
   * Learn peers from the connected ones by peer exchange (BEP 11) while fetching. Whether the
   * torrent is private is not known before its metadata: like libtorrent, a magnet's peers may
   * tell us others; we tell them nobody until the metadata is had. Default: true.
   */
  readonly pex?: boolean;
}

/** What a metadata fetch reports. */
export interface MetadataFetchEventMap {
  /** About once a second: connected peers, those that offered the metadata, those fetching it. */
  'metadata-progress': [{ peers: number; offering: number; fetching: number; elapsedMs: number }];
  /** The info dictionary arrived from `address` and hashes to the info-hash. */
  'metadata-received': [{ size: number; address: string; elapsedMs: number }];
  /** A peer sent metadata that does not hash to the info-hash: banned, the fetch goes on. */
  'metadata-rejected': [{ address: string; reason: string }];
  /** v2 and hybrid magnets: the piece layers were fetched by hash requests (see PieceLayerFetch). */
  'piece-layers-received': PieceLayerFetchEventMap['piece-layers-received'];
  /** A peer sent piece-layer hashes that do not prove (or unasked): banned, the fetch goes on. */
  'piece-layers-rejected': PieceLayerFetchEventMap['piece-layers-rejected'];
  'peer-connected': [
    {
      actorId: number;
      address: string;
      client: string;
      peerId: string;
      encryption: 'rc4' | 'plaintext' | 'none';
      transport: 'tcp' | 'utp';
    },
  ];
  /** Peers found by the DHT, LSD or a peer's PEX message: `peers` usable addresses, `added` of them new. */
  'dht-peers': [{ peers: number; added: number }];
  'lsd-peers': [{ peers: number; added: number }];
  'pex-peers': [{ peers: number; added: number }];
}

export interface FetchedMetadata {
  readonly meta: Metainfo;
  /** A .torrent of the metadata (the info dictionary as received, the magnet's trackers). */
  readonly torrent: Uint8Array;
  /** Peers that offered the metadata: good first peers for the download. */
  readonly peers: readonly { readonly host: string; readonly port: number }[];
}

/**
 * The metadata phase of a magnet link (BEP 9): a torrent known only by its info-hash finds peers
 * (the magnet's `x.pe` and `tr`, the DHT), asks a couple of those that offer the metadata for it,
 * and resolves with the info dictionary once one copy hashes to the info-hash. Its actors run in
 * the peer hosts as a magnet torrent (`add-magnet`: handshakes and `ut_metadata` only); when done,
 * `remove-torrent` closes them and the Engine starts the real torrent with the metadata. A peer
 * that sends metadata which does not hash to the info-hash is banned.
 */
export class MetadataFetch extends EventEmitter<MetadataFetchEventMap> {
  readonly magnet: Magnet;
  readonly #options: MetadataFetchOptions;
  readonly #ctx: TorrentContext;
  readonly #book: PeerBook;
  readonly #commands: CommandBatch;
  readonly #announcer: Announcer | undefined;
  readonly #discovery: TorrentDiscovery;
  readonly #pex: PeerExchange;
  /** Actors that offered the metadata, by actor id: its size. */
  readonly #offers = new Map<number, number>();
  readonly #fetching = new Set<number>();
  #tick: NodeJS.Timeout | undefined;
  #startedAt = Date.now();
  #settled = false;
  #result!: Promise<FetchedMetadata>;
  #resolve!: (result: FetchedMetadata) => void;
  #reject!: (error: TorkError) => void;

  constructor(options: MetadataFetchOptions, ctx: TorrentContext) {
    super();
    this.magnet = options.magnet;
    this.#options = options;
    this.#ctx = ctx;
    this.#commands = new CommandBatch(ctx.actors);
    this.#book = new PeerBook(
      peerBookContext(this.magnet.infoHashHex, ctx, (command) => this.#commands.send(command)),
      { maxPeers: options.maxPeers },
    );
    if (options.useTrackers !== false && this.magnet.trackers.length > 0) {
      this.#announcer = new Announcer({
        tiers: this.magnet.trackers.map((url) => [url]),
        infoHash: this.magnet.infoHash,
        peerId: ctx.peerId,
        port: ctx.port,
        // The size is not known yet: anything but 0 says "not a seed".
        totals: () => ({ uploaded: 0, downloaded: 0, left: 1 }),
        onPeers: (peers) => {
          this.#book.addFound(peers, 'tracker', Date.now());
          this.#connectMore();
        },
        onError: () => {},
        ...(options.trackerClients ? { clients: options.trackerClients } : {}),
      });
    }
    this.#discovery = new TorrentDiscovery(ctx.discovery ?? [], { ...this.magnet, port: ctx.port });
    this.#pex = new PeerExchange(this.magnet.infoHashHex, options.pex !== false);
    this.#result = new Promise((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    this.#result.catch(() => {});
  }

  /** Starts finding peers; resolves with the metadata, rejects with TORK_ERR_METADATA on timeout. */
  start(): Promise<FetchedMetadata> {
    this.#startedAt = Date.now();
    this.#commands.send({
      type: 'add-magnet',
      torrentId: this.magnet.infoHashHex,
      infoHash: this.magnet.infoHash,
      peerId: this.#ctx.peerId,
      listenPort: this.#ctx.port,
      pex: this.#pex.enabled,
      // BEP 52: a link naming the v2 hash handshakes as v2; the dictionary is checked by every hash named.
      v2: this.magnet.infoHashV2 !== undefined,
      metadataHashes: magnetInfoHashes(this.magnet),
    });
    const now = Date.now();
    this.#book.addManual([...this.magnet.peers, ...(this.#options.peers ?? [])], now);
    this.#announcer?.start();
    this.#discovery.join((source, peers) => {
      if (this.#settled) return;
      this.emit(source === 'dht' ? 'dht-peers' : 'lsd-peers', this.#book.addFound(peers, source, Date.now()));
      this.#connectMore();
    });
    if (
      this.magnet.peers.length === 0 &&
      !this.#announcer &&
      (this.#ctx.discovery ?? []).length === 0 &&
      !this.#options.peers?.length
    ) {
      this.#fail(
        new TorkError(
          TorkErrorCode.USAGE,
          'no peer source: the magnet has no tr or x.pe, no --peer was given and the DHT is off',
        ),
      );
      return this.#result;
    }
    this.#connectMore();
    this.#tick = setInterval(() => this.#onTick(), this.#options.tickMs ?? 1_000);
    return this.#result;
  }

  /** A connection the Listener accepted for this info-hash. */
  acceptIncoming(peer: IncomingConnection): boolean {
    return !this.#settled && this.#book.accept(peer, Date.now());
  }

  /** Gives up: closes the actors, stops announcing; the start promise rejects with ABORTED. */
  async stop(): Promise<void> {
    if (!this.#settled)
      this.#fail(new TorkError(TorkErrorCode.ABORTED, 'stopped while fetching the metadata'));
    await this.#announcer?.stop();
  }

  /** @internal Events of this fetch's actors, routed by the Engine. */
  handleEvent(event: Exclude<HostEvent, { type: 'stats' | 'incoming' }>): void {
    const peer = this.#book.get(event.actorId);
    if (!peer) return;
    switch (event.type) {
      case 'connected':
        if (!this.#book.connected(peer, event.peerId, event.client, Date.now(), event)) return;
        this.emit('peer-connected', {
          actorId: peer.actorId,
          address: peer.key,
          client: event.client,
          peerId: event.peerId,
          encryption: peer.encryption,
          transport: peer.transport,
        });
        this.#connectMore();
        return;
      case 'peer-info':
        if (event.client !== null) peer.agent = event.client;
        if (event.listenPort !== null) this.#book.identify(peer, event.listenPort, Date.now());
        return;
      case 'metadata-available':
        this.#offers.set(peer.actorId, event.size);
        this.#fetchMore();
        return;
      case 'metadata':
        this.#onMetadata(peer, new Uint8Array(event.info));
        return;
      case 'pex-peers': {
        if (this.#settled) return;
        const usable = this.#pex.usable(peer, event.added, false);
        if (usable.length === 0) return;
        this.emit('pex-peers', this.#book.addFound(usable, 'pex', Date.now()));
        this.#connectMore();
        return;
      }
      case 'closed': {
        this.#offers.delete(peer.actorId);
        this.#fetching.delete(peer.actorId);
        const cause = event.error.details.cause;
        if (cause === 'bad-metadata')
          this.emit('metadata-rejected', { address: peer.key, reason: event.error.message });
        this.#book.closed(peer, event.error, Date.now());
        if (!this.#settled) {
          this.#fetchMore();
          this.#connectMore();
        }
        return;
      }
      default:
        return;
    }
  }

  /** @internal */
  handleStats(stats: ActorStats): void {
    this.#book.applyStats(stats, { stall: () => {}, refused: () => {} });
  }

  #onMetadata(peer: PeerRecord, info: Uint8Array): void {
    if (this.#settled) return;
    // Checked in the host already; once more here, where it is used (cheap: one SHA-1 and/or SHA-256).
    if (!metadataMatches(info, magnetInfoHashes(this.magnet))) {
      this.#book.ban(peer, 'banned: sent metadata that does not hash to the info-hash');
      return;
    }
    let torrent: Uint8Array;
    let meta: Metainfo;
    try {
      torrent = torrentFile(info, this.magnet.trackers);
      meta = parseMetainfo(torrent);
    } catch (error) {
      // It hashes right but is not a valid info dictionary: no peer can give a better one.
      this.#fail(
        new TorkError(
          TorkErrorCode.METADATA,
          `the magnet's metadata is not a valid torrent: ${(error as Error).message}`,
        ),
      );
      return;
    }
    const peers = [...this.#offers.keys()]
      .map((actorId) => this.#book.get(actorId))
      .filter((record): record is PeerRecord => record !== undefined && !record.incoming)
      .map((record) => ({ host: record.host, port: record.port }));
    this.emit('metadata-received', {
      size: info.length,
      address: peer.key,
      elapsedMs: Date.now() - this.#startedAt,
    });
    this.#finish();
    this.#resolve({ meta, torrent, peers });
  }

  /** Up to METADATA_FETCHERS peers fetch at once; the others wait in case those fail. */
  #fetchMore(): void {
    for (const actorId of this.#offers.keys()) {
      if (this.#fetching.size >= METADATA_FETCHERS) return;
      if (this.#fetching.has(actorId)) continue;
      this.#fetching.add(actorId);
      this.#commands.send({ type: 'fetch-metadata', actorId });
    }
  }

  #connectMore(): void {
    if (this.#settled) return;
    const now = Date.now();
    if (this.#book.connectMore(now)) {
      this.#announcer?.requestPeers(now);
      this.#discovery.lookup();
    }
  }

  #onTick(): void {
    const now = Date.now();
    const timeoutMs = this.#options.timeoutMs ?? DEFAULT_METADATA_TIMEOUT_MS;
    if (now - this.#startedAt >= timeoutMs) {
      const summary = this.#book.summary();
      this.#fail(
        new TorkError(
          TorkErrorCode.METADATA,
          `no metadata after ${Math.round(timeoutMs / 1000)} s (${summary.connected} peers connected, ${this.#offers.size} offering it)`,
          { connected: summary.connected, offering: this.#offers.size },
        ),
      );
      return;
    }
    this.#connectMore();
    this.emit('metadata-progress', {
      peers: this.#book.summary().connected,
      offering: this.#offers.size,
      fetching: this.#fetching.size,
      elapsedMs: now - this.#startedAt,
    });
  }

  #fail(error: TorkError): void {
    if (this.#settled) return;
    this.#finish();
    this.#reject(error);
  }

  /** Closes this phase's actors (the host drops the magnet torrent) and forgets them. */
  #finish(): void {
    this.#settled = true;
    clearInterval(this.#tick);
    this.#discovery.leave();
    void this.#announcer?.stop();
    this.#commands.send({ type: 'remove-torrent', torrentId: this.magnet.infoHashHex });
    this.#commands.flush();
    for (const peer of [...this.#book.values()]) this.#ctx.unregister(peer.actorId);
  }
}

/**
 * A .torrent of a magnet's metadata: the info dictionary exactly as received (its SHA-1 is the
 * info-hash; a re-encoding might not be) and the magnet's trackers, keys in bencode order.
 */
export function torrentFile(info: Uint8Array, trackers: readonly string[]): Uint8Array {
  const text = (value: string) => {
    const bytes = Buffer.from(value, 'utf8');
    return Buffer.concat([Buffer.from(`${bytes.length}:`), bytes]);
  };
  const parts: Buffer[] = [Buffer.from('d')];
  if (trackers.length > 0) {
    parts.push(text('announce'), text(trackers[0]!));
    parts.push(text('announce-list'), Buffer.from('l'));
    for (const url of trackers) parts.push(Buffer.from('l'), text(url), Buffer.from('e'));
    parts.push(Buffer.from('e'));
  }
  parts.push(text('info'), Buffer.from(info), Buffer.from('e'));
  return new Uint8Array(Buffer.concat(parts));
}
