import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { type FileHandle, open, stat } from 'node:fs/promises';
import { networkInterfaces } from 'node:os';
import type { MessagePort } from 'node:worker_threads';
import { Bitfield } from '../bitfield.js';
import type { DiskLayout } from '../disk/disk-layout.js';
import { DiskWriter } from '../disk/disk-writer.js';
import { type PlainTorkError, TorkError, TorkErrorCode, toTorkError } from '../errors.js';
import type { HostCommand } from '../messages/host-command.js';
import type { ActorStats, HostEvent } from '../messages/host-event.js';
import { planResume } from '../resume/plan-resume.js';
import { lockResumeState, type ResumeLock } from '../resume/resume-lock.js';
import { defaultResumeDir, ResumeStore } from '../resume/resume-store.js';
import type { ResumeFileState } from '../resume/snapshot.js';
import { PieceScheduler } from '../scheduler/piece-scheduler.js';
import { piecesForRate } from '../scheduler/pieces-for-rate.js';
import { createRng, type Rng } from '../scheduler/rng.js';
import type { TrackerClientOptions } from '../tracker/create-tracker-client.js';
import type { PeerAddress } from '../tracker/types.js';
import type { ActorSystem } from './actor-system.js';
import { Announcer } from './announcer.js';
import { Choker, type ChokerPeer } from './choker.js';
import { PeerPool, peerKey } from './peer-pool.js';
import type { PeerView, TorrentProgress, TorrentState } from './progress.js';
import type { TorrentEventMap } from './torrent-events.js';

/** In the endgame, copies of pieces in flight are made only after this long without a verified piece. */
const ENDGAME_QUIET_MS = 1_000;
/** How long `stop` waits for its peers' `closed` events (with their final counters). */
const STOP_PEERS_WAIT_MS = 1_000;
/** No piece verified for this long: idle peers may fetch copies of pieces stuck on slow ones. */
const STALL_COPY_MS = 10_000;

/** What the coordinator needs of a parsed torrent (`Metainfo` satisfies it). */
export interface TorrentMeta extends DiskLayout {
  readonly infoHash: Uint8Array;
  readonly infoHashHex: string;
  readonly pieceCount: number;
  /** 20 bytes per piece. */
  readonly pieceHashes: Uint8Array;
  /** BEP 12 tiers. */
  readonly announce: readonly (readonly string[])[];
}

export interface TorrentOptions {
  readonly meta: TorrentMeta;
  /** Output directory; multi-file torrents land in `<outDir>/<name>/…`. */
  readonly outDir: string;
  /** Peers given by hand (`--peer`): dialled first and never given up on. Default: none. */
  readonly peers?: readonly PeerAddress[];
  /** Announce to the torrent's trackers. Default: true. */
  readonly useTrackers?: boolean;
  /** Most peer connections (connected and connecting). Default: 80. */
  readonly maxPeers?: number;
  /** Most connection attempts under way at once. Default: 24. */
  readonly maxConnecting?: number;
  /** Global cap on bytes assigned but not yet written. Default: 64 MiB (see PieceScheduler). */
  readonly maxBytesInFlight?: number;
  /** Disk write queue cap before assignment pauses. Default: 64 MiB (see DiskWriter). */
  readonly maxQueuedWriteBytes?: number;
  /** Seconds a peer may choke us (or have nothing we need) before it is rotated out when better candidates wait. Default: 60. */
  readonly uselessAfterSeconds?: number;
  /** Tracker client options. Default: see Announcer. */
  readonly trackerClients?: TrackerClientOptions;
  /** Seed for tie-breaks. Default: random. */
  readonly seed?: number;
  /** Coordinator tick (progress events, connection management), ms. Default: 1,000. */
  readonly tickMs?: number;
  /**
   * Go on seeding once complete (state `seeding`) until `stop()`. Default: false (state `done`:
   * connections to seeds close, the rest stay until `stop()`).
   */
  readonly seeding?: boolean;
  /** Regular upload slots of the choker (plus one optimistic). Default: 4. */
  readonly uploadSlots?: number;
  /** How often the choker re-ranks peers, ms. Default: 10,000. */
  readonly rechokeIntervalMs?: number;
  /** How often the optimistic unchoke rotates, ms. Default: 30,000. */
  readonly optimisticUnchokeIntervalMs?: number;
  /**
   * Where resume state lives (a snapshot and a journal per torrent), or `false` for none (every
   * start then hashes whatever data is on disk). Default: `<outDir>/.tork`.
   */
  readonly resumeDir?: string | false;
  /** How often the resume snapshot is rewritten while running, ms. Default: 5,000. */
  readonly resumeSaveIntervalMs?: number;
}

/** Wiring the Engine provides. */
export interface TorrentContext {
  readonly actors: ActorSystem;
  readonly peerId: Uint8Array;
  /** The port we announce. */
  readonly port: number;
  readonly nextActorId: () => number;
  readonly register: (actorId: number, torrent: Torrent) => void;
  readonly unregister: (actorId: number) => void;
  /** Hashes pieces read from disk (the hash pool). Default: hashed on this thread. */
  readonly hasher?: PieceHasher;
}

/** A connection the Listener accepted and matched to this torrent by its handshake. */
export interface IncomingConnection {
  /** `host:port` of the remote end. */
  readonly address: string;
  /** The actor's end of the relay (moved to the peer host). */
  readonly relay: MessagePort;
  /** Bytes read so far, the peer's handshake first. */
  readonly initial: Uint8Array;
}

/** One contiguous read that is part of a piece; `path: null` is a pad file (zeros). */
export interface PieceSpanOnDisk {
  readonly path: string | null;
  readonly offset: number;
  readonly length: number;
}

/** Hashes pieces from disk; `HashPool` from `@tork/workers` is one. */
export interface PieceHasher {
  /** 20 bytes per piece in `hashes` (zeros for a piece whose data is missing or short). */
  hashPieces(pieces: ReadonlyArray<ReadonlyArray<PieceSpanOnDisk>>): Promise<{ readonly hashes: Uint8Array }>;
}

