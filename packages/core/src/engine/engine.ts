import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TorkError, TorkErrorCode } from '../errors.js';
import type { ActorEvent, ActorStats, HostEvent } from '../messages/host-event.js';
import type { Magnet } from '../metainfo/magnet.js';
import { type Metainfo, parseMetainfo } from '../metainfo/metainfo.js';
import { v2PieceChecks } from '../metainfo/v2-piece-checks.js';
import { DEFAULT_ENCRYPTION_POLICY, type EncryptionPolicy } from '../mse/encryption-policy.js';
import { mseTorrentKey } from '../mse/mse-handshake.js';
import type { PieceHasher } from '../resume/piece-hasher.js';
import { defaultResumeDir } from '../resume/resume-store.js';
import { type FilePriority, selectOnlyPriorities } from '../selection/file-priorities.js';
import type { TraceCounterSources, TraceRecorder } from '../trace/trace-recorder.js';
import { TracingActorSystem } from '../trace/tracing-actor-system.js';
import { generatePeerId } from '../wire/peer-id.js';
import type { ActorSystem } from './actor-system.js';
import { CommandBatch } from './command-batch.js';
import { hybridV2WireHash } from './hybrid-hashes.js';
import {
  DEFAULT_METADATA_TIMEOUT_MS,
  type FetchedMetadata,
  MetadataFetch,
  type MetadataFetchOptions,
} from './metadata-fetch.js';
import type { IncomingConnection } from './peer-book.js';
import type { PeerDiscovery } from './peer-discovery.js';
import {
  type FetchedPieceLayers,
  HYBRID_LAYER_PATIENCE_MS,
  missingPieceLayers,
  PieceLayerFetch,
  withPieceLayers,
} from './piece-layer-fetch.js';
import { RateGovernor, RateLimiter, type RateLimits } from './rate-governor.js';
import { Torrent } from './torrent.js';
import type { TorrentContext, TorrentOptions } from './torrent-options.js';
import { DEFAULT_TRANSPORT_POLICY, type TransportPolicy } from './transport-policy.js';

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
  /**
   * Message stream encryption (MSE/PE) of the connections we dial; the Listener applies the same
   * policy to incoming ones. Default: `prefer` (see `EncryptionPolicy`).
   */
  readonly encryption?: EncryptionPolicy;
  /**
   * Which transports are dialled: TCP, uTP (through the actor system's UDP host) or both, TCP
   * first. Default: `both` (see `TransportPolicy`). With no UDP host in the actor system, uTP dials
   * fail at once and `both` falls back to TCP.
   */
  readonly transport?: TransportPolicy;
  /**
   * Caps on piece data for all torrents together, bytes a second (`--max-download`,
   * `--max-upload`); each torrent may have its own too. Default: none.
   */
  readonly rateLimits?: RateLimits;
  /**
   * Most peer connections over all torrents together (connected and connecting, metadata fetches
   * and web seeds included); each torrent's own `maxPeers` applies as well. Change it with
   * `setPeerLimits`. Default: 10,000 (`DEFAULT_ENGINE_MAX_PEERS`).
   */
  readonly maxPeers?: number;
  /**
   * Regular upload slots over all torrents together: each torrent with peers gets an equal share
   * (at least one) of them, never more than its own `uploadSlots`; each keeps its optimistic
   * unchoke on top. Default: none (each torrent has its own slots).
   */
  readonly uploadSlots?: number;
  /**
   * Records a trace (Chrome Trace Event format) of the run: peers, pieces, the coordinator's event
   * loop, the disk queue and bytes in flight; write `trace.toJSON()` after `close()`. Default:
   * none (the actor system is used directly, nothing is recorded).
   */
  readonly trace?: TraceRecorder;
}

/** `EngineOptions.maxPeers` default: as many as one torrent may have (`--max-peers` takes up to 10,000). */
export const DEFAULT_ENGINE_MAX_PEERS = 10_000;

/** The engine's caps over all torrents together (`Engine.peerLimits`). */
export interface EnginePeerLimits {
  readonly maxPeers: number;
  /** Undefined: no cap over all torrents. */
  readonly uploadSlots: number | undefined;
}

