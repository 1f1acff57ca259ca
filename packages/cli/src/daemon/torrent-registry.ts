import { EventEmitter } from 'node:events';
import { readdir, rm } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import {
  DEFAULT_MAX_PEERS,
  DEFAULT_UPLOAD_SLOTS,
  defaultResumeDir,
  type Engine,
  type FilePriority,
  type Metainfo,
  parseMagnet,
  parseMetainfo,
  type RateLimits,
  TorkError,
  TorkErrorCode,
  type Torrent,
  type TorrentProgress,
  torrentFile,
  toTorkError,
  v2PieceChecks,
} from '@tork/core';
import { parsePeerAddress } from '../args.js';
import { attachJsonEvents, attachJsonFetchEvents } from '../progress/json-events.js';
import type { DaemonState, StateFile, TorrentRecord } from './daemon-state.js';

/** One event of one torrent, as `--json` names it, for the event stream. */
export interface TorrentEvent {
  readonly torrentId: string;
  readonly event: string;
  readonly data: object;
}

/** What the registry knows of a torrent beyond its record: the running one, or why it is not running. */
interface Entry {
  record: TorrentRecord;
  /** The running torrent; undefined while paused, fetching its metadata, or failed at start. */
  torrent?: Torrent;
  meta?: Metainfo;
  /** The magnet's metadata is being fetched. */
  fetching: boolean;
  /** The last progress seen, kept while paused. */
  last?: TorrentProgress;
  error?: { code: string; message: string };
  /** Which start is the current one: a start given up by a pause must not touch the next one's state. */
  run: number;
}

/** A torrent to add, checked by the API's schema first. */
export interface AddRequest {
  readonly metainfo?: Uint8Array;
  readonly magnet?: string;
  readonly outDir: string;
  readonly paused: boolean;
  readonly filePriorities?: readonly FilePriority[];
  /** Peers to dial, `host:port` (checked by the caller); kept in the record for later runs. */
  readonly peers?: readonly string[];
}

/** A torrent as the API lists it. */
export interface TorrentSummary {
  readonly id: string;
  readonly name: string;
  readonly state: string;
  readonly outDir: string;
  readonly paused: boolean;
  readonly length: number;
  readonly wantedBytes: number;
  readonly verifiedBytes: number;
  readonly progress: number;
  readonly downloadRate: number;
  readonly uploadRate: number;
  readonly downloadedBytes: number;
  readonly uploadedBytes: number;
  readonly resumedBytes: number;
  readonly peers: number;
  readonly rateLimits: RateLimits;
  /** Its peer limit (its own, or the default). */
  readonly maxPeers: number;
  /** Its regular upload slots (its own, or the default). */
  readonly uploadSlots: number;
  readonly addedAt: number;
  readonly error: { code: string; message: string } | null;
}

/**
 * A change of limits (a torrent's, or the session's over all torrents): a field left out is
 * unchanged; null lifts a rate cap or puts a peer limit back to its default.
 */
export interface LimitsChange {
  /** Bytes a second. */
  readonly download?: number | null;
  /** Bytes a second. */
  readonly upload?: number | null;
  readonly maxPeers?: number | null;
  readonly uploadSlots?: number | null;
}

/** The session's peer caps over all torrents. */
export interface SessionPeerLimits {
  readonly maxPeers: number;
  /** Undefined: no cap on upload slots over all torrents. */
  readonly uploadSlots: number | undefined;
}

/** The daemon's caps over all torrents when neither the command line nor the API set them. */
export interface PeerLimitDefaults {
  /** Default: `DEFAULT_DAEMON_MAX_PEERS`. */
  readonly maxPeers?: number;
  /** Default: none. */
  readonly uploadSlots?: number;
}

/** Peer connections over all of the daemon's torrents when `--max-peers` is not given. */
export const DEFAULT_DAEMON_MAX_PEERS = 500;

