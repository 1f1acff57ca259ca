import type { Socket } from 'node:net';
import type { MessagePort } from 'node:worker_threads';
import { DOUBLE_ZERO } from '@tork/core/internal/double-zero.js';
import { TorkError, TorkErrorCode, toTorkError } from '@tork/core/internal/errors.js';
import type { ActorStats, HostEvent } from '@tork/core/internal/messages/host-event.js';
import type { DialEncryption } from '@tork/core/internal/mse/encryption-policy.js';
import type { MseStreams } from '@tork/core/internal/mse/mse-handshake.js';
import { TORK_CLIENT_NAME } from '@tork/core/internal/version.js';
import { WireDecoder } from '@tork/core/internal/wire/decoder.js';
import {
  encodeBitfield,
  encodeExtended,
  encodeHaveAll,
  encodeHaveNone,
} from '@tork/core/internal/wire/encoder.js';
import { encodeHandshake, HANDSHAKE_LENGTH } from '@tork/core/internal/wire/handshake.js';
import {
  type HashRange,
  PIECE_MESSAGE_TYPES,
  type WireMessage,
  WireMessageId,
} from '@tork/core/internal/wire/messages.js';
import { describePeerId } from '@tork/core/internal/wire/peer-id.js';
import type { ActorTorrent } from '../actor-torrent.js';
import type { BufferPool } from '../buffer-pool.js';
import { Downloader } from '../download/downloader.js';
import { ExtensionRegistry } from '../extensions/extension-registry.js';
import type { PeerExtension } from '../extensions/peer-extension.js';
import { UtMetadataHandler } from '../extensions/ut-metadata.js';
import type { PeerLink } from '../peer-link.js';
import type { PeerTransport, TransportHandlers } from '../transport/peer-transport.js';
import { Uploader } from '../upload/uploader.js';
import { enableV2IfSpoken, type HashResponder, handshakeVersion, v2Handshake } from '../v2/hash-responder.js';
import { enableLayerFetchIfSpoken, PieceLayerFetch } from '../v2/piece-layer-fetch.js';
import { WireWriter } from '../wire-writer.js';
import { PeerPieces } from './peer-pieces.js';
import type { PeerSessionOptions } from './peer-session-options.js';
import { equalBytes, printableName, seconds } from './session-text.js';
import { acceptedTransport, dialledTransport } from './session-transport.js';

/** How a session reaches its host (and through it the coordinator). */
export interface ActorSink {
  /** Queues an event for this turn's batch; `transfer` is moved with it. */
  emit(event: HostEvent, transfer?: ArrayBuffer): void;
  /** The session has output or batched events waiting: call its `flush` at the end of this turn. */
  schedule(session: PeerSession): void;
  /** The session is closed and must be forgotten. */
  removed(session: PeerSession): void;
  /** Piece buffers for reuse (see BufferPool). */
  readonly buffers: BufferPool;
  /**
   * A verified piece of a small-piece torrent, copied into this turn's batch to the coordinator
   * before the call returns (`bytes` may be a view the caller reuses).
   */
  packPiece(actorId: number, index: number, bytes: Uint8Array): void;
  countBytes(received: number, sent: number): void;
}

type State = 'connecting' | 'handshaking' | 'open' | 'closed';

/**
 * One peer connection, living in a peer host thread (the coordinator knows it as an actor): the
 * handshake and the connection's state, deadlines and keep-alives, flood checks, and the dispatch
 * of each wire message to the part it concerns — the Downloader (the pieces the coordinator
 * assigned), the Uploader (the peer's requests), the BEP 10 extensions. Bytes come and go through
 * a PeerTransport, whatever carries them; outgoing messages are gathered in a WireWriter and
 * written once per event-loop turn (`flush`).
 */
