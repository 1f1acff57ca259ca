import type { MessagePort } from 'node:worker_threads';
import {
  type ActorStats,
  Bitfield,
  BLOCK_LENGTH,
  decodeBencode,
  describePeerId,
  encodeBencode,
  encodeBitfield,
  encodeExtended,
  encodeHandshake,
  encodeHaveAll,
  encodeHaveNone,
  type HostEvent,
  type ReleaseReason,
  TORK_CLIENT_NAME,
  TorkError,
  TorkErrorCode,
  toTorkError,
  WireDecoder,
  type WireMessage,
  WireMessageId,
} from '@tork/core';
import type { EventError } from '../../shared/event-error.js';
import type { BufferPool } from '../buffer-pool.js';
import { PieceAssembler } from '../download/piece-assembler.js';
import { RequestPipeline, type RequestPipelineOptions } from '../download/request-pipeline.js';
import { RateMeter } from '../rate-meter.js';
import {
  dialTransport,
  type PeerTransport,
  relayTransport,
  type TransportHandlers,
} from '../transport/peer-transport.js';
import type { PieceReader } from '../upload/piece-reader.js';
import { UploadQueue } from '../upload/upload-queue.js';
import { WireWriter } from './wire-writer.js';

export interface PeerActorOptions extends RequestPipelineOptions {
  /** Longest wait for the TCP connection, ms. Default: 10,000. */
  readonly connectTimeoutMs?: number;
  /** Longest wait for the peer's handshake once connected, ms. Default: 20,000. */
  readonly handshakeTimeoutMs?: number;
  /** A keep-alive is sent after this long without sending anything, ms. Default: 120,000. */
  readonly keepAliveIntervalMs?: number;
  /** The peer is dropped after this long without receiving anything, ms. Default: 180,000. */
  readonly idleTimeoutMs?: number;
  /**
   * Blocks the peer may send that we never asked for (or of the wrong size) before it is dropped.
   * Blocks of requests we cancelled or that a choke voided are late, not unexpected. Default: 64.
   */
  readonly maxUnexpectedBlocks?: number;
  /**
   * The `reqq` we advertise in the BEP 10 handshake: the most block requests a peer may have
   * outstanding with us; more are rejected (not held against it: some clients ignore `reqq`).
   * Default: 500.
   */
  readonly advertisedRequestQueue?: number;
  /**
   * Requests we refuse as invalid (beyond the piece, for pieces we do not have) before the peer
   * is dropped. Default: 32.
   */
  readonly maxBadRequests?: number;
  /** Bytes of piece messages queued for the peer before we stop reading more blocks for it. Default: 1 MiB. */
  readonly uploadHighWaterBytes?: number;
  /**
   * A peer that announced the fast extension must send a bitfield, have-all or have-none right
   * after its handshake (BEP 6); one that sends none within this long is dropped, ms.
   * Default: 30,000.
   */
  readonly firstMessageTimeoutMs?: number;
  /**
   * Redundant messages (a `have` for a piece it already announced, a keep-alive) a peer may send
   * in one second before it is dropped as a flood. Honest peers send a handful. Default: 1,000.
   */
  readonly maxRedundantPerSecond?: number;
  /** The `v` we advertise in the BEP 10 handshake. Default: `TORK_CLIENT_NAME` (`tork <version>`). */
  readonly clientName?: string;
}

/** A torrent as a host knows it: what an actor needs to talk about it and verify its pieces. */
export interface ActorTorrent {
  /** Info-hash, lowercase hex. */
  readonly id: string;
  readonly infoHash: Uint8Array;
  readonly peerId: Uint8Array;
  readonly pieceLength: number;
  readonly length: number;
  readonly pieceCount: number;
  /** 20 bytes per piece. */
  readonly pieceHashes: Uint8Array;
  /** What we have; kept current by `have` commands, sent to each peer after the handshake. */
  readonly have: Bitfield;
  /** Reads verified pieces back from disk to serve requests; null: nothing is served. */
  readonly reader: PieceReader | null;
  /** The port we listen on (BEP 10 `p`); 0: none. */
  readonly listenPort: number;
  readonly actors: Set<PeerActor>;
}