function changedRates(old: RateLimits, change: LimitsChange): RateLimits {
  const pick = (key: 'download' | 'upload') => {
    const value = change[key] === undefined ? old[key] : change[key];
    return value ? { [key]: value } : {};
  };
  return { ...pick('download'), ...pick('upload') };
}

function notFound(id: string): TorkError {
  return new TorkError(TorkErrorCode.API_NOT_FOUND, `no torrent ${id}`);
}

/**
 * The daemon's torrents: which are added, paused or running, with their records persisted in the
 * state file on every change. Pause stops a torrent in the engine (connections closed, resume data
 * saved) and keeps it listed; resume adds it again, and it picks up from its resume data. Torrents
 * keep seeding once complete. Emits `event` (TorrentEvent) for every `--json` event of every torrent.
 */
export class TorrentRegistry extends EventEmitter<{ event: [TorrentEvent] }> {
  readonly #engine: Engine;
  readonly #state: DaemonState;
  readonly #entries = new Map<string, Entry>();
  #sessionLimits: RateLimits = {};
  /** The session's peer caps as set through the API (kept in the state file); the rest are the defaults'. */
  #sessionPeerLimits: NonNullable<StateFile['sessionPeerLimits']> = {};
  readonly #peerDefaults: { maxPeers: number; uploadSlots: number | undefined };
  #closed = false;

