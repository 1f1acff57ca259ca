import type { Bitfield } from '@tork/core/internal/bitfield.js';
import { TorkError, TorkErrorCode } from '@tork/core/internal/errors.js';
import type { ReleaseReason } from '@tork/core/internal/messages/host-event.js';
import { BLOCK_LENGTH, WireMessageId } from '@tork/core/internal/wire/messages.js';
import { pieceDataSize, pieceSize, verifyPiece } from '../actor-torrent.js';
import type { PeerLink } from '../peer-link.js';
import { PieceAssembler } from './piece-assembler.js';
import { RequestPipeline, type RequestPipelineOptions } from './request-pipeline.js';

export interface DownloaderOptions extends RequestPipelineOptions {
  /**
   * Blocks the peer may send that we never asked for (or of the wrong size) before it is dropped.
   * Blocks of requests we cancelled or that a choke voided are late, not unexpected. Default: 64.
   */
  readonly maxUnexpectedBlocks?: number;
}

/** Requests voided (cancel, choke) remembered so their late blocks are not held against the peer. */
const MAX_VOIDED = 4_096;
/** Allowed-fast pieces (BEP 6) remembered per peer. */
const MAX_ALLOWED_FAST = 64;

/**
 * The fetching side of a peer session: the whole pieces the coordinator assigned to this peer.
 * It pipelines their 16 KiB block requests itself (as deep as the peer's rate warrants), assembles
 * each piece in its own ArrayBuffer, verifies SHA-1 and emits one `piece` (transferred) or
 * `hash-failed` event per piece; pieces it cannot fetch (the peer lacks them, chokes or snubs us)
 * go back with `released`. No round trip to the coordinator per block.
 */
export class Downloader {
  readonly #peer: PeerLink;
  /** What the peer has; kept by the session from its bitfield and `have`s. */
  readonly #remote: Bitfield;
  readonly #pipeline: RequestPipeline;
  readonly #pieces = new Map<number, PieceAssembler>();
  /**
   * The pieces of `#pieces` that may still have blocks to request, in assignment order: `#fill`
   * starts here instead of walking past every fully requested piece for each request (with
   * hundreds of 16 KiB pieces assigned, that walk was most of a host's request cost).
   */
  readonly #toRequest = new Set<PieceAssembler>();
  readonly #voided = new Set<number>();
  readonly #allowedFast = new Set<number>();
  readonly #maxUnexpectedBlocks: number;
  #peerChoking = true;
  #amInterested = false;
  #unexpectedBlocks = 0;
  #downloaded = 0;
  /** Pieces take their buffers from the host's pool, when their first block arrives. */
  readonly #takeBuffer = (size: number): ArrayBuffer => this.#peer.buffers.take(size);

  constructor(peer: PeerLink, remote: Bitfield, now: number, options: DownloaderOptions = {}) {
    this.#peer = peer;
    this.#remote = remote;
    this.#pipeline = new RequestPipeline(now, options);
    this.#maxUnexpectedBlocks = options.maxUnexpectedBlocks ?? 64;
  }

  get peerChoking(): boolean {
    return this.#peerChoking;
  }

  get amInterested(): boolean {
    return this.#amInterested;
  }

  /** Bytes of requested blocks received. */
  get downloaded(): number {
    return this.#downloaded;
  }

  get snubbed(): boolean {
    return this.#pipeline.snubbed;
  }

  /** How long requests may go unanswered before the peer counts as snubbing us, ms. */
  get snubTimeoutMs(): number {
    return this.#pipeline.snubTimeoutMs;
  }

  /** Block requests outstanding. */
  get queueDepth(): number {
    return this.#pipeline.outstanding;
  }

  targetQueueDepth(now: number): number {
    return this.#pipeline.target(now);
  }

  /** Bytes per second received from the peer. */
  rate(now: number): number {
    return this.#pipeline.meter.rate(now);
  }

  /** The peer's BEP 10 `reqq`. */
  setPeerLimit(reqq: number): void {
    this.#pipeline.setPeerLimit(reqq);
  }

