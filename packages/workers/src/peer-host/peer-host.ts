import {
  type EventLoopUtilization,
  type IntervalHistogram,
  monitorEventLoopDelay,
  performance,
} from 'node:perf_hooks';
import { MessagePort } from 'node:worker_threads';
import { Bitfield } from '@tork/core/internal/bitfield.js';
import { DOUBLE_ZERO } from '@tork/core/internal/double-zero.js';
import { type PlainTorkError, TorkError, TorkErrorCode, toTorkError } from '@tork/core/internal/errors.js';
import type { HostStats } from '@tork/core/internal/messages/control-plane.js';
import type { HostCommand, SwarmPeer } from '@tork/core/internal/messages/host-command.js';
import type { ActorStats, HostEvent } from '@tork/core/internal/messages/host-event.js';
import { SMALL_PIECE_EVENT_BYTES } from '@tork/core/internal/messages/message-limits.js';
import { parseHostCommandBatch, parseHostListenOptions } from '@tork/core/internal/messages/validate.js';
import { V2_PIECE_CHECK_SIZE } from '@tork/core/internal/metainfo/v2-piece-checks.js';
import type { ActorTorrent } from './actor-torrent.js';
import { BufferPool } from './buffer-pool.js';
import type { PeerExtension } from './extensions/peer-extension.js';
import type { HostListener } from './host-listener.js';
import { PiecePacker } from './piece-packer.js';
import { RateAllowance } from './rate-allowance.js';
import { type ActorSink, PeerSession } from './session/peer-session.js';
import type { PeerSessionOptions } from './session/peer-session-options.js';
import { PieceReader, type PieceReaderOptions } from './upload/piece-reader.js';
import { hostTorrentHashes } from './v2/host-torrent-hashes.js';
import { WebSeedActor, type WebSeedOptions, type WebSeedSink } from './webseed/web-seed-actor.js';

export interface PeerHostOptions {
  /**
   * How often every actor's timers are checked (connect/handshake deadlines, keep-alive, idle
   * timeout, snubbing), ms: one host-wide interval instead of timers per actor. Default: 1,000.
   */
  readonly tickMs?: number;
  /** How often a `stats` event with every actor's counters is sent, ms. Default: 1,000. */
  readonly statsIntervalMs?: number;
  /** Per-connection behaviour and limits. Default: see PeerSessionOptions. */
  readonly actor?: PeerSessionOptions;
  /** The read cache for uploads, one per torrent per host. Default: see PieceReader. */
  readonly reader?: PieceReaderOptions;
  /** Bytes of piece buffers kept for reuse. Default: 32 MiB (see BufferPool). */
  readonly bufferPoolBytes?: number;
  /** Web seeds' timeouts, caps and backoff. Default: the `WEB_SEED_*` limits. */
  readonly webSeed?: WebSeedOptions;
}

/** Sampling interval of the event-loop delay histogram, ms. */
const LAG_RESOLUTION_MS = 20;
/** How long a replaced upload reader stays open for reads already queued on it. */
export const READER_SWAP_GRACE_MS = 10_000;

/** Where a host sends errors that belong to no actor (a rejected batch); over comlink, one-way. */
export type HostErrorReporter = (error: PlainTorkError) => unknown;

/** A torrent in a host: what its sessions share, and the sessions themselves. */
interface HostTorrent extends ActorTorrent {
  /** Replaced when the coordinator re-adds the torrent with new file locations (see `add-torrent`). */
  reader: PieceReader | null;
  readonly actors: Set<PeerSession>;
  swarm: readonly SwarmPeer[];
  /**
   * Until when (performance.now, ms) the coordinator reports this torrent's counters itself
   * (`report-stats`): its actors are left out of the periodic `stats` until then.
   */
  statsAskedUntil: number;
}

/**
 * The inside of one peer host thread: many PeerSessions (the coordinator's actors) sharing one
 * event loop. Commands arrive
 * batched on the data port and are schema-checked before anything is done; events leave batched,
 * once per event-loop turn (setImmediate), with verified pieces' ArrayBuffers in the transfer list.
 * Runs in-thread too (tests give it one end of a MessageChannel).
 */
