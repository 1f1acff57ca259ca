import { createHash } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import { TorkError, TorkErrorCode, toTorkError } from '@tork/core/internal/errors.js';
import type { ActorStats, HostEvent } from '@tork/core/internal/messages/host-event.js';
import { TORK_CLIENT_NAME, TORK_VERSION } from '@tork/core/internal/version.js';
import {
  WEB_SEED_MAX_IN_FLIGHT,
  WEB_SEED_MIN_BYTES_PER_SECOND,
  WEB_SEED_PIECE_BASE_MS,
  webSeedBackoffMs,
} from '@tork/core/internal/webseed/web-seed-limits.js';
import { type ActorTorrent, pieceSize, verifyPiece } from '../actor-torrent.js';
import type { BufferPool } from '../buffer-pool.js';
import { RateMeter } from '../rate-meter.js';
import { fetchSpan, isTransient, type SpanFetchLimits, webSeedError } from './http-span-fetch.js';

/** A file of the torrent as a web seed serves it: its URL (null: a pad file, zeros) and length. */
export interface WebSeedFile {
  readonly url: string | null;
  readonly length: number;
}

/** How a web seed actor reaches its host. */
export interface WebSeedSink {
  emit(event: HostEvent, transfer?: ArrayBuffer): void;
  removed(actor: WebSeedActor): void;
  readonly buffers: BufferPool;
}

/** Limits of one web seed; defaults are the `WEB_SEED_*` constants. */
export interface WebSeedOptions extends SpanFetchLimits {
  /** A piece's deadline: base + size at the minimum rate. Default: `WEB_SEED_PIECE_BASE_MS`, `WEB_SEED_MIN_BYTES_PER_SECOND`. */
  readonly pieceBaseMs?: number;
  readonly minBytesPerSecond?: number;
  /** Pieces fetched at once. Default: `WEB_SEED_MAX_IN_FLIGHT` (4). */
  readonly maxInFlight?: number;
  /** Backoff: first wait, longest wait, failures in a row before the seed is dropped. Default: the `WEB_SEED_*` limits. */
  readonly baseBackoffMs?: number;
  readonly maxBackoffMs?: number;
  readonly maxRetries?: number;
}

/**
 * One web seed (BEP 19) in a peer host: to the coordinator it is a peer that has every piece and
 * unchokes at once. It fetches its assigned pieces over HTTP(S), one `Range` request per file the
 * piece spans (spans of one piece one after another, up to `maxInFlight` pieces at once, over
 * keep-alive connections), assembles each in a piece buffer (never more than one piece buffered per
 * fetch), verifies SHA-1 here (off the coordinator) and emits `piece` or `hash-failed` like a peer's
 * actor. A transient failure (5xx, timeout, refused) chokes it: its pieces go back (`released`,
 * `choked`) and it unchokes after an exponential backoff; too many in a row, or a permanent one
 * (4xx, a wrong range), close it with the reason.
 */
