import * as z from 'zod';
import { MAX_HASHES_PER_MESSAGE } from '../wire/hash-messages.js';
import { MAX_METADATA_BYTES } from '../wire/ut-metadata.js';
import { MAX_PEX_PEERS_PER_MESSAGE } from '../wire/ut-pex.js';
import { MAX_PIECE_BATCH_BYTES, MAX_PIECES_PER_EVENT, SMALL_PIECE_EVENT_BYTES } from './message-limits.js';
import { ActorId, Bytes, Bytes32, PexHost, PieceIndex, PlainError } from './schema-helpers.js';

export { MAX_PIECE_BATCH_BYTES, MAX_PIECES_PER_EVENT, SMALL_PIECE_EVENT_BYTES };

const PexAddress = z.object({ host: PexHost, port: z.number().int().min(1).max(65535) });

/**
 * Why an actor gives pieces back: `choked` (the peer choked us; outstanding requests are void),
 * `snubbed` (nothing arrived for a long time), `peer-lacks` (the peer does not have the piece).
 */
export const ReleaseReason = z.enum(['choked', 'snubbed', 'peer-lacks']);
export type ReleaseReason = z.infer<typeof ReleaseReason>;

/** Per-actor counters, sent about once a second in one `stats` event per host. */
export const ActorStats = z.object({
  actorId: ActorId,
  /** Payload bytes received / sent since the connection opened. */
  downloaded: z.number().nonnegative(),
  uploaded: z.number().nonnegative(),
  /** Smoothed payload rates, bytes per second. */
  downloadRate: z.number().nonnegative(),
  uploadRate: z.number().nonnegative(),
  /** Block requests outstanding, and the depth the actor is aiming for. */
  queueDepth: z.number().int().nonnegative(),
  targetQueueDepth: z.number().int().nonnegative(),
  /** The peer chokes us / we are interested in it / it has sent nothing for a while. */
  peerChoking: z.boolean(),
  amInterested: z.boolean(),
  /** We choke the peer / it is interested in what we have. */
  amChoking: z.boolean(),
  peerInterested: z.boolean(),
  snubbed: z.boolean(),
  /** Block requests the peer has queued with us now. */
  requestsQueued: z.number().int().nonnegative(),
  /** Its requests refused because its queue with us was full (rejected, or dropped by a choke). */
  requestsRefused: z.number().int().nonnegative(),
  /** BEP 52 hash requests the peer made that we answered with `hashes`, and with `hash reject`. Default: 0. */
  hashRequestsAnswered: z.number().int().nonnegative().optional(),
  hashRequestsRejected: z.number().int().nonnegative().optional(),
  /** It has requests queued, we do not choke it, and it got no block from us for a while. */
  uploadStalled: z.boolean(),
});
export type ActorStats = z.infer<typeof ActorStats>;

/**
 * Peer host → coordinator, over the host's data MessagePort, batched as `{ events: [...] }`.
 * `piece` carries a verified piece as a transferred ArrayBuffer: it is moved, never copied.
 */