export class PeerSession implements PeerLink {
  readonly id: number;
  readonly torrent: ActorTorrent;
  readonly writer: WireWriter;
  readonly #sink: ActorSink;
  readonly #decoder: WireDecoder;
  readonly #downloader: Downloader;
  readonly #uploader: Uploader;
  readonly #extensions: ExtensionRegistry;
  readonly #pieces: PeerPieces;
  readonly #options: PeerSessionOptions;
  /** BEP 52 hash requests, once the handshake shows a v2 connection (null: v1). */
  #hashes: HashResponder | null = null;
  /** BEP 52: the piece-layer hashes this connection was asked to fetch. */
  readonly #layers = new PieceLayerFetch(this);
  #transport: PeerTransport | null = null;
  /** What carries the connection, for the `connected` event. */
  #linkTransport: 'tcp' | 'utp' = 'tcp';
  #incoming = false;
  #state: State = 'connecting';
  #address = '';
  #deadline = DOUBLE_ZERO;
  #lastReceived: number;
  #lastSent: number;
  #fast = false;
  /** Nothing but the handshake so far: a bitfield / have-all / have-none is still allowed. */
  #firstMessage = true;
  #bitfieldSent = false;
  /** When the handshake completed: the first-message deadline counts from there. */
  #openedAt = DOUBLE_ZERO;
  /** Redundant messages in the current one-second window, and when it began. */
  #redundant = 0;
  #redundantSince = DOUBLE_ZERO;

  // Options, resolved once.
  readonly #connectTimeoutMs: number;
  readonly #handshakeTimeoutMs: number;
  readonly #keepAliveIntervalMs: number;
  readonly #idleTimeoutMs: number;
  readonly #firstMessageTimeoutMs: number;
  readonly #maxRedundantPerSecond: number;
  readonly #clientName: string;