/** A torrent or a magnet's metadata fetch: what an actor's events go to. */
interface ActorOwner {
  handleEvent(event: ActorEvent): void;
  /**
   * A verified piece that came packed with others (`pieces`): `data` is a view of the shared
   * buffer; `release` once it is written or dropped (the buffer goes back when all are released).
   * Absent: the owner takes no pieces (a metadata fetch) and they are released at once.
   */
  handlePiece?(actorId: number, index: number, data: Uint8Array, release: () => void): void;
  handleStats(stats: ActorStats): void;
}

/** A magnet link's torrent: the torrent options, with the magnet in place of the metainfo. */
export interface MagnetTorrentOptions extends Omit<TorrentOptions, 'meta'> {
  readonly magnet: Magnet;
  /**
   * File priorities once the metadata is known (the files are unknown before); may throw a
   * TorkError (say a `--select` index beyond the file count). Default: `filePriorities` if given,
   * else the magnet's BEP 53 `so` (unlisted files skipped), else every file.
   */
  readonly selectFiles?: (meta: Metainfo) => readonly FilePriority[] | undefined;
  /** Longest wait for the metadata, ms. Default: 300,000 (`DEFAULT_METADATA_TIMEOUT_MS`). */
  readonly metadataTimeoutMs?: number;
}

/** The .torrent an earlier run saved for this info-hash (and its bytes), if it parses and matches. */
async function readSavedMetadata(
  dir: string,
  infoHashHex: string,
): Promise<{ meta: Metainfo; torrent: Uint8Array } | undefined> {
  try {
    const torrent = new Uint8Array(await readFile(join(dir, `${infoHashHex}.torrent`)));
    const meta = parseMetainfo(torrent);
    return meta.infoHashHex === infoHashHex ? { meta, torrent } : undefined;
  } catch {
    return undefined;
  }
}

function addressKey(peer: { readonly host: string; readonly port: number }): string {
  return peer.host.includes(':') ? `[${peer.host}]:${peer.port}` : `${peer.host}:${peer.port}`;
}