/** How an actor reaches its host (and through it the coordinator). */
export interface ActorSink {
  /** Queues an event for this turn's batch; `transfer` is moved with it. */
  emit(event: HostEvent, transfer?: ArrayBuffer): void;
  /** The actor has output or batched events waiting: call its `flush` at the end of this turn. */
  schedule(actor: PeerActor): void;
  /** The actor is closed and must be forgotten. */
  removed(actor: PeerActor): void;
  /** Piece buffers for reuse (see BufferPool). */
  readonly buffers: BufferPool;
  countBytes(received: number, sent: number): void;
}

type State = 'connecting' | 'handshaking' | 'open' | 'closed';

/** Rate meter of our upload to the peer (same smoothing as the download pipeline's). */
const UPLOAD_RATE_WINDOW_MS = 5_000;

/** Requests voided (cancel, choke) remembered so their late blocks are not held against the peer. */
const MAX_VOIDED = 4_096;
/** Allowed-fast pieces (BEP 6) remembered per peer. */
const MAX_ALLOWED_FAST = 64;
/** Largest BEP 10 handshake we decode. */
const MAX_EXTENDED_HANDSHAKE = 64 * 1024;

/**
 * One peer connection, living in a peer host thread: TCP, handshake, wire framing, keep-alives
 * and timeouts, and fetching the whole pieces the coordinator assigns — it pipelines their
 * 16 KiB block requests itself, assembles each piece in its own ArrayBuffer, verifies SHA-1 and
 * sends back one `piece` (transferred) or `hash-failed` event per piece. No round trip per block.
 */
export class PeerActor {
  readonly id: number;
  readonly torrent: ActorTorrent;
  readonly #sink: ActorSink;
  readonly #decoder: WireDecoder;
  readonly #writer: WireWriter;
  readonly #pipeline: RequestPipeline;
  readonly #pieces = new Map<number, PieceAssembler>();
  readonly #remote: Bitfield;
  readonly #voided = new Set<number>();
  readonly #allowedFast = new Set<number>();
  #pendingHaves: number[] = [];
  #transport: PeerTransport | null = null;
  #incoming = false;
  #state: State = 'connecting';
  #address = '';
  #deadline = 0;
  #lastReceived: number;
  #lastSent: number;
  #fast = false;
  /** Nothing but the handshake so far: a bitfield / have-all / have-none is still allowed. */
  #firstMessage = true;
  #bitfieldSent = false;
  #peerChoking = true;
  #peerInterested = false;
  #amInterested = false;
  #unexpectedBlocks = 0;
  #downloaded = 0;
  // Upload: what we serve the peer.
  #amChoking = true;
  readonly #uploads: UploadQueue;
  readonly #uploadMeter: RateMeter;
  #serving = false;
  #badRequests = 0;
  /** When the handshake completed: the first-message deadline counts from there. */
  #openedAt = 0;
  /** Redundant messages in the current one-second window, and when it began. */
  #redundant = 0;
  #redundantSince = 0;

  // Options, resolved once.
  readonly #connectTimeoutMs: number;
  readonly #handshakeTimeoutMs: number;
  readonly #keepAliveIntervalMs: number;
  readonly #idleTimeoutMs: number;
  readonly #maxUnexpectedBlocks: number;
  readonly #advertisedRequestQueue: number;
  readonly #maxBadRequests: number;
  readonly #uploadHighWater: number;
  readonly #firstMessageTimeoutMs: number;
  readonly #maxRedundantPerSecond: number;
  readonly #clientName: string;

