import { EventEmitter } from 'node:events';
import { TorkError, TorkErrorCode } from '../errors.js';
import type { ActorStats, HostEvent } from '../messages/host-event.js';
import { MERKLE_HASH_SIZE } from '../metainfo/merkle-tree.js';
import { type Metainfo, metainfoWithV2 } from '../metainfo/metainfo.js';
import { pieceLayerRequests } from '../wire/hash-proof.js';
import type { HashRange } from '../wire/messages.js';
import { wireInfoHash } from '../wire/wire-info-hash.js';
import { CommandBatch } from './command-batch.js';
import { PeerBook, peerBookContext } from './peer-book.js';
import type { PeerRecord } from './peer-record.js';
import type { TorrentContext } from './torrent-options.js';

/** A hybrid magnet's layer phase gives up after this long without a v2 peer connected, ms. */
export const HYBRID_LAYER_PATIENCE_MS = 15_000;
/** Hash requests the coordinator keeps outstanding with one peer (the host refuses more than 8). */
export const HASH_REQUESTS_PER_PEER = 2;
/**
 * After the first peer connects, how long the others dialled get to connect before requests go
 * out, so the slices are spread over the peers instead of all going to the fastest dialler, ms.
 */
export const LAYER_GATHER_MS = 500;

export interface PieceLayerFetchOptions {
  /** A v2 or hybrid torrent whose metadata came without `piece layers`. */
  readonly meta: Metainfo;
  /** Who to ask: the peers of the metadata phase (and the magnet's, and those given by hand). */
  readonly peers: readonly { readonly host: string; readonly port: number }[];
  /** Longest wait for all the layers, ms. */
  readonly timeoutMs: number;
  /**
   * Give up sooner when no peer speaking v2 has been connected for this long, ms (a hybrid in a
   * swarm of v1-only peers: it downloads on SHA-1 instead of waiting `timeoutMs`). Default: only
   * `timeoutMs`.
   */
  readonly noPeerTimeoutMs?: number;
  /** Most connections. Default: 80 (as a torrent). */
  readonly maxPeers?: number;
  /** Coordinator tick, ms. Default: 1,000. */
  readonly tickMs?: number;
}

/** What a piece-layer fetch reports (forwarded as events of the magnet's MetadataFetch). */
export interface PieceLayerFetchEventMap {
  /**
   * Every needed piece layer is had: `files` layers, `hashes` piece hashes in all, fetched by
   * `requests` hash requests (of them `rejected` answered with a hash reject).
   */
  'piece-layers-received': [
    { files: number; hashes: number; requests: number; rejected: number; elapsedMs: number },
  ];
  /** A peer sent hashes we did not ask for or that do not prove against the root: banned. */
  'piece-layers-rejected': [{ address: string; reason: string }];
}

/** A piece layer slice to ask for: which file, the wire request, how many of its hashes are real pieces. */
interface Slice {
  readonly file: number;
  readonly range: HashRange;
  readonly key: string;
  readonly pieces: number;
  readonly fileLength: number;
  /** Actors that rejected it (not asked again). */
  readonly rejectedBy: Set<number>;
  /** The actor asked, while outstanding. */
  askedOf: number | undefined;
  done: boolean;
}

/** The files whose piece layers must come from peers: longer than a piece, with a root and no layer. */
export function missingPieceLayers(meta: Metainfo): number[] {
  const v2 = meta.v2;
  if (v2 === undefined) return [];
  const missing: number[] = [];
  for (const [index, file] of meta.files.entries()) {
    const root = v2.piecesRoots[index];
    if (file.pad || root === undefined || file.length <= meta.pieceLength) continue;
    if (!v2.pieceLayers.has(Buffer.from(root).toString('hex'))) missing.push(index);
  }
  return missing;
}

/** The fetched layers, and the torrent with them. */
export interface FetchedPieceLayers {
  /** The torrent with `v2.pieceLayers` complete (`hasPieceLayers` true). */
  readonly meta: Metainfo;
  /** The new layers, by hex pieces root. */
  readonly layers: ReadonlyMap<string, Uint8Array>;
  /** Addresses banned for wrong hashes: not to be dialled for the download either. */
  readonly banned: readonly string[];
}

