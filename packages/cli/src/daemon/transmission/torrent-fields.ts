import type { FilePriority, Metainfo, PeerView, Torrent } from '@tork/core';
import type { z } from 'zod';
import type { TorrentRecord } from '../daemon-state.js';
import type { TorrentSummary } from '../torrent-registry.js';
import type { RpcTorrent, RpcTorrentField, rpcPeer } from './rpc-schemas.js';

/** Transmission's torrent states (`tr_torrent_activity`). */
export const TransmissionStatus = {
  STOPPED: 0,
  CHECK_WAIT: 1,
  CHECK: 2,
  DOWNLOAD_WAIT: 3,
  DOWNLOAD: 4,
  SEED_WAIT: 5,
  SEED: 6,
} as const;

/** Transmission's `eta` when there is none (done or stopped), and when the rate is unknown. */
export const ETA_NOT_AVAILABLE = -1;
export const ETA_UNKNOWN = -2;
/** `uploadRatio` with nothing downloaded. */
export const RATIO_NOT_AVAILABLE = -1;
/** Transmission's `error` for a local error (disk, metadata): tork's failures are all local. */
export const ERROR_LOCAL = 3;

/** Everything the mapping reads about one torrent. */
export interface TorrentSource {
  readonly id: number;
  readonly summary: TorrentSummary;
  readonly record: TorrentRecord;
  readonly meta: Metainfo | undefined;
  readonly torrent: Torrent | undefined;
  /** Bytes of each file in verified pieces (live while it runs, else as last seen). */
  fileBytes(): readonly number[];
}

/**
 * tork's state → Transmission's status: a paused or failed torrent is stopped (the failure shows in
 * `error`), `starting` checks its resume data against the disk, a magnet fetching its metadata is
 * downloading (as in Transmission), and a complete torrent seeds.
 */
export function transmissionStatus(state: string): number {
  switch (state) {
    case 'starting':
      return TransmissionStatus.CHECK;
    case 'metadata':
    case 'downloading':
      return TransmissionStatus.DOWNLOAD;
    case 'seeding':
    case 'done':
      return TransmissionStatus.SEED;
    default:
      return TransmissionStatus.STOPPED;
  }
}

/** Transmission's file priority numbers; `skip` is `wanted: false` at normal priority. */
export function priorityNumber(priority: FilePriority): -1 | 0 | 1 {
  return priority === 'low' ? -1 : priority === 'high' ? 1 : 0;
}

/** `host:port` or `[v6]:port` → its parts. */
export function splitAddress(address: string): { address: string; port: number } {
  const match = /^\[?([^\]]*?)\]?:(\d+)$/.exec(address);
  return match ? { address: match[1]!, port: Number(match[2]) } : { address, port: 0 };
}

/**
 * Transmission's peer flags, those tork knows: D downloading from it, d it chokes us while we still
 * want pieces (`wanting`),
 * U uploading to it, u it wants to and we choke it, E encrypted (RC4), T µTP, I incoming, H from the
 * DHT, X from peer exchange.
 */
export function flagString(peer: PeerView, wanting: boolean): string {
  let flags = '';
  if (peer.downloadRate > 0 && !peer.peerChoking) flags += 'D';
  else if (peer.peerChoking && wanting) flags += 'd';
  if (peer.uploadRate > 0 && !peer.amChoking) flags += 'U';
  else if (peer.amChoking && peer.requestsQueued > 0) flags += 'u';
  if (peer.encryption === 'rc4') flags += 'E';
  if (peer.transport === 'utp') flags += 'T';
  if (peer.source === 'incoming') flags += 'I';
  if (peer.source === 'dht') flags += 'H';
  if (peer.source === 'pex') flags += 'X';
  return flags;
}

function peerEntry(
  peer: PeerView,
  pieces: number,
  pieceCount: number,
  wanting: boolean,
): z.infer<typeof rpcPeer> {
  const { address, port } = splitAddress(peer.address);
  return {
    address,
    port,
    clientName: peer.client,
    clientIsChoked: peer.peerChoking,
    flagStr: flagString(peer, wanting),
    isDownloadingFrom: peer.downloadRate > 0 && !peer.peerChoking,
    isEncrypted: peer.encryption === 'rc4',
    isIncoming: peer.source === 'incoming',
    isUploadingTo: peer.uploadRate > 0 && !peer.amChoking,
    isUTP: peer.transport === 'utp',
    peerIsChoked: peer.amChoking,
    progress: peer.seed ? 1 : pieceCount > 0 ? Math.min(1, pieces / pieceCount) : 0,
    rateToClient: Math.round(peer.downloadRate),
    rateToPeer: Math.round(peer.uploadRate),
  };
}