export class WebSeedActor {
  readonly id: number;
  readonly torrent: ActorTorrent;
  readonly url: string;
  readonly #files: readonly WebSeedFile[];
  /** Where each file starts in the torrent's byte stream. */
  readonly #starts: Float64Array;
  readonly #sink: WebSeedSink;
  readonly #options: WebSeedOptions;
  readonly #agents = {
    http: new http.Agent({ keepAlive: true, maxSockets: WEB_SEED_MAX_IN_FLIGHT }),
    https: new https.Agent({ keepAlive: true, maxSockets: WEB_SEED_MAX_IN_FLIGHT }),
  };
  /** Assigned and not started, in assignment order. */
  #queue: number[] = [];
  readonly #inFlight = new Map<number, AbortController>();
  #failures = 0;
  #choked = false;
  #backoff: NodeJS.Timeout | undefined;
  #closed = false;
  readonly #meter: RateMeter;
  /** Responses that ignored `Range` (a 200 with the whole file). */
  rangeIgnored = 0;

  constructor(
    id: number,
    torrent: ActorTorrent,
    url: string,
    files: readonly WebSeedFile[],
    sink: WebSeedSink,
    options: WebSeedOptions = {},
  ) {
    this.id = id;
    this.torrent = torrent;
    this.url = url;
    this.#files = files;
    this.#sink = sink;
    this.#options = options;
    this.#meter = new RateMeter(performance.now());
    this.#starts = new Float64Array(files.length);
    let start = 0;
    for (let i = 0; i < files.length; i++) {
      this.#starts[i] = start;
      start += files[i]!.length;
    }
    if (start !== torrent.length)
      throw new TorkError(
        TorkErrorCode.THREAD_MESSAGE,
        `web-seed: files total ${start} bytes, torrent ${torrent.length}`,
      );
  }

  /** Says what a peer's handshake would: connected, every piece, unchoked. */
  start(): void {
    const peerId = createHash('sha1').update(`webseed ${this.id} ${this.url}`).digest('hex');
    this.#sink.emit({
      type: 'connected',
      actorId: this.id,
      peerId,
      client: 'web seed',
      fastExtension: false,
      extensionProtocol: false,
    });
    const all = new Uint8Array(Math.ceil(this.torrent.pieceCount / 8)).fill(0xff);
    const spare = all.length * 8 - this.torrent.pieceCount;
    if (spare > 0) all[all.length - 1] = (0xff << spare) & 0xff;
    this.#sink.emit({ type: 'bitfield', actorId: this.id, bitfield: all });
    this.#sink.emit({ type: 'choke', actorId: this.id, choked: false });
  }

  assign(pieces: readonly number[]): void {
    if (this.#closed) return;
    for (const index of pieces) {
      if (index >= this.torrent.pieceCount || this.#inFlight.has(index) || this.#queue.includes(index))
        continue;
      this.#queue.push(index);
    }
    this.#pump();
  }

  /** The coordinator took these back (an endgame copy won elsewhere): stop fetching them. */
  unassign(pieces: readonly number[]): void {
    const gone = new Set(pieces);
    this.#queue = this.#queue.filter((index) => !gone.has(index));
    for (const index of pieces) this.#abort(index);
    this.#pump();
  }

  /** Closes with `error` (sent in `closed`): every fetch aborted, every piece free again. */
  close(error: TorkError): void {
    if (this.#closed) return;
    this.destroy();
    // Final counters first: the periodic stats would miss up to a second of transfer.
    this.#sink.emit({ type: 'stats', actors: [this.stats(performance.now())] });
    this.#sink.emit({ type: 'closed', actorId: this.id, error: error.toPlain() });
    this.#sink.removed(this);
  }

  /** Stops without a word (the host is shutting down). */
  destroy(): void {
    this.#closed = true;
    clearTimeout(this.#backoff);
    this.#queue = [];
    for (const index of [...this.#inFlight.keys()]) this.#abort(index);
    this.#agents.http.destroy();
    this.#agents.https.destroy();
  }

  stats(now: number): ActorStats {
    return {
      actorId: this.id,
      downloaded: this.#meter.total,
      uploaded: 0,
      downloadRate: this.#meter.rate(now),
      uploadRate: 0,
      queueDepth: this.#inFlight.size,
      targetQueueDepth: this.#options.maxInFlight ?? WEB_SEED_MAX_IN_FLIGHT,
      peerChoking: this.#choked,
      amInterested: true,
      amChoking: true,
      peerInterested: false,
      snubbed: false,
      requestsQueued: 0,
      requestsRefused: 0,
      uploadStalled: false,
    };
  }

  #abort(index: number): void {
    const controller = this.#inFlight.get(index);
    if (!controller) return;
    this.#inFlight.delete(index);
    controller.abort();
  }

  #pump(): void {
    const max = this.#options.maxInFlight ?? WEB_SEED_MAX_IN_FLIGHT;
    while (!this.#closed && !this.#choked && this.#inFlight.size < max && this.#queue.length > 0) {
      const index = this.#queue.shift()!;
      const controller = new AbortController();
      this.#inFlight.set(index, controller);
      void this.#fetch(index, controller);
    }
  }

  async #fetch(index: number, controller: AbortController): Promise<void> {
    const size = pieceSize(this.torrent, index);
    const buffer = this.#sink.buffers.take(size);
    const bytes = new Uint8Array(buffer);
    // A slow server: past the piece's deadline the fetch is aborted and counts as a failure.
    let slow: TorkError | undefined;
    const minRate = this.#options.minBytesPerSecond ?? WEB_SEED_MIN_BYTES_PER_SECOND;
    const deadlineMs = (this.#options.pieceBaseMs ?? WEB_SEED_PIECE_BASE_MS) + (size / minRate) * 1000;
    const deadline = this.torrent.rates.limited('download')
      ? undefined
      : setTimeout(() => {
          slow = webSeedError(
            `piece ${index} not fetched in ${Math.round(deadlineMs / 1000)} s: ${new URL(this.url).host} is slower than ${minRate} bytes/s`,
            true,
          );
          controller.abort();
        }, deadlineMs);
    try {
      for (const span of this.#spans(index, size)) {
        if (span.url === null) {
          bytes.fill(0, span.at, span.at + span.length);
          continue;
        }
        await fetchSpan({
          url: span.url,
          offset: span.offset,
          length: span.length,
          target: bytes,
          at: span.at,
          agents: this.#agents,
          signal: controller.signal,
          onBytes: (received) => this.#meter.add(received, performance.now()),
          onRangeIgnored: () => this.rangeIgnored++,
          take: (bytes, resume) => this.torrent.rates.take('download', bytes, this.id, resume),
          limits: this.#options,
          userAgent: `${TORK_CLIENT_NAME}/${TORK_VERSION}`,
        });
      }
    } catch (error) {
      this.#sink.buffers.give(buffer);
      // Aborted (unassigned, released, closed): already out of the in-flight map; nothing to say.
      const timedOut = slow !== undefined && this.#inFlight.get(index) === controller;
      if (this.#closed || (controller.signal.aborted && !timedOut)) return;
      this.#inFlight.delete(index);
      this.#failed(index, slow ?? toTorkError(error, TorkErrorCode.WEB_SEED));
      return;
    } finally {
      clearTimeout(deadline);
    }
    if (controller.signal.aborted || this.#closed) {
      this.#sink.buffers.give(buffer);
      return;
    }
    this.#inFlight.delete(index);
    this.#failures = 0;
    if (verifyPiece(this.torrent, index, bytes)) {
      // Thread boundary: the piece's own ArrayBuffer is transferred (moved) to the coordinator.
      this.#sink.emit({ type: 'piece', actorId: this.id, index, data: buffer }, buffer);
    } else {
      this.#sink.emit({ type: 'hash-failed', actorId: this.id, index });
      this.#sink.buffers.give(buffer);
    }
    this.#pump();
  }

  /** A fetch failed: permanent → close; transient → choke, give every piece back, retry later. */
  #failed(index: number, error: TorkError): void {
    if (!isTransient(error)) {
      this.close(error);
      return;
    }
    this.#failures++;
    const wait = webSeedBackoffMs(this.#failures, {
      ...(this.#options.baseBackoffMs !== undefined ? { baseMs: this.#options.baseBackoffMs } : {}),
      ...(this.#options.maxBackoffMs !== undefined ? { maxMs: this.#options.maxBackoffMs } : {}),
      ...(this.#options.maxRetries !== undefined ? { maxRetries: this.#options.maxRetries } : {}),
    });
    if (wait === undefined) {
      this.close(webSeedError(`gave up after ${this.#failures} failures in a row: ${error.message}`, false));
      return;
    }
    // Like a peer that chokes us: its pieces are fetched elsewhere meanwhile.
    const released = [index, ...this.#queue, ...this.#inFlight.keys()];
    this.#queue = [];
    for (const other of [...this.#inFlight.keys()]) this.#abort(other);
    this.#choked = true;
    this.#sink.emit({ type: 'choke', actorId: this.id, choked: true });
    this.#sink.emit({ type: 'released', actorId: this.id, pieces: released, reason: 'choked' });
    this.#backoff = setTimeout(() => {
      if (this.#closed) return;
      this.#choked = false;
      this.#sink.emit({ type: 'choke', actorId: this.id, choked: false });
      // Pieces assigned before the coordinator saw the choke wait in the queue.
      this.#pump();
    }, wait);
  }

  /** The file spans piece `index` covers, in order; zero-length files cover nothing. */
  *#spans(
    index: number,
    size: number,
  ): Generator<{ url: string | null; offset: number; length: number; at: number }> {
    const start = index * this.torrent.pieceLength;
    const end = start + size;
    // The last file starting at or before `start` (binary search over the starts).
    let lo = 0;
    let hi = this.#files.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (this.#starts[mid]! <= start) lo = mid;
      else hi = mid - 1;
    }
    for (let file = lo; file < this.#files.length; file++) {
      const fileStart = this.#starts[file]!;
      if (fileStart >= end) break;
      const { url, length } = this.#files[file]!;
      const from = Math.max(start, fileStart);
      const to = Math.min(end, fileStart + length);
      if (to <= from) continue;
      yield { url, offset: from - fileStart, length: to - from, at: from - start };
    }
  }
}
