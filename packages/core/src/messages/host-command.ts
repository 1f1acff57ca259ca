import * as z from 'zod';
import { MAX_WEB_SEED_URL_LENGTH } from '../webseed/web-seed-limits.js';
import { MAX_HASHES_PER_MESSAGE, MAX_PROOF_LAYERS } from '../wire/hash-messages.js';
import { MAX_HOST_FILES, MAX_TORRENT_PEERS } from './message-limits.js';
import { fitsMetadataCap, has32Bytes, has256Bytes, isPiecesRootList } from './message-predicates.js';
import {
  ActorId,
  Bytes,
  Bytes20,
  Bytes32,
  MessagePortSchema,
  PexHost,
  PieceIndex,
  TorrentId,
} from './schema-helpers.js';

export { MAX_TORRENT_PEERS };

const MAX_FILES = MAX_HOST_FILES;

/** A connected peer as peer exchange advertises it: its listen address (an IP literal) and BEP 11 flags. */
export const SwarmPeer = z.object({
  actorId: ActorId,
  host: PexHost,
  port: z.number().int().min(1).max(65535),
  flags: z.number().int().min(0).max(255),
});
export type SwarmPeer = z.infer<typeof SwarmPeer>;

/** A file as a host reads it to serve uploads: its real absolute path, or `null` for a pad file. */
export const HostFile = z.object({
  path: z.string().min(1).max(4096).nullable(),
  length: z.number().int().nonnegative(),
  /**
   * Where the file's byte 0 lies in `path`: set for an unselected file whose shared bytes are in
   * the part file (`path` is then the part file). Default 0.
   */
  offset: z.number().int().nonnegative().optional(),
});
export type HostFile = z.infer<typeof HostFile>;

/**
 * Coordinator → peer host, over the host's data MessagePort. The coordinator decides (which peer,
 * which pieces, interest); the host acts. Batched: one port message carries `{ commands: [...] }`.
 */
const Rc4StateSchema = z.object({
  s: Bytes.refine(has256Bytes, { message: 'expected 256 bytes' }),
  i: z.number().int().min(0).max(255),
  j: z.number().int().min(0).max(255),
});

/** An MSE handshake's outcome as plain data (see `mseStreams` in core/mse). */
export const MseStreamsSchema = z.object({
  method: z.union([z.literal(1), z.literal(2)]),
  encrypt: Rc4StateSchema.nullable(),
  decrypt: Rc4StateSchema.nullable(),
});