/** Saves a magnet's .torrent in the resume directory (atomically), so the next run skips the fetch. */
async function saveMetadata(dir: string, infoHashHex: string, torrent: Uint8Array): Promise<void> {
  await mkdir(dir, { recursive: true });
  const path = join(dir, `${infoHashHex}.torrent`);
  await writeFile(`${path}.tmp`, torrent);
  await rename(`${path}.tmp`, path);
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
  /** The caps on all torrents together (see `setRateLimits`), and the queue every torrent's hosts wait in. */
  readonly #rates: RateGovernor;
  readonly #discovery: readonly PeerDiscovery[];
  readonly #torrents = new Map<string, Torrent>();
  /** Magnets whose metadata is being fetched, by info-hash. */
  readonly #fetches = new Map<string, MetadataFetch>();
  /** Magnets whose piece layers are being fetched (BEP 52), by info-hash. */
  readonly #layerFetches = new Map<string, PieceLayerFetch>();
  /** Magnets between `addMagnet`'s call and their torrent's start: `remove` gives them up. */
  readonly #startingMagnets = new Map<string, { removed: boolean }>();
  /** Who handles an actor's events: its torrent, or a magnet's metadata fetch. */
  readonly #byActor = new Map<number, ActorOwner>();
  #nextActorId = 1;
  #closed = false;
  /** HASH('req2', info-hash) → info-hash of every torrent and fetch added: incoming MSE names them so. */
  readonly #mseKeys = new Map<string, Uint8Array>();
  /** A hybrid's truncated v2 info-hash (hex) → its id (the v1 hash): incoming peers may name either. */
  readonly #v2Aliases = new Map<string, string>();
  readonly encryption: EncryptionPolicy;
  readonly transport: TransportPolicy;
  #peerLimits: EnginePeerLimits;

  readonly #trace: { readonly recorder: TraceRecorder; readonly sources: TraceCounterSources } | undefined;

  constructor(options: EngineOptions) {
    if (options.trace) {
      const tracing = new TracingActorSystem(options.actors, options.trace);
      this.#actors = tracing;
      const sources: TraceCounterSources = {
        diskQueuedBytes: () => {
          let bytes = 0;
          for (const torrent of this.#torrents.values()) bytes += torrent.diskQueuedBytes;
          return bytes;
        },
        bytesInFlight: () => tracing.bytesInFlight,
      };
      this.#trace = { recorder: options.trace, sources };
      options.trace.start(sources);
    } else {
      this.#actors = options.actors;
    }
    this.peerId = options.peerId ?? generatePeerId();
    this.port = options.port ?? 6881;
    this.#hasher = options.hasher;
    this.#discovery = options.discovery ?? [];
    this.encryption = options.encryption ?? DEFAULT_ENCRYPTION_POLICY;
    this.transport = options.transport ?? DEFAULT_TRANSPORT_POLICY;
    this.#rates = new RateGovernor({ global: new RateLimiter(options.rateLimits) });
    this.#peerLimits = checkedEngineLimits({
      maxPeers: options.maxPeers ?? DEFAULT_ENGINE_MAX_PEERS,
      uploadSlots: options.uploadSlots,
    });
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
    if (options.meta.version === 2 && v2PieceChecks(options.meta) === undefined) {
      // Pieces are checked against the piece layers; fetching them from peers is not wired yet.
      throw new TorkError(
        TorkErrorCode.METAINFO,
        'v2-only torrents without their piece layers cannot be downloaded yet',
      );
    }
    const id = options.meta.infoHashHex;
    if (this.#torrents.has(id)) throw new TorkError(TorkErrorCode.USAGE, `torrent ${id} is already added`);
    const torrent: Torrent = new Torrent(
      options,
      this.#context(() => torrent),
    );
    this.#torrents.set(id, torrent);
    this.#learnMseKey(options.meta.infoHash);
    const v2Wire = hybridV2WireHash(options.meta);
    if (v2Wire !== undefined) {
      this.#v2Aliases.set(Buffer.from(v2Wire).toString('hex'), id);
      this.#learnMseKey(v2Wire);
    }
    setup?.(torrent);
    try {
      await torrent.start();
    } catch (error) {
      this.#torrents.delete(id);
      this.#forgetAliases(id);
      throw error;
    }
    return torrent;
  }

  /**
   * Adds a magnet link's torrent: its metadata is read from the resume directory if an earlier
   * run saved it (`<resumeDir>/<infohash>.torrent`), else fetched from peers (BEP 9; `onFetch`
   * sees the fetch first, for its events) and saved there; then the torrent starts as `add` does.
   * Rejects with TORK_ERR_METADATA when no peer gives the metadata in time.
   */
  async addMagnet(
    options: MagnetTorrentOptions,
    setup?: (torrent: Torrent) => void,
    onFetch?: (fetch: MetadataFetch) => void,
  ): Promise<Torrent> {
    if (this.#closed) throw new TorkError(TorkErrorCode.USAGE, 'the engine is closed');
    const { magnet } = options;
    const id = magnet.infoHashHex;
    if (
      this.#torrents.has(id) ||
      this.#fetches.has(id) ||
      this.#layerFetches.has(id) ||
      this.#startingMagnets.has(id)
    )
      throw new TorkError(TorkErrorCode.USAGE, `torrent ${id} is already added`);
    // Known from here on, before the first await: a `remove` in any of the waits below (reading
    // saved metadata, saving it) gives the magnet up, as it does the fetches.
    const starting = { removed: false };
    this.#startingMagnets.set(id, starting);
    const throwIfRemoved = () => {
      if (starting.removed)
        throw new TorkError(TorkErrorCode.ABORTED, `torrent ${id} was removed while starting`);
    };
    try {
      const dir = options.resumeDir ?? defaultResumeDir(options.outDir);
      const saved = dir === false ? undefined : await readSavedMetadata(dir, id);
      throwIfRemoved();
      let meta = saved?.meta;
      let torrentFile = saved?.torrent;
      let changed = false;
      let peers = [...(options.peers ?? []), ...magnet.peers];
      let metadataFetch: MetadataFetch | undefined;
      if (meta === undefined) {
        const fetched = await this.fetchMetadata(
          {
            magnet,
            peers: options.peers,
            useTrackers: options.useTrackers,
            trackerClients: options.trackerClients,
            timeoutMs: options.metadataTimeoutMs,
            maxPeers: options.maxPeers,
            tickMs: options.tickMs,
            pex: options.pex !== false,
          },
          (fetch) => {
            metadataFetch = fetch;
            onFetch?.(fetch);
          },
        );
        meta = fetched.meta;
        torrentFile = fetched.torrent;
        changed = true;
        peers = [...peers, ...fetched.peers];
      }
      if (missingPieceLayers(meta).length > 0 && !this.#closed) {
        // BEP 9 metadata has no piece layers: ask the peers for them (hash requests) before starting.
        const layers = await this.#fetchPieceLayers(meta, peers, options, metadataFetch);
        if (layers !== undefined) {
          meta = layers.meta;
          torrentFile = withPieceLayers(torrentFile!, layers.layers);
          changed = true;
          const banned = new Set(layers.banned);
          peers = peers.filter((peer) => !banned.has(addressKey(peer)));
        }
      }
      throwIfRemoved();
      if (changed && dir !== false) await saveMetadata(dir, id, torrentFile!);
      throwIfRemoved();
      if (this.#closed)
        throw new TorkError(TorkErrorCode.ABORTED, 'the engine closed while the metadata arrived');
      const { magnet: _magnet, metadataTimeoutMs: _timeout, selectFiles, ...rest } = options;
      const filePriorities =
        selectFiles?.(meta) ??
        options.filePriorities ??
        selectOnlyPriorities(magnet.selectOnly, meta.files.length);
      return this.add({ ...rest, meta, peers, ...(filePriorities ? { filePriorities } : {}) }, setup);
    } finally {
      if (this.#startingMagnets.get(id) === starting) this.#startingMagnets.delete(id);
    }
  }

  /**
   * The piece-layer phase (BEP 52) of a v2 or hybrid magnet whose metadata has no `piece layers`:
   * undefined when a hybrid's layers could not be had (it downloads checked by SHA-1 alone, as
   * before BEP 52); a v2-only torrent cannot, and the error is thrown.
   */
  async #fetchPieceLayers(
    meta: Metainfo,
    peers: readonly { readonly host: string; readonly port: number }[],
    options: MagnetTorrentOptions,
    metadataFetch: MetadataFetch | undefined,
  ): Promise<FetchedPieceLayers | undefined> {
    const id = meta.infoHashHex;
    const unique = new Map(peers.map((peer) => [addressKey(peer), peer]));
    const fetch: PieceLayerFetch = new PieceLayerFetch(
      {
        meta,
        peers: [...unique.values()],
        timeoutMs: options.metadataTimeoutMs ?? DEFAULT_METADATA_TIMEOUT_MS,
        // A hybrid can do without its layers (SHA-1 alone): not worth the whole timeout without a v2 peer.
        ...(meta.version === 'hybrid' ? { noPeerTimeoutMs: HYBRID_LAYER_PATIENCE_MS } : {}),
        ...(options.maxPeers !== undefined ? { maxPeers: options.maxPeers } : {}),
        ...(options.tickMs !== undefined ? { tickMs: options.tickMs } : {}),
      },
      this.#context(() => fetch),
    );
    if (metadataFetch) {
      fetch.on('piece-layers-received', (data) => metadataFetch.emit('piece-layers-received', data));
      fetch.on('piece-layers-rejected', (data) => metadataFetch.emit('piece-layers-rejected', data));
    }
    this.#layerFetches.set(id, fetch);
    try {
      return await fetch.start();
    } catch (error) {
      if (meta.version === 'hybrid' && error instanceof TorkError && error.code === TorkErrorCode.METADATA)
        return undefined;
      throw error;
    } finally {
      if (this.#layerFetches.get(id) === fetch) this.#layerFetches.delete(id);
    }
  }

  /**
   * Fetches a magnet link's metadata from peers (BEP 9) without starting a download (`tork info
   * <magnet>`; `addMagnet` uses it). `onFetch` sees the fetch before it starts, for its events.
   */
  async fetchMetadata(
    options: MetadataFetchOptions,
    onFetch?: (fetch: MetadataFetch) => void,
  ): Promise<FetchedMetadata> {
    if (this.#closed) throw new TorkError(TorkErrorCode.USAGE, 'the engine is closed');
    const id = options.magnet.infoHashHex;
    if (this.#torrents.has(id) || this.#fetches.has(id))
      throw new TorkError(TorkErrorCode.USAGE, `torrent ${id} is already added`);
    const fetch: MetadataFetch = new MetadataFetch(
      options,
      this.#context(() => fetch),
    );
    this.#fetches.set(id, fetch);
    this.#learnMseKey(options.magnet.infoHash);
    onFetch?.(fetch);
    try {
      return await fetch.start();
    } finally {
      // Not another's: a remove forgets this one at once, and the id may be fetched again since.
      if (this.#fetches.get(id) === fetch) this.#fetches.delete(id);
    }
  }

  /**
   * A connection the Listener accepted: hands it to the torrent its handshake names (or the
   * magnet fetching its metadata). False when none takes it (unknown info-hash, full, stopped):
   * the caller closes it.
   */
  acceptIncoming(peer: IncomingConnection & { readonly infoHashHex: string }): boolean {
    if (this.#closed) return false;
    const torrent = this.#torrents.get(this.#v2Aliases.get(peer.infoHashHex) ?? peer.infoHashHex);
    if (torrent) return torrent.acceptIncoming(peer);
    return this.#fetches.get(peer.infoHashHex)?.acceptIncoming(peer) ?? false;
  }

  /**
   * The info-hash an incoming MSE handshake names by HASH('req2', SKEY), if it is one of ours (a
   * torrent or a magnet being fetched); the Listener calls it mid-handshake.
   */
  torrentForMseKey(key: Uint8Array): Uint8Array | undefined {
    return this.#mseKeys.get(Buffer.from(key).toString('hex'));
  }

  #forgetAliases(id: string): void {
    for (const [alias, target] of this.#v2Aliases) if (target === id) this.#v2Aliases.delete(alias);
  }

  #learnMseKey(infoHash: Uint8Array): void {
    this.#mseKeys.set(Buffer.from(mseTorrentKey(infoHash)).toString('hex'), infoHash);
  }

  /**
   * Stops a torrent (connections closed, resume data saved, files closed) and forgets it, so it
   * can be added again (the daemon's pause/resume and remove). A magnet still fetching its
   * metadata is given up (its `addMagnet` rejects with TORK_ERR_ABORTED). False when no such torrent.
   */
  async remove(infoHashHex: string): Promise<boolean> {
    const torrent = this.#torrents.get(infoHashHex);
    if (!torrent) {
      // Forgotten at once, not when their addMagnet unwinds: the id may be added again right away.
      const starting = this.#startingMagnets.get(infoHashHex);
      if (starting) {
        starting.removed = true;
        this.#startingMagnets.delete(infoHashHex);
      }
      const fetch = this.#fetches.get(infoHashHex);
      const layers = this.#layerFetches.get(infoHashHex);
      if (!fetch && !layers) return starting !== undefined;
      if (layers) {
        layers.stop();
        this.#layerFetches.delete(infoHashHex);
      }
      if (fetch) {
        this.#fetches.delete(infoHashHex);
        await fetch.stop();
      }
      return true;
    }
    try {
      await torrent.stop();
    } finally {
      // After the stop: its actors' last events still find it while it closes.
      if (this.#torrents.get(infoHashHex) === torrent) {
        this.#torrents.delete(infoHashHex);
        this.#forgetAliases(infoHashHex);
      }
    }
    return true;
  }

  /** The caps on all torrents together, bytes a second. */
  get rateLimits(): RateLimits {
    return this.#rates.global.limits;
  }

  /** New caps on all torrents together (bytes a second; a direction left out is not capped). */
  setRateLimits(limits: RateLimits): void {
    this.#rates.global.set(limits);
    for (const torrent of this.#torrents.values()) torrent.rates.announce();
  }

  /** The caps on peers over all torrents together. */
  get peerLimits(): EnginePeerLimits {
    return this.#peerLimits;
  }

  /** Peer connections open over all torrents (connected and connecting, fetches and web seeds included). */
  get connections(): number {
    return this.#byActor.size;
  }

  /**
   * New caps over all torrents (a field left out is unchanged; `uploadSlots: undefined` given
   * explicitly removes that cap). A lower `maxPeers` stops new dials and accepts until enough
   * connections close on their own: open ones are not cut (each torrent's own limit cuts at once).
   */
  setPeerLimits(limits: { maxPeers?: number; uploadSlots?: number | undefined }): void {
    this.#peerLimits = checkedEngineLimits({
      maxPeers: limits.maxPeers ?? this.#peerLimits.maxPeers,
      uploadSlots: 'uploadSlots' in limits ? limits.uploadSlots : this.#peerLimits.uploadSlots,
    });
  }

  /** A torrent's share of the engine's upload slots: equal among the torrents with peers, at least one. */
  #uploadSlotShare(): number | undefined {
    const total = this.#peerLimits.uploadSlots;
    if (total === undefined) return undefined;
    let active = 0;
    for (const torrent of this.#torrents.values()) if (torrent.peerCount > 0) active++;
    return Math.max(1, Math.floor(total / Math.max(1, active)));
  }

  /** Stops every torrent (announcing `stopped`, closing files), then the actor system. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all([...this.#fetches.values()].map((fetch) => fetch.stop()));
    for (const fetch of this.#layerFetches.values()) fetch.stop();
    await Promise.all([...this.#torrents.values()].map((torrent) => torrent.stop()));
    this.#torrents.clear();
    this.#rates.close();
    this.#trace?.recorder.stop(this.#trace.sources);
    await this.#actors.close();
  }

  /** The wiring a torrent (or a metadata fetch) gets; `owner` receives its actors' events. */
  #context(owner: () => ActorOwner): TorrentContext {
    return {
      actors: this.#actors,
      peerId: this.peerId,
      port: this.port,
      nextActorId: () => this.#nextActorId++,
      register: (actorId) => this.#byActor.set(actorId, owner()),
      unregister: (actorId) => this.#byActor.delete(actorId),
      ...(this.#hasher ? { hasher: this.#hasher } : {}),
      discovery: this.#discovery,
      encryption: this.encryption,
      transport: this.transport,
      rates: this.#rates,
      engineRoom: () => this.#peerLimits.maxPeers - this.#byActor.size,
      uploadSlotShare: () => this.#uploadSlotShare(),
    };
  }

  /** Packed pieces' shared buffers going back to their hosts, once per turn (see `unpackPieces`). */
  #recycler: CommandBatch | undefined;

  #unpack(event: Extract<HostEvent, { type: 'pieces' }>): void {
    unpackPieces(
      event,
      (actorId) => this.#byActor.get(actorId),
      (actorId, buffer) => {
        this.#recycler ??= new CommandBatch(this.#actors);
        this.#recycler.recycle(actorId, buffer);
      },
    );
  }

  #dispatch(events: readonly HostEvent[]): void {
    for (const event of events) {
      if (event.type === 'stats') {
        for (const stats of event.actors) this.#byActor.get(stats.actorId)?.handleStats(stats);
      } else if (event.type === 'pieces') {
        this.#unpack(event);
      } else if (event.type === 'incoming') {
        // The actor system answers these itself (ThreadActorSystem.listen); none reach here.
      } else {
        this.#byActor.get(event.actorId)?.handleEvent(event);
      }
    }
  }
}

/**
 * Hands each piece of a host's packed `pieces` event to its actor's owner as a view of the shared
 * buffer, which goes back to the host (`recycle`, by the first piece's actor) once every piece in
 * it is released. An entry outside the buffer is dropped (a host bug, never trusted).
 */
function unpackPieces(
  event: Extract<HostEvent, { type: 'pieces' }>,
  owner: (actorId: number) => ActorOwner | undefined,
  recycle: (actorId: number, buffer: ArrayBuffer) => void,
): void {
  const buffer = event.data;
  let pending = event.pieces.length;
  const release = (): void => {
    if (--pending === 0) recycle(event.pieces[0]!.actorId, buffer);
  };
  for (const { actorId, index, offset, length } of event.pieces) {
    const to = owner(actorId);
    if (to?.handlePiece === undefined || offset + length > buffer.byteLength) release();
    else to.handlePiece(actorId, index, new Uint8Array(buffer, offset, length), release);
  }
}

function checkedEngineLimits(limits: EnginePeerLimits): EnginePeerLimits {
  if (!Number.isInteger(limits.maxPeers) || limits.maxPeers < 1)
    throw new RangeError(`maxPeers must be a positive integer, got ${limits.maxPeers}`);
  if (limits.uploadSlots !== undefined && (!Number.isInteger(limits.uploadSlots) || limits.uploadSlots < 1))
    throw new RangeError(`uploadSlots must be a positive integer, got ${limits.uploadSlots}`);
  return limits;
}
