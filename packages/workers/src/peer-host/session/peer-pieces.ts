import { Bitfield } from '@tork/core/internal/bitfield.js';
import { TorkError, TorkErrorCode } from '@tork/core/internal/errors.js';
import type { PeerLink } from '../peer-link.js';

/**
 * What the peer has, from its bitfield (or have-all / have-none) and its `have`s: kept for the
 * Downloader, and told to the coordinator — a bitfield at once, new `have`s batched per turn.
 * While we have every piece, a `have` is only bookkeeping there (the availability of pieces we do
 * not need, the peer's progress): those wait for the host's tick, once a second, unless the peer
 * just got its last piece (the coordinator closes two seeds' connection). A downloader announces
 * each piece it completes to every peer, so each of N seeders woke its coordinator for every piece
 * (docs/performance.md, "Issue 17, eighth session").
 */
export class PeerPieces {
  /** Updated in place: the Downloader reads this same object. */
  readonly bitfield: Bitfield;
  readonly #peer: PeerLink;
  #pending: number[] = [];

  constructor(peer: PeerLink) {
    this.#peer = peer;
    this.bitfield = new Bitfield(peer.torrent.pieceCount);
  }

  /** The peer's bitfield. With `merge`, it adds to what the peer announced before. */
  onBitfield(bytes: Uint8Array, merge: boolean): void {
    const pieceCount = this.bitfield.length;
    let remote: Bitfield;
    try {
      remote = new Bitfield(pieceCount, bytes);
    } catch (error) {
      const spare = error instanceof TorkError && error.details.reason === 'spare-bits';
      throw new TorkError(
        TorkErrorCode.WIRE_PROTOCOL,
        spare
          ? 'peer sent a bitfield with spare bits set'
          : `peer sent a bitfield of ${bytes.length} bytes for ${pieceCount} pieces`,
      );
    }
    if (merge) {
      const own = this.bitfield.bytes;
      for (let i = 0; i < own.length; i++) own[i]! |= remote.bytes[i]!;
    } else {
      this.bitfield.bytes.set(remote.bytes);
    }
    remote = new Bitfield(pieceCount, this.bitfield.bytes);
    // Copied: the decoder's bytes are a view into a socket chunk, and cloning a view clones it all.
    this.#peer.emit({ type: 'bitfield', actorId: this.#peer.id, bitfield: remote.bytes.slice() });
  }

  /** have-all (`all`) or have-none (BEP 6), in place of a bitfield. */
  onHaveAll(all: boolean): void {
    if (all) this.bitfield.setAll();
    this.#peer.emit({ type: 'bitfield', actorId: this.#peer.id, bitfield: this.bitfield.bytes.slice() });
  }

  /** A `have`; false when the peer had announced the piece already (a redundant message). */
  onHave(index: number): boolean {
    if (index >= this.bitfield.length) {
      throw new TorkError(
        TorkErrorCode.WIRE_PROTOCOL,
        `peer sent have for piece ${index} of ${this.bitfield.length}`,
      );
    }
    if (!this.bitfield.set(index)) return false;
    this.#pending.push(index);
    if (!this.#mayWait()) this.#peer.schedule();
    return true;
  }

  /** End of the turn: the pieces announced in it go to the coordinator as one `have` event (see #mayWait). */
  flush(): void {
    if (this.#pending.length === 0 || this.#mayWait()) return;
    this.drain();
  }

  /** Every `have` not reported yet goes now: the host's tick, and the session's close. */
  drain(): void {
    if (this.#pending.length === 0) return;
    this.#peer.emit({ type: 'have', actorId: this.#peer.id, pieces: this.#pending });
    this.#pending = [];
  }

  /** Whether this turn's `have`s may wait for the tick: we have every piece and the peer does not. */
  #mayWait(): boolean {
    return this.#peer.torrent.have.complete && !this.bitfield.complete;
  }

  /** The session closed: what was not reported yet is dropped. */
  clear(): void {
    this.#pending = [];
  }
}
