import { EventEmitter } from 'node:events';
import { Bitfield } from '../bitfield.js';
import type { DiskWriter } from '../disk/disk-writer.js';
import { type PlainTorkError, TorkError, TorkErrorCode, toTorkError } from '../errors.js';
import type { ActorEvent, ActorStats } from '../messages/host-event.js';
import type { TorrentResume } from '../resume/torrent-resume.js';
import { AssignmentPolicy } from '../scheduler/assignment-policy.js';
import { PieceOrder } from '../scheduler/piece-order.js';
import type { PieceScheduler } from '../scheduler/piece-scheduler.js';
import { createRng, type Rng } from '../scheduler/rng.js';
import { addTorrentCommand } from './add-torrent-command.js';
import type { Announcer } from './announcer.js';
import { Choker, DEFAULT_UPLOAD_SLOTS } from './choker.js';
import { CommandBatch } from './command-batch.js';
import { fileCompletedBytes } from './file-completed-bytes.js';
import { type IncomingConnection, PeerBook, peerBookContext } from './peer-book.js';
import { TorrentDiscovery } from './peer-discovery.js';
import { PeerExchange } from './peer-exchange.js';
import type { PeerRecord } from './peer-record.js';
import { noPeerSource, torrentAnnouncer } from './peer-sources.js';
import { type PeerView, progressUpdates, type TorrentProgress, type TorrentState } from './progress.js';
import type { TorrentEventMap } from './torrent-events.js';
import { TorrentFiles } from './torrent-files.js';
import type { PeerLimits, TorrentContext, TorrentMeta, TorrentOptions } from './torrent-options.js';
import { TorrentRates } from './torrent-rates.js';
import { heldBytes, newTorrentScheduler } from './torrent-scheduler.js';
import { openTorrentStorage } from './torrent-storage.js';
import { TorrentTally } from './torrent-tally.js';

/** How long `stop` waits for its peers' `closed` events (with their final counters). */
const STOP_PEERS_WAIT_MS = 1_000;
/** Coordinator tick (progress events, connection management), ms. */
const DEFAULT_TICK_MS = 1_000;

/**
 * One torrent on the coordinator: its state machine (starting → downloading → done or seeding,
 * or stopped / failed) and the handling of its actors' events. It delegates: which pieces a peer
 * fetches to the `AssignmentPolicy` over the `PieceScheduler`, its connections to the `PeerBook`,
 * who is unchoked to the `Choker`, trackers to the `Announcer`, files to the `DiskWriter`, resume
 * state to `TorrentResume`, and its commands to a per-turn `CommandBatch`. Sees peers only as actor
 * ids through the ActorSystem.
 */
