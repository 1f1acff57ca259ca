import type { PeerView, TorrentProgress } from '@tork/core';
import { formatBytes } from '../format.js';

export function formatRate(bytesPerSecond: number): string {
  return `${formatBytes(Math.round(bytesPerSecond))}/s`;
}

export function formatDuration(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds)) return '--:--';
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${rest}` : `${m}:${rest}`;
}

function percent(progress: TorrentProgress): string {
  return `${((100 * progress.verifiedBytes) / Math.max(1, progress.length)).toFixed(1)}%`;
}

/** One status line, used both for the terminal's live line and for periodic plain lines. */
export function statusLine(progress: TorrentProgress): string {
  return [
    percent(progress).padStart(6),
    `${formatBytes(progress.verifiedBytes)} / ${formatBytes(progress.length)}`,
    `↓ ${formatRate(progress.downloadRate)}`,
    `ETA ${formatDuration(progress.etaSeconds)}`,
    `peers ${progress.peers.connected} (${progress.peers.seeds} seeds)`,
    `pieces ${progress.verifiedPieces}/${progress.pieceCount}`,
  ].join('  ');
}

/** A progress bar of `width` cells. */
export function bar(progress: TorrentProgress, width: number): string {
  const filled = Math.round((width * progress.verifiedPieces) / Math.max(1, progress.pieceCount));
  return `[${'#'.repeat(filled)}${'.'.repeat(Math.max(0, width - filled))}]`;
}

/** The per-peer view: fastest peers first. */
export function peerTable(peers: readonly PeerView[], limit = 20): string[] {
  const rows = [...peers].sort((a, b) => b.downloadRate - a.downloadRate).slice(0, limit);
  const lines = [
    `${'address'.padEnd(22)} ${'client'.padEnd(20)} ${'rate'.padStart(11)} ${'queue'.padStart(7)} ${'pieces'.padStart(6)}  state`,
  ];
  for (const peer of rows) {
    const state = [
      peer.peerChoking ? 'choked' : 'unchoked',
      peer.snubbed ? 'snubbed' : '',
      peer.seed ? 'seed' : '',
    ]
      .filter(Boolean)
      .join(',');
    lines.push(
      `${peer.address.slice(0, 22).padEnd(22)} ${peer.client.slice(0, 20).padEnd(20)} ${formatRate(peer.downloadRate).padStart(11)} ${`${peer.queueDepth}/${peer.targetQueueDepth}`.padStart(7)} ${String(peer.assigned).padStart(6)}  ${state}`,
    );
  }
  if (peers.length > rows.length) lines.push(`… and ${peers.length - rows.length} more`);
  return lines;
}