/** Addresses of this machine: loopback, unspecified, and every interface's. */
function isLocalAddress(host: string): boolean {
  if (host.startsWith('127.') || host === '::1' || host === '0.0.0.0' || host === '::') return true;
  localAddresses ??= new Set(
    Object.values(networkInterfaces())
      .flat()
      .map((info) => info?.address)
      .filter((address): address is string => address !== undefined),
  );
  return localAddresses.has(host);
}
let localAddresses: Set<string> | undefined;

/** The fallback when no hash pool is given: fine for small torrents and tests. */
const inThreadHasher: PieceHasher = {
  async hashPieces(pieces) {
    const hashes = new Uint8Array(pieces.length * 20);
    const handles = new Map<string, FileHandle | null>();
    try {
      for (let i = 0; i < pieces.length; i++) {
        const hash = createHash('sha1');
        let complete = true;
        for (const span of pieces[i]!) {
          if (span.path === null) {
            hash.update(new Uint8Array(span.length));
            continue;
          }
          let handle = handles.get(span.path);
          if (handle === undefined) {
            handle = await open(span.path, 'r').catch(() => null);
            handles.set(span.path, handle);
          }
          const data = new Uint8Array(span.length);
          const read = handle ? (await handle.read(data, 0, span.length, span.offset)).bytesRead : 0;
          if (read < span.length) {
            complete = false;
            break;
          }
          hash.update(data);
        }
        if (complete) hashes.set(hash.digest(), i * 20);
      }
    } finally {
      await Promise.all([...handles.values()].map((handle) => handle?.close()));
    }
    return { hashes };
  },
};

interface PeerRecord {
  readonly actorId: number;
  readonly key: string;
  readonly host: string;
  readonly port: number;
  readonly openedAt: number;
  /** It dialled us (through the Listener). */
  readonly incoming: boolean;
  /** Its peer id, hex, once the handshake is done. */
  peerId: string;
  /** It is interested in our pieces / we unchoke it (the choker's decision, as sent). */
  peerInterested: boolean;
  unchoked: boolean;
  connected: boolean;
  client: string;
  peerChoking: boolean;
  amInterested: boolean;
  seed: boolean;
  stats: ActorStats | undefined;
  /** Last time the peer was useful: unchoked us with something we need, or delivered a piece. */
  usefulAt: number;
  piecesReceived: number;
  /**
   * Its download rate when it last had work: the stats window reads 0 once a peer is idle, and an
   * idle fast peer must still count as fast.
   */
  knownRate: number;
  /** It gave pieces back as snubbed and has delivered none since: it gets no new ones. */
  snubbed: boolean;
  closing: boolean;
}

/**
 * One torrent on the coordinator: owns its piece state (through the PieceScheduler), its disk
 * writer, its trackers and its peer connections. Sees peers only through the ActorSystem.
 */