export class PeerHost implements ActorSink {
  /** Web seeds (BEP 19) this host runs, by actor id: actors that speak HTTP, not the peer wire. */
  readonly #webSeeds = new Map<number, WebSeedActor>();
  readonly #webSeedSink: WebSeedSink;
  readonly #options: PeerHostOptions;
  readonly #extensions: readonly PeerExtension[];
  readonly #torrents = new Map<string, HostTorrent>();
  readonly #actors = new Map<number, PeerSession>();
  #port: MessagePort | null = null;
  #report: HostErrorReporter | null = null;
  #events: HostEvent[] = [];
  #transfer: ArrayBuffer[] = [];
  /** Small verified pieces, packed into `pieces` events as they verify (see PiecePacker). */
  readonly #packer: PiecePacker;
  #dirty = new Set<PeerSession>();
  /** The other set of sessions to flush: those that schedule themselves while the current one is flushed. */
  #dirtyNext = new Set<PeerSession>();
  #flushScheduled = false;
  #ticker: NodeJS.Timeout | null = null;
  #lastStats = DOUBLE_ZERO;
  // Past 2 GiB these leave V8's small-integer range: doubles from the start (DOUBLE_ZERO).
  #bytesReceived = DOUBLE_ZERO;
  #bytesSent = DOUBLE_ZERO;
  #rejectedBatches = 0;
  #lastRejection: PlainTorkError | null = null;
  readonly #lag: IntervalHistogram;
  #lagOn = false;
  /** The event loop's busy time at the last `stats` call (busy share since then is reported). */
  #elu: EventLoopUtilization = performance.eventLoopUtilization();
  /** Queueing delay of the command batches stamped `sentAt` since the last `stats` call (a trace is on). */
  #commandQueue = { sum: 0, count: 0, max: 0 };
  /** The last command batch was stamped: the coordinator is tracing, so event batches are stamped too. */
  #traced = false;
  readonly buffers: BufferPool;
  #shutDown = false;
  /** This host's own listening socket (`listen`, Node >= 22.12); null: the coordinator relays. */
  #listener: HostListener | null = null;

