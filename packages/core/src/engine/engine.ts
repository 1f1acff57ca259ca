import { TorkError, TorkErrorCode } from '../errors.js';
import type { HostEvent } from '../messages/host-event.js';
import type { PieceHasher } from '../resume/piece-hasher.js';
import { generatePeerId } from '../wire/peer-id.js';
import type { ActorSystem } from './actor-system.js';
import type { IncomingConnection } from './peer-book.js';
import type { PeerDiscovery } from './peer-discovery.js';
import { Torrent } from './torrent.js';
import type { TorrentOptions } from './torrent-options.js';

export interface EngineOptions {
  /**
   * Where peer actors run. Production: `new ThreadActorSystem()` from `@tork/workers`; tests may
   * pass an in-memory one. The engine closes it on `close()`.
   */
  readonly actors: ActorSystem;
  /** Our BEP 20 peer id. Default: `TORK_PEER_ID_PREFIX` + 12 random characters. */
  readonly peerId?: Uint8Array;
  /** The port announced to trackers (peers may dial us there). Default: 6881. */
  readonly port?: number;
  /**
   * Hashes existing data at start (resume checks, `tork seed`). Production: a `HashPool` from
   * `@tork/workers`, so checks run in parallel off this thread. Default: hashed on this thread.
   */
  readonly hasher?: PieceHasher;
  /**
   * Peer sources beyond trackers (the DHT, local service discovery), given to every public
   * torrent. Default: none.
   */
  readonly discovery?: readonly PeerDiscovery[];
}

/**
 * The coordinator: owns torrents and routes the actor system's events to them. Runs on the main
 * thread and never touches a socket.
 */
export class Engine {
  readonly peerId: Uint8Array;
  readonly port: number;
  readonly #actors: ActorSystem;
  readonly #hasher: PieceHasher | undefined;
  readonly #discovery: readonly PeerDiscovery[];
  readonly #torrents = new Map<string, Torrent>();
  readonly #byActor = new Map<number, Torrent>();
  #nextActorId = 1;
  #closed = false;

  constructor(options: EngineOptions) {
    this.#actors = options.actors;
    this.peerId = options.peerId ?? generatePeerId();
    this.port = options.port ?? 6881;
    this.#hasher = options.hasher;
    this.#discovery = options.discovery ?? [];
    this.#actors.onEvents((events) => this.#dispatch(events));
  }

  get torrents(): readonly Torrent[] {
    return [...this.#torrents.values()];
  }

  /**
   * Adds a torrent and starts it (creates its files, then finds peers). `setup` runs before the
   * start, so listeners attached there see every event, `started` included.
   */
  async add(options: TorrentOptions, setup?: (torrent: Torrent) => void): Promise<Torrent> {
    if (this.#closed) throw new TorkError(TorkErrorCode.USAGE, 'the engine is closed');
    const id = options.meta.infoHashHex;
    if (this.#torrents.has(id)) throw new TorkError(TorkErrorCode.USAGE, `torrent ${id} is already added`);
    const torrent: Torrent = new Torrent(options, {
      actors: this.#actors,
      peerId: this.peerId,
      port: this.port,
      nextActorId: () => this.#nextActorId++,
      register: (actorId) => this.#byActor.set(actorId, torrent),
      unregister: (actorId) => this.#byActor.delete(actorId),
      ...(this.#hasher ? { hasher: this.#hasher } : {}),
      discovery: this.#discovery,
    });
    this.#torrents.set(id, torrent);
    setup?.(torrent);
    try {
      await torrent.start();
    } catch (error) {
      this.#torrents.delete(id);
      throw error;
    }
    return torrent;
  }

  /**
   * A connection the Listener accepted: hands it to the torrent its handshake names. False when
   * no running torrent takes it (unknown info-hash, full, stopped): the caller closes it.
   */
  acceptIncoming(peer: IncomingConnection & { readonly infoHashHex: string }): boolean {
    if (this.#closed) return false;
    return this.#torrents.get(peer.infoHashHex)?.acceptIncoming(peer) ?? false;
  }

  /** Stops every torrent (announcing `stopped`, closing files), then the actor system. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all([...this.#torrents.values()].map((torrent) => torrent.stop()));
    this.#torrents.clear();
    await this.#actors.close();
  }

  #dispatch(events: readonly HostEvent[]): void {
    for (const event of events) {
      if (event.type === 'stats') {
        for (const stats of event.actors) this.#byActor.get(stats.actorId)?.handleStats(stats);
      } else {
        this.#byActor.get(event.actorId)?.handleEvent(event);
      }
    }
  }
}