  /** Takes whole pieces to fetch; those it cannot fetch now are released straight back. */
  assign(pieces: readonly number[]): void {
    const torrent = this.#peer.torrent;
    const lacking: number[] = [];
    const choked: number[] = [];
    for (const index of pieces) {
      if (this.#pieces.has(index)) continue;
      if (index >= torrent.pieceCount || !this.#remote.has(index)) {
        lacking.push(index);
      } else if (this.#peerChoking && !(this.#peer.fast && this.#allowedFast.has(index))) {
        choked.push(index);
      } else {
        const size = pieceSize(torrent, index);
        const assembler = new PieceAssembler(index, size, this.#takeBuffer, pieceDataSize(torrent, index));
        this.#pieces.set(index, assembler);
        this.#toRequest.add(assembler);
      }
    }
    if (lacking.length > 0) this.#release(lacking, 'peer-lacks');
    if (choked.length > 0) this.#release(choked, 'choked');
    this.#fill(performance.now());
  }

  /** Stops fetching pieces (an endgame copy won elsewhere): cancels their outstanding requests. */
  unassign(pieces: readonly number[]): void {
    for (const index of pieces) {
      const piece = this.#pieces.get(index);
      if (!piece) continue;
      this.#cancelRequests(piece, true);
      this.#drop(piece);
    }
    this.#fill(performance.now());
  }

  interest(interested: boolean): void {
    if (this.#amInterested === interested) return;
    this.#amInterested = interested;
    // Before the handshake completes it is sent with our bitfield (see the session's handshake).
    if (!this.#peer.open) return;
    this.#peer.writer.simple(interested ? WireMessageId.interested : WireMessageId.notInterested);
    this.#peer.schedule();
  }

  /** The peer choked or unchoked us. */
  onChoke(choked: boolean, now: number): void {
    if (this.#peerChoking === choked) return;
    this.#peerChoking = choked;
    this.#peer.emit({ type: 'choke', actorId: this.#peer.id, choked });
    if (choked) this.#onChoked();
    else this.#fill(now);
  }

  /** BEP 6 allowed-fast: a piece we may fetch while choked. */
  onAllowedFast(index: number): void {
    if (this.#allowedFast.size < MAX_ALLOWED_FAST) this.#allowedFast.add(index);
  }

  onBlock(index: number, begin: number, data: Uint8Array, now: number): void {
    const piece = this.#pieces.get(index);
    // A torrent of one-block pieces: the block is the piece, verified and packed for the
    // coordinator straight from the received bytes (one copy on the way, not two).
    const inPlace =
      piece !== undefined && piece.blockCount === 1 && this.#peer.torrent.pieceLength <= BLOCK_LENGTH;
    const outcome = piece
      ? inPlace
        ? piece.acceptInPlace(begin, data)
        : piece.accept(begin, data)
      : 'unrequested';
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
    if (piece!.complete) {
      if (inPlace) this.#finishInPlace(piece!, data);
      else this.#finish(piece!);
    }
    this.#fill(now);
  }

  /** The peer rejected a request of ours (BEP 6). */
  onReject(index: number, begin: number, now: number): void {
    const piece = this.#pieces.get(index);
    if (!piece || begin % BLOCK_LENGTH !== 0 || !piece.unrequest(begin / BLOCK_LENGTH)) return;
    this.#toRequest.add(piece);
    this.#pipeline.voided(1);
    if (this.#peerChoking && piece.requested === 0 && !this.#allowedFast.has(index)) {
      this.#drop(piece);
      this.#release([index], 'choked');
      return;
    }
    this.#fill(now);
  }

  /**
   * The host's tick. Requests out and no block for the snub timeout: a peer that has never sent a
   * block is not slow but mute, and true is returned (the session drops it; its pieces go back to
   * the others as it closes). One that delivered before may recover: only the pieces it has
   * started stay with it, at depth 1.
   */
  checkSnub(now: number): boolean {
    if (!this.#pipeline.checkSnub(now)) return false;
    if (this.#downloaded === 0) return true;
    this.#onSnubbed();
    return false;
  }

  /** The session closed: every piece buffer goes back to the pool. */
  close(): void {
    for (const piece of this.#pieces.values()) this.#giveBack(piece);
    this.#pieces.clear();
    this.#toRequest.clear();
  }

  /** Woken by the rate allowance once more is granted. */
  readonly #wake = (): void => this.#fill(performance.now());

  /** Requests blocks until the pipeline is as deep as the peer's rate warrants. */
  #fill(now: number): void {
    if (!this.#peer.open || this.#pieces.size === 0) return;
    const target = this.#pipeline.target(now);
    if (this.#pipeline.outstanding >= target) return;
    const onlyAllowedFast = this.#peerChoking;
    if (onlyAllowedFast && !this.#peer.fast) return;
    const writer = this.#peer.writer;
    const rates = this.#peer.torrent.rates;
    const capped = rates.limited('download');
    let queued = false;
    let spent = false;
    for (const piece of this.#toRequest) {
      if (onlyAllowedFast && !this.#allowedFast.has(piece.index)) continue;
      while (this.#pipeline.outstanding < target) {
        // A capped torrent: a block's worth of allowance before each request (see RateAllowance).
        if (capped && !rates.take('download', BLOCK_LENGTH, this.#peer.id, this.#wake)) {
          spent = true;
          break;
        }
        const block = piece.takeNext();
        if (block < 0) {
          if (capped) rates.refund('download', BLOCK_LENGTH);
          // Every block requested: it leaves the list until one is wanted again (unrequest).
          this.#toRequest.delete(piece);
          break;
        }
        const length = piece.blockLength(block);
        if (capped && length < BLOCK_LENGTH) rates.refund('download', BLOCK_LENGTH - length);
        writer.block(WireMessageId.request, piece.index, block * BLOCK_LENGTH, length);
        this.#pipeline.requested(now);
        queued = true;
      }
      if (spent || this.#pipeline.outstanding >= target) break;
    }
    if (queued) this.#peer.schedule();
  }

  #finish(piece: PieceAssembler): void {
    this.#pieces.delete(piece.index);
    this.#toRequest.delete(piece);
    // BEP 52: a hybrid's piece must pass both its SHA-1 and its merkle check; a v2-only one the latter.
    if (verifyPiece(this.#peer.torrent, piece.index, new Uint8Array(piece.buffer))) {
      // Thread boundary: the piece's own ArrayBuffer is transferred (moved) to the coordinator.
      this.#peer.emit(
        { type: 'piece', actorId: this.#peer.id, index: piece.index, data: piece.buffer },
        piece.buffer,
      );
    } else {
      this.#peer.emit({ type: 'hash-failed', actorId: this.#peer.id, index: piece.index });
      this.#giveBack(piece);
    }
  }

  /** A one-block piece, complete: `data` is its bytes, valid only for this call. */
  #finishInPlace(piece: PieceAssembler, data: Uint8Array): void {
    this.#pieces.delete(piece.index);
    this.#toRequest.delete(piece);
    if (verifyPiece(this.#peer.torrent, piece.index, data)) this.#peer.packPiece(piece.index, data);
    else this.#peer.emit({ type: 'hash-failed', actorId: this.#peer.id, index: piece.index });
  }

  /** The peer choked us. Without the fast extension every request is void; with it, rejects follow. */
  #onChoked(): void {
    const released: number[] = [];
    for (const piece of this.#pieces.values()) {
      if (this.#peer.fast) {
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
      if (sendCancel)
        this.#peer.writer.block(WireMessageId.cancel, piece.index, begin, piece.blockLength(block));
      if (this.#voided.size >= MAX_VOIDED) this.#voided.clear();
      this.#voided.add(requestKey(piece.index, begin));
      count++;
    }
    piece.unrequestAll();
    if (this.#pieces.get(piece.index) === piece) this.#toRequest.add(piece);
    this.#pipeline.voided(count);
    if (sendCancel && count > 0) this.#peer.schedule();
  }

  /** Forgets a piece without sending it: its buffer goes back to the pool. */
  #drop(piece: PieceAssembler): void {
    this.#pieces.delete(piece.index);
    this.#toRequest.delete(piece);
    this.#giveBack(piece);
  }

  /** A piece's buffer, if it took one, back to the pool. */
  #giveBack(piece: PieceAssembler): void {
    const buffer = piece.heldBuffer;
    if (buffer !== null) this.#peer.buffers.give(buffer);
  }

  #release(pieces: number[], reason: ReleaseReason): void {
    this.#peer.emit({ type: 'released', actorId: this.#peer.id, pieces, reason });
  }
}

/** Key of a block request in the voided set; -1 for a begin that is not block-aligned. */
function requestKey(index: number, begin: number): number {
  return begin % BLOCK_LENGTH === 0 ? index * 65_536 + begin / BLOCK_LENGTH : -1;
}