/**
 * The piece-layer phase of a v2 or hybrid magnet (BEP 52): metadata fetched by BEP 9 has no
 * `piece layers`, so the layer of every file longer than a piece is asked of peers with `hash
 * request`s (slices of ≤ 512 hashes, proof to the file's root) before the download starts. Its
 * actors run in the peer hosts as a magnet torrent that handshakes by the truncated v2 info-hash
 * with the v2 bit (so every connection speaks v2); each `hashes` is proven against the root in
 * the host (`PieceLayerFetch` there), and arrives here as `piece-hashes`. At most
 * `HASH_REQUESTS_PER_PEER` are outstanding per peer; a rejected slice goes to another peer; a
 * peer whose hashes do not prove (or that sends some unasked) is closed by its host with
 * `cause: 'bad-hashes'` and banned here.
 *
 * No hashing here: the coordinator trusts the host's proof and checks only by comparison — the
 * answer names a slice it asked of that very actor (same root, index and length) — and copies
 * the real piece hashes (the slice's tail past the file's last piece is padding) into the layer.
 */
export class PieceLayerFetch extends EventEmitter<PieceLayerFetchEventMap> {
  readonly #options: PieceLayerFetchOptions;
  readonly #ctx: TorrentContext;
  readonly #meta: Metainfo;
  readonly #book: PeerBook;
  readonly #commands: CommandBatch;
  readonly #torrentId: string;
  readonly #slices: Slice[] = [];
  readonly #byKey = new Map<string, Slice>();
  readonly #layers = new Map<string, Uint8Array>();
  /** Connected actors (all speak v2: the handshake named the v2 hash). */
  readonly #ready = new Set<number>();
  readonly #outstanding = new Map<number, number>();
  readonly #banned: string[] = [];
  #requests = 0;
  #rejected = 0;
  #firstConnectedAt: number | undefined;
  /** When a v2 peer was last connected (or the start). */
  #lastPeerAt = Date.now();
  #tick: NodeJS.Timeout | undefined;
  #startedAt = Date.now();
  #settled = false;
  #result!: Promise<FetchedPieceLayers>;
  #resolve!: (result: FetchedPieceLayers) => void;
  #reject!: (error: TorkError) => void;

  constructor(options: PieceLayerFetchOptions, ctx: TorrentContext) {
    super();
    const { meta } = options;
    if (meta.v2 === undefined || meta.infoHashV2 === undefined) {
      throw new TorkError(TorkErrorCode.INTERNAL, 'piece layers fetched for a torrent without v2 metadata');
    }
    this.#options = options;
    this.#ctx = ctx;
    this.#meta = meta;
    this.#torrentId = meta.infoHashHex;
    this.#commands = new CommandBatch(ctx.actors);
    this.#book = new PeerBook(
      peerBookContext(this.#torrentId, ctx, (command) => this.#commands.send(command)),
      { maxPeers: options.maxPeers },
    );
    for (const file of missingPieceLayers(meta)) {
      const root = meta.v2.piecesRoots[file]!;
      const fileLength = meta.files[file]!.length;
      const pieces = Math.ceil(fileLength / meta.pieceLength);
      this.#layers.set(Buffer.from(root).toString('hex'), new Uint8Array(pieces * MERKLE_HASH_SIZE));
      for (const range of pieceLayerRequests(root, fileLength, meta.pieceLength)) {
        const slice: Slice = {
          file,
          range,
          key: sliceKey(root, range.index, range.length),
          pieces: Math.min(range.length, pieces - range.index),
          fileLength,
          rejectedBy: new Set(),
          askedOf: undefined,
          done: false,
        };
        this.#slices.push(slice);
        this.#byKey.set(slice.key, slice);
      }
    }
    this.#result = new Promise((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    this.#result.catch(() => {});
  }