function magnetLink(source: TorrentSource): string {
  if (source.record.magnet) return source.record.magnet;
  const meta = source.meta;
  const parts = [`xt=urn:btih:${source.record.infoHash}`];
  if (meta) {
    parts.push(`dn=${encodeURIComponent(meta.name)}`);
    for (const url of meta.announce.flat()) parts.push(`tr=${encodeURIComponent(url)}`);
  }
  return `magnet:?${parts.join('&')}`;
}

/** What several fields share, computed once per torrent and request. */
class Derived {
  readonly #source: TorrentSource;
  #peers: PeerView[] | undefined;
  #fileBytes: readonly number[] | undefined;

  constructor(source: TorrentSource) {
    this.#source = source;
  }

  get peers(): PeerView[] {
    this.#peers ??= this.#source.torrent?.peerViews() ?? [];
    return this.#peers;
  }

  get priorities(): FilePriority[] {
    const { torrent, record, meta } = this.#source;
    return torrent?.files.priorities ?? record.filePriorities ?? (meta?.files ?? []).map(() => 'normal');
  }

  get fileBytes(): readonly number[] {
    this.#fileBytes ??= this.#source.fileBytes();
    return this.#fileBytes;
  }

  get left(): number {
    const { wantedBytes, verifiedBytes } = this.#source.summary;
    return Math.max(0, Math.round(wantedBytes - verifiedBytes));
  }
}

type FieldGetter<K extends RpcTorrentField> = (source: TorrentSource, derived: Derived) => RpcTorrent[K];