export const HostEvent = z.discriminatedUnion('type', [
  /** Handshake done (info-hash matched). */
  z.object({
    type: z.literal('connected'),
    actorId: ActorId,
    /** The remote peer id, hex. */
    peerId: z.string().regex(/^[0-9a-f]{40}$/),
    /** Client name decoded from the peer id (BEP 20). */
    client: z.string().max(128),
    fastExtension: z.boolean(),
    extensionProtocol: z.boolean(),
    /** `rc4`/`plaintext`: an MSE handshake chose that method; `none`: a plain BitTorrent handshake. */
    encryption: z.enum(['rc4', 'plaintext', 'none']).optional(),
    /** What carries the connection. */
    transport: z.enum(['tcp', 'utp']).optional(),
  }),
  /**
   * What the peer's BEP 10 handshake says of it: the port it listens on (`p`) and its client
   * name (`v`, made printable); each null when not given.
   */
  /**
   * The host's allowance of `direction` for this actor's torrent is spent and the actor waits
   * (a capped torrent: see `rate-limits`); answered by `rate-grant`.
   */
  z.object({
    type: z.literal('rate-need'),
    actorId: ActorId,
    direction: z.enum(['download', 'upload']),
  }),
  z.object({
    type: z.literal('peer-info'),
    actorId: ActorId,
    listenPort: z.number().int().min(1).max(65535).nullable(),
    client: z.string().max(64).nullable(),
  }),
  /** A magnet's peer offers the metadata (BEP 9: `ut_metadata` and a `metadata_size` within the cap). */
  z.object({
    type: z.literal('metadata-available'),
    actorId: ActorId,
    size: z.number().int().positive().max(MAX_METADATA_BYTES),
  }),
  /**
   * The whole info dictionary fetched from the peer; its SHA-1 is the info-hash (checked in the
   * host). The buffer is transferred.
   */
  z.object({ type: z.literal('metadata'), actorId: ActorId, info: z.instanceof(ArrayBuffer) }),
  /**
   * BEP 52: the answer to a `fetch-hashes`, proven against its pieces root in the host: `length`
   * hashes of the requested layer from `index`, 32 bytes each (the buffer is transferred).
   */
  z.object({
    type: z.literal('piece-hashes'),
    actorId: ActorId,
    piecesRoot: Bytes32,
    index: z.number().int().nonnegative(),
    length: z.number().int().min(2).max(MAX_HASHES_PER_MESSAGE),
    hashes: z.instanceof(ArrayBuffer),
  }),
  /** BEP 52: the peer answered a `fetch-hashes` with `hash reject`: ask another. */
  z.object({
    type: z.literal('hashes-rejected'),
    actorId: ActorId,
    piecesRoot: Bytes32,
    index: z.number().int().nonnegative(),
    length: z.number().int().min(2).max(MAX_HASHES_PER_MESSAGE),
  }),
  /** The peer's full bitfield (have-all / have-none arrive as one as well). */
  z.object({ type: z.literal('bitfield'), actorId: ActorId, bitfield: Bytes }),
  /** `have` messages, batched. */
  z.object({ type: z.literal('have'), actorId: ActorId, pieces: z.array(PieceIndex).min(1) }),
  /** The peer choked or unchoked us. */
  z.object({ type: z.literal('choke'), actorId: ActorId, choked: z.boolean() }),
  /** The peer became interested or not interested in our pieces (the choker's input). */
  z.object({ type: z.literal('peer-interest'), actorId: ActorId, interested: z.boolean() }),
  /**
   * A piece we claimed could not be served: the read failed, or the bytes on disk no longer match
   * its hash (changed under us). The host stops offering it; the coordinator decides what next.
   */
  z.object({ type: z.literal('unreadable'), actorId: ActorId, index: PieceIndex, error: PlainError }),
  /** A piece that passed SHA-1 in the worker; `data` is exactly the piece's size. */
  z.object({
    type: z.literal('piece'),
    actorId: ActorId,
    index: PieceIndex,
    data: z.instanceof(ArrayBuffer),
  }),
  /**
   * Verified pieces of a small-piece torrent (piece length ≤ SMALL_PIECE_EVENT_BYTES), packed back to back into one transferred
   * buffer per host turn: with 16 KiB pieces a transferred buffer per piece, and its trip back
   * (`recycle`), were a thread hop's worth of work per 16 KiB. Each entry says whose piece lies
   * where; the buffer goes back (`recycle`) once every piece in it is written or dropped.
   */
  z.object({
    type: z.literal('pieces'),
    data: z.instanceof(ArrayBuffer),
    pieces: z
      .array(
        z.object({
          actorId: ActorId,
          index: PieceIndex,
          offset: z.number().int().nonnegative().max(MAX_PIECE_BATCH_BYTES),
          length: z.number().int().positive().max(SMALL_PIECE_EVENT_BYTES),
        }),
      )
      .min(1)
      .max(MAX_PIECES_PER_EVENT),
  }),
  /** A piece that failed SHA-1: fetch it again elsewhere; repeated failures ban the peer. */
  z.object({ type: z.literal('hash-failed'), actorId: ActorId, index: PieceIndex }),
  /** Assigned pieces the actor gives back (choked, stalled, peer lacks them) for reassignment. */
  z.object({
    type: z.literal('released'),
    actorId: ActorId,
    pieces: z.array(PieceIndex).min(1),
    reason: ReleaseReason,
  }),
  /**
   * A peer's peer exchange message (BEP 11): the peers it is connected to that are new since its
   * last message (listen address, BEP 11 flags) and those it dropped; at most
   * MAX_PEX_PEERS_PER_MESSAGE in all (the codec leaves out the rest).
   */
  z.object({
    type: z.literal('pex-peers'),
    actorId: ActorId,
    added: z
      .array(PexAddress.extend({ flags: z.number().int().min(0).max(255) }))
      .max(MAX_PEX_PEERS_PER_MESSAGE),
    dropped: z.array(PexAddress).max(MAX_PEX_PEERS_PER_MESSAGE),
  }),
  z.object({ type: z.literal('stats'), actors: z.array(ActorStats) }),
  /** The connection is gone; every piece still assigned to it is free again. */
  z.object({ type: z.literal('closed'), actorId: ActorId, error: PlainError }),
  /**
   * The host accepted a connection on its own listening socket (`reusePort`, Node >= 22.12) and
   * read the peer's handshake: the connection waits, paused, under `connection` until the
   * coordinator answers with an `accept` naming it (a new actor) or a `refuse-incoming` (full,
   * banned, unknown torrent). Consumed by the actor system, never seen by torrents.
   */
  z.object({
    type: z.literal('incoming'),
    connection: z.number().int().nonnegative(),
    infoHashHex: z.string().regex(/^[0-9a-f]{40}$/),
    address: z.string().min(1).max(300),
    encrypted: z.boolean(),
  }),
]);
export type HostEvent = z.infer<typeof HostEvent>;
/** An event of one actor (not a host's `stats`, its packed `pieces`, which the Engine unpacks, nor an `incoming` connection, which the actor system answers). */
export type ActorEvent = Exclude<HostEvent, { type: 'stats' } | { type: 'pieces' } | { type: 'incoming' }>;

export const HostEventBatch = z.object({
  events: z.array(HostEvent),
  /**
   * When the host posted the batch: its `performance.timeOrigin + now()`, ms (the trace's queueing
   * delay). Only while the coordinator stamps its command batches (a trace is on).
   */
  sentAt: z.number().optional(),
});
export type HostEventBatch = z.infer<typeof HostEventBatch>;
