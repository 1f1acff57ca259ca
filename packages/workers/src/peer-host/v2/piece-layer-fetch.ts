import { TorkError, TorkErrorCode } from '@tork/core/internal/errors.js';
import type { HostEvent } from '@tork/core/internal/messages/host-event.js';
import type { WireDecoder } from '@tork/core/internal/wire/decoder.js';
import { encodeHashRequest } from '@tork/core/internal/wire/hash-messages.js';
import { checkHashProof } from '@tork/core/internal/wire/hash-proof.js';
import type { HashesMessage, HashRange, HashRejectMessage } from '@tork/core/internal/wire/messages.js';
import { matchWireInfoHash, speaksV2 } from '@tork/core/internal/wire/wire-info-hash.js';
import type { ActorTorrent } from '../actor-torrent.js';

/**
 * Hash requests one connection may have outstanding; the coordinator asks for fewer
 * (`HASH_REQUESTS_PER_PEER` in core), so more is a bug of ours and is refused here.
 */
export const MAX_HASH_REQUESTS_IN_FLIGHT = 8;
/** With a hash request out, no answer for this long: the peer is dropped (another is asked), ms. */
export const HASH_REQUEST_TIMEOUT_MS = 20_000;

/**
 * BEP 52: turns on the decoding of hash messages once a handshake shows the connection speaks v2
 * (`speaksV2`: we named the v2 hash, or a hybrid's v1 hash and the peer set the v2 bit). Only a
 * torrent whose v2 hash the host knows can speak it. True when turned on.
 */
export function enableLayerFetchIfSpoken(
  decoder: WireDecoder,
  torrent: ActorTorrent,
  peerV2Bit: boolean,
): boolean {
  const hashes = torrent.metadataHashes;
  if (hashes?.v2 === undefined) return false;
  const version = matchWireInfoHash(torrent.infoHash, hashes);
  if (version === undefined || !speaksV2(version, peerV2Bit, hashes)) return false;
  decoder.enableHashMessages();
  return true;
}

/** What the fetch needs of its session. */
export interface HashFetchLink {
  readonly id: number;
  readonly open: boolean;
  readonly writer: { push(message: Uint8Array): void };
  emit(event: HostEvent, transfer?: ArrayBuffer): void;
  schedule(): void;
  close(error: TorkError): void;
}

interface Outstanding {
  readonly range: HashRange;
  readonly fileLength: number;
  readonly sentAt: number;
}

/**
 * Fetching piece layers from one peer (BEP 52 `hash request` → `hashes` / `hash reject`), in the
 * peer host: the coordinator says what to ask (`fetch-hashes`); each answer is matched to an
 * outstanding request and its proof is checked against the file's pieces root here
 * (`checkHashProof`), then the base hashes go to the coordinator (`piece-hashes`, a transferred
 * copy). A `hashes` nobody asked for, or one that does not prove, is the peer's fault: the
 * connection closes with `cause: 'bad-hashes'` and the coordinator bans the address. A reject is
 * reported (`hashes-rejected`: the coordinator asks another peer); a request unanswered for
 * `HASH_REQUEST_TIMEOUT_MS` closes the connection (`cause: 'hashes-timeout'`).
 */
export class PieceLayerFetch {
  readonly #link: HashFetchLink;
  readonly #timeoutMs: number;
  readonly #outstanding = new Map<string, Outstanding>();

  constructor(link: HashFetchLink, timeoutMs = HASH_REQUEST_TIMEOUT_MS) {
    this.#link = link;
    this.#timeoutMs = timeoutMs;
  }

  /** Requests outstanding. */
  get outstanding(): number {
    return this.#outstanding.size;
  }

  /** Sends the coordinator's request (ignored when not open, a duplicate, or over the cap). */
  request(range: HashRange, fileLength: number, now: number): void {
    const key = rangeKey(range);
    if (!this.#link.open || this.#outstanding.has(key)) return;
    if (this.#outstanding.size >= MAX_HASH_REQUESTS_IN_FLIGHT) {
      throw new TorkError(
        TorkErrorCode.INTERNAL,
        `more than ${MAX_HASH_REQUESTS_IN_FLIGHT} hash requests for one peer`,
        { limit: MAX_HASH_REQUESTS_IN_FLIGHT },
      );
    }
    const owned = { ...range, piecesRoot: new Uint8Array(range.piecesRoot) };
    this.#outstanding.set(key, { range: owned, fileLength, sentAt: now });
    this.#link.writer.push(encodeHashRequest(owned));
    this.#link.schedule();
  }

  /** A `hashes` message: proven here, then handed on; unasked or unproven → thrown (bad-hashes). */
  onHashes(message: HashesMessage): void {
    const key = rangeKey(message);
    const asked = this.#outstanding.get(key);
    if (asked === undefined || asked.range.proofLayers !== message.proofLayers) {
      throw new TorkError(TorkErrorCode.WIRE_PROTOCOL, 'peer sent hashes we did not ask for', {
        cause: 'bad-hashes',
        index: message.index,
        hashCount: message.length,
      });
    }
    try {
      checkHashProof(message, asked.fileLength);
    } catch (error) {
      const bad = error as TorkError;
      throw new TorkError(TorkErrorCode.WIRE_PROTOCOL, bad.message, { ...bad.details, cause: 'bad-hashes' });
    }
    this.#outstanding.delete(key);
    // The message's bytes are a view into the decoder's buffer: copied into a buffer of their own.
    const hashes = new Uint8Array(message.hashes).buffer as ArrayBuffer;
    this.#link.emit(
      {
        type: 'piece-hashes',
        actorId: this.#link.id,
        piecesRoot: asked.range.piecesRoot,
        index: message.index,
        length: message.length,
        hashes,
      },
      hashes,
    );
  }

  /** A `hash reject`: reported when it answers one of ours, else ignored. */
  onReject(message: HashRejectMessage): void {
    const key = rangeKey(message);
    const asked = this.#outstanding.get(key);
    if (asked === undefined) return;
    this.#outstanding.delete(key);
    this.#link.emit({
      type: 'hashes-rejected',
      actorId: this.#link.id,
      piecesRoot: asked.range.piecesRoot,
      index: asked.range.index,
      length: asked.range.length,
    });
  }

  /** About once a second: a request unanswered for too long closes the connection. */
  tick(now: number): void {
    for (const asked of this.#outstanding.values()) {
      if (now - asked.sentAt < this.#timeoutMs) continue;
      this.#link.close(
        new TorkError(
          TorkErrorCode.IO,
          `timeout: peer answered no hash request for ${this.#timeoutMs / 1000} s`,
          { cause: 'hashes-timeout' },
        ),
      );
      return;
    }
  }
}

function rangeKey(range: HashRange): string {
  return `${Buffer.from(range.piecesRoot).toString('hex')}/${range.baseLayer}/${range.index}/${range.length}`;
}