  /** `extensions`: the BEP 10 extensions this session offers the peer. Default: none. */
  constructor(
    id: number,
    torrent: ActorTorrent,
    sink: ActorSink,
    options: PeerSessionOptions = {},
    extensions: readonly PeerExtension[] = [],
  ) {
    const now = performance.now();
    this.id = id;
    this.torrent = torrent;
    this.#sink = sink;
    this.#options = options;
    this.writer = new WireWriter(sink.buffers);
    this.#pieces = new PeerPieces(this);
    this.#downloader = new Downloader(this, this.#pieces.bitfield, now, options);
    this.#uploader = new Uploader(this, now, options);
    this.#extensions = new ExtensionRegistry(
      extensions,
      (remoteId, payload) => this.#sendExtended(remoteId, payload),
      {
        actorId: id,
        torrent,
        emit: (event, transfer) => sink.emit(event, transfer),
        close: (error) => this.close(this.#withPeer(error)),
      },
    );
    // Messages are consumed (blocks copied out) before the next push: scratch buffers are reused.
    this.#decoder = new WireDecoder({
      expectHandshake: true,
      // A magnet's torrent has no pieces yet: bitfields are bounded by the decoder's own cap.
      ...(torrent.metadataOnly ? {} : { pieceCount: torrent.pieceCount }),
      reuseBuffers: true,
    });
    this.#lastReceived = now;
    this.#lastSent = now;
    this.#connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
    this.#handshakeTimeoutMs = options.handshakeTimeoutMs ?? 20_000;
    this.#keepAliveIntervalMs = options.keepAliveIntervalMs ?? 120_000;
    this.#idleTimeoutMs = options.idleTimeoutMs ?? 180_000;
    this.#firstMessageTimeoutMs = options.firstMessageTimeoutMs ?? 30_000;
    this.#maxRedundantPerSecond = options.maxRedundantPerSecond ?? 1_000;
    this.#clientName = options.clientName ?? TORK_CLIENT_NAME;
  }

  get closed(): boolean {
    return this.#state === 'closed';
  }

  // PeerLink: what the downloader and the uploader use.

  get open(): boolean {
    return this.#state === 'open';
  }

  get fast(): boolean {
    return this.#fast;
  }

  get unsent(): number {
    return this.writer.size + (this.#transport?.pending ?? 0);
  }

  get buffers(): BufferPool {
    return this.#sink.buffers;
  }

  emit(event: HostEvent, transfer?: ArrayBuffer): void {
    this.#sink.emit(event, transfer);
  }

  packPiece(index: number, bytes: Uint8Array): void {
    this.#sink.packPiece(this.id, index, bytes);
  }

  schedule(): void {
    this.#sink.schedule(this);
  }

  // Commands from the coordinator.

  /**
   * Dials the peer; the handshake is sent as soon as the connection is up, or once the MSE
   * handshake is done when `encryption` asks for one (the connect deadline covers both). Over
   * uTP the UDP host dials and relays the stream over `relay` (it says `open` once the peer
   * answered); over TCP the session's own socket.
   */
  connect(host: string, port: number, encryption: DialEncryption = 'none', utpRelay?: MessagePort): void {
    this.#address = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
    this.#deadline = performance.now() + this.#connectTimeoutMs;
    this.#linkTransport = utpRelay ? 'utp' : 'tcp';
    this.#transport = dialledTransport(host, port, this.#handlers(), this.#sink.buffers, {
      encryption,
      infoHash: this.torrent.infoHash,
      utpRelay,
    });
  }

  /**
   * Runs a connection the coordinator accepted and relays over `relay`. `initial` holds the
   * bytes it read to find the torrent (at least the peer's handshake): they are decoded first,
   * and our handshake answers the peer's.
   */
  accept(
    address: string,
    relay: MessagePort | Socket,
    initial: Uint8Array,
    mse?: MseStreams,
    transport: 'tcp' | 'utp' = 'tcp',
  ): void {
    this.#address = address;
    this.#linkTransport = transport;
    this.#incoming = true;
    this.#state = 'handshaking';
    this.#deadline = performance.now() + this.#handshakeTimeoutMs;
    this.#transport = acceptedTransport(relay, this.#handlers(), this.#sink.buffers, mse);
    if (initial.length > 0) this.#onData(initial);
  }

  /** The choker's decision (see Uploader). */
  choke(choked: boolean): void {
    if (this.#state !== 'closed') this.#uploader.choke(choked);
  }

  /** Takes whole pieces to fetch (see Downloader). */
  assign(pieces: readonly number[]): void {
    if (this.#state !== 'closed') this.#downloader.assign(pieces);
  }

  /** Stops fetching pieces (see Downloader). */
  unassign(pieces: readonly number[]): void {
    if (this.#state !== 'closed') this.#downloader.unassign(pieces);
  }

  interest(interested: boolean): void {
    if (this.#state !== 'closed') this.#downloader.interest(interested);
  }

  /** Fetch the metadata from this peer (a magnet's torrent; the peer offered it). */
  fetchMetadata(): void {
    if (this.#state !== 'open') return;
    const handler = this.#extensions.handler('ut_metadata');
    if (handler instanceof UtMetadataHandler) handler.fetch(performance.now());
  }

  /** BEP 52: ask the peer for a slice of a file's piece layer (see PieceLayerFetch). */
  fetchHashes(range: HashRange, fileLength: number): void {
    if (this.#state === 'open') this.#layers.request(range, fileLength, performance.now());
  }

  /** We verified pieces: tell the peer (our bitfield, if not sent yet, already has them). */
  sendHave(pieces: readonly number[]): void {
    if (this.#state !== 'open' || !this.#bitfieldSent) return;
    for (const index of pieces) this.writer.have(index);
    this.schedule();
  }

  /** Closes the connection and tells the coordinator why (`closed`); idempotent. */
  close(error: TorkError): void {
    if (this.#state === 'closed') return;
    // Final counters first: the periodic stats would miss up to a second of transfer.
    if (this.#state === 'open') this.#sink.emit({ type: 'stats', actors: [this.stats(performance.now())] });
    // The `have`s not reported yet still go, before `closed`: a downloader that sends its last
    // ones and hangs up is known to have left complete (a seeder does not redial it).
    this.#pieces.drain();
    // The coordinator's close (both seeds, torrent done or stopped, rotated out) is orderly: this
    // turn's messages still go, the last `have`s among them, so the peer learns we completed (a
    // seeder that never saw our last pieces took us for a leecher and redialled us when we left).
    this.#shutdown(this.#state === 'open' && error.code === TorkErrorCode.ABORTED);
    this.#extensions.close();
    this.#sink.emit({ type: 'closed', actorId: this.id, error: error.toPlain() });
    this.#sink.removed(this);
  }

  /** Closes without an event: the whole host is shutting down. */
  destroy(): void {
    if (this.#state === 'closed') return;
    this.#shutdown();
    this.#sink.removed(this);
  }

  /** End of the event-loop turn: write this turn's messages, emit batched `have`s. */
  flush(): void {
    this.#pieces.flush();
    if (this.#state === 'closed' || !this.#writeQueued()) return;
    // Serving stops at the high-water mark; what was queued has left, so go on if there is room.
    this.#uploader.serve();
  }

  /** Called by the host about once a second: deadlines, keep-alive, idle timeout, snubbing. */
  tick(now: number): void {
    switch (this.#state) {
      case 'connecting':
        if (now >= this.#deadline) {
          if (this.#transport?.negotiating) {
            const why = `no encrypted handshake within ${seconds(this.#connectTimeoutMs)} s`;
            this.#timeout(TorkErrorCode.WIRE_HANDSHAKE, why, 'ETIMEDOUT', 'mse');
          } else {
            const why = `could not connect within ${seconds(this.#connectTimeoutMs)} s`;
            this.#timeout(TorkErrorCode.IO, why, 'ETIMEDOUT');
          }
        }
        return;
      case 'handshaking':
        if (now >= this.#deadline) {
          this.#timeout(
            TorkErrorCode.WIRE_HANDSHAKE,
            `no handshake within ${seconds(this.#handshakeTimeoutMs)} s`,
          );
        }
        return;
      case 'open':
        break;
      case 'closed':
        return;
    }
    if (now - this.#lastReceived >= this.#idleTimeoutMs) {
      this.#timeout(TorkErrorCode.IO, `no data for ${seconds(this.#idleTimeoutMs)} s`, 'idle');
      return;
    }
    if (this.#fast && this.#firstMessage && now - this.#openedAt >= this.#firstMessageTimeoutMs) {
      this.close(
        new TorkError(
          TorkErrorCode.WIRE_PROTOCOL,
          `peer sent no bitfield, have-all or have-none within ${seconds(this.#firstMessageTimeoutMs)} s of its handshake (BEP 6)`,
          this.#details({ cause: 'silent' }),
        ),
      );
      return;
    }
    // The `have`s a seeder let wait (PeerPieces): once a second.
    this.#pieces.drain();
    this.#uploader.tick();
    this.#extensions.tick(now);
    this.#layers.tick(now);
    if (this.closed) return;
    if (now - this.#lastSent >= this.#keepAliveIntervalMs) {
      this.writer.keepAlive();
      this.schedule();
    }
    if (this.#downloader.checkSnub(now)) {
      const why = `peer accepted requests and sent no block for ${seconds(this.#downloader.snubTimeoutMs)} s`;
      this.#timeout(TorkErrorCode.IO, why, 'unanswered');
    }
  }

  stats(now: number): ActorStats {
    const downloader = this.#downloader;
    const uploader = this.#uploader;
    return {
      actorId: this.id,
      downloaded: downloader.downloaded,
      uploaded: uploader.uploaded,
      downloadRate: downloader.rate(now),
      uploadRate: uploader.rate(now),
      queueDepth: downloader.queueDepth,
      targetQueueDepth: downloader.targetQueueDepth(now),
      peerChoking: downloader.peerChoking,
      amInterested: downloader.amInterested,
      amChoking: uploader.amChoking,
      peerInterested: uploader.peerInterested,
      snubbed: downloader.snubbed,
      requestsQueued: uploader.queued,
      requestsRefused: uploader.refused,
      ...(this.#hashes
        ? { hashRequestsAnswered: this.#hashes.answered, hashRequestsRejected: this.#hashes.rejected }
        : {}),
      uploadStalled: uploader.stalled(now),
    };
  }

  // --- connection ---

  #handlers(): TransportHandlers {
    return {
      onConnect: () => this.#onConnect(),
      onData: (chunk) => this.#onData(chunk),
      onDrain: () => this.#uploader.serve(),
      onClose: (error) => this.close(this.#withPeer(this.#duringHandshake(error))),
    };
  }

  /**
   * A dialled connection the peer closed after it was up but before its BitTorrent handshake came:
   * tagged `phase: 'handshake'`, so the coordinator can tell "refused our handshake" (a peer that
   * requires encryption closes a plain one) from a transport that never worked.
   */
  #duringHandshake(error: TorkError): TorkError {
    if (this.#incoming || this.#state !== 'handshaking' || error.details.phase !== undefined) return error;
    return new TorkError(
      error.code,
      error.message,
      { ...error.details, phase: 'handshake' },
      { cause: error },
    );
  }

  #onConnect(): void {
    if (this.#state !== 'connecting') return;
    this.#state = 'handshaking';
    this.#deadline = performance.now() + this.#handshakeTimeoutMs;
    this.writer.push(this.#handshake());
    this.flush();
  }

  #handshake(infoHash?: Uint8Array): Uint8Array {
    // BEP 52: an accepted connection answers with the hash the peer named (a hybrid has two).
    if (infoHash !== undefined && this.torrent.infoHashes) return v2Handshake(infoHash, this.torrent.peerId);
    return encodeHandshake({
      infoHash: this.torrent.infoHash,
      peerId: this.torrent.peerId,
      extensionProtocol: true,
      fastExtension: true,
      // BEP 52: only for v2 and hybrid torrents (libtorrent drops it for a torrent it knows as v1).
      v2: this.torrent.v2PieceChecks !== null || this.torrent.v2Handshake === true,
    });
  }

  #onData(chunk: Uint8Array): void {
    if (this.#state === 'closed') return;
    // BEP 52: whether hash messages are decoded depends on the handshake, so the bytes after it
    // are decoded only once it has been read (a v2 torrent's first chunk may hold both).
    const rest = HANDSHAKE_LENGTH - this.#decoder.bufferedBytes;
    if (this.#state === 'handshaking' && this.torrent.infoHashes && chunk.length > rest) {
      this.#onData(chunk.subarray(0, rest));
      this.#onData(chunk.subarray(rest));
      return;
    }
    const now = performance.now();
    this.#lastReceived = now;
    this.#sink.countBytes(chunk.length, 0);
    let messages: readonly WireMessage[];
    try {
      messages = this.#decoder.push(chunk);
    } catch (error) {
      this.close(this.#withPeer(toTorkError(error, TorkErrorCode.WIRE_PROTOCOL)));
      return;
    }
    try {
      for (const message of messages) {
        this.#onMessage(message, now);
        if (this.closed) return;
      }
    } catch (error) {
      // Protocol faults are thrown as TorkErrors; anything else is a bug of ours.
      this.close(this.#withPeer(toTorkError(error, TorkErrorCode.INTERNAL)));
      return;
    }
    this.#transport?.consumed(chunk.length);
  }

  #onMessage(message: WireMessage, now: number): void {
    if (message.type === 'handshake') {
      this.#onHandshake(message.infoHash, message.peerId, message.fastExtension, message.extensionProtocol);
      const version = handshakeVersion(this.torrent, message.infoHash) ?? 1;
      this.#hashes = enableV2IfSpoken(this.torrent, version, message.v2, this.#decoder, this.#options);
      // A magnet's piece-layer phase has no hashes to serve, only layers to fetch.
      if (this.#hashes === null) enableLayerFetchIfSpoken(this.#decoder, this.torrent, message.v2);
      return;
    }
    if (this.#state !== 'open') {
      throw new TorkError(TorkErrorCode.WIRE_PROTOCOL, `peer sent ${message.type} before its handshake`);
    }
    const first = this.#firstMessage;
    // The bitfield (or have-all/none) must come first, but clients send the BEP 10 extended
    // handshake (aria2c) or a DHT port before it: those do not end the window.
    if (message.type !== 'keep-alive' && message.type !== 'extended' && message.type !== 'port') {
      this.#firstMessage = false;
    }
    // A magnet's torrent has no pieces yet: what the peer has cannot be checked nor used, and it
    // is told again to the connections made once the metadata is had.
    if (this.torrent.metadataOnly && PIECE_MESSAGE_TYPES.has(message.type)) return;
    switch (message.type) {
      case 'keep-alive':
        this.#redundantMessage(now);
        return;
      case 'choke':
      case 'unchoke':
        this.#downloader.onChoke(message.type === 'choke', now);
        return;
      case 'interested':
      case 'not-interested':
        this.#uploader.onInterest(message.type === 'interested');
        return;
      case 'have':
        if (!this.#pieces.onHave(message.index)) this.#redundantMessage(now);
        return;
      case 'bitfield':
        // BEP 3 puts it first, but aria2c sends its whole bitfield again mid-connection instead of
        // a run of `have`s: a later one adds pieces (a peer never loses one), it does not replace.
        this.#pieces.onBitfield(message.bitfield, !first);
        return;
      case 'have-all':
      case 'have-none':
        if (!this.#fast) {
          throw new TorkError(
            TorkErrorCode.WIRE_PROTOCOL,
            `peer sent ${message.type} without the fast extension`,
          );
        }
        if (!first)
          throw new TorkError(TorkErrorCode.WIRE_PROTOCOL, `peer sent ${message.type} after other messages`);
        this.#pieces.onHaveAll(message.type === 'have-all');
        return;
      case 'request':
        this.#uploader.onRequest(message.index, message.begin, message.length);
        return;
      case 'cancel':
        this.#uploader.onCancel(message.index, message.begin, message.length);
        return;
      case 'piece':
        this.#downloader.onBlock(message.index, message.begin, message.block, now);
        return;
      case 'reject-request':
        if (!this.#fast)
          throw new TorkError(
            TorkErrorCode.WIRE_PROTOCOL,
            'peer sent reject-request without the fast extension',
          );
        this.#downloader.onReject(message.index, message.begin, now);
        return;
      case 'allowed-fast':
        if (this.#fast) this.#downloader.onAllowedFast(message.index);
        return;
      case 'hash-request':
        // Decoded once enableV2IfSpoken set #hashes; answered even while choked (BEP 52).
        if (this.#hashes === null) return;
        this.writer.push(this.#hashes.onRequest(message, now, this.unsent));
        this.schedule();
        return;
      case 'hashes':
        this.#layers.onHashes(message);
        return;
      case 'hash-reject':
        this.#layers.onReject(message);
        return;
      case 'extended':
        if (message.extId === 0) this.#onExtendedHandshake(message.payload);
        else this.#extensions.onMessage(message.extId, message.payload);
        return;
      default:
        // suggest-piece, port (DHT), unknown ids (BEP 3: ignore).
        return;
    }
  }

  #onHandshake(infoHash: Uint8Array, peerId: Uint8Array, fast: boolean, extended: boolean): void {
    if (handshakeVersion(this.torrent, infoHash) === undefined) {
      throw new TorkError(TorkErrorCode.WIRE_HANDSHAKE, 'info-hash mismatch', this.#details());
    }
    if (equalBytes(peerId, this.torrent.peerId)) {
      // `self` tells the coordinator never to dial this address again (a tracker lists us too).
      throw new TorkError(TorkErrorCode.WIRE_HANDSHAKE, 'connected to ourselves', this.#details({ self: 1 }));
    }
    this.#state = 'open';
    this.#openedAt = performance.now();
    this.#fast = fast;
    // An accepted connection answers the peer's handshake with ours, before anything else.
    if (this.#incoming) this.writer.push(this.#handshake(infoHash));
    this.#sink.emit({
      type: 'connected',
      actorId: this.id,
      peerId: Buffer.from(peerId).toString('hex'),
      client: describePeerId(peerId).slice(0, 128),
      fastExtension: fast,
      extensionProtocol: extended,
      encryption: this.#transport?.encryption ?? 'none',
      transport: this.#linkTransport,
    });
    const have = this.torrent.have;
    if (have.count === 0) {
      // Nothing to offer: BEP 3 lets us send no bitfield at all; BEP 6 says so explicitly.
      if (fast) this.writer.push(encodeHaveNone());
    } else if (fast && have.complete) {
      this.writer.push(encodeHaveAll());
    } else {
      this.writer.push(encodeBitfield(have.bytes));
    }
    this.#bitfieldSent = true;
    if (extended) {
      // `p`: where the peer can dial us back (BEP 10), when we listen.
      const handshake = this.#extensions.handshake({
        reqq: this.#uploader.advertisedRequestQueue,
        v: this.#clientName,
        ...(this.torrent.listenPort > 0 ? { p: this.torrent.listenPort } : {}),
      });
      this.writer.push(encodeExtended(0, handshake));
    }
    if (this.#downloader.amInterested) this.writer.simple(WireMessageId.interested);
    if (!this.#uploader.amChoking) this.writer.simple(WireMessageId.unchoke);
    this.schedule();
  }

  #onExtendedHandshake(payload: Uint8Array): void {
    const handshake = this.#extensions.onHandshake(payload);
    if (handshake === null) return;
    const { reqq, p, v } = handshake;
    if (typeof reqq === 'number') this.#downloader.setPeerLimit(reqq);
    // Where the peer listens (an incoming peer's address has an ephemeral port) and what it calls
    // itself: the coordinator matches it to the address a tracker lists, so it is not dialled too.
    const listenPort = typeof p === 'number' && Number.isInteger(p) && p > 0 && p < 65536 ? p : null;
    const client = v instanceof Uint8Array ? printableName(v) : null;
    if (listenPort !== null || client !== null)
      this.#sink.emit({ type: 'peer-info', actorId: this.id, listenPort, client });
  }

  /** How the extension registry writes a message under the peer's id for an extension. */
  #sendExtended(remoteId: number, payload: Uint8Array): boolean {
    if (this.#state !== 'open') return false;
    this.writer.push(encodeExtended(remoteId, payload));
    this.schedule();
    return true;
  }

  /** Counts a message that tells us nothing new; too many in one second is a flood. */
  #redundantMessage(now: number): void {
    if (now - this.#redundantSince >= 1_000) {
      this.#redundantSince = now;
      this.#redundant = 0;
    }
    if (++this.#redundant > this.#maxRedundantPerSecond) {
      throw new TorkError(
        TorkErrorCode.WIRE_PROTOCOL,
        `peer flooded us with more than ${this.#maxRedundantPerSecond} redundant have/keep-alive messages in 1 s`,
        { limit: this.#maxRedundantPerSecond, cause: 'flood' },
      );
    }
  }

  // --- teardown and errors ---

  /** `orderly`: write what this turn queued, then end after it (FIN) instead of cutting the connection. */
  #shutdown(orderly = false): void {
    if (orderly) this.#writeQueued();
    const transport = this.#transport;
    this.#state = 'closed';
    this.#downloader.close();
    this.writer.clear();
    this.#uploader.clear();
    this.#pieces.clear();
    this.#transport = null;
    if (orderly && transport?.end) transport.end();
    else transport?.destroy();
  }

  /** Hands the writer's queued messages to the transport; false when there was nothing to write. */
  #writeQueued(): boolean {
    const transport = this.#transport;
    if (transport === null || this.writer.size === 0) return false;
    const { chunks, bytes, owned } = this.writer.take();
    transport.write(chunks, bytes, owned);
    if (bytes > 0) {
      this.#lastSent = performance.now();
      this.#sink.countBytes(0, bytes);
    }
    return true;
  }

  /** Closes on a deadline: `timeout: <why>`, with `cause` in the details when given. */
  #timeout(code: TorkErrorCode, why: string, cause?: string, phase?: string): void {
    const extra: Record<string, string> = {};
    if (cause !== undefined) extra.cause = cause;
    if (phase !== undefined) extra.phase = phase;
    this.close(new TorkError(code, `timeout: ${why}`, this.#details(extra)));
  }

  #details(extra: Record<string, string | number> = {}): Record<string, string | number> {
    return { actorId: this.id, peer: this.#address, ...extra };
  }

  #withPeer(error: TorkError): TorkError {
    const details = { ...this.#details(), ...error.details };
    return new TorkError(error.code, error.message, details, { cause: error });
  }
}
