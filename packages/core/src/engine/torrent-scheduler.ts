import type { Bitfield } from '../bitfield.js';
import type { PieceOrder } from '../scheduler/piece-order.js';
import { PieceScheduler } from '../scheduler/piece-scheduler.js';
import type { Rng } from '../scheduler/rng.js';
import type { TorrentFiles } from './torrent-files.js';
import type { TorrentMeta, TorrentOptions } from './torrent-options.js';

/** What a torrent's scheduler is built from besides its metainfo and options. */
export interface SchedulerParts {
  readonly rng: Rng;
  /** Sequential mode and the pieces readers wait for. */
  readonly order: PieceOrder;
  /** File selection: the per-piece priority tiers. */
  readonly files: TorrentFiles;
}

/**
 * A torrent's PieceScheduler: built at construction (nothing had), and again at start when resume
 * found pieces on disk (`have`).
 */
export function newTorrentScheduler(
  meta: TorrentMeta,
  options: TorrentOptions,
  parts: SchedulerParts,
  have?: Bitfield,
): PieceScheduler {
  return new PieceScheduler({
    pieceCount: meta.pieceCount,
    pieceLength: meta.pieceLength,
    length: meta.length,
    rng: parts.rng,
    order: parts.order,
    priorities: parts.files.piecePriorities(),
    ...(have ? { have } : {}),
    ...(options.maxBytesInFlight !== undefined ? { maxBytesInFlight: options.maxBytesInFlight } : {}),
  });
}

/** Bytes of the pieces in `have` (the last piece may be short). */
export function heldBytes(scheduler: PieceScheduler, have: Bitfield): number {
  let bytes = 0;
  for (let i = 0; i < have.length; i++) if (have.has(i)) bytes += scheduler.pieceSize(i);
  return bytes;
}
