import { TorkError, TorkErrorCode } from '../errors.js';

/** How many whole pieces a peer should hold; see {@link piecesForRate}. */
export interface PiecesForRateOptions {
  /**
   * Seconds of data at the peer's rate to keep assigned, so the actor's request queue
   * (rate × ~3 s ÷ 16 KiB, DESIGN.md) never runs dry for want of a piece. Default 3.
   */
  horizonSeconds?: number;
  /**
   * Bytes every peer holds whatever its measured rate (a new peer measures 0): the actor's minimum
   * queue depth, 4 blocks of 16 KiB. With 16 KiB pieces a new peer gets 4 pieces, so it is not
   * stuck at one request in flight while its rate is measured. Default 65536.
   */
  minBytes?: number;
  /** Upper bound on pieces per peer (the global byte budget bounds it as well). Default 1024. */
  maxPieces?: number;
}

export const DEFAULT_HORIZON_SECONDS = 3;
export const DEFAULT_MIN_ASSIGNED_BYTES = 4 * 16 * 1024;
export const DEFAULT_MAX_PIECES_PER_PEER = 1024;

/**
 * The number of pieces a peer should hold (assigned, not yet returned) at `rate` bytes/s:
 *
 * - enough pieces to cover `rate × horizonSeconds` bytes, and at least `minBytes` — at least 1;
 * - plus one for a *fast* peer, one that fetches a whole piece within the horizon: when it
 *   finishes a piece it must already hold the next, or its pipeline drains during the coordinator
 *   round trip that tops it up (a slow peer drains nothing in that time, and an extra piece parked
 *   on it would only hold up the endgame);
 * - at most `maxPieces`.
 *
 * The caller asks the scheduler for `piecesForRate(...) - piecesOf(peer).length` more.
 */
export function piecesForRate(rate: number, pieceLength: number, options: PiecesForRateOptions = {}): number {
  const horizon = options.horizonSeconds ?? DEFAULT_HORIZON_SECONDS;
  const minBytes = options.minBytes ?? DEFAULT_MIN_ASSIGNED_BYTES;
  const maxPieces = options.maxPieces ?? DEFAULT_MAX_PIECES_PER_PEER;
  if (!(pieceLength > 0) || !(horizon > 0) || !(minBytes >= 0) || !(maxPieces >= 1)) {
    throw new TorkError(TorkErrorCode.USAGE, 'piecesForRate: invalid piece length or options', {
      pieceLength,
      horizon,
      minBytes,
      maxPieces,
    });
  }
  const horizonBytes = Number.isFinite(rate) && rate > 0 ? rate * horizon : 0;
  let pieces = Math.max(1, Math.ceil(Math.max(horizonBytes, minBytes) / pieceLength));
  if (horizonBytes >= pieceLength) pieces += 1;
  return Math.min(pieces, Math.floor(maxPieces));
}
