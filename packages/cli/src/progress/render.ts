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
  // Of the selection: a download of a few files reaches 100% (the wanted pieces' bytes).
  const wanted = Math.max(1, progress.wantedBytes);
  return `${((100 * Math.min(progress.verifiedBytes, wanted)) / wanted).toFixed(1)}%`;
}

/** One status line, used both for the terminal's live line and for periodic plain lines. */
export function statusLine(progress: TorrentProgress): string {
  const { peers } = progress;
  // Stalled peers are trouble a user should see without opening the per-peer view.
  const stalled = peers.stalled > 0 ? `  ${peers.stalled} stalled` : '';
  // Where the connected peers came from: tracker, dht, pex, lsd, incoming, manual (given).
  const sources = Object.entries(peers.sources)
    .map(([source, count]) => `${source === 'manual' ? 'given' : source} ${count}`)
    .join(', ');
  const from = sources ? `; ${sources}` : '';
  if (progress.state === 'seeding' || progress.state === 'done') {
    return [
      (progress.state === 'done' ? 'done' : 'seeding').padStart(7),
      `↑ ${formatRate(progress.uploadRate)}`,
      `uploaded ${formatBytes(progress.uploadedBytes)}`,
      `ratio ${(progress.uploadedBytes / Math.max(1, progress.length)).toFixed(2)}`,
      `peers ${peers.connected} (${peers.leechers} leechers${from})${stalled}`,
    ].join('  ');
  }
  return [
    percent(progress).padStart(6),
    `${formatBytes(Math.min(progress.verifiedBytes, progress.wantedBytes))} / ${formatBytes(progress.wantedBytes)}`,
    `↓ ${formatRate(progress.downloadRate)}`,
    ...(progress.uploadRate > 0 ? [`↑ ${formatRate(progress.uploadRate)}`] : []),
    `ETA ${formatDuration(progress.etaSeconds)}`,
    `peers ${peers.connected} (${peers.seeds} seeds${from})${stalled}`,
    `pieces ${progress.verifiedPieces}/${progress.pieceCount}`,
  ].join('  ');
}

/** `text` in at most `width` characters, cut at a word boundary with an ellipsis when too long. */
export function fit(text: string, width: number): string {
  if (text.length <= width) return text;
  const cut = text.slice(0, width - 1);
  const space = cut.lastIndexOf(' ');
  return `${space >= width / 2 ? cut.slice(0, space) : cut}…`;
}

/** A progress bar of `width` cells. */
export function bar(progress: TorrentProgress, width: number): string {
  const filled = Math.round((width * progress.verifiedPieces) / Math.max(1, progress.pieceCount));
  return `[${'#'.repeat(filled)}${'.'.repeat(Math.max(0, width - filled))}]`;
}

/**
 * The connection's transport and encryption: `tcp`, `tcp/rc4` (MSE, RC4 stream), `tcp/mse` (MSE
 * header, plaintext stream); `utp` likewise.
 */
export function linkLabel(peer: Pick<PeerView, 'transport' | 'encryption'>): string {
  const crypto = peer.encryption === 'rc4' ? '/rc4' : peer.encryption === 'plaintext' ? '/mse' : '';
  return `${peer.transport}${crypto}`;
}

/** The per-peer view: fastest peers first (by download, then upload rate). */
export function peerTable(peers: readonly PeerView[], limit = 20): string[] {
  const rows = [...peers]
    .sort((a, b) => b.downloadRate - a.downloadRate || b.uploadRate - a.uploadRate)
    .slice(0, limit);
  const lines = [
    `${'address'.padEnd(22)} ${'from'.padEnd(8)} ${'link'.padEnd(8)} ${'client'.padEnd(26)} ${'down'.padStart(11)} ${'up'.padStart(11)} ${'queue'.padStart(9)} ${'theirs'.padStart(6)} ${'pieces'.padStart(6)}  state`,
  ];
  for (const peer of rows) {
    const state = [
      peer.peerChoking ? 'choked' : 'unchoked',
      peer.amChoking ? '' : 'served',
      peer.stalled ? `stalled (${peer.stalled})` : peer.snubbed ? 'snubbed' : '',
      peer.requestsRefused > 0 ? `${peer.requestsRefused} refused` : '',
      peer.seed ? 'seed' : '',
    ]
      .filter(Boolean)
      .join(',');
    lines.push(
      [
        // A web seed's address is its URL: the host and path tell more than the scheme.
        (peer.source === 'webseed' ? peer.address.replace(/^https?:\/\//, '') : peer.address)
          .slice(0, 22)
          .padEnd(22),
        (peer.source === 'manual' ? 'given' : peer.source).padEnd(8),
        (peer.source === 'webseed'
          ? peer.address.startsWith('https:')
            ? 'https'
            : 'http'
          : linkLabel(peer)
        ).padEnd(8),
        fit(peer.client.startsWith('unknown') && peer.agent ? peer.agent : peer.client, 26).padEnd(26),
        formatRate(peer.downloadRate).padStart(11),
        formatRate(peer.uploadRate).padStart(11),
        `${peer.queueDepth}/${peer.targetQueueDepth}`.padStart(9),
        String(peer.requestsQueued).padStart(6),
        String(peer.assigned).padStart(6),
        ` ${state}`,
      ].join(' '),
    );
  }
  if (peers.length > rows.length) lines.push(`… and ${peers.length - rows.length} more`);
  return lines;
}