/** Each field tork answers, from the torrent's summary, record, metadata and live state. */
const FIELDS: { [K in RpcTorrentField]-?: FieldGetter<K> } = {
  id: (s) => s.id,
  hashString: (s) => s.record.infoHash,
  name: (s) => s.summary.name,
  status: (s) => transmissionStatus(s.summary.state),
  error: (s) => (s.summary.error ? ERROR_LOCAL : 0),
  errorString: (s) => (s.summary.error ? `${s.summary.error.code}: ${s.summary.error.message}` : ''),
  eta: (s, d) => {
    if (s.summary.paused || s.summary.error) return ETA_NOT_AVAILABLE;
    // A magnet still fetching its metadata has nothing left that is known, and is not done.
    if (!s.meta) return ETA_UNKNOWN;
    if (d.left === 0) return ETA_NOT_AVAILABLE;
    return s.summary.downloadRate > 0 ? Math.round(d.left / s.summary.downloadRate) : ETA_UNKNOWN;
  },
  etaIdle: () => ETA_NOT_AVAILABLE,
  percentDone: (s, d) =>
    s.summary.wantedBytes > 0 ? (s.summary.wantedBytes - d.left) / s.summary.wantedBytes : 0,
  metadataPercentComplete: (s) => (s.meta ? 1 : 0),
  recheckProgress: () => 0,
  sizeWhenDone: (s) => Math.round(s.summary.wantedBytes),
  leftUntilDone: (_, d) => d.left,
  totalSize: (s) => s.summary.length,
  haveValid: (s) => Math.round(s.summary.verifiedBytes),
  haveUnchecked: () => 0,
  desiredAvailable: (_, d) => (d.peers.some((peer) => peer.seed) ? d.left : 0),
  corruptEver: (s) => s.torrent?.progress().wastedBytes ?? 0,
  rateDownload: (s) => Math.round(s.summary.downloadRate),
  rateUpload: (s) => Math.round(s.summary.uploadRate),
  peersConnected: (s) => s.summary.peers,
  'peer-limit': (s) => s.summary.maxPeers,
  peersGettingFromUs: (_, d) => d.peers.filter((peer) => peer.uploadRate > 0).length,
  peersSendingToUs: (_, d) => d.peers.filter((peer) => peer.downloadRate > 0).length,
  // Connected peers by where their address came from; tork's hand-given peers (`--peer`, a
  // magnet's `x.pe`) have no Transmission counterpart and are not counted.
  peersFrom: (s) => {
    const sources = s.torrent?.progress().peers.sources ?? {};
    return {
      fromCache: 0,
      fromDht: sources.dht ?? 0,
      fromIncoming: sources.incoming ?? 0,
      fromLpd: sources.lsd ?? 0,
      fromLtep: 0,
      fromPex: sources.pex ?? 0,
      fromTracker: sources.tracker ?? 0,
    };
  },
  uploadedEver: (s) => Math.round(s.summary.uploadedBytes),
  downloadedEver: (s) => Math.round(s.summary.downloadedBytes),
  uploadRatio: (s) => {
    const base = s.summary.downloadedBytes || s.summary.verifiedBytes;
    return base > 0 ? s.summary.uploadedBytes / base : RATIO_NOT_AVAILABLE;
  },
  // Transmission's "finished" is "reached its seed ratio or idle limit": tork seeds until told to stop.
  isFinished: () => false,
  isPrivate: (s) => s.meta?.private ?? false,
  downloadDir: (s) => s.record.outDir,
  addedDate: (s) => Math.floor(s.record.addedAt / 1000),
  dateCreated: (s) => s.meta?.creationDate ?? 0,
  comment: (s) => s.meta?.comment ?? '',
  creator: (s) => s.meta?.createdBy ?? '',
  pieceCount: (s) => s.meta?.pieceCount ?? 0,
  pieceSize: (s) => s.meta?.pieceLength ?? 0,
  magnetLink: (s) => magnetLink(s),
  labels: () => [],
  bandwidthPriority: () => 0,
  // The session's caps apply to every torrent, on top of its own.
  honorsSessionLimits: () => true,
  downloadLimit: (s) => Math.round((s.record.rateLimits.download ?? 0) / 1000),
  downloadLimited: (s) => s.record.rateLimits.download !== undefined,
  uploadLimit: (s) => Math.round((s.record.rateLimits.upload ?? 0) / 1000),
  uploadLimited: (s) => s.record.rateLimits.upload !== undefined,
  // 2: unlimited (tork keeps seeding until the torrent is stopped or removed).
  seedRatioMode: () => 2,
  seedRatioLimit: () => 0,
  seedIdleMode: () => 2,
  seedIdleLimit: () => 0,
  webseeds: (s) => [...(s.meta?.urlList ?? [])],
  'file-count': (s) => s.meta?.files.length ?? 0,
  files: (s, d) =>
    (s.meta?.files ?? []).map((file, index) => ({
      name: (s.meta!.isMultiFile ? [s.meta!.name, ...file.path] : file.path).join('/'),
      length: file.length,
      bytesCompleted: d.fileBytes[index] ?? 0,
    })),
  fileStats: (s, d) => {
    const priorities = d.priorities;
    return (s.meta?.files ?? []).map((_, index) => ({
      bytesCompleted: d.fileBytes[index] ?? 0,
      wanted: priorities[index] !== 'skip',
      priority: priorityNumber(priorities[index] ?? 'normal'),
    }));
  },
  priorities: (_, d) => d.priorities.map(priorityNumber),
  wanted: (_, d) => d.priorities.map((priority) => priority !== 'skip'),
  peers: (s, d) =>
    d.peers.map((peer) =>
      peerEntry(peer, s.torrent?.peerPieceCount(peer.actorId) ?? 0, s.meta?.pieceCount ?? 0, d.left > 0),
    ),
  trackers: (s) => {
    let id = 0;
    return (s.meta?.announce ?? []).flatMap((tier, index) =>
      tier.map((announce) => ({ announce, id: id++, scrape: '', tier: index })),
    );
  },
  // tork's announcer keeps no per-tracker statistics to show.
  trackerStats: () => [],
};

/** Whether tork answers this field. */
export function knownField(name: string): name is RpcTorrentField {
  return Object.hasOwn(FIELDS, name);
}

/** The torrent's requested fields (unknown ones left out, as Transmission does). */
export function torrentFields(source: TorrentSource, fields: readonly string[]): RpcTorrent {
  const derived = new Derived(source);
  const out: Record<string, unknown> = {};
  for (const field of fields) if (knownField(field)) out[field] = FIELDS[field](source, derived);
  return out as RpcTorrent;
}
