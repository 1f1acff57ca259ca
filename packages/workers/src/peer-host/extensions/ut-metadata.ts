import { TorkError, TorkErrorCode } from '@tork/core/internal/errors.js';
import { metadataMatches } from '@tork/core/internal/metainfo/metadata-hashes.js';
import {
  decodeMetadataMessage,
  encodeMetadataData,
  encodeMetadataReject,
  encodeMetadataRequest,
  MAX_METADATA_BYTES,
  METADATA_PIECE_BYTES,
  metadataPieceCount,
  metadataPieceSize,
} from '@tork/core/internal/wire/ut-metadata.js';
import { WindowBudget } from '../../shared/window-budget.js';
import type { ExtensionHandler, ExtensionPeer, PeerExtension } from './peer-extension.js';

/** Metadata pieces requested from one peer at once. */
export const METADATA_REQUESTS_IN_FLIGHT = 4;
/** With requests out, no metadata piece for this long: the peer is given up (others may have it), ms. */
export const METADATA_PIECE_TIMEOUT_MS = 20_000;
/** Metadata requests a peer may make per second; beyond, they are rejected (serving is cheap, but not free). */
export const MAX_METADATA_REQUESTS_PER_SECOND = 64;
/** Metadata pieces sent that we never asked for, before the peer is dropped. */
const MAX_UNEXPECTED_PIECES = 16;

/**
 * BEP 9 (`ut_metadata`): serving the info dictionary of a public torrent to peers that ask, and
 * fetching it for a magnet link's torrent when the coordinator says which peer to fetch from. A
 * fetch asks for the pieces a few at a time, assembles them in one buffer, checks the SHA-1 against
 * the info-hash here in the peer host, and sends the whole dictionary to the coordinator (a
 * `metadata` event, the buffer transferred). Metadata that does not hash to the info-hash closes
 * the connection with `cause: 'bad-metadata'` (the coordinator bans the peer and goes on with
 * others); a reject, a silence of `METADATA_PIECE_TIMEOUT_MS` or a size over the cap close it too.
 */
export class UtMetadata implements PeerExtension {
  readonly name = 'ut_metadata';
  readonly #pieceTimeoutMs: number;

  /** `pieceTimeoutMs`: see METADATA_PIECE_TIMEOUT_MS (the default). */
  constructor(options: { readonly pieceTimeoutMs?: number } = {}) {
    this.#pieceTimeoutMs = options.pieceTimeoutMs ?? METADATA_PIECE_TIMEOUT_MS;
  }

  open(peer: ExtensionPeer): ExtensionHandler | null {
    const { torrent } = peer;
    // BEP 27: a private torrent's metadata is not shared (a magnet's torrent is not known yet).
    if (torrent.private && !torrent.metadataOnly) return null;
    return new UtMetadataHandler(peer, this.#pieceTimeoutMs);
  }
}

/** The handler of one connection; `fetch` is the coordinator's go-ahead. */
export class UtMetadataHandler implements ExtensionHandler {
  readonly #peer: ExtensionPeer;
  /** The peer's `metadata_size`, when it offered it (magnet torrents only). */
  #offered = 0;
  #buffer: Uint8Array | null = null;
  #received: Uint8Array = new Uint8Array(0);
  #next = 0;
  #inFlight = 0;
  #done = false;
  #lastProgress = 0;
  #unexpected = 0;
  /** Requests served per second (its window opens at the first request: see WindowBudget). */
  readonly #requests = new WindowBudget(MAX_METADATA_REQUESTS_PER_SECOND);

  readonly #pieceTimeoutMs: number;

  constructor(peer: ExtensionPeer, pieceTimeoutMs = METADATA_PIECE_TIMEOUT_MS) {
    this.#peer = peer;
    this.#pieceTimeoutMs = pieceTimeoutMs;
  }

  handshakeFields(): Readonly<Record<string, unknown>> {
    const metadata = this.#peer.torrent.metadata;
    return metadata !== null && !this.#peer.torrent.private ? { metadata_size: metadata.length } : {};
  }

