import { TorkError, TorkErrorCode, toTorkError, WireMessageId } from '@tork/core';
import { type BlockReader, pieceSize } from '../actor-torrent.js';
import type { PeerLink } from '../peer-link.js';
import { RateMeter } from '../rate-meter.js';
import { UploadQueue } from './upload-queue.js';

export interface UploaderOptions {
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
}

/** Rate meter of our upload to the peer (same smoothing as the download pipeline's). */
const UPLOAD_RATE_WINDOW_MS = 5_000;

/**
 * The serving side of a peer session: the peer's block requests, checked and queued (up to the
 * `reqq` we advertise), read through the torrent's BlockReader (the host's PieceReader) and copied
 * into the wire writer while the bytes not yet sent stay under the high-water mark. Under BEP 6
 * every refused request is rejected explicitly; choking the peer clears its queue.
 */
export class Uploader {
  /** The `reqq` we advertise: the most requests the peer may have queued with us. */
  readonly advertisedRequestQueue: number;
  readonly #peer: PeerLink;
  readonly #queue: UploadQueue;
  readonly #meter: RateMeter;
  readonly #maxBadRequests: number;
  readonly #highWater: number;
  #amChoking = true;
  #peerInterested = false;
  #serving = false;
  #badRequests = 0;

  constructor(peer: PeerLink, now: number, options: UploaderOptions = {}) {
    this.#peer = peer;
    this.advertisedRequestQueue = Math.max(1, options.advertisedRequestQueue ?? 500);
    this.#maxBadRequests = options.maxBadRequests ?? 32;
    this.#highWater = options.uploadHighWaterBytes ?? 1024 * 1024;
    this.#queue = new UploadQueue(this.advertisedRequestQueue);
    this.#meter = new RateMeter(now, { windowMs: UPLOAD_RATE_WINDOW_MS });
  }

  get amChoking(): boolean {
    return this.#amChoking;
  }

  /** The peer said it is interested in what we have (the choker's input). */
  get peerInterested(): boolean {
    return this.#peerInterested;
  }

  /** Bytes of blocks served. */
  get uploaded(): number {
    return this.#meter.total;
  }

  /** Bytes per second served to the peer. */
  rate(now: number): number {
    return this.#meter.rate(now);
  }

  /** The choker's decision. Choking drops the peer's queued requests (rejected under BEP 6). */
  choke(choked: boolean): void {
    if (this.#amChoking === choked) return;
    this.#amChoking = choked;
    // Before the handshake the decision waits: it is sent with our bitfield (see the session).
    if (!this.#peer.open) return;
    const writer = this.#peer.writer;
    writer.simple(choked ? WireMessageId.choke : WireMessageId.unchoke);
    if (choked) {
      for (const request of this.#queue.clear()) {
        if (this.#peer.fast)
          writer.block(WireMessageId.rejectRequest, request.index, request.begin, request.length);
      }
    }
    this.#peer.schedule();
  }

  /** The peer's `interested` / `not interested`. */
  onInterest(interested: boolean): void {
    if (this.#peerInterested === interested) return;
    this.#peerInterested = interested;
    this.#peer.emit({ type: 'peer-interest', actorId: this.#peer.id, interested });
  }

  onRequest(index: number, begin: number, length: number): void {
    const torrent = this.#peer.torrent;
    if (index >= torrent.pieceCount) {
      throw new TorkError(
        TorkErrorCode.WIRE_PROTOCOL,
        `peer requested piece ${index} of ${torrent.pieceCount}`,
      );
    }
    const verdict = this.#queue.offer(
      { index, begin, length },
      {
        size: pieceSize(torrent, index),
        have: torrent.reader !== null && torrent.have.has(index),
        choking: this.#amChoking,
      },
    );
    if (verdict === 'queued') {
      this.serve();
      return;
    }
    // BEP 6: every refused request is rejected explicitly; without it, dropped silently.
    if (this.#peer.fast) {
      this.#peer.writer.block(WireMessageId.rejectRequest, index, begin, length);
      this.#peer.schedule();
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

  onCancel(index: number, begin: number, length: number): void {
    if (this.#queue.cancel(index, begin, length) && this.#peer.fast) {
      // BEP 6: a cancelled request is answered, by the block or by a reject.
      this.#peer.writer.block(WireMessageId.rejectRequest, index, begin, length);
      this.#peer.schedule();
    }
  }

  /**
   * Reads queued blocks (through the host's piece cache) and queues them, while there is room.
   * Called when requests arrive and whenever written bytes have left (flush, drain).
   */
  serve(): void {
    if (this.#serving || this.#queue.size === 0) return;
    const reader = this.#peer.torrent.reader;
    if (reader === null) return;
    this.#serving = true;
    void this.#serveLoop(reader);
  }

  /** The session closed: queued requests are forgotten. */
  clear(): void {
    this.#queue.clear();
  }

  async #serveLoop(reader: BlockReader): Promise<void> {
    try {
      await this.#serveQueued(reader);
    } finally {
      // Synchronously at the loop's end: a flush right after may start it again.
      this.#serving = false;
    }
  }

  async #serveQueued(reader: BlockReader): Promise<void> {
    const peer = this.#peer;
    while (peer.open && !this.#amChoking && this.#queue.size > 0) {
      if (peer.unsent >= this.#highWater) return; // resumed on drain
      const request = this.#queue.shift()!;
      let block: Uint8Array;
      try {
        block = await reader.readBlock(request.index, request.begin, request.length);
      } catch (error) {
        if (!peer.open) return;
        const failure = toTorkError(error, TorkErrorCode.IO);
        // Never serve it again from this host; the coordinator decides whether to fetch it anew.
        peer.torrent.have.clear(request.index);
        peer.emit({
          type: 'unreadable',
          actorId: peer.id,
          index: request.index,
          error: failure.toPlain(),
        });
        if (peer.fast)
          peer.writer.block(WireMessageId.rejectRequest, request.index, request.begin, request.length);
        peer.schedule();
        continue;
      }
      // Choked or closed while reading: the request was cleared (and rejected) already.
      if (!peer.open || this.#amChoking) return;
      // Copied into the writer at once: the read cache may reuse the piece's buffer from here on.
      peer.writer.pushPiece(request.index, request.begin, block);
      this.#meter.add(block.length, performance.now());
      peer.schedule();
    }
  }
}