  /** Dials the peers; resolves once every layer is had, rejects with TORK_ERR_METADATA on timeout. */
  start(): Promise<FetchedPieceLayers> {
    this.#startedAt = Date.now();
    this.#lastPeerAt = this.#startedAt;
    if (this.#slices.length === 0) {
      this.#complete();
      return this.#result;
    }
    const meta = this.#meta;
    this.#commands.send({
      type: 'add-magnet',
      torrentId: this.#torrentId,
      infoHash: wireInfoHash(meta.infoHashV2!),
      peerId: this.#ctx.peerId,
      listenPort: this.#ctx.port,
      v2: true,
      metadataHashes: { v2: meta.infoHashV2!, ...(meta.version === 'hybrid' ? { v1: meta.infoHash } : {}) },
    });
    if (this.#options.peers.length === 0) {
      this.#fail(new TorkError(TorkErrorCode.METADATA, 'no peer to ask for the piece layers'));
      return this.#result;
    }
    this.#book.addManual(this.#options.peers, Date.now());
    this.#book.connectMore(Date.now());
    this.#tick = setInterval(() => this.#onTick(), this.#options.tickMs ?? 1_000);
    return this.#result;
  }

  /** Gives up; the start promise rejects with ABORTED. */
  stop(): void {
    this.#fail(new TorkError(TorkErrorCode.ABORTED, 'stopped while fetching the piece layers'));
  }

  /** @internal Events of this fetch's actors, routed by the Engine. */
  handleEvent(event: Exclude<HostEvent, { type: 'stats' | 'incoming' }>): void {
    const peer = this.#book.get(event.actorId);
    if (!peer) return;
    switch (event.type) {
      case 'connected':
        if (!this.#book.connected(peer, event.peerId, event.client, Date.now(), event)) return;
        this.#ready.add(peer.actorId);
        if (this.#firstConnectedAt === undefined) {
          this.#firstConnectedAt = Date.now();
          setTimeout(() => this.#askMore(), LAYER_GATHER_MS).unref();
        }
        this.#askMore();
        return;
      case 'piece-hashes':
        this.#onHashes(peer, event.piecesRoot, event.index, event.length, new Uint8Array(event.hashes));
        return;
      case 'hashes-rejected': {
        const slice = this.#byKey.get(sliceKey(event.piecesRoot, event.index, event.length));
        if (slice === undefined || slice.askedOf !== peer.actorId) return;
        this.#rejected++;
        slice.rejectedBy.add(peer.actorId);
        this.#release(slice);
        this.#askMore();
        return;
      }
      case 'closed': {
        if (this.#ready.delete(peer.actorId)) this.#lastPeerAt = Date.now();
        this.#outstanding.delete(peer.actorId);
        for (const slice of this.#slices) if (slice.askedOf === peer.actorId) slice.askedOf = undefined;
        if (event.error.details.cause === 'bad-hashes') {
          this.#banned.push(peer.key);
          this.emit('piece-layers-rejected', { address: peer.key, reason: event.error.message });
          this.#book.ban(peer, `banned: ${event.error.message}`);
        }
        this.#book.closed(peer, event.error, Date.now());
        if (!this.#settled) {
          this.#askMore();
          this.#book.connectMore(Date.now());
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

  #onHashes(peer: PeerRecord, root: Uint8Array, index: number, length: number, hashes: Uint8Array): void {
    if (this.#settled) return;
    const slice = this.#byKey.get(sliceKey(root, index, length));
    // The host matched it to a request of its own; a slice we did not ask of this actor is a bug
    // somewhere between: the copy is not used (the slice is asked again).
    if (slice === undefined || slice.askedOf !== peer.actorId || hashes.length !== length * MERKLE_HASH_SIZE)
      return;
    const layer = this.#layers.get(Buffer.from(root).toString('hex'))!;
    layer.set(hashes.subarray(0, slice.pieces * MERKLE_HASH_SIZE), slice.range.index * MERKLE_HASH_SIZE);
    this.#release(slice);
    slice.done = true;
    if (this.#slices.every((candidate) => candidate.done)) this.#complete();
    else this.#askMore();
  }

  #release(slice: Slice): void {
    if (slice.askedOf === undefined) return;
    const left = (this.#outstanding.get(slice.askedOf) ?? 1) - 1;
    if (left > 0) this.#outstanding.set(slice.askedOf, left);
    else this.#outstanding.delete(slice.askedOf);
    slice.askedOf = undefined;
  }

  /** Each waiting slice to the connected peer with the fewest outstanding that has not rejected it. */
  #askMore(): void {
    if (this.#settled || this.#firstConnectedAt === undefined) return;
    const gathering =
      Date.now() - this.#firstConnectedAt < LAYER_GATHER_MS && this.#book.summary().connecting > 0;
    if (gathering) return;
    for (const slice of this.#slices) {
      if (slice.done || slice.askedOf !== undefined) continue;
      let best: number | undefined;
      for (const actorId of this.#ready) {
        const load = this.#outstanding.get(actorId) ?? 0;
        if (load >= HASH_REQUESTS_PER_PEER || slice.rejectedBy.has(actorId)) continue;
        if (best === undefined || load < (this.#outstanding.get(best) ?? 0)) best = actorId;
      }
      if (best === undefined) continue;
      slice.askedOf = best;
      this.#outstanding.set(best, (this.#outstanding.get(best) ?? 0) + 1);
      this.#requests++;
      this.#commands.send({
        type: 'fetch-hashes',
        actorId: best,
        piecesRoot: slice.range.piecesRoot,
        fileLength: slice.fileLength,
        baseLayer: slice.range.baseLayer,
        index: slice.range.index,
        length: slice.range.length,
        proofLayers: slice.range.proofLayers,
      });
    }
  }

  #onTick(): void {
    const now = Date.now();
    if (this.#ready.size > 0) this.#lastPeerAt = now;
    const patience = this.#options.noPeerTimeoutMs;
    if (patience !== undefined && this.#ready.size === 0 && now - this.#lastPeerAt >= patience) {
      this.#fail(
        new TorkError(
          TorkErrorCode.METADATA,
          `no peer speaking BitTorrent v2 for ${Math.round(patience / 1000)} s: the piece layers cannot be had`,
          { connected: 0 },
        ),
      );
      return;
    }
    if (now - this.#startedAt >= this.#options.timeoutMs) {
      const had = this.#slices.filter((slice) => slice.done).length;
      this.#fail(
        new TorkError(
          TorkErrorCode.METADATA,
          `piece layers incomplete after ${Math.round(this.#options.timeoutMs / 1000)} s (${had} of ${this.#slices.length} slices, ${this.#ready.size} v2 peers connected)`,
          { slices: this.#slices.length, had, connected: this.#ready.size },
        ),
      );
      return;
    }
    // A slice every connected peer rejected may find a taker among peers that connect later.
    this.#book.connectMore(now);
    this.#askMore();
  }

  #complete(): void {
    const meta = this.#meta;
    const v2 = meta.v2!;
    const pieceLayers = new Map(v2.pieceLayers);
    for (const [root, layer] of this.#layers) pieceLayers.set(root, layer);
    const complete = metainfoWithV2(meta, { ...v2, pieceLayers, hasPieceLayers: true });
    this.emit('piece-layers-received', {
      files: this.#layers.size,
      hashes: [...this.#layers.values()].reduce((sum, layer) => sum + layer.length / MERKLE_HASH_SIZE, 0),
      requests: this.#requests,
      rejected: this.#rejected,
      elapsedMs: Date.now() - this.#startedAt,
    });
    this.#finish();
    this.#resolve({ meta: complete, layers: this.#layers, banned: this.#banned });
  }

  #fail(error: TorkError): void {
    if (this.#settled) return;
    this.#finish();
    this.#reject(error);
  }

  #finish(): void {
    this.#settled = true;
    clearInterval(this.#tick);
    this.#commands.send({ type: 'remove-torrent', torrentId: this.#torrentId });
    this.#commands.flush();
    for (const peer of [...this.#book.values()]) this.#ctx.unregister(peer.actorId);
  }
}

function sliceKey(root: Uint8Array, index: number, length: number): string {
  return `${Buffer.from(root).toString('hex')}/${index}/${length}`;
}

/**
 * A .torrent with `piece layers` (BEP 52): `torrent` (a bencoded dictionary whose last key sorts
 * before "piece layers", as `torrentFile` writes it) with the layers added, keyed by their
 * 32-byte roots in byte order.
 */
export function withPieceLayers(torrent: Uint8Array, layers: ReadonlyMap<string, Uint8Array>): Uint8Array {
  const parts: Buffer[] = [
    Buffer.from(torrent.subarray(0, torrent.length - 1)),
    Buffer.from('12:piece layersd'),
  ];
  for (const root of [...layers.keys()].sort()) {
    const layer = layers.get(root)!;
    parts.push(
      Buffer.from('32:'),
      Buffer.from(root, 'hex'),
      Buffer.from(`${layer.length}:`),
      Buffer.from(layer),
    );
  }
  parts.push(Buffer.from('ee'));
  return new Uint8Array(Buffer.concat(parts));
}
