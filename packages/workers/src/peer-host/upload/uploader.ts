import { TorkError, TorkErrorCode, toTorkError } from '@tork/core/internal/errors.js';
import { WireMessageId } from '@tork/core/internal/wire/messages.js';
import { type BlockReader, pieceSize } from '../actor-torrent.js';
import type { PeerLink } from '../peer-link.js';
import { RateMeter } from '../rate-meter.js';
import { type BlockRequest, UploadQueue } from './upload-queue.js';

/**
 * The `reqq` we advertise: twice libtorrent's `max_allowed_in_request_queue` (2,000). Transmission
 * keeps at most `reqq` requests out and tops them up every ~2.5 s: 2,000 gave it 11.5–12 MB/s from
 * us (12.6 from libtorrent), 4,000 gave 13.9 (docs/performance.md).
 */
export const DEFAULT_ADVERTISED_REQUEST_QUEUE = 4_000;
/** Requests held for one peer: twice the advertised `reqq` (rtorrent, for one, ignores `reqq`). */
export const DEFAULT_MAX_QUEUED_REQUESTS = 8_000;
/**
 * Bytes of requested blocks held for one peer: 8,000 × 16 KiB. Only the requests are held (about
 * 50 bytes each); blocks are read from the piece cache as they are sent.
 */
export const DEFAULT_MAX_QUEUED_REQUEST_BYTES = 128 * 1024 * 1024;
/**
 * Bytes of pieces read ahead for one peer while a block waits for the disk: the pieces of its next
 * queued requests, up to 1 MiB with the piece being read. Pieces of 1 MiB or more: none. Small
 * pieces would otherwise cost a disk round trip each, one after another: 16 KiB pieces were served
 * at a quarter of libtorrent's rate (docs/performance.md).
 */
export const UPLOAD_READ_AHEAD_BYTES = 1024 * 1024;
/** Queued requests looked at for read-ahead, at most (many may name the same piece). */
const READ_AHEAD_SCAN = 256;

/** A peer with requests queued that got no block from us for this long is stalled, ms. */
export const DEFAULT_UPLOAD_STALL_MS = 10_000;

export interface UploaderOptions {
  /**
   * The `reqq` we advertise in the BEP 10 handshake: how many block requests a peer should keep
   * outstanding with us at most. Transmission sends bursts of up to `reqq` requests every couple
   * of seconds, so this bounds its rate from us (500 gave it 8 MB/s). Default: 4,000.
   */
  readonly advertisedRequestQueue?: number;
  /**
   * Most requests held for one peer, whatever `reqq` says (some clients keep more outstanding).
   * Beyond it (or `maxQueuedRequestBytes`): a fast-extension peer's request is rejected (BEP 6);
   * any other peer's is dropped, and once the requests held are served the peer is choked (which
   * under BEP 3 voids every request it still has out: the dropped ones) and unchoked at the next
   * tick, when it asks again: never a request silently lost. Default: 8,000.
   */
  readonly maxQueuedRequests?: number;
  /** Most bytes of requested blocks held for one peer (see `maxQueuedRequests`). Default: 128 MiB. */
  readonly maxQueuedRequestBytes?: number;
  /** A peer with requests queued that got no block from us for this long counts as stalled, ms. Default: 10,000. */
  readonly uploadStallMs?: number;
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
  readonly #stallMs: number;
  #amChoking = true;
  #peerInterested = false;
  #serving = false;
  #badRequests = 0;
  /** Requests refused because the queue was full: rejected (BEP 6), or dropped by an overflow choke. */
  #rejected = 0;
  #dropped = 0;
  /** A non-fast peer's requests were dropped: choke it once the queue is served (see #overflow). */
  #overflowPending = false;
  /** We choked the peer for overflowing its queue; unchoked at the next tick if still wanted. */
  #overflowChoked = false;
  /** When the queue last went from empty to not empty, or a block last left: the stall clock. */
  #lastProgress: number;