  /**
   * `extensions`: the BEP 10 extensions every session offers its peer (functions, so not part of
   * the options, which are cloned into the thread). Default: none.
   */
  constructor(options: PeerHostOptions = {}, extensions: readonly PeerExtension[] = []) {
    this.#options = options;
    this.#extensions = extensions;
    this.buffers = new BufferPool(options.bufferPoolBytes);
    this.#packer = new PiecePacker(this.buffers);
    this.#webSeedSink = {
      emit: (event, transfer) => this.emit(event, transfer),
      removed: (actor) => this.#webSeeds.delete(actor.id),
      buffers: this.buffers,
    };
    this.#lag = monitorEventLoopDelay({ resolution: LAG_RESOLUTION_MS });
  }

  /**
   * The lag histogram runs only while the host has connections (checked as actors come and at
   * every tick): its 20 ms timer was half of an idle seeder's CPU, and with no peer there is
   * nothing a stall could starve.
   */
  #watchLag(): void {
    const active = this.#actors.size + this.#webSeeds.size > 0;
    if (active === this.#lagOn || this.#shutDown) return;
    this.#lagOn = active;
    if (active) this.#lag.enable();
    else this.#lag.disable();
  }

  /** Starts serving commands from `port` (the data plane); `report` receives host-level errors. */
  attach(port: MessagePort, report?: HostErrorReporter): void {
    if (this.#shutDown) throw new TorkError(TorkErrorCode.INTERNAL, 'peer host is shut down');
    if (this.#port !== null) throw new TorkError(TorkErrorCode.INTERNAL, 'peer host is already attached');
    // Thread boundary (control plane): the port came through comlink's transfer list.
    if (!(port instanceof MessagePort)) {
      throw new TorkError(TorkErrorCode.THREAD_MESSAGE, 'attach: the data port is not a MessagePort');
    }
    if (report !== undefined && typeof report !== 'function') {
      throw new TorkError(TorkErrorCode.THREAD_MESSAGE, 'attach: the error reporter is not callable');
    }
    this.#port = port;
    this.#report = report ?? null;
    port.on('message', (value: unknown) => this.#onBatch(value));
    const tickMs = Math.max(1, this.#options.tickMs ?? 1_000);
    this.#ticker = setInterval(() => this.#tick(), tickMs);
  }

  /**
   * Listens on the engine's TCP port beside the coordinator and the other hosts (`reusePort`):
   * connections accepted here are offered to the coordinator (`incoming` event) and, once it
   * answers with an `accept`, run on this socket. The caller checked that Node has `reusePort`.
   */
  async listen(value: unknown): Promise<void> {
    // Thread boundary (control plane): checked like any other message.
    const options = parseHostListenOptions(value);
    if (this.#shutDown || this.#listener) return;
    // Loaded only here: hosts of a Node without `reusePort` never pay for the module.
    const { HostListener } = await import('./host-listener.js');
    const { mseTorrentKey } = await import('@tork/core/internal/mse/mse-handshake.js');
    const { wireInfoHash } = await import('@tork/core/internal/wire/wire-info-hash.js');
    // HASH('req2', info-hash) of every hash a peer may name (v1, and a hybrid's or v2's truncated
    // v2), computed once per torrent as torrents arrive; a removed torrent's keys stay, and the
    // coordinator refuses its connections.
    const keys = new Map<string, Uint8Array>();
    const known = new Set<string>();
    this.#listener = await HostListener.listen({
      ...options,
      findMseTorrent: (key) => {
        for (const torrent of this.#torrents.values()) {
          if (known.has(torrent.id)) continue;
          known.add(torrent.id);
          const v2 = torrent.infoHashes?.v2;
          for (const hash of [torrent.infoHash, ...(v2 ? [wireInfoHash(v2)] : [])])
            keys.set(Buffer.from(mseTorrentKey(hash)).toString('hex'), hash);
        }
        return keys.get(Buffer.from(key).toString('hex'));
      },
      onIncoming: (connection, infoHashHex, address, encrypted) =>
        this.emit({ type: 'incoming', connection, infoHashHex, address, encrypted }),
    });
  }

  stats(): HostStats {
    // The histogram's samples include its own 20 ms sampling interval: only what lies beyond it
    // is delay.
    const mean = this.#lag.count > 0 ? Math.max(0, this.#lag.mean / 1e6 - LAG_RESOLUTION_MS) : 0;
    const max = this.#lag.count > 0 ? Math.max(0, this.#lag.max / 1e6 - LAG_RESOLUTION_MS) : 0;
    this.#lag.reset();
    const elu = performance.eventLoopUtilization(this.#elu);
    this.#elu = performance.eventLoopUtilization();
    const queue = this.#commandQueue;
    this.#commandQueue = { sum: 0, count: 0, max: 0 };
    return {
      ...(queue.count > 0 ? { commandQueueMs: queue.sum / queue.count, commandQueueMaxMs: queue.max } : {}),
      actors: this.#actors.size + this.#webSeeds.size,
      torrents: this.#torrents.size,
      // + 0: -0 (nothing counted yet) is reported as 0.
      bytesReceived: this.#bytesReceived + 0,
      bytesSent: this.#bytesSent + 0,
      eventLoopLagMs: mean,
      eventLoopLagMaxMs: max,
      eventLoopUtilization: Math.min(1, Math.max(0, elu.utilization)),
      rejectedBatches: this.#rejectedBatches,
      bufferPoolBytes: this.buffers.bytes,
      buffersReused: this.buffers.reused,
      buffersAllocated: this.buffers.allocated,
      lastRejection: this.#lastRejection,
      ...(this.#listener ? { acceptedInHost: this.#listener.accepted } : {}),
    };
  }

  /** Drops every connection at once, without events: the coordinator is going away. */
  shutdown(): void {
    if (this.#shutDown) return;
    this.#shutDown = true;
    if (this.#ticker) clearInterval(this.#ticker);
    this.#ticker = null;
    this.#listener?.close();
    for (const actor of [...this.#actors.values()]) actor.destroy();
    this.#actors.clear();
    for (const seed of this.#webSeeds.values()) seed.destroy();
    this.#webSeeds.clear();
    for (const torrent of this.#torrents.values()) void torrent.reader?.close();
    this.#torrents.clear();
    this.#events = [];
    this.#transfer = [];
    this.#packer.seal();
    this.#dirty.clear();
    this.#lag.disable();
    this.#port?.close();
    this.#port = null;
  }

  // ActorSink: how actors reach the coordinator.

  /** A torrent's allowance; when spent it asks the coordinator, naming the actor that waits. */
  #rateAllowance(): RateAllowance {
    return new RateAllowance((actorId, direction) => this.emit({ type: 'rate-need', actorId, direction }));
  }

  emit(event: HostEvent, transfer?: ArrayBuffer): void {
    if (this.#shutDown) return;
    // By the torrent's piece length, not this piece's size: a torrent's pieces all travel one way.
    if (event.type === 'piece' && this.#pieceLengthOf(event.actorId) <= SMALL_PIECE_EVENT_BYTES) {
      this.packPiece(event.actorId, event.index, new Uint8Array(event.data));
      // Copied into the batch: the piece's own buffer stays here, for the next pieces.
      this.buffers.give(event.data);
      return;
    }
    this.#events.push(event);
    if (transfer) this.#transfer.push(transfer);
    this.#scheduleFlush();
  }

  /**
   * A verified piece of a small-piece torrent, copied into this turn's `pieces` batch now (a
   * single-block piece straight from the received block: `bytes` may be reused after this call).
   */
  packPiece(actorId: number, index: number, bytes: Uint8Array): void {
    if (this.#shutDown) return;
    this.#packer.add(actorId, index, bytes);
    this.#scheduleFlush();
  }

  #pieceLengthOf(actorId: number): number {
    return (this.#actors.get(actorId) ?? this.#webSeeds.get(actorId))?.torrent.pieceLength ?? Infinity;
  }

  schedule(actor: PeerSession): void {
    this.#dirty.add(actor);
    this.#scheduleFlush();
  }

  removed(actor: PeerSession): void {
    this.#actors.delete(actor.id);
    this.#torrents.get(actor.torrent.id)?.actors.delete(actor);
  }

  countBytes(received: number, sent: number): void {
    this.#bytesReceived += received;
    this.#bytesSent += sent;
  }

  #scheduleFlush(): void {
    if (this.#flushScheduled || this.#shutDown) return;
    this.#flushScheduled = true;
    setImmediate(() => this.#flush());
  }

  /** Once per event-loop turn: every actor writes its batched requests, then one event batch leaves. */
  #flush(): void {
    if (this.#shutDown) return;
    // Still marked scheduled while actors flush: the `have` events they emit join this batch.
    // A session that schedules itself meanwhile (its flush wrote, so it served more blocks up to
    // the high-water mark) lands in the other set and is flushed next turn. In this same set it
    // was cleared with the rest, and its blocks waited in its writer for the next request, `have`
    // or tick: seeders stalled for up to a second with a megabyte queued (docs/performance.md,
    // "Issue 17, eighth session").
    const dirty = this.#dirty;
    this.#dirty = this.#dirtyNext;
    this.#dirtyNext = dirty;
    for (const actor of dirty) {
      try {
        actor.flush();
      } catch (error) {
        actor.close(toTorkError(error, TorkErrorCode.IO, 'socket write failed'));
      }
    }
    dirty.clear();
    this.#flushScheduled = false;
    if (this.#dirty.size > 0) this.#scheduleFlush();
    if (this.#packer.pending) {
      // Ahead of the turn's other events: a piece verified before its actor closed stays before `closed`.
      const packed = this.#packer.seal();
      this.#events = (packed.events as HostEvent[]).concat(this.#events);
      for (const buffer of packed.transfer) this.#transfer.push(buffer);
    }
    if (this.#events.length === 0 || this.#port === null) return;
    const events = this.#events;
    const transfer = this.#transfer;
    this.#events = [];
    this.#transfer = [];
    // Thread boundary: pieces' ArrayBuffers are transferred (moved), never structured-cloned.
    // A trace on (the coordinator stamps its batches): `sentAt`, so it can show how long this one
    // waited to be read. Off: nothing added.
    this.#port.postMessage(
      this.#traced ? { events, sentAt: performance.timeOrigin + performance.now() } : { events },
      transfer,
    );
  }

  /** `pieces` events sent and the pieces packed in them, since the start. */
  get packed(): { events: number; pieces: number } {
    return this.#packer.packed;
  }

  #tick(): void {
    this.#watchLag();
    const now = performance.now();
    for (const actor of this.#actors.values()) actor.tick(now);
    for (const torrent of this.#torrents.values()) torrent.rates.tick(now);
    const statsEvery = this.#options.statsIntervalMs ?? 1_000;
    if (this.#actors.size + this.#webSeeds.size > 0 && now - this.#lastStats >= statsEvery) {
      this.#lastStats = now;
      const actors: ActorStats[] = [];
      for (const torrent of this.#torrents.values())
        if (torrent.statsAskedUntil <= now) for (const actor of torrent.actors) actors.push(actor.stats(now));
      for (const seed of this.#webSeeds.values())
        if ((this.#torrents.get(seed.torrent.id)?.statsAskedUntil ?? 0) <= now) actors.push(seed.stats(now));
      if (actors.length > 0) this.emit({ type: 'stats', actors });
    }
  }

  /** `report-stats`: the torrent's counters now, and none of them in the periodic stats for a while. */
  #reportStats(torrentId: string, intervalMs: number): void {
    const torrent = this.#torrents.get(torrentId);
    if (!torrent) return;
    const now = performance.now();
    torrent.statsAskedUntil = now + 2 * intervalMs;
    const actors: ActorStats[] = [];
    for (const actor of torrent.actors) actors.push(actor.stats(now));
    for (const seed of this.#webSeeds.values())
      if (seed.torrent.id === torrentId) actors.push(seed.stats(now));
    if (actors.length > 0) this.emit({ type: 'stats', actors });
  }

  #onBatch(value: unknown): void {
    if (this.#shutDown) return;
    let commands: HostCommand[];
    try {
      // Thread boundary: nothing from another thread is trusted before it passes its schema.
      const batch = parseHostCommandBatch(value);
      commands = batch.commands;
      this.#traced = batch.sentAt !== undefined;
      if (batch.sentAt !== undefined) {
        const delay = Math.max(0, performance.timeOrigin + performance.now() - batch.sentAt);
        this.#commandQueue.sum += delay;
        this.#commandQueue.count++;
        this.#commandQueue.max = Math.max(this.#commandQueue.max, delay);
      }
    } catch (error) {
      this.#reject(toTorkError(error, TorkErrorCode.THREAD_MESSAGE));
      return;
    }
    for (const command of commands) {
      try {
        this.#apply(command);
      } catch (error) {
        this.#reject(toTorkError(error, TorkErrorCode.INTERNAL, `${command.type} command failed`));
      }
    }
  }

  #reject(error: TorkError): void {
    const plain = error.toPlain();
    if (error.code === TorkErrorCode.THREAD_MESSAGE) {
      this.#rejectedBatches++;
      this.#lastRejection = plain;
    }
    if (this.#report) {
      // One-way over comlink; if the main side is gone there is no one left to tell.
      Promise.resolve(this.#report(plain)).catch(() => {});
    } else {
      console.error(`tork peer host: ${error.code}: ${error.message}`);
    }
  }

  #apply(command: HostCommand): void {
    switch (command.type) {
      case 'add-torrent': {
        const pieceCount = Math.ceil(command.length / command.pieceLength);
        // A v2-only torrent has no SHA-1 hashes: its pieces are checked by their merkle roots alone.
        const v2Only = command.pieceHashes.length === 0 && command.v2PieceChecks !== undefined;
        if (command.pieceHashes.length !== pieceCount * 20 && !v2Only) {
          throw new TorkError(
            TorkErrorCode.THREAD_MESSAGE,
            `add-torrent: ${command.pieceHashes.length} bytes of piece hashes for ${pieceCount} pieces`,
            { torrentId: command.torrentId },
          );
        }
        if (
          command.v2PieceChecks !== undefined &&
          command.v2PieceChecks.length !== pieceCount * V2_PIECE_CHECK_SIZE
        ) {
          throw new TorkError(
            TorkErrorCode.THREAD_MESSAGE,
            `add-torrent: ${command.v2PieceChecks.length} bytes of v2 piece checks for ${pieceCount} pieces`,
            { torrentId: command.torrentId },
          );
        }
        const existing = this.#torrents.get(command.torrentId);
        const have = new Bitfield(pieceCount, command.have);
        if (existing) {
          // Re-adding refreshes what we have; geometry cannot change under live actors.
          existing.have.bytes.set(have.bytes);
          // Files may have moved (a file selected at runtime leaves the part file): a fresh reader.
          // Serving loops pick it up at their next block; the old one closes after a grace period.
          const old = existing.reader;
          if (old !== null && command.files.length > 0) {
            existing.reader = new PieceReader(command.files, command.pieceLength, command.pieceHashes, {
              ...(command.v2PieceChecks ? { v2PieceChecks: command.v2PieceChecks } : {}),
              recycle: true,
              // This thread's own array (structured clone), never transferred: kept, not copied.
              keepHashes: true,
              ...(command.haveSinceMs !== undefined
                ? { trusted: { pieces: have.bytes, sinceMs: command.haveSinceMs } }
                : {}),
              ...this.#options.reader,
            });
            setTimeout(() => void old.close(), READER_SWAP_GRACE_MS).unref();
          }
          return;
        }
        this.#torrents.set(command.torrentId, {
          id: command.torrentId,
          infoHash: command.infoHash,
          peerId: command.peerId,
          pieceLength: command.pieceLength,
          length: command.length,
          pieceCount,
          pieceHashes: command.pieceHashes,
          v2PieceChecks: command.v2PieceChecks ?? null,
          ...hostTorrentHashes(command),
          have,
          listenPort: command.listenPort ?? 0,
          private: command.private ?? false,
          metadata: command.private ? null : (command.info ?? null),
          metadataOnly: false,
          pex: (command.pex ?? false) && !(command.private ?? false),
          swarm: [],
          reader:
            command.files.length > 0
              ? new PieceReader(command.files, command.pieceLength, command.pieceHashes, {
                  ...(command.v2PieceChecks ? { v2PieceChecks: command.v2PieceChecks } : {}),
                  // Actors copy blocks into their wire writer at once: evicted buffers can be reused.
                  recycle: true,
                  // The command's array is this thread's own (structured clone) and stays in the
                  // torrent record: shared, not copied.
                  keepHashes: true,
                  ...(command.haveSinceMs !== undefined
                    ? { trusted: { pieces: have.bytes, sinceMs: command.haveSinceMs } }
                    : {}),
                  ...this.#options.reader,
                })
              : null,
          actors: new Set(),
          rates: this.#rateAllowance(),
          statsAskedUntil: DOUBLE_ZERO,
        });
        return;
      }
      case 'add-magnet': {
        if (this.#torrents.has(command.torrentId)) return;
        this.#torrents.set(command.torrentId, {
          id: command.torrentId,
          infoHash: command.infoHash,
          peerId: command.peerId,
          pieceLength: 0,
          length: 0,
          pieceCount: 0,
          pieceHashes: new Uint8Array(0),
          v2PieceChecks: null,
          have: new Bitfield(0),
          listenPort: command.listenPort ?? 0,
          private: false,
          metadata: null,
          metadataOnly: true,
          metadataHashes: command.metadataHashes ?? { v1: command.infoHash },
          v2Handshake: command.v2 ?? false,
          // Incoming PEX only: the swarm list stays empty, so nothing is sent.
          pex: command.pex ?? false,
          swarm: [],
          reader: null,
          actors: new Set(),
          rates: this.#rateAllowance(),
          statsAskedUntil: DOUBLE_ZERO,
        });
        return;
      }
      case 'fetch-metadata':
        this.#actors.get(command.actorId)?.fetchMetadata();
        return;
      case 'fetch-hashes': {
        const { type: _type, actorId, fileLength, ...range } = command;
        this.#actors.get(actorId)?.fetchHashes(range, fileLength);
        return;
      }
      case 'remove-torrent': {
        const torrent = this.#torrents.get(command.torrentId);
        if (!torrent) return;
        for (const actor of [...torrent.actors]) {
          actor.close(new TorkError(TorkErrorCode.ABORTED, 'torrent removed', { torrentId: torrent.id }));
        }
        for (const seed of [...this.#webSeeds.values()]) {
          if (seed.torrent === torrent)
            seed.close(new TorkError(TorkErrorCode.ABORTED, 'torrent removed', { torrentId: torrent.id }));
        }
        void torrent.reader?.close();
        this.#torrents.delete(command.torrentId);
        return;
      }
      case 'web-seed': {
        if (this.#actors.has(command.actorId) || this.#webSeeds.has(command.actorId))
          throw new TorkError(TorkErrorCode.INTERNAL, `web-seed: actor ${command.actorId} already exists`);
        const torrent = this.#torrents.get(command.torrentId);
        if (!torrent || torrent.metadataOnly) {
          const error = new TorkError(
            TorkErrorCode.INTERNAL,
            `web-seed: unknown torrent ${command.torrentId}`,
          );
          this.emit({ type: 'closed', actorId: command.actorId, error: error.toPlain() });
          return;
        }
        const seed = new WebSeedActor(
          command.actorId,
          torrent,
          command.url,
          command.files,
          this.#webSeedSink,
          this.#options.webSeed,
        );
        this.#webSeeds.set(seed.id, seed);
        this.#watchLag();
        seed.start();
        return;
      }
      case 'connect':
      case 'accept': {
        if (this.#actors.has(command.actorId)) {
          throw new TorkError(
            TorkErrorCode.INTERNAL,
            `${command.type}: actor ${command.actorId} already exists`,
            { actorId: command.actorId },
          );
        }
        const held =
          command.type === 'accept' && command.hosted
            ? this.#listener?.take(command.hosted.connection)
            : undefined;
        const torrent = this.#torrents.get(command.torrentId);
        if (!torrent || (command.type === 'accept' && !command.relay && !held)) {
          command.relay?.close();
          held?.socket.destroy();
          this.emit({
            type: 'closed',
            actorId: command.actorId,
            error: (torrent
              ? new TorkError(TorkErrorCode.IO, 'connection closed before a torrent took it')
              : new TorkError(
                  TorkErrorCode.INTERNAL,
                  `${command.type}: unknown torrent ${command.torrentId}`,
                  {
                    torrentId: command.torrentId,
                  },
                )
            ).toPlain(),
          });
          return;
        }
        const actor = new PeerSession(command.actorId, torrent, this, this.#options.actor, this.#extensions);
        this.#actors.set(actor.id, actor);
        this.#watchLag();
        torrent.actors.add(actor);
        if (command.type === 'connect') {
          if (command.transport === 'utp' && !command.relay) {
            // The actor system sets the relay when it asks the UDP host to dial; none: no uTP here.
            actor.close(new TorkError(TorkErrorCode.INTERNAL, 'uTP dial without a UDP host relay'));
            return;
          }
          actor.connect(command.host, command.port, command.encryption, command.relay);
        } else if (held) actor.accept(held.address, held.socket, held.initial, held.mse);
        else if (command.relay)
          actor.accept(command.address, command.relay, command.initial, command.mse, command.transport);
        return;
      }
      case 'refuse-incoming':
        this.#listener?.refuse(command.connection);
        return;
      case 'rate-limits':
        this.#torrents.get(command.torrentId)?.rates.setLimits(command.download, command.upload);
        return;
      case 'rate-grant':
        // To the torrent of the actor that asked; the actor itself may have closed since.
        (this.#actors.get(command.actorId) ?? this.#webSeeds.get(command.actorId))?.torrent.rates.grant(
          command.direction,
          command.bytes,
        );
        return;
      case 'choke':
        this.#actors.get(command.actorId)?.choke(command.choked);
        return;
      case 'recycle':
        for (const buffer of command.buffers) this.buffers.give(buffer);
        return;
      case 'assign':
        (this.#actors.get(command.actorId) ?? this.#webSeeds.get(command.actorId))?.assign(command.pieces);
        return;
      case 'unassign':
        (this.#actors.get(command.actorId) ?? this.#webSeeds.get(command.actorId))?.unassign(command.pieces);
        return;
      case 'interest':
        this.#actors.get(command.actorId)?.interest(command.interested);
        return;
      case 'have': {
        const torrent = this.#torrents.get(command.torrentId);
        if (!torrent) return;
        const fresh: number[] = [];
        for (const piece of command.pieces) {
          if (piece < torrent.pieceCount && torrent.have.set(piece)) fresh.push(piece);
        }
        if (fresh.length > 0) for (const actor of torrent.actors) actor.sendHave(fresh);
        return;
      }
      case 'report-stats':
        this.#reportStats(command.torrentId, command.intervalMs);
        return;
      case 'torrent-peers': {
        const torrent = this.#torrents.get(command.torrentId);
        if (torrent) torrent.swarm = command.peers;
        return;
      }
      case 'close':
        (this.#actors.get(command.actorId) ?? this.#webSeeds.get(command.actorId))?.close(
          new TorkError(TorkErrorCode.ABORTED, `closed by coordinator: ${command.reason}`),
        );
        return;
    }
  }
}
