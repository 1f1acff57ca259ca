import type { DiskLayout } from '../disk/disk-layout.js';
import type { MetainfoV2 } from '../metainfo/metainfo-v2-model.js';
import type { EncryptionPolicy } from '../mse/encryption-policy.js';
import type { PieceHasher } from '../resume/piece-hasher.js';
import type { FilePriority } from '../selection/file-priorities.js';
import type { TrackerClientOptions } from '../tracker/create-tracker-client.js';
import type { PeerAddress } from '../tracker/types.js';
import type { ActorSystem } from './actor-system.js';
import type { PeerDiscovery } from './peer-discovery.js';
import type { RateGovernor, RateLimits } from './rate-governor.js';
import type { TransportPolicy } from './transport-policy.js';

/** What the coordinator needs of a parsed torrent (`Metainfo` satisfies it). */
export interface TorrentMeta extends DiskLayout {
  readonly infoHash: Uint8Array;
  readonly infoHashHex: string;
  readonly pieceCount: number;
  /** 20 bytes per piece. */
  readonly pieceHashes: Uint8Array;
  /** BEP 12 tiers. */
  readonly announce: readonly (readonly string[])[];
  /** BEP 27: peers come from its trackers only (no DHT, PEX or LSD). Default: false. */
  readonly private?: boolean;
  /** The raw info dictionary, served to peers that ask for it (BEP 9) unless private. Default: none. */
  readonly infoBytes?: Uint8Array;
  /** BEP 52 kind (Metainfo.version); a v2-only torrent (2) is refused by `Engine.add`. Default: 1. */
  readonly version?: 1 | 2 | 'hybrid';
  /** SHA-256 of the info dictionary (v2 and hybrid): a hybrid is also reached and announced by it. Default: none. */
  readonly infoHashV2?: Uint8Array;
  /** BEP 52 pieces roots and piece layers (v2 and hybrid): pieces are checked against them too. Default: none. */
  readonly v2?: MetainfoV2;
}

export interface TorrentOptions {
  readonly meta: TorrentMeta;
  /** Output directory; multi-file torrents land in `<outDir>/<name>/…`. */
  readonly outDir: string;
  /** Peers given by hand (`--peer`): dialled first and never given up on. Default: none. */
  readonly peers?: readonly PeerAddress[];
  /**
   * This torrent's caps on piece data, bytes a second, applied across every peer host (the
   * engine's own caps apply as well). Default: none.
   */
  readonly rateLimits?: RateLimits;
  /**
   * Web seeds (BEP 19): HTTP(S) URLs fetched from beside the peers, each run as an actor that has
   * every piece. The library takes exactly these (the CLI passes the torrent's `url-list`, a
   * magnet's `ws=` and `--web-seed`); other schemes are ignored with a `web-seed-ignored` event.
   * Default: none.
   */
  readonly webSeeds?: readonly string[];
  /** Announce to the torrent's trackers. Default: true. */
  readonly useTrackers?: boolean;
  /** Most peer connections (connected and connecting). Default: 80 (`DEFAULT_MAX_PEERS`). */
  readonly maxPeers?: number;
  /** Most connection attempts under way at once. Default: 24 (`DEFAULT_MAX_CONNECTING`). */
  readonly maxConnecting?: number;
  /** Global cap on bytes assigned but not yet written. Default: 64 MiB (see PieceScheduler). */
  readonly maxBytesInFlight?: number;
  /**
   * Fetch pieces in index order instead of rarest-first (the `--sequential` of `tork download`;
   * `tork stream` uses it too). The byte budget is the read-ahead; the endgame is unchanged.
   * Can be changed while running through `Torrent.order`. Default: false.
   */
  readonly sequential?: boolean;
  /** Disk write queue cap before assignment pauses. Default: 64 MiB (see DiskWriter). */
  readonly maxQueuedWriteBytes?: number;
  /** Seconds a peer may choke us (or have nothing we need) before it is rotated out when better candidates wait. Default: 60. */
  readonly uselessAfterSeconds?: number;
  /**
   * Peer exchange (BEP 11, `ut_pex`): learn peers from connected peers and tell them ours. Never
   * for a private torrent. Default: true.
   */
  readonly pex?: boolean;
  /** Tracker client options. Default: see Announcer. */
  readonly trackerClients?: TrackerClientOptions;
  /** Seed for tie-breaks. Default: random. */
  readonly seed?: number;
  /** Coordinator tick (progress events, connection management), ms. Default: 1,000. */
  readonly tickMs?: number;
  /**
   * Go on seeding once complete (state `seeding`) until `stop()`. Default: false (state `done`:
   * connections to seeds close, the rest stay until `stop()`).
   */
  readonly seeding?: boolean;
  /** Regular upload slots of the choker (plus one optimistic). Default: 4 (`DEFAULT_UPLOAD_SLOTS`). */
  readonly uploadSlots?: number;
  /** How often the choker re-ranks peers, ms. Default: 10,000. */
  readonly rechokeIntervalMs?: number;
  /** How often the optimistic unchoke rotates, ms. Default: 30,000. */
  readonly optimisticUnchokeIntervalMs?: number;
  /**
   * Where resume state lives (a snapshot and a journal per torrent), or `false` for none (every
   * start then hashes whatever data is on disk). Default: `<outDir>/.tork`.
   */
  readonly resumeDir?: string | false;
  /** How often the resume snapshot is rewritten while running, ms. Default: 5,000. */
  readonly resumeSaveIntervalMs?: number;
  /**
   * One priority per file, in metainfo order: `'skip'` (not downloaded, not created), `'low'`,
   * `'normal'`, `'high'`. Change it later with `torrent.files.setPriorities`. Default: every file
   * `'normal'`.
   */
  readonly filePriorities?: readonly FilePriority[];
}

/** A torrent's limits on peers, changeable while it runs (`Torrent.limits`). */
export interface PeerLimits {
  /** Most peer connections (connected and connecting). */
  readonly maxPeers: number;
  /** Regular upload slots of the choker (plus one optimistic). */
  readonly uploadSlots: number;
}

/** Wiring the Engine provides. */
export interface TorrentContext {
  readonly actors: ActorSystem;
  readonly peerId: Uint8Array;
  /** The port we announce. */
  readonly port: number;
  readonly nextActorId: () => number;
  /** The engine routes this actor's events to the torrent from now on. */
  readonly register: (actorId: number) => void;
  readonly unregister: (actorId: number) => void;
  /** Peer sources beyond trackers (DHT, LSD), for public torrents. Default: none. */
  readonly discovery?: readonly PeerDiscovery[];
  /** Hashes pieces read from disk (the hash pool). Default: hashed on this thread. */
  readonly hasher?: PieceHasher;
  /** How dialled connections are encrypted (MSE/PE). Default: `prefer`. */
  readonly encryption?: EncryptionPolicy;
  /** Which transports are dialled. Default: `both`. */
  readonly transport?: TransportPolicy;
  /** The engine's rate governor: its caps and its queue, shared by every torrent. Default: none. */
  readonly rates?: RateGovernor;
  /** Connections the engine still admits over all torrents (its cap minus the open ones). Default: no cap. */
  readonly engineRoom?: () => number;
  /** Regular upload slots this torrent may use under the engine's cap over all torrents. Default: no cap. */
  readonly uploadSlotShare?: () => number | undefined;
}