  constructor(peer: PeerLink, now: number, options: UploaderOptions = {}) {
    this.#peer = peer;
    this.advertisedRequestQueue = Math.max(
      1,
      options.advertisedRequestQueue ?? DEFAULT_ADVERTISED_REQUEST_QUEUE,
    );
    this.#maxBadRequests = options.maxBadRequests ?? 32;
    this.#highWater = options.uploadHighWaterBytes ?? 1024 * 1024;
    this.#stallMs = options.uploadStallMs ?? DEFAULT_UPLOAD_STALL_MS;
    this.#queue = new UploadQueue(
      Math.max(this.advertisedRequestQueue, options.maxQueuedRequests ?? DEFAULT_MAX_QUEUED_REQUESTS),
      options.maxQueuedRequestBytes ?? DEFAULT_MAX_QUEUED_REQUEST_BYTES,
    );
    this.#meter = new RateMeter(now, { windowMs: UPLOAD_RATE_WINDOW_MS });
    this.#lastProgress = now;
  }

  /** Requests the peer has queued with us now. */
  get queued(): number {
    return this.#queue.size;
  }

  /** Requests refused because its queue was full: rejected under BEP 6, or dropped by an overflow choke. */
  get refused(): number {
    return this.#rejected + this.#dropped;
  }

  /** The peer has requests queued, we do not choke it, and it got no block from us for `uploadStallMs`. */
  stalled(now: number): boolean {
    return this.#queue.size > 0 && !this.#amChoking && now - this.#lastProgress >= this.#stallMs;
  }

  /** The host's tick: an overflow choke is lifted (the peer re-requests what it still wants). */
  tick(): void {
    if (!this.#overflowChoked) return;
    this.#overflowChoked = false;
    if (this.#amChoking || !this.#peer.open) return;
    this.#peer.writer.simple(WireMessageId.unchoke);
    this.#peer.schedule();
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
    // Already choked on the wire for an overflow: an unchoke waits for the tick, a choke is moot.
    if (this.#overflowChoked) {
      if (choked) this.#overflowChoked = false;
      return;
    }
    // A real choke voids every request too: no overflow choke is needed after it.
    if (choked) this.#overflowPending = false;
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
        // Requests in flight when we overflow-choked are void too (BEP 3), until the unchoke.
        choking: this.#amChoking || this.#overflowChoked,
      },
    );
    if (verdict === 'queued') {
      if (this.#queue.size === 1) this.#lastProgress = performance.now();
      this.serve();
      return;
    }
    if (verdict === 'full') {
      this.#overflow(index, begin, length);
      return;
    }
    // BEP 6: every refused request is rejected explicitly; without it, one crossing our choke is
    // void anyway (BEP 3: a choke discards the peer's requests).
    if (this.#peer.fast) {
      this.#peer.writer.block(WireMessageId.rejectRequest, index, begin, length);
      this.#peer.schedule();
    }
    // A request crossing our choke is not the peer's fault.
    if (verdict === 'choked') return;
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
    if (!this.#queue.cancel(index, begin, length)) return;
    if (this.#peer.fast) {
      // BEP 6: a cancelled request is answered, by the block or by a reject.
      this.#peer.writer.block(WireMessageId.rejectRequest, index, begin, length);
      this.#peer.schedule();
    }
    this.#chokeAfterOverflow();
  }

  /** Woken by the rate allowance once more is granted. */
  readonly #wake = (): void => this.serve();

  /**
   * Reads queued blocks (through the host's piece cache) and queues them, while there is room.
   * Called when requests arrive and whenever written bytes have left (flush, drain).
   */
  serve(): void {
    if (this.#serving || this.#queue.size === 0) return;
    const reader = this.#peer.torrent.reader;
    if (reader === null) return;
    this.#serving = true;
    // Blocks of cached pieces (most of a seeder's) are served here and now, without a promise;
    // the first that needs the disk hands the rest to #serveLoop. `#serving` is cleared in the same
    // turn when nothing waits for the disk: a request that arrives next must find it clear.
    let miss: BlockRequest | undefined;
    try {
      miss = this.#serveCached(reader);
    } catch (error) {
      // Not left set: the session decides what the error means, and may serve again.
      this.#serving = false;
      throw error;
    }
    if (miss !== undefined) {
      void this.#serveLoop(reader, miss);
      return;
    }
    this.#serving = false;
    this.#chokeAfterOverflow();
  }

  /**
   * The queue is full (some clients keep more outstanding than our `reqq`: aria2c re-requests
   * rejected blocks at once, rtorrent keeps ~1,200). Never lost silently: a fast-extension peer
   * gets a reject and asks again. Any other peer's request is dropped; the queue is served as it
   * is, and once it is empty the peer is choked — under BEP 3 that voids whatever it still has out,
   * exactly the dropped requests — and unchoked at the next tick, when it asks for what it still
   * wants. Choking at once instead (and clearing the queue) starves a peer that always sends more
   * than the cap: it would never get a block.
   */
  #overflow(index: number, begin: number, length: number): void {
    if (this.#peer.fast) {
      this.#rejected++;
      this.#peer.writer.block(WireMessageId.rejectRequest, index, begin, length);
      this.#peer.schedule();
      return;
    }
    this.#dropped++;
    this.#overflowPending = true;
  }

  /** The queue has been served since requests were dropped: choke now (see #overflow). */
  #chokeAfterOverflow(): void {
    if (!this.#overflowPending || this.#queue.size > 0 || this.#amChoking || !this.#peer.open) return;
    this.#overflowPending = false;
    this.#overflowChoked = true;
    this.#peer.writer.simple(WireMessageId.choke);
    this.#peer.schedule();
  }

  /** The session closed: queued requests are forgotten. */
  clear(): void {
    this.#queue.clear();
  }

  /** Serves blocks from the disk, one at a time, and the cached ones after each, until none is left to serve. */
  async #serveLoop(reader: BlockReader, first: BlockRequest): Promise<void> {
    try {
      for (let request: BlockRequest | undefined = first; request !== undefined; ) {
        if (!(await this.#readAndSend(reader, request))) break;
        request = this.#serveCached(reader);
      }
    } finally {
      // Synchronously at the loop's end: a flush right after may start it again.
      this.#serving = false;
    }
    this.#chokeAfterOverflow();
  }

  /**
   * While `first`'s piece is read, the pieces of the next queued requests are read into the cache
   * too (UPLOAD_READ_AHEAD_BYTES in all): they are then served from it, without a round trip each.
   */
  #readAhead(reader: BlockReader, first: BlockRequest): void {
    if (reader.prefetch === undefined) return;
    const torrent = this.#peer.torrent;
    let bytes = pieceSize(torrent, first.index);
    let last = first.index;
    for (let i = 0; i < READ_AHEAD_SCAN && bytes < UPLOAD_READ_AHEAD_BYTES; i++) {
      const next = this.#queue.at(i);
      if (next === undefined) return;
      if (next.index === last) continue;
      last = next.index;
      bytes += pieceSize(torrent, next.index);
      reader.prefetch(next.index);
    }
  }

  /** Serves requests while their pieces are cached; returns the first that needs the disk (already off the queue). */
  #serveCached(reader: BlockReader): BlockRequest | undefined {
    for (let request = this.#nextRequest(); request !== undefined; request = this.#nextRequest()) {
      // The torrent's current reader: it is replaced when files move (see PeerHost, add-torrent).
      const current = this.#peer.torrent.reader ?? reader;
      const block = current.cachedBlock?.(request.index, request.begin, request.length);
      if (block === undefined) return request;
      this.#send(request, block);
    }
    return undefined;
  }

  /** The next request to serve, off the queue with its upload allowance taken; undefined while serving must pause. */
  #nextRequest(): BlockRequest | undefined {
    const peer = this.#peer;
    if (!peer.open || this.#amChoking || this.#overflowChoked || this.#queue.size === 0) return undefined;
    if (peer.unsent >= this.#highWater) return undefined; // resumed on drain
    // A capped torrent: a block's worth of allowance before each block served (RateAllowance).
    const next = this.#queue.peek()!;
    if (!peer.torrent.rates.take('upload', next.length, peer.id, this.#wake)) return undefined;
    return this.#queue.shift();
  }

  /**
   * Reads the block from disk and sends it. False when the session closed or choked meanwhile
   * (the request was cleared, and rejected, already). An unreadable piece is reported, and
   * rejected under BEP 6; serving goes on (true).
   */
  async #readAndSend(reader: BlockReader, request: BlockRequest): Promise<boolean> {
    const peer = this.#peer;
    // This block's read goes first in the reader's queue. The pieces of the requests behind it are
    // read ahead once this turn's requests are in (a burst arrives in one chunk, decoded at once).
    const current = peer.torrent.reader ?? reader;
    const reading = current.readBlock(request.index, request.begin, request.length);
    if (current.prefetch !== undefined && pieceSize(peer.torrent, request.index) < UPLOAD_READ_AHEAD_BYTES) {
      reading.catch(() => {}); // awaited below: not unhandled meanwhile
      await undefined;
      this.#readAhead(current, request);
    }
    let block: Uint8Array;
    try {
      block = await reading;
    } catch (error) {
      if (!peer.open) return false;
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
      return true;
    }
    if (!peer.open || this.#amChoking || this.#overflowChoked) return false;
    this.#send(request, block);
    return true;
  }

  /** Queues the piece message, copied into the writer at once: the read cache may reuse the piece's buffer from here on. */
  #send(request: BlockRequest, block: Uint8Array): void {
    const peer = this.#peer;
    peer.writer.pushPiece(request.index, request.begin, block);
    const now = performance.now();
    this.#meter.add(block.length, now);
    this.#lastProgress = now;
    peer.schedule();
  }
}
