/** A torrent's byte and piece counters, for its progress and its tracker announces. */
export class TorrentTally {
  /** Bytes of verified pieces, and of those whose write completed. */
  verifiedBytes = 0;
  writtenBytes = 0;
  /** Payload bytes wasted: hash failures and endgame duplicates. */
  wastedBytes = 0;
  /** Pieces that failed their hash check / verified copies that arrived after another won. */
  hashFailures = 0;
  duplicatePieces = 0;
  /** Bytes found verified on disk at start (not downloaded in this run). */
  resumedBytes = 0;

  /** Pieces found verified on disk at start: verified, written, and not downloaded in this run. */
  resumed(bytes: number): void {
    this.verifiedBytes = bytes;
    this.writtenBytes = bytes;
    this.resumedBytes = bytes;
  }

  /** Payload bytes downloaded in this run, given the actors' own count (`fromPeers`). */
  downloaded(fromPeers: number): number {
    // Actor stats arrive once a second: a short download can finish before the first.
    return Math.max(fromPeers, this.verifiedBytes - this.resumedBytes + this.wastedBytes);
  }
}
