import type { PeerSource } from './peer-pool.js';

/**
 * What a torrent is doing; `done` means every piece is verified and on disk; `seeding` is done
 * and serving others until stopped.
 */
export type TorrentState = 'starting' | 'downloading' | 'seeding' | 'done' | 'stopped' | 'failed';

/** One peer as the coordinator sees it, for the per-peer view and `--json`. */
export interface PeerView {
  readonly actorId: number;
  readonly address: string;
  /** Client decoded from the peer id, e.g. `libtorrent 2.0.8`. */
  readonly client: string;
  /** The peer has every piece. */
  readonly seed: boolean;
  readonly downloaded: number;
  readonly downloadRate: number;
  readonly queueDepth: number;
  readonly targetQueueDepth: number;
  /** The peer chokes us. */
  readonly peerChoking: boolean;
  readonly snubbed: boolean;
  /** Pieces assigned to this peer now. */
  readonly assigned: number;
  /** What the peer calls itself in its BEP 10 handshake (`v`), if it said. */
  readonly agent: string | null;
  /** Payload bytes we sent it, and the smoothed rate. */
  readonly uploaded: number;
  readonly uploadRate: number;
  /** We choke it (the choker's decision). */
  readonly amChoking: boolean;
  /** Block requests it has queued with us, and those refused because its queue was full. */
  readonly requestsQueued: number;
  readonly requestsRefused: number;
  /**
   * `upload`: it has requests queued with us, unchoked, and got no block for a while;
   * `download`: it has our requests and sent no block for a while (snubbed); null: neither.
   */
  readonly stalled: 'upload' | 'download' | null;
  /** `rc4` or `plaintext`: chosen by an MSE handshake; `none`: a plain BitTorrent connection. */
  readonly encryption: 'rc4' | 'plaintext' | 'none';
  readonly transport: 'tcp' | 'utp';
  /** Where its address came from (`incoming`: it dialled us). */
  readonly source: PeerSource;
}

/** A snapshot of a torrent's progress; plain data, safe to JSON.stringify. */
export interface TorrentProgress {
  readonly infoHash: string;
  readonly name: string;
  readonly state: TorrentState;
  /** Total size in bytes. */
  readonly length: number;
  readonly pieceCount: number;
  readonly verifiedPieces: number;
  /** Bytes of verified pieces. */
  readonly verifiedBytes: number;
  /** Bytes written to disk (verified pieces whose write completed). */
  readonly writtenBytes: number;
  /** Payload bytes received from peers, including pieces that failed their hash or were duplicates. */
  readonly downloadedBytes: number;
  /** Payload bytes wasted: hash failures and endgame duplicates. */
  readonly wastedBytes: number;
  /** Pieces that failed their SHA-1 check, and verified copies that lost to another (endgame). */
  readonly hashFailures: number;
  readonly duplicatePieces: number;
  /** Smoothed download rate over the last few seconds, bytes per second. */
  readonly downloadRate: number;
  /** Payload bytes sent to peers in this run, and the smoothed upload rate. */
  readonly uploadedBytes: number;
  readonly uploadRate: number;
  /** Bytes found verified on disk at start (resumed or checked), not downloaded in this run. */
  readonly resumedBytes: number;
  /** Bytes of the selected files, and of the files skipped (not downloaded: see `filePriorities`). */
  readonly selectedBytes: number;
  readonly skippedBytes: number;
  /** Bytes of the pieces the selection needs (its files plus the shared pieces' neighbour bytes). */
  readonly wantedBytes: number;
  /** Seconds to completion at the current rate; null when unknown. */
  readonly etaSeconds: number | null;
  readonly peers: {
    readonly connected: number;
    readonly seeds: number;
    /** Connected peers that are not seeds. */
    readonly leechers: number;
    readonly connecting: number;
    /** Connected peers stalled either way (see `PeerView.stalled`). */
    readonly stalled: number;
    /** Connected peers by where their address came from (sources with none are left out). */
    readonly sources: Partial<Record<PeerSource, number>>;
    /**
     * Payload bytes received in this run by source (`webseed` apart from the peers' sources),
     * closed connections included: which sources delivered.
     */
    readonly downloadedBySource: Partial<Record<PeerSource, number>>;
    /** Addresses known and not banned. */
    readonly known: number;
    readonly banned: number;
  };
  readonly bytesInFlight: number;
  readonly elapsedMs: number;
}

/**
 * Progress snapshots from a torrent's `progress` events, in order, until `done` settles (done,
 * stopped or failed): the async iterator of `Torrent.progressUpdates()`.
 */
export async function* progressUpdates(
  torrent: {
    on(event: 'progress', listener: (progress: TorrentProgress) => void): unknown;
    off(event: 'progress', listener: (progress: TorrentProgress) => void): unknown;
  },
  done: Promise<unknown>,
): AsyncGenerator<TorrentProgress> {
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
  torrent.on('progress', onProgress);
  done.then(onEnd, onEnd);
  try {
    for (;;) {
      const next = queue.shift();
      if (next) yield next;
      else if (finished) return;
      else await new Promise<void>((resolve) => (wake = resolve));
    }
  } finally {
    torrent.off('progress', onProgress);
  }
}
