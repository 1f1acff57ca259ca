import type { MetadataFetch, Torrent } from '@tork/core';

/** Where one `--json` event goes: its name and its fields (the caller adds `time` and more). */
export type JsonEventSink = (event: string, data: object) => void;

/**
 * The events `tork download --json` prints for a torrent, by the name they print under; the
 * daemon's event stream (`GET /api/v1/events`) carries the same ones, so both stay in step.
 */
export function attachJsonEvents(torrent: Torrent, emit: JsonEventSink): void {
  torrent.on('started', (data) => emit('started', data));
  torrent.on('checked', (data) => emit('checked', data));
  torrent.on('resumed', (data) => emit('resumed', data));
  torrent.on('resume-warning', (data) => emit('resume-warning', data));
  torrent.on('piece-unreadable', (data) => emit('piece-unreadable', data));
  torrent.on('peer-connected', (data) => emit('peer-connected', data));
  torrent.on('peer-disconnected', (data) => emit('peer-disconnected', data));
  torrent.on('peer-stall', (data) => emit('peer-stall', data));
  torrent.on('peer-requests-refused', (data) => emit('peer-requests-refused', data));
  torrent.on('peer-hash-requests', (data) => emit('peer-hash-requests', data));
  torrent.on('pieces-verified', (data) => emit('piece-verified', data));
  torrent.on('tracker-peers', (data) => emit('tracker-peers', data));
  torrent.on('dht-peers', (data) => emit('dht-peers', data));
  torrent.on('lsd-peers', (data) => emit('lsd-peers', data));
  torrent.on('pex-peers', (data) => emit('pex-peers', data));
  torrent.on('tracker-error', (data) => emit('tracker-error', data));
  torrent.on('web-seed-ignored', (data) => emit('web-seed-ignored', data));
  torrent.on('progress', (progress) => emit('progress', { ...progress }));
  torrent.on('done', (progress) => emit('done', { ...progress }));
  torrent.on('error', (data) => emit('error', data));
}

/** The events of a magnet's metadata phase, as `--json` prints them. */
export function attachJsonFetchEvents(fetch: MetadataFetch, emit: JsonEventSink): void {
  fetch.on('peer-connected', (data) => emit('peer-connected', data));
  fetch.on('metadata-progress', (data) => emit('metadata-progress', data));
  fetch.on('metadata-received', (data) => emit('metadata-received', data));
  fetch.on('metadata-rejected', (data) => emit('metadata-rejected', data));
  fetch.on('piece-layers-received', (data) => emit('piece-layers-received', data));
  fetch.on('piece-layers-rejected', (data) => emit('piece-layers-rejected', data));
  fetch.on('dht-peers', (data) => emit('dht-peers', data));
  fetch.on('lsd-peers', (data) => emit('lsd-peers', data));
  fetch.on('pex-peers', (data) => emit('pex-peers', data));
}