export class Torrent extends EventEmitter<TorrentEventMap> {
  readonly meta: TorrentMeta;
  readonly outDir: string;
  readonly #options: TorrentOptions;
  readonly #ctx: TorrentContext;
  #scheduler: PieceScheduler;
  /** Pieces verified and on disk: what hosts may serve and what resume state records. */
  #written: Bitfield;
  readonly #pool: PeerPool;
  readonly #announcer: Announcer | undefined;
  readonly #peers = new Map<number, PeerRecord>();
  readonly #rng: Rng;
  readonly #choker: Choker;
  #disk: DiskWriter | undefined;
  #state: TorrentState = 'starting';
  #tick: NodeJS.Timeout | undefined;
  #startedAt = Date.now();
  #outbox: HostCommand[] = [];
  /** Written piece buffers going back to the host of the actor that delivered them. */
  readonly #recycleBatch = new Map<number, ArrayBuffer[]>();
  #flushScheduled = false;
  #verifiedBatch: number[] = [];
  #haveBatch: number[] = [];
  #verifiedBytes = 0;
  #writtenBytes = 0;
  #wastedBytes = 0;
  /** Pieces that failed their hash check / verified copies that arrived after another won. */
  #hashFailures = 0;
  #duplicatePieces = 0;
  #closedDownloaded = 0;
  /** Bytes found verified on disk at start (not downloaded in this run). */
  #resumedBytes = 0;
  #resume: ResumeStore | undefined;
  #resumeLock: ResumeLock | undefined;
  /** Written pieces not yet appended to the resume journal (appended once per turn). */
  #journalBatch: number[] = [];
  #savedCount = -1;
  #lastSaveAt = 0;
  #saving: Promise<void> | undefined;
  #closedUploaded = 0;
  #banned = 0;
  #lastVerifiedAt = Date.now();
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
    this.#scheduler = new PieceScheduler({
      pieceCount: this.meta.pieceCount,
      pieceLength: this.meta.pieceLength,
      length: this.meta.length,
      rng: this.#rng,
      ...(options.maxBytesInFlight !== undefined ? { maxBytesInFlight: options.maxBytesInFlight } : {}),
    });
    this.#written = new Bitfield(this.meta.pieceCount);
    this.#pool = new PeerPool();
    this.#choker = new Choker({
      rng: this.#rng,
      ...(options.uploadSlots !== undefined ? { uploadSlots: options.uploadSlots } : {}),
      ...(options.rechokeIntervalMs !== undefined ? { rechokeIntervalMs: options.rechokeIntervalMs } : {}),
      ...(options.optimisticUnchokeIntervalMs !== undefined
        ? { optimisticIntervalMs: options.optimisticUnchokeIntervalMs }
        : {}),
    });
    if (options.useTrackers !== false && this.meta.announce.length > 0) {
      this.#announcer = new Announcer({
        tiers: this.meta.announce,
        infoHash: this.meta.infoHash,
        peerId: ctx.peerId,
        port: ctx.port,
        totals: () => ({
          uploaded: this.#uploadedBytes(),
          downloaded: this.#downloadedBytes(),
          left: this.meta.length - this.#verifiedBytes,
        }),
        onPeers: (peers, url) => {
          // Trackers list us too: our own listening address is never dialled.
          const others = peers.filter((peer) => !(peer.port === ctx.port && isLocalAddress(peer.host)));
          this.#pool.add(others, 'tracker', Date.now());
          this.emit('tracker-peers', { url, peers: peers.length });
          this.#connectMore();
        },
        onError: (error) => this.emit('tracker-error', { error: error.toPlain() }),
        ...(options.trackerClients ? { clients: options.trackerClients } : {}),
      });
    }
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

  /** Resolves with the final progress when every piece is verified and written; rejects on a fatal error. */
  whenDone(): Promise<TorrentProgress> {
    return this.#done;
  }

  /** Creates the files, then finds and dials peers. */
  async start(): Promise<void> {
    if (this.#state !== 'starting') return;
    try {
      this.#disk = await DiskWriter.open({
        root: this.outDir,
        layout: this.meta,
        ...(this.#options.maxQueuedWriteBytes !== undefined
          ? { maxQueuedBytes: this.#options.maxQueuedWriteBytes }
          : {}),
      });
      // Existing data first: what is on disk and verified is neither fetched nor lost.
      const have = await this.#checkExisting(this.#disk);
      this.#written = have;
      if (have.count > 0) {
        this.#scheduler = new PieceScheduler({
          pieceCount: this.meta.pieceCount,
          pieceLength: this.meta.pieceLength,
          length: this.meta.length,
          rng: this.#rng,
          have,
          ...(this.#options.maxBytesInFlight !== undefined
            ? { maxBytesInFlight: this.#options.maxBytesInFlight }
            : {}),
        });
        let bytes = 0;
        for (let i = 0; i < this.meta.pieceCount; i++) if (have.has(i)) bytes += this.#scheduler.pieceSize(i);
        this.#verifiedBytes = bytes;
        this.#writtenBytes = bytes;
        this.#resumedBytes = bytes;
      }
    } catch (error) {
      this.#fail(toTorkError(error, TorkErrorCode.IO));
      throw toTorkError(error, TorkErrorCode.IO);
    }
    const disk = this.#disk;
    this.#state = this.#scheduler.isComplete ? (this.#options.seeding ? 'seeding' : 'done') : 'downloading';
    this.#startedAt = Date.now();
    this.#lastVerifiedAt = this.#startedAt;
    this.#send({
      type: 'add-torrent',
      torrentId: this.meta.infoHashHex,
      infoHash: this.meta.infoHash,
      peerId: this.#ctx.peerId,
      pieceLength: this.meta.pieceLength,
      length: this.meta.length,
      pieceHashes: this.meta.pieceHashes,
      have: this.#written.bytes.slice(),
      listenPort: this.#ctx.port,
      // Hosts read pieces back for upload from the real paths the writer created (pads: null).
      files: this.meta.files.map((_, index) => ({
        path: disk.file(index)?.path ?? null,
        length: this.meta.files[index]!.length,
      })),
    });
    this.emit('started', {
      infoHash: this.meta.infoHashHex,
      name: this.meta.name,
      length: this.meta.length,
      pieceCount: this.meta.pieceCount,
      outDir: this.outDir,
    });
    if (this.#options.peers) this.#pool.add(this.#options.peers, 'manual', Date.now());
    this.#announcer?.start();
    if (this.#state === 'done') {
      // Everything was on disk already and we are not seeding: nothing to do.
      this.#finishStart();
      return;
    }
    if (this.#state === 'downloading' && !this.#announcer && (this.#options.peers?.length ?? 0) === 0) {
      this.#fail(
        new TorkError(
          TorkErrorCode.USAGE,
          'no peer source: the torrent has no trackers and no --peer was given',
        ),
      );
      return;
    }
    this.#connectMore();
    this.#tick = setInterval(() => this.#onTick(), this.#options.tickMs ?? 1_000);
    if (this.#state === 'seeding') this.#finishStart();
  }

  /** Resolves once every peer's `closed` event arrived, or after `ms`. */
  #peersGone(ms: number): Promise<void> {
    if (this.#peers.size === 0) return Promise.resolve();
    // Polled with setTimeout and a count, not Date: tests run the coordinator on a mocked clock.
    return new Promise((resolve) => {
      let polls = Math.ceil(ms / 10);
      const check = () => {
        if (this.#peers.size === 0 || --polls <= 0) resolve();
        else setTimeout(check, 10);
      };
      check();
    });
  }

  /** Complete at start: `whenDone` resolves at once. */
  #finishStart(): void {
    const progress = this.progress();
    this.emit('progress', progress);
    this.emit('done', progress);
    this.#resolveDone(progress);
  }

  /**
   * Pieces already verified on disk. Without resume state: every piece of the files that held
   * data before this run is hashed (data from an earlier run or another client is reused).
   */
  async #checkExisting(disk: DiskWriter): Promise<Bitfield> {
    const dir = this.#options.resumeDir ?? defaultResumeDir(this.outDir);
    if (dir === false) return this.#checkAll(disk);
    const locked = await lockResumeState(dir, this.meta.infoHashHex);
    if ('heldBy' in locked) {
      // Another tork (say a second seeder of the same directory) keeps this state: we only read data.
      this.emit('resume-warning', {
        message: `resume state in ${dir} is kept by process ${locked.heldBy}; this run keeps none and checks the data`,
      });
      return this.#checkAll(disk);
    }
    this.#resumeLock = locked.lock;
    const store = ResumeStore.open({ dir, infoHashHex: this.meta.infoHashHex });
    this.#resume = store;
    const loaded = await store.load();
    if (loaded?.warning) this.emit('resume-warning', { message: loaded.warning });
    // Sizes as found before the writer extended anything; mtimes are untouched unless it did,
    // in which case the size already tells the file changed.
    const files = await Promise.all(
      this.meta.files.map(async (file, index) => {
        const info = disk.file(index);
        if (file.pad || !info || info.previousSize === null) return null;
        const { mtimeMs } = await stat(info.path);
        return { size: info.previousSize, mtimeMs };
      }),
    );
    const anyDataOnDisk = files.some((file) => file !== null && file.size > 0);
    const plan = planResume({
      loaded,
      files,
      pieceCount: this.meta.pieceCount,
      layout: disk.layout,
      anyDataOnDisk,
    });
    const have = new Bitfield(this.meta.pieceCount);
    for (const piece of plan.trusted) have.set(piece);
    const rechecked = plan.recheck.length > 0 ? await this.#verifyOnDisk(disk, plan.recheck) : [];
    for (const piece of rechecked) have.set(piece);
    this.emit('resumed', {
      trusted: plan.trusted.length,
      rechecked: plan.recheck.length,
      verified: have.count,
      reason: plan.reason,
    });
    // From here the run is unclean until `stop` marks it clean again.
    await store.save({ verified: have, pieceLength: this.meta.pieceLength, files: this.#fileStates() });
    this.#savedCount = have.count;
    this.#lastSaveAt = Date.now();
    return have;
  }

  /** Every file as recorded in an unclean snapshot (sizes and mtimes matter only in a clean one). */
  #fileStates(stats?: readonly ({ size: number; mtimeMs: number } | null)[]): ResumeFileState[] {
    return this.meta.files.map((file, index) => ({
      path: this.meta.isMultiFile ? [this.meta.name, ...file.path] : [this.meta.name],
      size: stats?.[index]?.size ?? file.length,
      mtimeMs: stats?.[index]?.mtimeMs ?? 0,
    }));
  }

  /** A piece reached the disk: into the journal (batched per turn), so a kill cannot lose it. */
  #onWritten(index: number): void {
    const store = this.#resume;
    if (!store) return;
    if (this.#journalBatch.length === 0) {
      setImmediate(() => {
        const batch = this.#journalBatch;
        this.#journalBatch = [];
        store
          .appendPieces(batch)
          .catch((error: unknown) =>
            this.emit('resume-warning', { message: `resume journal: ${toTorkError(error).message}` }),
          );
      });
    }
    this.#journalBatch.push(index);
  }

  /** Rewrites the snapshot now and then, so the journal stays short; never two at once. */
  #maybeSave(now: number): void {
    const store = this.#resume;
    const interval = this.#options.resumeSaveIntervalMs ?? 5_000;
    if (!store || this.#saving || now - this.#lastSaveAt < interval) return;
    // Only what the journal already holds: the snapshot must cover every appended piece, and
    // pieces still in this turn's batch are not appended yet.
    if (this.#journalBatch.length > 0 || this.#written.count === this.#savedCount) return;
    this.#lastSaveAt = now;
    const count = this.#written.count;
    this.#saving = store
      .save({ verified: this.#written, pieceLength: this.meta.pieceLength, files: this.#fileStates() })
      .then(
        () => {
          this.#savedCount = count;
        },
        (error: unknown) => {
          this.emit('resume-warning', { message: `resume snapshot: ${toTorkError(error).message}` });
        },
      )
      .finally(() => {
        this.#saving = undefined;
      });
  }

  /** After the files are closed: the clean snapshot, with sizes and mtimes, so the next start trusts it. */
  async #saveClean(): Promise<void> {
    const store = this.#resume;
    const disk = this.#disk;
    if (!store || !disk) return;
    await this.#saving;
    // The last batch of journal entries: markClean needs a bitfield that covers them.
    if (this.#journalBatch.length > 0) {
      const batch = this.#journalBatch;
      this.#journalBatch = [];
      await store.appendPieces(batch).catch(() => {});
    }
    const stats = await Promise.all(
      this.meta.files.map(async (file, index) => {
        const info = disk.file(index);
        if (file.pad || !info) return null;
        const { size, mtimeMs } = await stat(info.path);
        return { size, mtimeMs };
      }),
    );
    await store.markClean({
      verified: this.#written,
      pieceLength: this.meta.pieceLength,
      files: this.#fileStates(stats),
    });
  }

  /** No resume state: hash every piece of the files that held data before this run. */
  async #checkAll(disk: DiskWriter): Promise<Bitfield> {
    const have = new Bitfield(this.meta.pieceCount);
    const layout = disk.layout;
    const candidates: number[] = [];
    const seen = new Uint8Array(this.meta.pieceCount);
    this.meta.files.forEach((file, index) => {
      const previous = disk.file(index)?.previousSize ?? null;
      if (file.pad || previous === null || previous === 0) return;
      const { firstPiece, lastPiece } = layout.filePieces(index);
      for (let piece = firstPiece; piece <= lastPiece; piece++) {
        if (seen[piece]) continue;
        seen[piece] = 1;
        candidates.push(piece);
      }
    });
    if (candidates.length === 0) return have;
    candidates.sort((a, b) => a - b);
    for (const piece of await this.#verifyOnDisk(disk, candidates)) have.set(piece);
    return have;
  }

  /** Hashes pieces from disk (on the hash pool when the engine has one) and returns those that match. */
  async #verifyOnDisk(disk: DiskWriter, pieces: readonly number[]): Promise<number[]> {
    const layout = disk.layout;
    const hasher = this.#ctx.hasher ?? inThreadHasher;
    const good: number[] = [];
    // In batches: spans of 200,000 pieces at once would be a large allocation for no gain.
    const BATCH = 4_096;
    for (let first = 0; first < pieces.length; first += BATCH) {
      const batch = pieces.slice(first, first + BATCH);
      const spans = batch.map((piece) =>
        layout.spans(piece).map((span) => ({
          path: span.pad ? null : (disk.file(span.fileIndex)?.path ?? null),
          offset: span.fileOffset,
          length: span.length,
        })),
      );
      const { hashes } = await hasher.hashPieces(spans);
      batch.forEach((piece, i) => {
        const expected = this.meta.pieceHashes.subarray(piece * 20, piece * 20 + 20);
        const actual = hashes.subarray(i * 20, i * 20 + 20);
        if (Buffer.compare(expected, actual) === 0) good.push(piece);
      });
    }
    this.emit('checked', { checked: pieces.length, verified: good.length });
    return good;
  }

  /** Stops cleanly: closes every connection, announces `stopped`, flushes and closes files. */
  async stop(): Promise<void> {
    if (this.#state === 'stopped') return;
    const wasRunning = this.#state === 'downloading';
    if (this.#state !== 'done' && this.#state !== 'failed') this.#state = 'stopped';
    clearInterval(this.#tick);
    for (const peer of this.#peers.values()) this.#closePeer(peer, 'torrent stopped');
    this.#send({ type: 'remove-torrent', torrentId: this.meta.infoHashHex });
    this.#flush();
    // The announce and the actors' last counters (sent as they close) in parallel; the counters
    // make the final upload/download totals exact. Bounded: a dead host never answers.
    await Promise.all([this.#announcer?.stop(), this.#peersGone(STOP_PEERS_WAIT_MS)]);
    let closed = false;
    try {
      await this.#disk?.close();
      closed = true;
    } catch {
      // The disk error, if any, was already reported as fatal.
    }
    // Clean only when every write reached the disk: otherwise the next start rechecks.
    if (closed && this.#disk?.error === undefined) {
      await this.#saveClean().catch((error: unknown) =>
        this.emit('resume-warning', { message: `resume state: ${toTorkError(error).message}` }),
      );
    }
    await this.#resume?.close().catch(() => {});
    await this.#resumeLock?.release().catch(() => {});
    if (wasRunning)
      this.#rejectDone(new TorkError(TorkErrorCode.ABORTED, 'download stopped before completion'));
  }

  progress(): TorrentProgress {
    let connected = 0;
    let seeds = 0;
    let connecting = 0;
    let rate = 0;
    let uploadRate = 0;
    for (const peer of this.#peers.values()) {
      if (peer.connected) {
        connected++;
        if (peer.seed) seeds++;
      } else connecting++;
      rate += peer.stats?.downloadRate ?? 0;
      uploadRate += peer.stats?.uploadRate ?? 0;
    }
    const left = this.meta.length - this.#verifiedBytes;
    return {
      infoHash: this.meta.infoHashHex,
      name: this.meta.name,
      state: this.#state,
      length: this.meta.length,
      pieceCount: this.meta.pieceCount,
      verifiedPieces: this.#scheduler.verifiedCount,
      verifiedBytes: this.#verifiedBytes,
      writtenBytes: this.#writtenBytes,
      downloadedBytes: this.#downloadedBytes(),
      wastedBytes: this.#wastedBytes,
      hashFailures: this.#hashFailures,
      duplicatePieces: this.#duplicatePieces,
      downloadRate: rate,
      uploadedBytes: this.#uploadedBytes(),
      uploadRate,
      resumedBytes: this.#resumedBytes,
      etaSeconds: left === 0 ? 0 : rate > 0 ? left / rate : null,
      peers: { connected, seeds, connecting, known: this.#pool.candidates, banned: this.#banned },
      bytesInFlight: this.#scheduler.bytesInFlight,
      elapsedMs: Date.now() - this.#startedAt,
    };
  }

  /** The per-peer view, fastest first. */
  peerViews(): PeerView[] {
    const views: PeerView[] = [];
    for (const peer of this.#peers.values()) {
      if (!peer.connected) continue;
      views.push({
        actorId: peer.actorId,
        address: peer.key,
        client: peer.client,
        seed: peer.seed,
        downloaded: peer.stats?.downloaded ?? 0,
        downloadRate: peer.stats?.downloadRate ?? 0,
        queueDepth: peer.stats?.queueDepth ?? 0,
        targetQueueDepth: peer.stats?.targetQueueDepth ?? 0,
        peerChoking: peer.peerChoking,
        snubbed: peer.stats?.snubbed ?? false,
        assigned: this.#scheduler.heldBy(peer.actorId),
      });
    }
    return views.sort((a, b) => b.downloadRate - a.downloadRate);
  }

  /** Progress snapshots about once a second until the torrent is done, stopped or failed. */
  async *progressUpdates(): AsyncGenerator<TorrentProgress> {
    const queue: TorrentProgress[] = [];
    let wake: (() => void) | undefined;
    let finished = false;
    const onProgress = (progress: TorrentProgress) => {
      queue.push(progress);
      wake?.();
    };
    const onEnd = () => {
      finished = true;
      wake?.();
    };
    this.on('progress', onProgress);
    this.#done.then(onEnd, onEnd);
    try {
      for (;;) {
        const next = queue.shift();
        if (next) yield next;
        else if (finished) return;
        else await new Promise<void>((resolve) => (wake = resolve));
      }
    } finally {
      this.off('progress', onProgress);
    }
  }

  /** @internal Events from this torrent's actors, routed by the Engine. */
  handleEvent(event: Exclude<HostEvent, { type: 'stats' }>): void {
    const peer = this.#peers.get(event.actorId);
    if (!peer) return;
    const now = Date.now();
    switch (event.type) {
      case 'connected': {
        // Two tork-like peers that both dial each other end up with two connections: both sides
        // keep the one the peer with the smaller id started, so they agree on which to close.
        const twin = [...this.#peers.values()].find(
          (other) => other !== peer && other.connected && !other.closing && other.peerId === event.peerId,
        );
        if (twin) {
          const ours = Buffer.from(this.#ctx.peerId).toString('hex');
          const keepOutgoing = ours < event.peerId;
          const drop = peer.incoming === keepOutgoing ? peer : twin;
          this.#closePeer(drop, 'duplicate connection to the same peer');
          if (drop === peer) return;
        }
        peer.peerId = event.peerId;
        peer.connected = true;
        peer.client = event.client;
        this.#pool.connected(peer.key);
        this.#scheduler.addPeer(peer.actorId);
        // A connection attempt finished: its slot among the attempts is free for the next address
        // now, not at the next tick (200 peers took 8.6 s to connect at 24 a tick).
        this.#connectMore();
        this.emit('peer-connected', {
          actorId: peer.actorId,
          address: peer.key,
          client: event.client,
          peerId: event.peerId,
        });
        break;
      }
      case 'bitfield': {
        let field: Bitfield;
        try {
          field = new Bitfield(this.meta.pieceCount, event.bitfield);
        } catch (error) {
          this.#closePeer(peer, toTorkError(error).message);
          return;
        }
        this.#scheduler.peerBitfield(peer.actorId, field);
        peer.seed = field.complete;
        if (peer.seed && this.#state !== 'downloading') {
          this.#closePeer(peer, 'both seeds: nothing to trade');
          return;
        }
        this.#updateInterest(peer);
        this.#fill(peer);
        break;
      }
      case 'have': {
        for (const index of event.pieces) {
          if (index >= this.meta.pieceCount) {
            this.#closePeer(peer, `have for piece ${index} beyond ${this.meta.pieceCount}`);
            return;
          }
          this.#scheduler.peerHave(peer.actorId, index);
        }
        this.#updateInterest(peer);
        this.#fill(peer);
        break;
      }
      case 'choke': {
        peer.peerChoking = event.choked;
        if (!event.choked && peer.amInterested) peer.usefulAt = now;
        this.#fill(peer);
        break;
      }
      case 'piece':
        this.#onPiece(peer, event.index, event.data);
        break;
      case 'peer-interest': {
        peer.peerInterested = event.interested;
        // A newly interested peer gets a free slot now rather than at the next rechoke.
        if (event.interested && this.#choker.unchoked.size < (this.#options.uploadSlots ?? 4))
          this.#rechoke(true);
        break;
      }
      case 'unreadable':
        // The host stopped offering it; the data on disk no longer matches (or cannot be read).
        this.emit('piece-unreadable', {
          index: event.index,
          error: TorkError.fromPlain(event.error).toPlain(),
        });
        break;
      case 'hash-failed': {
        this.#wastedBytes += this.#scheduler.pieceSize(event.index);
        this.#hashFailures++;
        const { ban } = this.#scheduler.hashFailed(event.index, peer.actorId);
        if (ban) {
          this.#pool.ban(peer.key);
          this.#banned++;
          this.#closePeer(peer, `banned: sent data that failed the hash check`);
        } else this.#fill(peer);
        this.#fillAll();
        break;
      }
      case 'released': {
        // A snubbed actor keeps whatever it is given next and never gives it back (it stays
        // snubbed): new pieces would sit there for good. Its stats may not say so yet.
        if (event.reason === 'snubbed') peer.snubbed = true;
        this.#scheduler.released(peer.actorId, event.pieces, {
          peerLacks: event.reason === 'peer-lacks',
        });
        this.#fillAll();
        break;
      }
      case 'closed':
        this.#onClosed(peer, TorkError.fromPlain(event.error).toPlain());
        break;
    }
  }

  /** @internal Per-actor counters from a host's `stats` event. */
  handleStats(stats: ActorStats): void {
    const peer = this.#peers.get(stats.actorId);
    if (!peer) return;
    peer.stats = stats;
    peer.peerInterested = stats.peerInterested;
    if (stats.downloadRate > 0) peer.knownRate = stats.downloadRate;
  }

  #onPiece(peer: PeerRecord, index: number, data: ArrayBuffer): void {
    const size = this.#scheduler.pieceSize(index);
    if (data.byteLength !== size) {
      this.#closePeer(peer, `piece ${index} of ${data.byteLength} bytes, expected ${size}`);
      return;
    }
    peer.snubbed = false;
    this.#lastVerifiedAt = Date.now();
    const result = this.#scheduler.verified(index, peer.actorId);
    if (!result.accepted) {
      this.#wastedBytes += size;
      this.#duplicatePieces++;
      this.#recycle(peer.actorId, data);
      return;
    }
    peer.piecesReceived++;
    peer.usefulAt = Date.now();
    this.#verifiedBytes += size;
    this.#verifiedBatch.push(index);
    const now = Date.now();
    for (const { peer: other, index: piece } of result.cancel) {
      this.#send({ type: 'unassign', actorId: other, pieces: [piece] });
      // A copy won over a peer that has never delivered a byte in all this time: treat it as
      // snubbed now rather than hand it the next piece to sit on.
      const loser = this.#peers.get(other);
      if (loser && loser.knownRate === 0 && now - loser.openedAt > STALL_COPY_MS) loser.snubbed = true;
    }
    for (const actorId of result.uninteresting) {
      const other = this.#peers.get(actorId);
      if (other) this.#updateInterest(other);
    }
    const disk = this.#disk!;
    disk.write(index, new Uint8Array(data)).then(
      () => {
        this.#scheduler.written(index);
        this.#writtenBytes += size;
        this.#written.set(index);
        // Announced only once on disk: hosts read it back from there to serve it.
        this.#haveBatch.push(index);
        this.#onWritten(index);
        // The writer is done with the buffer: back to the host that filled it, for the next piece.
        this.#recycle(peer.actorId, data);
        // Each completed write frees budget and queue room: top peers up again.
        if (this.#scheduler.isComplete) this.#complete();
        else this.#fillAll();
      },
      (error: unknown) => this.#fail(toTorkError(error, TorkErrorCode.IO)),
    );
    this.#fill(peer);
  }

  #onClosed(peer: PeerRecord, error: PlainTorkError): void {
    this.#peers.delete(peer.actorId);
    this.#ctx.unregister(peer.actorId);
    this.#closedDownloaded += peer.stats?.downloaded ?? 0;
    this.#closedUploaded += peer.stats?.uploaded ?? 0;
    this.#choker.remove(peer.actorId);
    if (this.#scheduler.hasPeer(peer.actorId)) this.#scheduler.removePeer(peer.actorId);
    const banned = this.#pool.isBanned(peer.key);
    // We dialled our own listening port (a tracker lists us among the peers): never again.
    if (error.details.self) this.#pool.ban(peer.key);
    this.#pool.disconnected(peer.key, peer.piecesReceived === 0, Date.now());
    this.emit('peer-disconnected', { actorId: peer.actorId, address: peer.key, reason: error, banned });
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
    this.#send({ type: 'interest', actorId: peer.actorId, interested });
  }

  /** Tops up one peer's assigned pieces to what its rate can fetch in ~3 s. */
  #fill(peer: PeerRecord): void {
    if (this.#state !== 'downloading' || !peer.connected || peer.closing) return;
    if (peer.peerChoking || !peer.amInterested) return;
    if (peer.snubbed || (peer.stats?.snubbed ?? false)) return;
    const disk = this.#disk;
    if (disk?.needsDrain) {
      // Backpressure: the disk is behind; assignment resumes as writes complete (see #onPiece).
      return;
    }
    const rate = peer.knownRate;
    const held = this.#scheduler.heldBy(peer.actorId);
    const want = piecesForRate(rate, this.meta.pieceLength) - held;
    if (want <= 0) return;
    // While pieces keep arriving, endgame copies go only to peers that have proven fast: an
    // unmeasured peer holding the last copy of a piece is how a download stalls at 99 %. When
    // nothing has been verified for a while, the pieces in flight sit on slow peers: any idle
    // peer may then fetch a copy (the scheduler picks the oldest assignments).
    const quietMs = Date.now() - this.#lastVerifiedAt;
    const stalled = quietMs > STALL_COPY_MS;
    const measured = rate > 0;
    if (this.#scheduler.inEndgame && !measured && !stalled) return;
    // Copies (in the endgame every assignment is one; before it, an idle peer's when the budget is
    // full) only once verification has gone quiet. While pieces keep verifying, the holders are
    // doing fine and a copy arrives second: on a fast loopback swarm nearly every one did, 5–8 %
    // of a 2 GiB download fetched twice. A fast peer merely idle beside slower ones no longer
    // copies their pieces (it did at 8× the median rate); it gets work once the budget frees.
    const copies = quietMs >= ENDGAME_QUIET_MS;
    if (this.#scheduler.inEndgame && !copies) return;
    const duplicates =
      held === 0 && this.#scheduler.bytesPendingWrite < this.#scheduler.bytesInFlightBound / 2 && copies;
    const pieces = this.#scheduler.assign(peer.actorId, want, { duplicates });
    if (pieces.length > 0) this.#send({ type: 'assign', actorId: peer.actorId, pieces });
  }

  /** Unmeasured peers first (they must get work to be measured), then the fastest. */
  #fillAll(): void {
    if (this.#state !== 'downloading') return;
    const peers = [...this.#peers.values()].filter(
      (peer) => peer.connected && !peer.peerChoking && peer.amInterested,
    );
    peers.sort((a, b) => a.knownRate - b.knownRate);
    const unmeasured = peers.filter((peer) => peer.knownRate === 0);
    const measured = peers.filter((peer) => peer.knownRate > 0).reverse();
    for (const peer of [...unmeasured, ...measured]) this.#fill(peer);
  }

  #connectMore(): void {
    if (this.#state !== 'downloading' && this.#state !== 'seeding') return;
    const maxPeers = this.#options.maxPeers ?? 80;
    const maxConnecting = this.#options.maxConnecting ?? 24;
    let connecting = 0;
    for (const peer of this.#peers.values()) if (!peer.connected) connecting++;
    const room = Math.min(maxPeers - this.#peers.size, maxConnecting - connecting);
    if (room <= 0) return;
    const now = Date.now();
    for (const address of this.#pool.take(room, now)) {
      const { actorId } = this.#addPeer(address.host, address.port, false, now);
      this.#send({
        type: 'connect',
        actorId,
        torrentId: this.meta.infoHashHex,
        host: address.host,
        port: address.port,
      });
    }
    if (this.#peers.size < maxPeers / 2) this.#announcer?.requestPeers(now);
  }

  /** Peers that choke us or have nothing we need for a long time make room for untried ones. */
  #rotateUseless(now: number): void {
    const maxPeers = this.#options.maxPeers ?? 80;
    if (this.#peers.size < maxPeers || this.#pool.candidates === 0) return;
    const limitMs = (this.#options.uselessAfterSeconds ?? 60) * 1000;
    for (const peer of this.#peers.values()) {
      if (!peer.connected || peer.closing || now - peer.usefulAt < limitMs) continue;
      // A snubbed peer gets no pieces (see #fill): as useless as one that chokes us.
      const snubbed = peer.snubbed || (peer.stats?.snubbed ?? false);
      const useless = peer.peerChoking || !peer.amInterested || snubbed;
      if (useless && this.#scheduler.heldBy(peer.actorId) === 0) {
        this.#closePeer(
          peer,
          peer.peerChoking
            ? 'rotated out: choked us for too long'
            : peer.amInterested
              ? 'rotated out: snubbed us'
              : 'rotated out: has nothing we need',
        );
        return;
      }
    }
  }

  #onTick(): void {
    const now = Date.now();
    if (this.#state === 'downloading') {
      this.#rotateUseless(now);
      this.#connectMore();
      this.#fillAll();
    } else if (this.#state === 'seeding') this.#connectMore();
    this.#rechoke(false);
    this.#maybeSave(now);
    this.#emitBatches();
    this.emit('progress', this.progress());
    this.#flush();
  }

  #emitBatches(): void {
    if (this.#haveBatch.length > 0) {
      this.#send({ type: 'have', torrentId: this.meta.infoHashHex, pieces: this.#haveBatch });
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

  #complete(): void {
    if (this.#state !== 'downloading') return;
    const seeding = this.#options.seeding === true;
    this.#state = seeding ? 'seeding' : 'done';
    if (!seeding) clearInterval(this.#tick);
    this.#emitBatches();
    for (const peer of this.#peers.values()) {
      this.#updateInterest(peer);
      // Seeds have nothing for us and want nothing from us.
      if (peer.seed) this.#closePeer(peer, 'both seeds: nothing to trade');
    }
    this.#rechoke(true);
    this.#flush();
    this.#announcer?.completed();
    const progress = this.progress();
    this.emit('progress', progress);
    this.emit('done', progress);
    this.#resolveDone(progress);
  }

  #fail(error: TorkError): void {
    if (this.#state === 'failed' || this.#state === 'stopped' || this.#state === 'done') return;
    this.#state = 'failed';
    clearInterval(this.#tick);
    // The torrent has stopped: its peers go too, or their actors keep fetching pieces nobody writes.
    for (const peer of this.#peers.values()) this.#closePeer(peer, 'torrent failed');
    this.emit('error', { error: error.toPlain() });
    this.#rejectDone(error);
  }

  #closePeer(peer: PeerRecord, reason: string): void {
    if (peer.closing) return;
    peer.closing = true;
    this.#send({ type: 'close', actorId: peer.actorId, reason });
  }

  /** Runs the choker (only when a rechoke is due, unless forced) and sends what changed. */
  #rechoke(force: boolean): void {
    if (this.#state !== 'downloading' && this.#state !== 'seeding') return;
    const peers: ChokerPeer[] = [];
    for (const peer of this.#peers.values()) {
      if (!peer.connected || peer.closing) continue;
      peers.push({
        actorId: peer.actorId,
        interested: peer.peerInterested,
        downloadRate: peer.stats?.downloadRate ?? 0,
        uploadRate: peer.stats?.uploadRate ?? 0,
        connectedAt: peer.openedAt,
        seed: peer.seed,
      });
    }
    const { unchoked, changed } = this.#choker.update(peers, Date.now(), this.#state === 'seeding', force);
    if (!changed && !force) return;
    // Chokes before unchokes: never more peers unchoked than the slots, even within one batch.
    for (const pass of [false, true]) {
      for (const peer of this.#peers.values()) {
        if (!peer.connected || peer.closing) continue;
        const wanted = unchoked.has(peer.actorId);
        if (wanted === peer.unchoked || wanted !== pass) continue;
        peer.unchoked = wanted;
        this.#send({ type: 'choke', actorId: peer.actorId, choked: !wanted });
      }
    }
  }

  /**
   * A connection the Listener accepted for this torrent. False when the torrent cannot take it
   * (not running, or at its peer limit): the Listener then closes it.
   */
  acceptIncoming(peer: IncomingConnection): boolean {
    if (this.#state !== 'downloading' && this.#state !== 'seeding') return false;
    const maxPeers = this.#options.maxPeers ?? 80;
    if (this.#peers.size >= maxPeers) return false;
    const colon = peer.address.lastIndexOf(':');
    const host = peer.address.slice(0, colon).replace(/^\[|\]$/g, '');
    const port = Number(peer.address.slice(colon + 1));
    if (this.#pool.isBanned(peerKey(host, port))) return false;
    const { actorId } = this.#addPeer(host, port, true, Date.now());
    this.#send({
      type: 'accept',
      actorId,
      torrentId: this.meta.infoHashHex,
      address: peer.address,
      relay: peer.relay,
      initial: peer.initial,
    });
    return true;
  }

  /** A new connection's record (dialled or accepted), registered with the engine. */
  #addPeer(host: string, port: number, incoming: boolean, now: number): PeerRecord {
    const record: PeerRecord = {
      actorId: this.#ctx.nextActorId(),
      key: peerKey(host, port),
      host,
      port,
      openedAt: now,
      incoming,
      peerId: '',
      peerInterested: false,
      unchoked: false,
      connected: false,
      client: '',
      peerChoking: true,
      amInterested: false,
      seed: false,
      stats: undefined,
      usefulAt: now,
      piecesReceived: 0,
      knownRate: 0,
      snubbed: false,
      closing: false,
    };
    this.#peers.set(record.actorId, record);
    this.#ctx.register(record.actorId, this);
    return record;
  }

  #uploadedBytes(): number {
    let total = this.#closedUploaded;
    for (const peer of this.#peers.values()) total += peer.stats?.uploaded ?? 0;
    return total;
  }

  #downloadedBytes(): number {
    let total = this.#closedDownloaded;
    for (const peer of this.#peers.values()) total += peer.stats?.downloaded ?? 0;
    // Actor stats arrive once a second: a short download can finish before the first.
    return Math.max(total, this.#verifiedBytes - this.#resumedBytes + this.#wastedBytes);
  }

  /** Queues a written (or unwanted) piece buffer to go back to its host with the next batch. */
  #recycle(actorId: number, buffer: ArrayBuffer): void {
    let batch = this.#recycleBatch.get(actorId);
    if (!batch) {
      batch = [];
      this.#recycleBatch.set(actorId, batch);
    }
    batch.push(buffer);
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      setImmediate(() => this.#flush());
    }
  }

  #send(command: HostCommand): void {
    this.#outbox.push(command);
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      // One batch per turn of the event loop: commands produced while handling one event batch
      // travel together.
      setImmediate(() => this.#flush());
    }
  }

  #flush(): void {
    this.#flushScheduled = false;
    for (const [actorId, buffers] of this.#recycleBatch) {
      this.#outbox.push({ type: 'recycle', actorId, buffers });
    }
    this.#recycleBatch.clear();
    if (this.#outbox.length === 0) return;
    const commands = this.#outbox;
    this.#outbox = [];
    this.#ctx.actors.send(commands);
  }
}