  constructor(id: number, torrent: ActorTorrent, sink: ActorSink, options: PeerActorOptions = {}) {
    const now = performance.now();
    this.id = id;
    this.torrent = torrent;
    this.#sink = sink;
    this.#writer = new WireWriter(sink.buffers);
    this.#pipeline = new RequestPipeline(now, options);
    this.#remote = new Bitfield(torrent.pieceCount);
    // Messages are consumed (blocks copied out) before the next push: scratch buffers are reused.
    this.#decoder = new WireDecoder({
      expectHandshake: true,
      pieceCount: torrent.pieceCount,
      reuseBuffers: true,
    });
    this.#lastReceived = now;
    this.#lastSent = now;
    this.#connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
    this.#handshakeTimeoutMs = options.handshakeTimeoutMs ?? 20_000;
    this.#keepAliveIntervalMs = options.keepAliveIntervalMs ?? 120_000;
    this.#idleTimeoutMs = options.idleTimeoutMs ?? 180_000;
    this.#maxUnexpectedBlocks = options.maxUnexpectedBlocks ?? 64;
    this.#advertisedRequestQueue = Math.max(1, options.advertisedRequestQueue ?? 500);
    this.#maxBadRequests = options.maxBadRequests ?? 32;
    this.#uploadHighWater = options.uploadHighWaterBytes ?? 1024 * 1024;
    this.#firstMessageTimeoutMs = options.firstMessageTimeoutMs ?? 30_000;
    this.#maxRedundantPerSecond = options.maxRedundantPerSecond ?? 1_000;
    this.#uploads = new UploadQueue(this.#advertisedRequestQueue);
    this.#uploadMeter = new RateMeter(now, { windowMs: UPLOAD_RATE_WINDOW_MS });
    this.#clientName = options.clientName ?? TORK_CLIENT_NAME;
  }

  /** The peer said it is interested in what we have (the choker's input). */
  get peerInterested(): boolean {
    return this.#peerInterested;
  }

  get closed(): boolean {
    return this.#state === 'closed';
  }

  /** Dials the peer; the handshake is sent as soon as TCP is up. */
  connect(host: string, port: number): void {
    this.#address = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
    this.#deadline = performance.now() + this.#connectTimeoutMs;
    this.#transport = dialTransport(host, port, this.#handlers(), this.#sink.buffers);
  }

  /**
   * Runs a connection the coordinator accepted and relays over `relay`. `initial` holds the
   * bytes it read to find the torrent (at least the peer's handshake): they are decoded first,
   * and our handshake answers the peer's.
   */
  accept(address: string, relay: MessagePort, initial: Uint8Array): void {
    this.#address = address;
    this.#incoming = true;
    this.#state = 'handshaking';
    this.#deadline = performance.now() + this.#handshakeTimeoutMs;
    this.#transport = relayTransport(relay, this.#handlers(), this.#sink.buffers);
    if (initial.length > 0) this.#onData(initial);
  }

  #handlers(): TransportHandlers {
    return {
      onConnect: () => this.#onConnect(),
      onData: (chunk) => this.#onData(chunk),
      onDrain: () => this.#serve(),
      onClose: (error) => this.close(this.#withPeer(error)),
    };
  }

  /** The choker's decision. Choking drops the peer's queued requests (rejected under BEP 6). */
  choke(choked: boolean): void {
    if (this.#state === 'closed' || this.#amChoking === choked) return;
    this.#amChoking = choked;
    // Before the handshake the decision waits: it is sent with our bitfield (see #onHandshake).
    if (this.#state !== 'open') return;
    this.#writer.simple(choked ? WireMessageId.choke : WireMessageId.unchoke);
    if (choked) {
      for (const request of this.#uploads.clear()) {
        if (this.#fast)
          this.#writer.block(WireMessageId.rejectRequest, request.index, request.begin, request.length);
      }
    }
    this.#sink.schedule(this);
  }

  /** Takes whole pieces to fetch; those it cannot fetch now are released straight back. */
  assign(pieces: readonly number[]): void {
    if (this.#state === 'closed') return;
    const lacking: number[] = [];
    const choked: number[] = [];
    for (const index of pieces) {
      if (this.#pieces.has(index)) continue;
      if (index >= this.torrent.pieceCount || !this.#remote.has(index)) {
        lacking.push(index);
      } else if (this.#peerChoking && !(this.#fast && this.#allowedFast.has(index))) {
        choked.push(index);
      } else {
        const size = this.#pieceSize(index);
        this.#pieces.set(index, new PieceAssembler(index, size, this.#sink.buffers.take(size)));
      }
    }
    if (lacking.length > 0) this.#release(lacking, 'peer-lacks');
    if (choked.length > 0) this.#release(choked, 'choked');
    this.#fill(performance.now());
  }

  /** Stops fetching pieces (an endgame copy won elsewhere): cancels their outstanding requests. */
  unassign(pieces: readonly number[]): void {
    if (this.#state === 'closed') return;
    for (const index of pieces) {
      const piece = this.#pieces.get(index);
      if (!piece) continue;
      this.#cancelRequests(piece, true);
      this.#drop(piece);
    }
    this.#fill(performance.now());
  }

  interest(interested: boolean): void {
    if (this.#state === 'closed' || this.#amInterested === interested) return;
    this.#amInterested = interested;
    // Before the handshake completes it is sent with our bitfield (see #onHandshake).
    if (this.#state !== 'open') return;
    this.#writer.simple(interested ? WireMessageId.interested : WireMessageId.notInterested);
    this.#sink.schedule(this);
  }

  /** We verified pieces: tell the peer (our bitfield, if not sent yet, already has them). */
  sendHave(pieces: readonly number[]): void {
    if (this.#state !== 'open' || !this.#bitfieldSent) return;
    for (const index of pieces) this.#writer.have(index);
    this.#sink.schedule(this);
  }

  /** Closes the connection and tells the coordinator why (`closed`); idempotent. */
  close(error: TorkError): void {
    if (this.#state === 'closed') return;
    // Final counters first: the periodic stats would miss up to a second of transfer.
    if (this.#state === 'open') this.#sink.emit({ type: 'stats', actors: [this.stats(performance.now())] });
    this.#shutdown();
    this.#sink.emit({ type: 'closed', actorId: this.id, error: error.toPlain() as EventError });
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
    if (this.#pendingHaves.length > 0) {
      this.#sink.emit({ type: 'have', actorId: this.id, pieces: this.#pendingHaves });
      this.#pendingHaves = [];
    }
    const transport = this.#transport;
    if (transport === null || this.#state === 'closed' || this.#writer.size === 0) return;
    const { chunks, bytes, owned } = this.#writer.take();
    transport.write(chunks, bytes, owned);
    if (bytes > 0) {
      this.#lastSent = performance.now();
      this.#sink.countBytes(0, bytes);
    }
    // Serving stops at the high-water mark; what was queued has left, so go on if there is room.
    if (this.#uploads.size > 0) this.#serve();
  }

  /** Called by the host about once a second: deadlines, keep-alive, idle timeout, snubbing. */
  tick(now: number): void {
    switch (this.#state) {
      case 'connecting':
        if (now >= this.#deadline) {
          this.close(
            new TorkError(
              TorkErrorCode.IO,
              `timeout: could not connect within ${seconds(this.#connectTimeoutMs)} s`,
              this.#details({ cause: 'ETIMEDOUT' }),
            ),
          );
        }
        return;
      case 'handshaking':
        if (now >= this.#deadline) {
          this.close(
            new TorkError(
              TorkErrorCode.WIRE_HANDSHAKE,
              `timeout: no handshake within ${seconds(this.#handshakeTimeoutMs)} s`,
              this.#details(),
            ),
          );
        }
        return;
      case 'open':
        break;
      case 'closed':
        return;
    }
    if (now - this.#lastReceived >= this.#idleTimeoutMs) {
      this.close(
        new TorkError(
          TorkErrorCode.IO,
          `timeout: no data for ${seconds(this.#idleTimeoutMs)} s`,
          this.#details({ cause: 'idle' }),
        ),
      );
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
    if (now - this.#lastSent >= this.#keepAliveIntervalMs) {
      this.#writer.keepAlive();
      this.#sink.schedule(this);
    }
    if (this.#pipeline.checkSnub(now)) {
      // A peer that took requests and has never sent a block is not slow but mute: drop it
      // (its pieces go back to the others as it closes). One that delivered before may recover.
      if (this.#downloaded === 0) {
        this.close(
          new TorkError(
            TorkErrorCode.IO,
            `timeout: peer accepted requests and sent no block for ${seconds(this.#pipeline.snubTimeoutMs)} s`,
            this.#details({ cause: 'unanswered' }),
          ),
        );
        return;
      }
      this.#onSnubbed();
    }
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

  stats(now: number): ActorStats {
    return {
      actorId: this.id,
      downloaded: this.#downloaded,
      uploaded: this.#uploadMeter.total,
      downloadRate: this.#pipeline.meter.rate(now),
      uploadRate: this.#uploadMeter.rate(now),
      queueDepth: this.#pipeline.outstanding,
      targetQueueDepth: this.#pipeline.target(now),
      peerChoking: this.#peerChoking,
      amInterested: this.#amInterested,
      amChoking: this.#amChoking,
      peerInterested: this.#peerInterested,
      snubbed: this.#pipeline.snubbed,
    };
  }

  // --- connection ---

  #onConnect(): void {
    if (this.#state !== 'connecting') return;
    this.#state = 'handshaking';
    this.#deadline = performance.now() + this.#handshakeTimeoutMs;
    this.#writer.push(this.#handshake());
    this.flush();
  }

  #handshake(): Uint8Array {
    return encodeHandshake({
      infoHash: this.torrent.infoHash,
      peerId: this.torrent.peerId,
      extensionProtocol: true,
      fastExtension: true,
    });
  }

  #onData(chunk: Uint8Array): void {
    if (this.#state === 'closed') return;
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
    switch (message.type) {
      case 'keep-alive':
        this.#redundantMessage(now);
        return;
      case 'choke':
        if (this.#peerChoking) return;
        this.#peerChoking = true;
        this.#sink.emit({ type: 'choke', actorId: this.id, choked: true });
        this.#onChoked();
        return;
      case 'unchoke':
        if (!this.#peerChoking) return;
        this.#peerChoking = false;
        this.#sink.emit({ type: 'choke', actorId: this.id, choked: false });
        this.#fill(now);
        return;
      case 'interested':
      case 'not-interested': {
        const interested = message.type === 'interested';
        if (this.#peerInterested === interested) return;
        this.#peerInterested = interested;
        this.#sink.emit({ type: 'peer-interest', actorId: this.id, interested });
        return;
      }
      case 'have':
        this.#onHave(message.index, now);
        return;
      case 'bitfield':
        // BEP 3 puts it first, but aria2c sends its whole bitfield again mid-connection instead of
        // a run of `have`s: a later one adds pieces (a peer never loses one), it does not replace.
        this.#onBitfield(message.bitfield, !first);
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
        if (message.type === 'have-all')
          for (let i = 0; i < this.torrent.pieceCount; i++) this.#remote.set(i);
        this.#sink.emit({ type: 'bitfield', actorId: this.id, bitfield: this.#remote.bytes.slice() });
        return;
      case 'request':
        this.#onRequest(message.index, message.begin, message.length);
        return;
      case 'cancel':
        if (this.#uploads.cancel(message.index, message.begin, message.length) && this.#fast) {
          // BEP 6: a cancelled request is answered, by the block or by a reject.
          this.#writer.block(WireMessageId.rejectRequest, message.index, message.begin, message.length);
          this.#sink.schedule(this);
        }
        return;
      case 'piece':
        this.#onBlock(message.index, message.begin, message.block, now);
        return;
      case 'reject-request':
        if (!this.#fast)
          throw new TorkError(
            TorkErrorCode.WIRE_PROTOCOL,
            'peer sent reject-request without the fast extension',
          );
        this.#onReject(message.index, message.begin, now);
        return;
      case 'allowed-fast':
        if (this.#fast && this.#allowedFast.size < MAX_ALLOWED_FAST) this.#allowedFast.add(message.index);
        return;
      case 'extended':
        if (message.extId === 0) this.#onExtendedHandshake(message.payload);
        return;
      default:
        // suggest-piece, port (DHT), unknown ids (BEP 3: ignore).
        return;
    }
  }

  #onHandshake(infoHash: Uint8Array, peerId: Uint8Array, fast: boolean, extended: boolean): void {
    if (!equalBytes(infoHash, this.torrent.infoHash)) {
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
    if (this.#incoming) this.#writer.push(this.#handshake());
    this.#sink.emit({
      type: 'connected',
      actorId: this.id,
      peerId: Buffer.from(peerId).toString('hex'),
      client: describePeerId(peerId).slice(0, 128),
      fastExtension: fast,
      extensionProtocol: extended,
    });
    const have = this.torrent.have;
    if (have.count === 0) {
      // Nothing to offer: BEP 3 lets us send no bitfield at all; BEP 6 says so explicitly.
      if (fast) this.#writer.push(encodeHaveNone());
    } else if (fast && have.complete) {
      this.#writer.push(encodeHaveAll());
    } else {
      this.#writer.push(encodeBitfield(have.bytes));
    }
    this.#bitfieldSent = true;
    if (extended) {
      // `p`: where the peer can dial us back (BEP 10), when we listen.
      const handshake = encodeBencode({
        m: {},
        reqq: this.#advertisedRequestQueue,
        v: this.#clientName,
        ...(this.torrent.listenPort > 0 ? { p: this.torrent.listenPort } : {}),
      });
      this.#writer.push(encodeExtended(0, handshake));
    }
    if (this.#amInterested) this.#writer.simple(WireMessageId.interested);
    if (!this.#amChoking) this.#writer.simple(WireMessageId.unchoke);
    this.#sink.schedule(this);
  }

  #onExtendedHandshake(payload: Uint8Array): void {
    let dict: unknown;
    try {
      dict = decodeBencode(payload, { maxBytes: MAX_EXTENDED_HANDSHAKE, maxDepth: 8 });
    } catch (error) {
      throw new TorkError(
        TorkErrorCode.WIRE_PROTOCOL,
        `peer sent a malformed extended handshake: ${(error as Error).message}`,
      );
    }
    if (dict === null || typeof dict !== 'object') return;
    const reqq = (dict as Record<string, unknown>).reqq;
    if (typeof reqq === 'number') this.#pipeline.setPeerLimit(reqq);
  }

  #onBitfield(bytes: Uint8Array, merge: boolean): void {
    let remote: Bitfield;
    try {
      remote = new Bitfield(this.torrent.pieceCount, bytes);
    } catch (error) {
      const spare = error instanceof TorkError && error.details.reason === 'spare-bits';
      throw new TorkError(
        TorkErrorCode.WIRE_PROTOCOL,
        spare
          ? 'peer sent a bitfield with spare bits set'
          : `peer sent a bitfield of ${bytes.length} bytes for ${this.torrent.pieceCount} pieces`,
      );
    }
    if (merge) {
      const own = this.#remote.bytes;
      for (let i = 0; i < own.length; i++) own[i]! |= remote.bytes[i]!;
    } else {
      this.#remote.bytes.set(remote.bytes);
    }
    remote = new Bitfield(this.torrent.pieceCount, this.#remote.bytes);
    // Copied: the decoder's bytes are a view into a socket chunk, and cloning a view clones it all.
    this.#sink.emit({ type: 'bitfield', actorId: this.id, bitfield: remote.bytes.slice() });
  }

  #onHave(index: number, now: number): void {
    if (index >= this.torrent.pieceCount) {
      throw new TorkError(
        TorkErrorCode.WIRE_PROTOCOL,
        `peer sent have for piece ${index} of ${this.torrent.pieceCount}`,
      );
    }
    if (!this.#remote.set(index)) {
      this.#redundantMessage(now);
      return;
    }
    if (this.#pendingHaves.length === 0) this.#sink.schedule(this);
    this.#pendingHaves.push(index);
  }

  // --- serving pieces ---

  #onRequest(index: number, begin: number, length: number): void {
    if (index >= this.torrent.pieceCount) {
      throw new TorkError(
        TorkErrorCode.WIRE_PROTOCOL,
        `peer requested piece ${index} of ${this.torrent.pieceCount}`,
      );
    }
    const verdict = this.#uploads.offer(
      { index, begin, length },
      {
        size: this.#pieceSize(index),
        have: this.torrent.reader !== null && this.torrent.have.has(index),
        choking: this.#amChoking,
      },
    );
    if (verdict === 'queued') {
      this.#serve();
      return;
    }
    // BEP 6: every refused request is rejected explicitly; without it, dropped silently.
    if (this.#fast) {
      this.#writer.block(WireMessageId.rejectRequest, index, begin, length);
      this.#sink.schedule(this);
    }
    // A request crossing our choke is not the peer's fault; nor is one over `reqq`: aria2c, for
    // one, re-requests rejected blocks at once and keeps more outstanding than it is told.
    if (verdict === 'choked' || verdict === 'full') return;
    this.#badRequests++;
    if (this.#badRequests > this.#maxBadRequests) {
      const why =
        verdict === 'invalid'
          ? `requested ${length} bytes at ${begin} of piece ${index} (beyond the piece or over 128 KiB)`
          : `requested piece ${index}, which we do not have`;
      throw new TorkError(
        TorkErrorCode.WIRE_PROTOCOL,
        `peer made ${this.#badRequests} bad requests; the last ${why}`,
        { limit: this.#maxBadRequests },
      );
    }
  }

  /** Reads queued blocks (through the host's piece cache) and queues them, while there is room. */
  #serve(): void {
    if (this.#serving) return;
    const reader = this.torrent.reader;
    if (reader === null) return;
    this.#serving = true;
    void this.#serveLoop(reader);
  }

  async #serveLoop(reader: PieceReader): Promise<void> {
    try {
      await this.#serveQueued(reader);
    } finally {
      // Synchronously at the loop's end: a flush right after may start it again.
      this.#serving = false;
    }
  }

  async #serveQueued(reader: PieceReader): Promise<void> {
    while (this.#state === 'open' && !this.#amChoking && this.#uploads.size > 0) {
      if (this.#writer.size + (this.#transport?.pending ?? 0) >= this.#uploadHighWater) return; // resumed on drain
      const request = this.#uploads.shift()!;
      let block: Uint8Array;
      try {
        block = await reader.readBlock(request.index, request.begin, request.length);
      } catch (error) {
        if (this.#state !== 'open') return;
        const failure = toTorkError(error, TorkErrorCode.IO);
        // Never serve it again from this host; the coordinator decides whether to fetch it anew.
        this.torrent.have.clear(request.index);
        this.#sink.emit({
          type: 'unreadable',
          actorId: this.id,
          index: request.index,
          error: failure.toPlain() as EventError,
        });
        if (this.#fast)
          this.#writer.block(WireMessageId.rejectRequest, request.index, request.begin, request.length);
        this.#sink.schedule(this);
        continue;
      }
      // Choked or closed while reading: the request was cleared (and rejected) already.
      if (this.#state !== 'open' || this.#amChoking) return;
      // Copied into the writer at once: the read cache may reuse the piece's buffer from here on.
      this.#writer.pushPiece(request.index, request.begin, block);
      this.#uploadMeter.add(block.length, performance.now());
      this.#sink.schedule(this);
    }
  }

  // --- fetching pieces ---

  #pieceSize(index: number): number {
    const { pieceLength, length } = this.torrent;
    return Math.min(pieceLength, length - index * pieceLength);
  }

  /** Requests blocks until the pipeline is as deep as the peer's rate warrants. */
  #fill(now: number): void {
    if (this.#state !== 'open' || this.#pieces.size === 0) return;
    const target = this.#pipeline.target(now);
    if (this.#pipeline.outstanding >= target) return;
    const onlyAllowedFast = this.#peerChoking;
    if (onlyAllowedFast && !this.#fast) return;
    let queued = false;
    for (const piece of this.#pieces.values()) {
      if (onlyAllowedFast && !this.#allowedFast.has(piece.index)) continue;
      while (this.#pipeline.outstanding < target) {
        const block = piece.takeNext();
        if (block < 0) break;
        this.#writer.block(
          WireMessageId.request,
          piece.index,
          block * BLOCK_LENGTH,
          piece.blockLength(block),
        );
        this.#pipeline.requested(now);
        queued = true;
      }
      if (this.#pipeline.outstanding >= target) break;
    }
    if (queued) this.#sink.schedule(this);
  }

  #onBlock(index: number, begin: number, data: Uint8Array, now: number): void {
    const piece = this.#pieces.get(index);
    const outcome = piece ? piece.accept(begin, data) : 'unrequested';
    if (outcome !== 'accepted') {
      const key = requestKey(index, begin);
      if (key >= 0 && this.#voided.delete(key)) return; // late: we cancelled it, or a choke voided it
      this.#unexpectedBlocks++;
      if (this.#unexpectedBlocks > this.#maxUnexpectedBlocks) {
        throw new TorkError(
          TorkErrorCode.WIRE_PROTOCOL,
          `peer sent ${this.#unexpectedBlocks} blocks we did not request (or of the wrong size)`,
          { limit: this.#maxUnexpectedBlocks },
        );
      }
      return;
    }
    this.#downloaded += data.length;
    this.#pipeline.received(data.length, now);
    if (piece!.complete) this.#finish(piece!);
    this.#fill(now);
  }

  #finish(piece: PieceAssembler): void {
    this.#pieces.delete(piece.index);
    const at = piece.index * 20;
    if (piece.verify(this.torrent.pieceHashes.subarray(at, at + 20))) {
      // Thread boundary: the piece's own ArrayBuffer is transferred (moved) to the coordinator.
      this.#sink.emit(
        { type: 'piece', actorId: this.id, index: piece.index, data: piece.buffer },
        piece.buffer,
      );
    } else {
      this.#sink.emit({ type: 'hash-failed', actorId: this.id, index: piece.index });
      this.#sink.buffers.give(piece.buffer);
    }
  }

  #onReject(index: number, begin: number, now: number): void {
    const piece = this.#pieces.get(index);
    if (!piece || begin % BLOCK_LENGTH !== 0 || !piece.unrequest(begin / BLOCK_LENGTH)) return;
    this.#pipeline.voided(1);
    if (this.#peerChoking && piece.requested === 0 && !this.#allowedFast.has(index)) {
      this.#drop(piece);
      this.#release([index], 'choked');
      return;
    }
    this.#fill(now);
  }

  /** The peer choked us. Without the fast extension every request is void; with it, rejects follow. */
  #onChoked(): void {
    const released: number[] = [];
    for (const piece of this.#pieces.values()) {
      if (this.#fast) {
        // Requests stand until the peer rejects or serves them; idle pieces go back now.
        if (piece.requested === 0 && !this.#allowedFast.has(piece.index)) released.push(piece.index);
        continue;
      }
      this.#cancelRequests(piece, false);
      released.push(piece.index);
    }
    for (const index of released) this.#drop(this.#pieces.get(index)!);
    if (released.length > 0) this.#release(released, 'choked');
  }

  /** No block for a long time with requests out: keep only pieces already started, at depth 1. */
  #onSnubbed(): void {
    const released: number[] = [];
    for (const piece of this.#pieces.values()) {
      if (piece.started) continue;
      this.#cancelRequests(piece, true);
      released.push(piece.index);
    }
    for (const index of released) this.#drop(this.#pieces.get(index)!);
    if (released.length > 0) this.#release(released, 'snubbed');
  }

  /** Voids a piece's outstanding requests (remembering them as late), sending `cancel`s if asked. */
  #cancelRequests(piece: PieceAssembler, sendCancel: boolean): void {
    let count = 0;
    for (const block of piece.requestedBlocks()) {
      const begin = block * BLOCK_LENGTH;
      if (sendCancel) this.#writer.block(WireMessageId.cancel, piece.index, begin, piece.blockLength(block));
      if (this.#voided.size >= MAX_VOIDED) this.#voided.clear();
      this.#voided.add(requestKey(piece.index, begin));
      count++;
    }
    piece.unrequestAll();
    this.#pipeline.voided(count);
    if (sendCancel && count > 0) this.#sink.schedule(this);
  }

  /** Forgets a piece without sending it: its buffer goes back to the pool. */
  #drop(piece: PieceAssembler): void {
    this.#pieces.delete(piece.index);
    this.#sink.buffers.give(piece.buffer);
  }

  #release(pieces: number[], reason: ReleaseReason): void {
    this.#sink.emit({ type: 'released', actorId: this.id, pieces, reason });
  }

  // --- teardown and errors ---

  #shutdown(): void {
    this.#state = 'closed';
    for (const piece of this.#pieces.values()) this.#sink.buffers.give(piece.buffer);
    this.#pieces.clear();
    this.#writer.clear();
    this.#uploads.clear();
    this.#pendingHaves = [];
    const transport = this.#transport;
    this.#transport = null;
    transport?.destroy();
  }

  #details(extra: Record<string, string | number> = {}): Record<string, string | number> {
    return { actorId: this.id, peer: this.#address, ...extra };
  }

  #withPeer(error: TorkError): TorkError {
    return new TorkError(
      error.code,
      error.message,
      { ...this.#details(), ...error.details },
      { cause: error },
    );
  }
}

/** Key of a block request in the voided set; -1 for a begin that is not block-aligned. */
function requestKey(index: number, begin: number): number {
  return begin % BLOCK_LENGTH === 0 ? index * 65_536 + begin / BLOCK_LENGTH : -1;
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function seconds(ms: number): string {
  return String(Math.round(ms / 100) / 10);
}