export const HostCommand = z.discriminatedUnion('type', [
  /** Geometry and hashes a host needs to verify pieces; sent once per host before any `connect`. */
  z.object({
    type: z.literal('add-torrent'),
    torrentId: TorrentId,
    infoHash: Bytes20,
    /** Our peer id for this torrent. */
    peerId: Bytes20,
    pieceLength: z.number().int().positive(),
    length: z.number().int().positive(),
    /** 20 bytes per piece. */
    pieceHashes: Bytes,
    /**
     * BEP 52 (v2 and hybrid torrents): `V2_PIECE_CHECK_SIZE` bytes per piece (see v2-piece-checks.ts);
     * a piece must pass this merkle check as well as SHA-1. Default: SHA-1 only.
     */
    v2PieceChecks: Bytes.optional(),
    /**
     * BEP 52: the full 32-byte SHA-256 info-hash of a v2 or hybrid torrent. A hybrid's peers may
     * name it (truncated) instead of `infoHash` in their handshake. Default: v1 only.
     */
    infoHashV2: Bytes.refine(has32Bytes, { message: 'expected 32 bytes' }).optional(),
    /**
     * BEP 52: each file's pieces root, 32 bytes per entry of `files` (all zero for a pad or empty
     * file), so the host can answer hash requests from the piece layers in `v2PieceChecks`.
     * Default: none (every hash request is rejected).
     */
    v2PiecesRoots: Bytes.refine(isPiecesRootList, {
      message: 'expected 32 bytes per file',
    }).optional(),
    /** The pieces we already have (our bitfield, BEP 3 bit order), sent to each peer after the handshake. */
    have: Bytes,
    /**
     * Wall-clock ms before which `have` was not yet verified (checked, or trusted from resume state):
     * a file whose last change (mtime and ctime) lies well before it still holds the verified bytes,
     * so its pieces are served without hashing them again. Default: none (each read is hashed until
     * the host verified the piece itself).
     */
    haveSinceMs: z.number().nonnegative().optional(),
    /**
     * The torrent's files in order, for reading pieces to upload. Empty: this torrent serves
     * nothing (every request is refused).
     */
    files: z.array(HostFile).max(MAX_FILES),
    /** The port we listen on, told to peers in the BEP 10 handshake (`p`). Default: none. */
    listenPort: z.number().int().min(0).max(65535).optional(),
    /** BEP 27: no peer exchange, no metadata served. Default: false. */
    private: z.boolean().optional(),
    /**
     * The raw info dictionary, served to peers that ask (BEP 9); absent for a private torrent.
     * Default: none served.
     */
    info: Bytes.refine(fitsMetadataCap, {
      message: 'info dictionary over MAX_METADATA_BYTES',
    }).optional(),
    /** Peer exchange (BEP 11) with this torrent's peers; never for a private one. Default: false. */
    pex: z.boolean().optional(),
  }),
  /**
   * A magnet link's torrent, before its metadata is known: its actors only handshake and fetch the
   * info dictionary (BEP 9) when told to (`fetch-metadata`). Replaced by `add-torrent` (after a
   * `remove-torrent`) once the metadata is had.
   */
  z.object({
    type: z.literal('add-magnet'),
    torrentId: TorrentId,
    infoHash: Bytes20,
    peerId: Bytes20,
    listenPort: z.number().int().min(0).max(65535).optional(),
    /** Learn peers by peer exchange (BEP 11) while fetching; nothing is sent. Default: false. */
    pex: z.boolean().optional(),
    /**
     * BEP 52: the handshake sets the v2 bit and, on a connection that speaks v2 (`speaksV2`), hash
     * messages are decoded (a v2 magnet, or the piece-layer phase). Default: false.
     */
    v2: z.boolean().optional(),
    /**
     * The hashes the fetched info dictionary must have: `v1` its SHA-1, `v2` its SHA-256 (both
     * checked when both are given). Default: SHA-1 = `infoHash`.
     */
    metadataHashes: z.object({ v1: Bytes20.optional(), v2: Bytes32.optional() }).optional(),
  }),
  /** Fetch the metadata from this actor's peer (it offered it: `metadata-available`). */
  z.object({ type: z.literal('fetch-metadata'), actorId: ActorId }),
  /**
   * BEP 52: send this `hash request` (a slice of a file's piece layer, proof up to its root) to the
   * actor's peer; the answer is checked against `piecesRoot` in the host (`piece-hashes`,
   * `hashes-rejected`; wrong hashes close the connection with `cause: 'bad-hashes'`).
   */
  z.object({
    type: z.literal('fetch-hashes'),
    actorId: ActorId,
    piecesRoot: Bytes32,
    /** Bytes of the file whose tree it is (the proof is checked against its shape). */
    fileLength: z.number().int().positive(),
    baseLayer: z.number().int().min(0).max(63),
    index: z.number().int().nonnegative(),
    length: z.number().int().min(2).max(MAX_HASHES_PER_MESSAGE),
    proofLayers: z.number().int().min(0).max(MAX_PROOF_LAYERS),
  }),
  z.object({ type: z.literal('remove-torrent'), torrentId: TorrentId }),
  /** Dial a peer and run it as a new actor. */
  z.object({
    type: z.literal('connect'),
    actorId: ActorId,
    torrentId: TorrentId,
    host: z.string().min(1).max(255),
    port: z.number().int().min(1).max(65535),
    /** Dial with an MSE handshake first (`prefer`: RC4 or plaintext; `require`: RC4). Default: none. */
    encryption: z.enum(['none', 'prefer', 'require']).optional(),
    /** Dial over TCP (the host's own socket) or uTP (the UDP host dials; see `relay`). Default: tcp. */
    transport: z.enum(['tcp', 'utp']).optional(),
    /**
     * uTP only: the actor's end of the stream the UDP host dials (set by the actor system, which
     * asks the UDP host to dial; the engine leaves it out).
     */
    relay: MessagePortSchema.optional(),
  }),
  /**
   * Run a connection the Listener accepted as a new actor. Node 20 cannot move a socket into a
   * worker thread, so the coordinator relays its bytes over `relay` (see relay-message.ts);
   * `initial` is what it read while finding the torrent (the peer's handshake, maybe more).
   */
  z.object({
    type: z.literal('accept'),
    actorId: ActorId,
    torrentId: TorrentId,
    /** `host:port` of the remote end, for errors and the peer list. */
    address: z.string().min(1).max(300),
    /** The relay's actor end; absent when `hosted` names a connection the host accepted itself. */
    relay: MessagePortSchema.optional(),
    /**
     * A connection the host accepted on its own socket (`reusePort`) and holds under this id
     * (see the `incoming` event): the actor takes that socket; no relay, `initial` is empty.
     * `host` is the host's index: the actor system places the actor there.
     */
    hosted: z
      .object({ host: z.number().int().nonnegative(), connection: z.number().int().nonnegative() })
      .optional(),
    initial: Bytes,
    /**
     * The Listener ran an MSE handshake (`initial` is already decrypted): the streams' states,
     * positioned after the bytes it read, so the actor carries on decrypting and encrypting.
     */
    mse: MseStreamsSchema.optional(),
    /** What carries the relayed stream: a TCP socket (the Listener's) or uTP (the UDP host's). Default: tcp. */
    transport: z.enum(['tcp', 'utp']).optional(),
  }),
  /** A connection the host accepted itself (`incoming` event) that no torrent takes: close it. */
  z.object({ type: z.literal('refuse-incoming'), connection: z.number().int().nonnegative() }),
  /**
   * Run a web seed (BEP 19: an HTTP(S) server holding the torrent's files) as a new actor. Why a
   * command of its own: it has no peer address and no handshake; the actor fetches its assigned
   * pieces with `Range` requests, verifies them (SHA-1 stays off the coordinator) and reports like
   * a peer that has every piece (`connected`, a full `bitfield`, `choke`, `piece`, `hash-failed`,
   * `released`, `closed`). `files`: each file's URL, built by the coordinator (`webSeedFileUrls`;
   * null for a BEP 47 pad file), and its length, in torrent order.
   */
  z.object({
    type: z.literal('web-seed'),
    actorId: ActorId,
    torrentId: TorrentId,
    url: z.string().min(1).max(MAX_WEB_SEED_URL_LENGTH),
    files: z
      .array(
        z.object({
          /** The base URL and the percent-encoded path: up to 3 characters a path byte. */
          url: z.string().min(1).max(65_536).nullable(),
          length: z.number().int().nonnegative(),
        }),
      )
      .max(MAX_FILES),
  }),
  /** Fetch these whole pieces; the actor pipelines their blocks itself (no round trip per block). */
  z.object({ type: z.literal('assign'), actorId: ActorId, pieces: z.array(PieceIndex).min(1) }),
  /** Stop fetching these pieces (endgame copy won elsewhere, or rebalancing): send `cancel`s. */
  z.object({ type: z.literal('unassign'), actorId: ActorId, pieces: z.array(PieceIndex).min(1) }),
  /** Whether the peer has something we need: the actor sends interested / not interested. */
  z.object({ type: z.literal('interest'), actorId: ActorId, interested: z.boolean() }),
  /**
   * Piece buffers the coordinator has written, moved back (transfer list) for the host to
   * assemble new pieces in: no allocation, no external-memory GC churn. Routed to the host of
   * `actorId` (the actor that delivered them) while it lives, else to any host.
   */
  z.object({
    type: z.literal('recycle'),
    actorId: ActorId,
    buffers: z.array(z.instanceof(ArrayBuffer)).min(1).max(4_096),
  }),
  /** The choker's decision: choke (stop serving) or unchoke the peer. */
  z.object({ type: z.literal('choke'), actorId: ActorId, choked: z.boolean() }),
  /**
   * Which directions of this torrent are capped (`--max-download`, `--max-upload`): every host
   * meters them from now on, spending allowances the coordinator grants (`rate-grant`), or stops
   * metering. Sent to every host.
   */
  z.object({
    type: z.literal('rate-limits'),
    torrentId: TorrentId,
    download: z.boolean(),
    upload: z.boolean(),
  }),
  /** Bytes the host of `actorId` may spend in `direction` for the actor's torrent (answers `rate-need`). */
  z.object({
    type: z.literal('rate-grant'),
    actorId: ActorId,
    direction: z.enum(['download', 'upload']),
    bytes: z
      .number()
      .int()
      .positive()
      .max(64 * 1024 * 1024),
  }),
  /**
   * The torrent's tick: every host answers at once with one `stats` event for the torrent's
   * actors, and leaves them out of its own periodic `stats` while the torrent keeps asking (until
   * twice `intervalMs` has passed without a request). Why: the torrent's progress reads the
   * counters once per tick; a host's own 1 s timer drifted against that tick, so a progress event
   * saw no report from a host, or two, and the upload counter went up by 0 or 8 MiB a second on a
   * steady 4 MiB/s. Sent to every host.
   */
  z.object({
    type: z.literal('report-stats'),
    torrentId: TorrentId,
    /** How often the torrent asks, ms. */
    intervalMs: z.number().int().positive().max(3_600_000),
  }),
  /** We verified a piece: every actor of the torrent tells its peer (`have`). */
  z.object({ type: z.literal('have'), torrentId: TorrentId, pieces: z.array(PieceIndex).min(1) }),
  z.object({ type: z.literal('close'), actorId: ActorId, reason: z.string() }),
  /**
   * The torrent's connected peers as peer exchange tells others of them (BEP 11): each one's
   * listen address and flags, and its actor (a peer is never told of itself). Sent to every host
   * when the list changes, at most once per coordinator tick; each replaces the last.
   */
  z.object({
    type: z.literal('torrent-peers'),
    torrentId: TorrentId,
    peers: z.array(SwarmPeer).max(MAX_TORRENT_PEERS),
  }),
]);
export type HostCommand = z.infer<typeof HostCommand>;

export const HostCommandBatch = z.object({
  commands: z.array(HostCommand),
  /**
   * When the coordinator posted the batch (`performance.timeOrigin + now()`, ms); only while a
   * trace is on: the host then reports the batches' queueing delay in its stats.
   */
  sentAt: z.number().optional(),
});
export type HostCommandBatch = z.infer<typeof HostCommandBatch>;