export class Torrent extends EventEmitter<TorrentEventMap> {
  readonly meta: TorrentMeta;
  readonly outDir: string;
  readonly #options: TorrentOptions;
  readonly #ctx: TorrentContext;
  #scheduler: PieceScheduler;
  readonly #policy: AssignmentPolicy;
  /** Pieces verified and on disk: what hosts may serve and what resume state records. */
  #written: Bitfield;
  readonly #book: PeerBook;
  readonly #announcer: Announcer | undefined;
  readonly #rng: Rng;
  readonly #choker: Choker;
  readonly #commands: CommandBatch;
  #disk: DiskWriter | undefined;
  #resume: TorrentResume | undefined;
  /** The DHT and LSD while this (public) torrent runs. */
  readonly #discovery: TorrentDiscovery;
  /** Peer exchange (BEP 11): public torrents, unless turned off. */
  readonly #pex: PeerExchange;
  /** This torrent's rate caps (`rates.set`, `rates.limits`; the engine's apply too). */
  readonly rates: TorrentRates;
  /** Sequential mode and the pieces readers wait for (`tork stream`); a change fills peers at once. */
  readonly order: PieceOrder;
  /** File selection and priorities (`files.setPriority`, `files.setPriorities`). */
  readonly files: TorrentFiles;
  /**
   * This torrent's peer limits, changeable while it runs: `limits.set({ maxPeers, uploadSlots })`
   * (a field left out is unchanged). A lower `maxPeers` closes the surplus at once, worst first; a
   * lower `uploadSlots` chokes the surplus at the next rechoke, which it makes due.
   */
  readonly limits: {
    get(): PeerLimits;
    set(limits: Partial<PeerLimits>): void;
  } = {
    get: () => ({ maxPeers: this.#book.maxPeers, uploadSlots: this.#uploadSlots }),
    set: (limits) => this.#setLimits(limits),
  };
  /** This torrent's own regular upload slots (the engine's share may give fewer). */
  #uploadSlots: number;
  #state: TorrentState = 'starting';
  #tick: NodeJS.Timeout | undefined;
  /** A `#fillAll` is queued for the end of this microtask checkpoint (`#fillAllSoon`). */
  #fillQueued = false;
  #startedAt = Date.now();
  #verifiedBatch: number[] = [];
  #haveBatch: number[] = [];
  readonly #tally = new TorrentTally();
  #done: Promise<TorrentProgress>;
  #resolveDone!: (progress: TorrentProgress) => void;
  #rejectDone!: (error: TorkError) => void;

  constructor(options: TorrentOptions, ctx: TorrentContext) {
    super();
    this.meta = options.meta;
    this.outDir = options.outDir;
    this.#options = options;
    this.#ctx = ctx;
    this.#rng = createRng(options.seed ?? Math.floor(Math.random() * 2 ** 32));
    this.order = new PieceOrder({ sequential: options.sequential === true });
    this.order.onChange = () => this.#fillAll();
    this.files = new TorrentFiles(this.meta, options.filePriorities);
    this.#scheduler = this.#newScheduler();
    this.#policy = new AssignmentPolicy(this.meta.pieceLength, Date.now());
    this.#written = new Bitfield(this.meta.pieceCount);
    this.#commands = new CommandBatch(ctx.actors);
    this.#discovery = new TorrentDiscovery(ctx.discovery ?? [], { ...this.meta, port: ctx.port });
    this.#pex = new PeerExchange(this.meta.infoHashHex, options.pex !== false && !this.meta.private);
    this.rates = new TorrentRates(this.meta.infoHashHex, options.rateLimits, ctx.rates, (command) =>
      this.#commands.send(command),
    );
    this.#book = new PeerBook(
      peerBookContext(this.meta.infoHashHex, ctx, (command) => this.#commands.send(command)),
      options,
    );
    this.#uploadSlots = options.uploadSlots ?? DEFAULT_UPLOAD_SLOTS;
    this.#choker = new Choker({
      rng: this.#rng,
      uploadSlots: this.#uploadSlots,
      rechokeIntervalMs: options.rechokeIntervalMs,
      optimisticIntervalMs: options.optimisticUnchokeIntervalMs,
    });
    this.#announcer = torrentAnnouncer(this.meta, ctx, options, {
      totals: () => ({
        uploaded: this.#book.uploaded(),
        downloaded: this.#downloadedBytes(),
        left: Math.max(0, this.files.wantedBytes - this.#tally.verifiedBytes),
      }),
      onPeers: (peers, url) => {
        const others = this.#book.addFromTracker(peers, Date.now());
        this.emit('tracker-peers', { url, peers: others });
        this.#connectMore();
      },
      onError: (error) => this.emit('tracker-error', { error: error.toPlain() }),
    });
    this.#done = new Promise((resolve, reject) => {
      this.#resolveDone = resolve;
      this.#rejectDone = reject;
    });
    // A caller that only listens to events must not get an unhandled rejection.
    this.#done.catch(() => {});
  }

  get state(): TorrentState {
    return this.#state;
  }

  /** Bytes handed to the disk writer and not yet on disk (its queue depth; 0 before it opens). */
  get diskQueuedBytes(): number {
    return this.#disk?.queuedBytes ?? 0;
  }

  /** Resolves with the final progress when every piece is verified and written; rejects on a fatal error. */
  whenDone(): Promise<TorrentProgress> {
    return this.#done;
  }

  /** Creates the files, finds what is already verified on disk, then finds and dials peers. */
  async start(): Promise<void> {
    if (this.#state !== 'starting') return;
    let disk: DiskWriter;
    try {
      const owner = { meta: this.meta, outDir: this.outDir, selected: this.files.selected, events: this };
      const storage = await openTorrentStorage(owner, this.#options, this.#ctx, (opened) => {
        this.#disk = opened;
      });
      disk = storage.disk;
      const have = storage.have;
      this.#resume = storage.resume;
      this.#written = have;
      if (have.count > 0) {
        this.#scheduler = this.#newScheduler(have);
        this.#tally.resumed(heldBytes(this.#scheduler, have));
      }
    } catch (error) {
      this.#fail(toTorkError(error, TorkErrorCode.IO));
      throw toTorkError(error, TorkErrorCode.IO);
    }
    const addCommand = () =>
      addTorrentCommand(this.meta, this.#ctx, this.#written.bytes.slice(), this.#pex.enabled, disk);
    this.files.attach({
      running: () => this.#state === 'downloading' || this.#state === 'seeding',
      apply: async (pieces, placed) => {
        for (const index of placed) await disk.place(index, this.#written);
        if (placed.length > 0) this.#commands.send(addCommand()); // hosts read moved files from their new place
        const { interesting, uninteresting } = this.#scheduler.setPiecePriorities(pieces);
        if (this.#state === 'seeding' && !this.#scheduler.isComplete) this.#state = 'downloading';
        const changed = [...interesting, ...uninteresting].flatMap((id) => this.#book.get(id) ?? []);
        for (const peer of changed) this.#updateInterest(peer);
        this.#scheduler.isComplete ? this.#complete() : this.#fillAll();
        this.#commands.flush();
      },
    });
    this.#state = this.#scheduler.isComplete ? (this.#options.seeding ? 'seeding' : 'done') : 'downloading';
    this.#startedAt = Date.now();
    this.#policy.restart(this.#startedAt);
    this.#commands.send(addCommand());
    // Right after add-torrent, in the same batch: no host meters a capped torrent late.
    this.rates.start();
    this.emit('started', {
      infoHash: this.meta.infoHashHex,
      name: this.meta.name,
      length: this.meta.length,
      pieceCount: this.meta.pieceCount,
      outDir: this.outDir,
    });
    if (this.#options.peers) this.#book.addManual(this.#options.peers, Date.now());
    if (this.#state === 'downloading')
      for (const ignored of this.#book.addWebSeeds(this.#options.webSeeds ?? [], this.meta, Date.now()))
        this.emit('web-seed-ignored', ignored);
    this.#announcer?.start();
    if (this.#state === 'done') {
      // Everything was on disk already and we are not seeding: nothing to do.
      this.#finishStart();
      return;
    }
    const noSource =
      this.#state === 'downloading'
        ? noPeerSource(this.#options, this.#announcer !== undefined, this.#discovery.available)
        : undefined;
    if (noSource) {
      this.#fail(noSource);
      return;
    }
    this.#discovery.join((source, peers) => {
      if (this.#state !== 'downloading' && this.#state !== 'seeding') return;
      this.emit(source === 'dht' ? 'dht-peers' : 'lsd-peers', this.#book.addFound(peers, source, Date.now()));
      this.#connectMore();
    });
    this.#connectMore();
    this.#tick = setInterval(() => this.#onTick(), this.#options.tickMs ?? DEFAULT_TICK_MS);
    if (this.#state === 'seeding') this.#finishStart();
  }

  /** Stops cleanly: closes every connection, announces `stopped`, flushes and closes files. */
  async stop(): Promise<void> {
    if (this.#state === 'stopped') return;
    const wasRunning = this.#state === 'downloading';
    if (this.#state !== 'done' && this.#state !== 'failed') this.#state = 'stopped';
    clearInterval(this.#tick);
    this.rates.close();
    this.#discovery.leave();
    for (const peer of this.#book.values()) this.#book.close(peer, 'torrent stopped');
    this.#commands.send({ type: 'remove-torrent', torrentId: this.meta.infoHashHex });
    this.#commands.flush();
    // The announce and the actors' last counters (sent as they close) in parallel; the counters
    // make the final upload/download totals exact. Bounded: a dead host never answers.
    await Promise.all([this.#announcer?.stop(), this.#book.whenEmpty(STOP_PEERS_WAIT_MS)]);
    let closed = false;
    try {
      await this.#disk?.close();
      closed = true;
    } catch {
      // The disk error, if any, was already reported as fatal.
    }
    // Clean only when every write reached the disk: otherwise the next start rechecks.
    await this.#resume?.close(this.#written, closed && this.#disk?.error === undefined);
    if (wasRunning)
      this.#rejectDone(new TorkError(TorkErrorCode.ABORTED, 'download stopped before completion'));
  }

  /**
   * A connection the Listener accepted for this torrent. False when the torrent cannot take it
   * (not running, at its peer limit, banned): the Listener then closes it.
   */
  acceptIncoming(peer: IncomingConnection): boolean {
    if (this.#state !== 'downloading' && this.#state !== 'seeding') return false;
    return this.#book.accept(peer, Date.now());
  }

  /** The piece is verified and on disk (readable from the files now). */
  hasPiece(index: number): boolean {
    return this.#written.has(index);
  }

  /**
   * Bytes of each file (in `meta.files` order) that lie in verified pieces written to disk: a
   * file's own share of a piece it shares with its neighbours counts once that piece is verified.
   * One pass over the pieces; for per-file progress views (Transmission's `fileStats`).
   */
  fileCompletedBytes(): number[] {
    return fileCompletedBytes(this.meta, (piece) => this.#written.has(piece));
  }

  /** How many pieces a connected peer has (its bitfield and haves); 0 for an unknown actor. */
  peerPieceCount(actorId: number): number {
    return this.#scheduler.peerPieceCount(actorId);
  }

  progress(): TorrentProgress {
    const { downloadRate, uploadRate, ...peers } = this.#book.summary();
    const tally = this.#tally;
    const left = Math.max(0, this.files.wantedBytes - tally.verifiedBytes);
    return {
      infoHash: this.meta.infoHashHex,
      name: this.meta.name,
      state: this.#state,
      length: this.meta.length,
      pieceCount: this.meta.pieceCount,
      verifiedPieces: this.#scheduler.verifiedCount,
      verifiedBytes: tally.verifiedBytes,
      writtenBytes: tally.writtenBytes,
      downloadedBytes: this.#downloadedBytes(),
      wastedBytes: tally.wastedBytes,
      hashFailures: tally.hashFailures,
      duplicatePieces: tally.duplicatePieces,
      downloadRate,
      uploadedBytes: this.#book.uploaded(),
      uploadRate,
      resumedBytes: tally.resumedBytes,
      ...this.files.bytes(),
      etaSeconds: left === 0 ? 0 : downloadRate > 0 ? left / downloadRate : null,
      peers,
      bytesInFlight: this.#scheduler.bytesInFlight,
      elapsedMs: Date.now() - this.#startedAt,
    };
  }

  /** The per-peer view, fastest first. */
  peerViews(): PeerView[] {
    return this.#book.views((actorId) => this.#scheduler.heldBy(actorId));
  }

  /** Progress snapshots about once a second until the torrent is done, stopped or failed. */
  progressUpdates(): AsyncGenerator<TorrentProgress> {
    return progressUpdates(this, this.#done);
  }

  /** @internal Events from this torrent's actors, routed by the Engine. */
  handleEvent(event: ActorEvent): void {
    const peer = this.#book.get(event.actorId);
    if (!peer) return;
    switch (event.type) {
      case 'connected':
        if (!this.#book.connected(peer, event.peerId, event.client, Date.now(), event)) return;
        this.#scheduler.addPeer(peer.actorId);
        // A connection attempt finished: its slot among the attempts is free for the next address
        // now, not at the next tick (200 peers took 8.6 s to connect at 24 a tick).
        this.#connectMore();
        this.emit('peer-connected', {
          actorId: peer.actorId,
          address: peer.key,
          client: event.client,
          peerId: event.peerId,
          encryption: peer.encryption,
          transport: peer.transport,
          source: peer.source,
        });
        return;
      case 'bitfield': {
        let field: Bitfield;
        try {
          field = new Bitfield(this.meta.pieceCount, event.bitfield);
        } catch (error) {
          this.#book.close(peer, toTorkError(error).message);
          return;
        }
        this.#scheduler.peerBitfield(peer.actorId, field);
        peer.seed = field.complete;
        if (peer.seed && this.#state !== 'downloading') {
          this.#book.close(peer, 'both seeds: nothing to trade');
          return;
        }
        this.#updateInterest(peer);
        this.#fill(peer);
        return;
      }
      case 'have':
        for (const index of event.pieces) {
          if (index >= this.meta.pieceCount) {
            this.#book.close(peer, `have for piece ${index} beyond ${this.meta.pieceCount}`);
            return;
          }
          this.#scheduler.peerHave(peer.actorId, index);
        }
        // A leecher that completes through its `have`s is a seed as much as one whose bitfield
        // said so: the choker passes it over, and its address is not redialled while we seed.
        if (!peer.seed && this.#scheduler.peerIsSeed(peer.actorId)) {
          peer.seed = true;
          if (this.#state !== 'downloading') {
            this.#book.close(peer, 'both seeds: nothing to trade');
            return;
          }
        }
        this.#updateInterest(peer);
        this.#fill(peer);
        return;
      case 'choke':
        peer.peerChoking = event.choked;
        if (!event.choked && peer.amInterested) peer.usefulAt = Date.now();
        this.#fill(peer);
        return;
      case 'piece': {
        const data = event.data;
        this.#onPiece(peer, event.index, new Uint8Array(data), () =>
          this.#commands.recycle(peer.actorId, data),
        );
        return;
      }
      case 'rate-need':
        this.rates.need(peer.actorId, event.direction);
        return;
      case 'peer-info':
        if (event.client !== null) peer.agent = event.client;
        if (event.listenPort !== null) this.#book.identify(peer, event.listenPort, Date.now());
        return;
      case 'pex-peers': {
        if (this.#state !== 'downloading' && this.#state !== 'seeding') return;
        const usable = this.#pex.usable(peer, event.added, this.#state === 'seeding');
        if (usable.length === 0) return;
        this.emit('pex-peers', this.#book.addFound(usable, 'pex', Date.now()));
        this.#connectMore();
        return;
      }
      case 'peer-interest':
        peer.peerInterested = event.interested;
        // A newly interested peer gets a free slot now rather than at the next rechoke.
        if (event.interested && this.#choker.unchoked.size < this.#effectiveUploadSlots())
          this.#rechoke(true);
        return;
      case 'unreadable':
        // The host stopped offering it; the data on disk no longer matches (or cannot be read).
        this.emit('piece-unreadable', {
          index: event.index,
          error: TorkError.fromPlain(event.error).toPlain(),
        });
        return;
      case 'hash-failed': {
        this.#tally.wastedBytes += this.#scheduler.pieceSize(event.index);
        this.#tally.hashFailures++;
        const { ban } = this.#scheduler.hashFailed(event.index, peer.actorId);
        if (ban) this.#book.ban(peer, 'banned: sent data that failed the hash check');
        else this.#fill(peer);
        this.#fillAll();
        return;
      }
      case 'released':
        // A snubbed actor keeps whatever it is given next and never gives it back (it stays
        // snubbed): new pieces would sit there for good. Its stats may not say so yet.
        if (event.reason === 'snubbed') peer.snubbedByRelease = true;
        this.#scheduler.released(peer.actorId, event.pieces, { peerLacks: event.reason === 'peer-lacks' });
        this.#fillAll();
        return;
      case 'closed':
        this.rates.forget(peer.actorId);
        this.#onClosed(peer, TorkError.fromPlain(event.error).toPlain());
        return;
    }
  }

  /** @internal Per-actor counters from a host's `stats` event. */
  handleStats(stats: ActorStats): void {
    this.#book.applyStats(stats, {
      stall: (event) => this.emit('peer-stall', event),
      refused: (event) => this.emit('peer-requests-refused', event),
      hashes: (event) => this.emit('peer-hash-requests', event),
    });
  }

  #newScheduler(have?: Bitfield): PieceScheduler {
    return newTorrentScheduler(
      this.meta,
      this.#options,
      { rng: this.#rng, order: this.order, files: this.files },
      have,
    );
  }

  /** @internal A verified piece that came packed with others (see Engine `unpackPieces`). */
  handlePiece(actorId: number, index: number, data: Uint8Array, release: () => void): void {
    const peer = this.#book.get(actorId);
    if (!peer) release();
    else this.#onPiece(peer, index, data, release);
  }

  /** `release`: the buffer under `data` may go back to its host (written, or not wanted). */
  #onPiece(peer: PeerRecord, index: number, data: Uint8Array, release: () => void): void {
    const size = this.#scheduler.pieceSize(index);
    if (data.byteLength !== size) {
      release();
      this.#book.close(peer, `piece ${index} of ${data.byteLength} bytes, expected ${size}`);
      return;
    }
    const now = Date.now();
    peer.snubbedByRelease = false;
    this.#policy.pieceVerified(now);
    const result = this.#scheduler.verified(index, peer.actorId);
    if (!result.accepted) {
      this.#tally.wastedBytes += size;
      this.#tally.duplicatePieces++;
      release();
      return;
    }
    peer.piecesReceived++;
    peer.usefulAt = now;
    this.#tally.verifiedBytes += size;
    this.#verifiedBatch.push(index);
    // The run's first piece is reported at once (what a user waits on); the rest once a tick.
    if (this.#tally.verifiedBytes === size + this.#tally.resumedBytes)
      setImmediate(() => this.#emitBatches());
    for (const { peer: other, index: piece } of result.cancel) {
      this.#commands.send({ type: 'unassign', actorId: other, pieces: [piece] });
      const loser = this.#book.get(other);
      if (loser && this.#policy.snubsLoser(loser, now)) loser.snubbedByRelease = true;
    }
    for (const actorId of result.uninteresting) {
      const other = this.#book.get(actorId);
      if (other) this.#updateInterest(other);
    }
    this.#disk!.write(index, data).then(
      () => {
        this.#scheduler.written(index);
        this.#tally.writtenBytes += size;
        this.#written.set(index);
        // Announced only once on disk: hosts read it back from there to serve it.
        this.#haveBatch.push(index);
        this.emit('piece-written', { index });
        this.#resume?.pieceWritten(index);
        // The writer is done with the buffer: back to the host that filled it, for the next piece.
        release();
        // Each completed write frees budget and queue room: top peers up again, once for the
        // whole run of writes that completed together.
        if (this.#scheduler.isComplete) this.#complete();
        else this.#fillAllSoon();
      },
      (error: unknown) => this.#fail(toTorkError(error, TorkErrorCode.IO)),
    );
    this.#fill(peer);
  }

  #onClosed(peer: PeerRecord, error: PlainTorkError): void {
    const banned = this.#book.closed(peer, error, Date.now());
    this.#choker.remove(peer.actorId);
    if (this.#scheduler.hasPeer(peer.actorId)) this.#scheduler.removePeer(peer.actorId);
    const { actorId, key: address, source } = peer;
    this.emit('peer-disconnected', { actorId, address, reason: error, banned, source });
    if (this.#state === 'downloading') {
      this.#connectMore();
      this.#fillAll();
    } else if (this.#state === 'seeding') this.#connectMore();
  }

  #updateInterest(peer: PeerRecord): void {
    if (!peer.connected || peer.closing) return;
    const interested = this.#state === 'downloading' && this.#scheduler.interesting(peer.actorId);
    if (interested === peer.amInterested) return;
    peer.amInterested = interested;
    if (interested) peer.usefulAt = Math.max(peer.usefulAt, Date.now());
    this.#commands.send({ type: 'interest', actorId: peer.actorId, interested });
  }

  /** Tops up one peer's assigned pieces (the policy decides how many). */
  #fill(peer: PeerRecord): void {
    if (this.#state !== 'downloading') return;
    // Backpressure: while the disk is behind, assignment resumes as writes complete (see #onPiece).
    const pieces = this.#policy.fill(this.#scheduler, peer, Date.now(), this.#disk?.needsDrain ?? false);
    if (pieces.length > 0) this.#commands.send({ type: 'assign', actorId: peer.actorId, pieces });
  }

  #fillAll(): void {
    if (this.#state !== 'downloading') return;
    for (const peer of this.#policy.fillOrder(this.#book.values())) this.#fill(peer);
  }

  /**
   * `#fillAll` once the current callbacks are done. The disk writer settles a run of neighbouring
   * pieces (up to 256 of 16 KiB) in one loop, so their completions arrive together: a fill per
   * completion walked every peer once per piece, a fill for the run walks them once.
   */
  #fillAllSoon(): void {
    if (this.#fillQueued) return;
    this.#fillQueued = true;
    queueMicrotask(() => {
      this.#fillQueued = false;
      this.#fillAll();
    });
  }

  #connectMore(): void {
    if (this.#state !== 'downloading' && this.#state !== 'seeding') return;
    const now = Date.now();
    if (this.#book.connectMore(now, this.#state === 'seeding')) {
      this.#announcer?.requestPeers(now);
      this.#discovery.lookup();
    }
  }

  #onTick(): void {
    const now = Date.now();
    if (this.#state === 'downloading') {
      this.#book.rotateUseless(now, (actorId) => this.#scheduler.heldBy(actorId));
      this.#connectMore();
      this.#fillAll();
    } else if (this.#state === 'seeding') this.#connectMore();
    this.#rechoke(false);
    this.#resume?.maybeSave(now, this.#written);
    this.#emitBatches();
    const swarm = this.#pex.update(this.#book.values());
    if (swarm) this.#commands.send(swarm);
    this.emit('progress', this.progress());
    // The next tick's counters, taken now by every host: one report per host per tick, so each
    // progress event's byte counters are a tick apart (see `report-stats`).
    this.#commands.send({
      type: 'report-stats',
      torrentId: this.meta.infoHashHex,
      intervalMs: Math.max(1, Math.ceil(this.#options.tickMs ?? DEFAULT_TICK_MS)),
    });
    this.#commands.flush();
  }

  #emitBatches(): void {
    if (this.#haveBatch.length > 0) {
      this.#commands.send({ type: 'have', torrentId: this.meta.infoHashHex, pieces: this.#haveBatch });
      this.#haveBatch = [];
    }
    if (this.#verifiedBatch.length > 0) {
      this.emit('pieces-verified', {
        pieces: this.#verifiedBatch,
        verifiedPieces: this.#scheduler.verifiedCount,
        pieceCount: this.meta.pieceCount,
      });
      this.#verifiedBatch = [];
    }
  }

  /** The peers connected or connecting (web seeds included): what the engine's share counts. */
  get peerCount(): number {
    return this.#book.size;
  }

  #setLimits(limits: Partial<PeerLimits>): void {
    if (limits.uploadSlots !== undefined) {
      if (!Number.isInteger(limits.uploadSlots) || limits.uploadSlots < 0)
        throw new RangeError(`uploadSlots must be a non-negative integer, got ${limits.uploadSlots}`);
      this.#uploadSlots = limits.uploadSlots;
    }
    if (limits.maxPeers !== undefined) this.#book.setMaxPeers(limits.maxPeers);
    if (this.#state !== 'downloading' && this.#state !== 'seeding') return;
    this.#rechoke(false);
    this.#connectMore();
    this.#commands.flush();
  }

  /** Our own slots, or fewer when the engine's cap over all torrents leaves this torrent less. */
  #effectiveUploadSlots(): number {
    const share = this.#ctx.uploadSlotShare?.();
    return share === undefined ? this.#uploadSlots : Math.min(this.#uploadSlots, share);
  }

  /** Runs the choker (only when a rechoke is due, unless forced) and sends what changed. */
  #rechoke(force: boolean): void {
    if (this.#state !== 'downloading' && this.#state !== 'seeding') return;
    this.#choker.setUploadSlots(this.#effectiveUploadSlots());
    const seeding = this.#state === 'seeding';
    const { unchoked, changed } = this.#choker.update(this.#book.chokerPeers(), Date.now(), seeding, force);
    if (changed || force) this.#book.applyChokes(unchoked);
  }

  #complete(): void {
    if (this.#state !== 'downloading') return;
    const seeding = this.#options.seeding === true;
    this.#state = seeding ? 'seeding' : 'done';
    if (!seeding) clearInterval(this.#tick);
    this.#emitBatches();
    for (const peer of this.#book.values()) {
      this.#updateInterest(peer);
      // Seeds have nothing for us and want nothing from us.
      if (peer.seed) this.#book.close(peer, 'both seeds: nothing to trade');
    }
    this.#rechoke(true);
    this.#commands.flush();
    this.#announcer?.completed();
    this.#finishStart();
  }

  /** Complete (at start, or now): the last progress, `done`, and `whenDone` resolves. */
  #finishStart(): void {
    const progress = this.progress();
    this.emit('progress', progress);
    this.emit('done', progress);
    this.#resolveDone(progress);
  }

  #fail(error: TorkError): void {
    if (this.#state === 'failed' || this.#state === 'stopped' || this.#state === 'done') return;
    this.#state = 'failed';
    clearInterval(this.#tick);
    this.#discovery.leave();
    // The torrent has stopped: its peers go too, or their actors keep fetching pieces nobody writes.
    for (const peer of this.#book.values()) this.#book.close(peer, 'torrent failed');
    this.emit('error', { error: error.toPlain() });
    this.#rejectDone(error);
  }

  #downloadedBytes(): number {
    return this.#tally.downloaded(this.#book.downloaded());
  }
}