  /** `defaults`: the caps over all torrents the command line gave (`--max-peers`, `--upload-slots`). */
  constructor(engine: Engine, state: DaemonState, defaults: PeerLimitDefaults = {}) {
    super();
    this.#engine = engine;
    this.#state = state;
    this.#peerDefaults = {
      maxPeers: defaults.maxPeers ?? DEFAULT_DAEMON_MAX_PEERS,
      uploadSlots: defaults.uploadSlots,
    };
    this.#applySessionPeerLimits();
  }

  #applySessionPeerLimits(): void {
    const saved = this.#sessionPeerLimits;
    this.#engine.setPeerLimits({
      maxPeers: saved.maxPeers ?? this.#peerDefaults.maxPeers,
      uploadSlots:
        saved.uploadSlots === undefined ? this.#peerDefaults.uploadSlots : (saved.uploadSlots ?? undefined),
    });
  }

  /** Reads the state file and starts every torrent that was not paused (each from its resume data). */
  async restore(): Promise<void> {
    const saved = await this.#state.load();
    this.#sessionLimits = saved.sessionLimits;
    this.#engine.setRateLimits(saved.sessionLimits);
    this.#sessionPeerLimits = saved.sessionPeerLimits ?? {};
    this.#applySessionPeerLimits();
    for (const record of saved.torrents) {
      const entry: Entry = { record, fetching: false, run: 0 };
      try {
        if (record.metainfo) entry.meta = parseMetainfo(Buffer.from(record.metainfo, 'base64'));
      } catch (error) {
        // One bad record does not keep the others from starting: it is listed as failed.
        const plain = toTorkError(error).toPlain();
        entry.error = { code: plain.code, message: plain.message };
      }
      this.#entries.set(record.infoHash, entry);
    }
    for (const entry of this.#entries.values()) if (!entry.record.paused && !entry.error) this.#start(entry);
  }

  /** The rate caps over all torrents. */
  get sessionLimits(): RateLimits {
    return this.#sessionLimits;
  }

  /** The peer caps over all torrents: connections, upload slots (undefined: no cap). */
  get sessionPeerLimits(): SessionPeerLimits {
    return this.#engine.peerLimits;
  }

  /** New caps over all torrents (see `LimitsChange`); applied at once and kept in the state file. */
  async setSessionLimits(change: LimitsChange): Promise<void> {
    this.#sessionLimits = changedRates(this.#sessionLimits, change);
    this.#engine.setRateLimits(this.#sessionLimits);
    const peers = { ...this.#sessionPeerLimits };
    if (change.maxPeers !== undefined) {
      if (change.maxPeers === null) delete peers.maxPeers;
      else peers.maxPeers = change.maxPeers;
    }
    // 0 is kept as null: "no cap", overriding --upload-slots; null goes back to --upload-slots.
    if (change.uploadSlots === null) delete peers.uploadSlots;
    else if (change.uploadSlots !== undefined)
      peers.uploadSlots = change.uploadSlots === 0 ? null : change.uploadSlots;
    this.#sessionPeerLimits = peers;
    this.#applySessionPeerLimits();
    await this.#save();
  }

  /** Adds a torrent (a .torrent's bytes or a magnet) and starts it unless `paused`. */
  async add(request: AddRequest): Promise<TorrentSummary> {
    let meta: Metainfo | undefined;
    let infoHash: string;
    if (request.metainfo) {
      meta = parseMetainfo(request.metainfo);
      // Refused here rather than listed as failed: without layers the pieces cannot be verified yet.
      if (meta.version === 2 && v2PieceChecks(meta) === undefined) {
        throw new TorkError(
          TorkErrorCode.METAINFO,
          'v2-only torrents without their piece layers cannot be downloaded yet',
        );
      }
      infoHash = meta.infoHashHex;
    } else if (request.magnet) {
      const magnet = parseMagnet(request.magnet);
      infoHash = magnet.infoHashHex;
    } else {
      throw new TorkError(TorkErrorCode.API_BAD_REQUEST, 'give a magnet, a path or a metainfo');
    }
    if (this.#entries.has(infoHash))
      throw new TorkError(TorkErrorCode.API_CONFLICT, `torrent ${infoHash} is already added`);
    if (meta && request.filePriorities && request.filePriorities.length !== meta.files.length)
      throw new TorkError(
        TorkErrorCode.API_BAD_REQUEST,
        `select has ${request.filePriorities.length} priorities; the torrent has ${meta.files.length} files`,
      );
    const record: TorrentRecord = {
      infoHash,
      ...(request.metainfo ? { metainfo: Buffer.from(request.metainfo).toString('base64') } : {}),
      ...(request.magnet ? { magnet: request.magnet } : {}),
      outDir: resolve(request.outDir),
      ...(request.filePriorities ? { filePriorities: [...request.filePriorities] } : {}),
      rateLimits: {},
      ...(request.peers?.length ? { peers: [...request.peers] } : {}),
      paused: request.paused,
      addedAt: Date.now(),
    };
    const entry: Entry = { record, fetching: false, run: 0, ...(meta ? { meta } : {}) };
    this.#entries.set(infoHash, entry);
    await this.#save();
    if (!request.paused) this.#start(entry);
    return this.summary(infoHash);
  }

  /** The entry for a full info-hash or a unique prefix of one (at least 6 hex digits). */
  #find(id: string): Entry {
    const exact = this.#entries.get(id);
    if (exact) return exact;
    if (/^[0-9a-f]{6,39}$/.test(id)) {
      const matches = [...this.#entries.keys()].filter((key) => key.startsWith(id));
      if (matches.length === 1) return this.#entries.get(matches[0]!)!;
    }
    throw notFound(id);
  }

  /** The full info-hash `id` names. */
  resolveId(id: string): string {
    return this.#find(id).record.infoHash;
  }

  get ids(): string[] {
    return [...this.#entries.keys()];
  }

  /** The running torrent, if it runs (for detail views: files, peers). */
  torrent(id: string): Torrent | undefined {
    return this.#find(id).torrent;
  }

  meta(id: string): Metainfo | undefined {
    return this.#find(id).meta;
  }

  record(id: string): TorrentRecord {
    return this.#find(id).record;
  }

  summary(id: string): TorrentSummary {
    const entry = this.#find(id);
    const { record } = entry;
    const progress = entry.torrent?.progress() ?? entry.last;
    const length = entry.meta?.length ?? 0;
    const wanted = progress?.wantedBytes ?? length;
    const verified = progress?.verifiedBytes ?? 0;
    const state = entry.error
      ? 'failed'
      : record.paused
        ? 'paused'
        : entry.fetching
          ? 'metadata'
          : (progress?.state ?? 'starting');
    return {
      id: record.infoHash,
      name: entry.meta?.name ?? (record.magnet ? (parseMagnet(record.magnet).name ?? '') : ''),
      state,
      outDir: record.outDir,
      paused: record.paused,
      length,
      wantedBytes: wanted,
      verifiedBytes: verified,
      progress: wanted > 0 ? Math.min(1, verified / wanted) : 0,
      downloadRate: entry.torrent ? (progress?.downloadRate ?? 0) : 0,
      uploadRate: entry.torrent ? (progress?.uploadRate ?? 0) : 0,
      downloadedBytes: progress?.downloadedBytes ?? 0,
      uploadedBytes: progress?.uploadedBytes ?? 0,
      resumedBytes: progress?.resumedBytes ?? 0,
      peers: entry.torrent?.peerViews().length ?? 0,
      rateLimits: record.rateLimits,
      maxPeers: record.maxPeers ?? DEFAULT_MAX_PEERS,
      uploadSlots: record.uploadSlots ?? DEFAULT_UPLOAD_SLOTS,
      addedAt: record.addedAt,
      error: entry.error ?? null,
    };
  }

  list(): TorrentSummary[] {
    return [...this.#entries.values()]
      .sort((a, b) => a.record.addedAt - b.record.addedAt)
      .map((entry) => this.summary(entry.record.infoHash));
  }

  /** Stops the torrent (connections closed, resume data saved); it stays listed, paused. */
  async pause(id: string): Promise<void> {
    const entry = this.#find(id);
    entry.record.paused = true;
    await this.#save();
    await this.#stop(entry);
  }

  /** Adds a paused (or failed) torrent again: it resumes from its resume data. */
  async resume(id: string): Promise<void> {
    const entry = this.#find(id);
    if (!entry.record.paused && !entry.error && (entry.torrent || entry.fetching)) return;
    // A failed torrent is stopped and forgotten by the engine before it is added again.
    if (entry.error) await this.#stop(entry);
    entry.record.paused = false;
    delete entry.error;
    await this.#save();
    this.#start(entry);
  }

  /**
   * Removes the torrent; with `deleteData`, also its files and resume data, and nothing else: only
   * paths inside its own output path (`<outDir>/<name>`) and its resume files.
   */
  async remove(id: string, deleteData: boolean): Promise<void> {
    const entry = this.#find(id);
    this.#entries.delete(entry.record.infoHash);
    await this.#save();
    await this.#stop(entry);
    if (!deleteData) return;
    const outDir = entry.record.outDir;
    if (entry.meta) {
      const target = resolve(outDir, entry.meta.name);
      const inside = relative(outDir, target);
      if (inside === '' || inside.startsWith('..') || resolve(outDir, inside) !== target)
        throw new TorkError(TorkErrorCode.UNSAFE_PATH, `${target} is not inside ${outDir}`);
      await rm(target, { recursive: true, force: true });
    }
    const resumeDir = defaultResumeDir(outDir);
    const names = await readdir(resumeDir).catch(() => [] as string[]);
    for (const name of names)
      if (name.startsWith(entry.record.infoHash)) await rm(join(resumeDir, name), { force: true });
  }

  /** New file priorities (one per file); applied at once if the torrent runs, and kept. */
  async setFiles(id: string, priorities: readonly FilePriority[]): Promise<void> {
    const entry = this.#find(id);
    if (!entry.meta) throw new TorkError(TorkErrorCode.API_CONFLICT, 'the metadata is not known yet');
    if (priorities.length !== entry.meta.files.length)
      throw new TorkError(
        TorkErrorCode.API_BAD_REQUEST,
        `${priorities.length} priorities for ${entry.meta.files.length} files`,
      );
    entry.record.filePriorities = [...priorities];
    await this.#save();
    await entry.torrent?.files.setPriorities(priorities);
  }

  /**
   * New limits for one torrent (see `LimitsChange`: a field left out is unchanged); applied at once
   * if it runs (a lower `maxPeers` closes the surplus connections, worst first), and kept.
   */
  async setLimits(id: string, change: LimitsChange): Promise<void> {
    const entry = this.#find(id);
    const { record } = entry;
    record.rateLimits = changedRates(record.rateLimits, change);
    for (const key of ['maxPeers', 'uploadSlots'] as const) {
      const value = change[key];
      if (value === null) delete record[key];
      else if (value !== undefined) record[key] = value;
    }
    await this.#save();
    entry.torrent?.rates.set(record.rateLimits);
    entry.torrent?.limits.set({
      maxPeers: record.maxPeers ?? DEFAULT_MAX_PEERS,
      uploadSlots: record.uploadSlots ?? DEFAULT_UPLOAD_SLOTS,
    });
  }

  /** Stops every torrent (resume data saved); the records stay as they are. */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all([...this.#entries.values()].map((entry) => this.#stop(entry)));
  }

  async #stop(entry: Entry): Promise<void> {
    const torrent = entry.torrent;
    if (!torrent) {
      // A magnet still fetching its metadata: the fetch is given up (its peers closed) at once.
      if (entry.fetching) await this.#engine.remove(entry.record.infoHash);
      return;
    }
    delete entry.torrent;
    await this.#engine.remove(torrent.meta.infoHashHex);
    entry.last = torrent.progress();
  }

  /** Adds the torrent to the engine, in the background: a failure is kept in its entry and evented. */
  #start(entry: Entry): void {
    const { record } = entry;
    const run = ++entry.run;
    const id = record.infoHash;
    const emit = (event: string, data: object) => this.emit('event', { torrentId: id, event, data });
    const common = {
      outDir: record.outDir,
      peers: (record.peers ?? []).map(parsePeerAddress),
      seeding: true,
      rateLimits: record.rateLimits,
      ...(record.maxPeers !== undefined ? { maxPeers: record.maxPeers } : {}),
      ...(record.uploadSlots !== undefined ? { uploadSlots: record.uploadSlots } : {}),
      ...(record.filePriorities ? { filePriorities: record.filePriorities } : {}),
    };
    const setup = (torrent: Torrent) => {
      entry.torrent = torrent;
      attachJsonEvents(torrent, emit);
      torrent.on('error', ({ error }) => {
        entry.error = { code: error.code, message: error.message };
      });
    };
    const started = async () => {
      if (entry.meta) {
        await this.#engine.add({ ...common, meta: entry.meta }, setup);
        return;
      }
      const magnet = parseMagnet(record.magnet!);
      entry.fetching = true;
      const torrent = await this.#engine.addMagnet({ ...common, magnet }, setup, (fetch) =>
        attachJsonFetchEvents(fetch, emit),
      );
      if (entry.run === run) entry.fetching = false;
      entry.meta = torrent.meta as Metainfo;
      record.metainfo = Buffer.from(torrentFile(entry.meta.infoBytes, magnet.trackers)).toString('base64');
      // Paused or removed while its metadata was on the way: it stops now.
      if (this.#closed || record.paused || this.#entries.get(id) !== entry) await this.#stop(entry);
      if (this.#entries.get(id) === entry) await this.#save();
    };
    started().catch((error: unknown) => {
      // A pause gave this start up, and a resume may have begun the next: that one's state stays.
      if (entry.run !== run) return;
      entry.fetching = false;
      delete entry.torrent;
      if (this.#closed || record.paused || this.#entries.get(id) !== entry) return;
      const plain = toTorkError(error).toPlain();
      entry.error = { code: plain.code, message: plain.message };
      emit('error', { error: plain });
    });
  }

  #save(): Promise<void> {
    const state: StateFile = {
      version: 1,
      sessionLimits: this.#sessionLimits,
      ...(Object.keys(this.#sessionPeerLimits).length > 0
        ? { sessionPeerLimits: this.#sessionPeerLimits }
        : {}),
      torrents: [...this.#entries.values()].map((entry) => entry.record),
    };
    return this.#state.save(state);
  }
}