  onHandshake(handshake: Readonly<Record<string, unknown>>): void {
    if (!this.#peer.torrent.metadataOnly || this.#peer.remoteId === 0 || this.#offered > 0) return;
    const size = handshake.metadata_size;
    if (size === undefined) return;
    if (!Number.isSafeInteger(size) || (size as number) <= 0 || (size as number) > MAX_METADATA_BYTES) {
      throw new TorkError(
        TorkErrorCode.WIRE_PROTOCOL,
        `peer offered metadata of ${String(size)} bytes (the cap is ${MAX_METADATA_BYTES})`,
        { cause: 'metadata-size', limit: MAX_METADATA_BYTES },
      );
    }
    this.#offered = size as number;
    this.#peer.emit({ type: 'metadata-available', actorId: this.#peer.actorId, size: this.#offered });
  }

  /** The coordinator chose this peer to fetch the metadata from. */
  fetch(now: number): void {
    if (this.#buffer !== null || this.#offered === 0 || this.#done) return;
    this.#buffer = new Uint8Array(this.#offered);
    this.#received = new Uint8Array(metadataPieceCount(this.#offered));
    this.#lastProgress = now;
    this.#requestMore();
  }

  onMessage(payload: Uint8Array): void {
    const fetching = this.#buffer !== null ? this.#offered : 0;
    const message = decodeMetadataMessage(payload, fetching || MAX_METADATA_BYTES);
    switch (message.type) {
      case 'request':
        this.#serve(message.piece);
        return;
      case 'reject':
        if (this.#buffer === null || this.#done) return;
        this.#peer.close(
          new TorkError(TorkErrorCode.METADATA, `peer refused metadata piece ${message.piece}`, {
            cause: 'metadata-rejected',
          }),
        );
        return;
      case 'data':
        this.#onData(message.piece, message.totalSize, message.data);
        return;
    }
  }

  tick(now: number): void {
    if (this.#buffer === null || this.#done || this.#inFlight === 0) return;
    if (now - this.#lastProgress >= this.#pieceTimeoutMs) {
      this.#peer.close(
        new TorkError(
          TorkErrorCode.METADATA,
          `peer sent no metadata piece for ${this.#pieceTimeoutMs / 1000} s`,
          { cause: 'metadata-timeout' },
        ),
      );
    }
  }

  close(): void {
    this.#buffer = null;
  }

  #serve(piece: number): void {
    const metadata = this.#peer.torrent.private ? null : this.#peer.torrent.metadata;
    if (
      metadata === null ||
      !this.#requests.take(performance.now()) ||
      piece >= metadataPieceCount(metadata.length)
    ) {
      this.#peer.send(encodeMetadataReject(piece));
      return;
    }
    const from = piece * METADATA_PIECE_BYTES;
    this.#peer.send(
      encodeMetadataData(
        piece,
        metadata.length,
        metadata.subarray(from, from + metadataPieceSize(metadata.length, piece)),
      ),
    );
  }

  #onData(piece: number, totalSize: number, data: Uint8Array): void {
    const buffer = this.#buffer;
    if (buffer === null || this.#done || totalSize !== this.#offered || this.#received[piece] !== 1) {
      // Not asked for (or not any more): tolerated a few times, then a fault.
      if (++this.#unexpected > MAX_UNEXPECTED_PIECES) {
        throw new TorkError(
          TorkErrorCode.WIRE_PROTOCOL,
          `peer sent ${this.#unexpected} metadata pieces we did not ask for`,
          {
            limit: MAX_UNEXPECTED_PIECES,
          },
        );
      }
      return;
    }
    buffer.set(data, piece * METADATA_PIECE_BYTES);
    this.#received[piece] = 2;
    this.#inFlight--;
    this.#lastProgress = performance.now();
    if (this.#received.every((state) => state === 2)) {
      this.#finish(buffer);
      return;
    }
    this.#requestMore();
  }

  #requestMore(): void {
    while (this.#inFlight < METADATA_REQUESTS_IN_FLIGHT && this.#next < this.#received.length) {
      this.#received[this.#next] = 1;
      this.#peer.send(encodeMetadataRequest(this.#next));
      this.#next++;
      this.#inFlight++;
    }
  }

  #finish(buffer: Uint8Array): void {
    this.#done = true;
    this.#buffer = null;
    if (!metadataMatches(buffer, this.#peer.torrent.metadataHashes ?? { v1: this.#peer.torrent.infoHash })) {
      throw new TorkError(
        TorkErrorCode.WIRE_PROTOCOL,
        'peer sent metadata that does not hash to the info-hash',
        {
          cause: 'bad-metadata',
        },
      );
    }
    // Thread boundary: the dictionary's own buffer is transferred to the coordinator, not cloned.
    this.#peer.emit(
      { type: 'metadata', actorId: this.#peer.actorId, info: buffer.buffer as ArrayBuffer },
      buffer.buffer as ArrayBuffer,
    );
  }
}
