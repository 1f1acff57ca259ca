import { TorkError, TorkErrorCode } from '../errors.js';
import { Announcer, type AnnouncerOptions } from './announcer.js';
import { hybridV2WireHash } from './hybrid-hashes.js';
import type { TorrentContext, TorrentMeta, TorrentOptions } from './torrent-options.js';

/** What the torrent's Announcer reads and reports (see `AnnouncerOptions`). */
export type AnnouncerHooks = Pick<AnnouncerOptions, 'totals' | 'onPeers' | 'onError'>;

/** The torrent's Announcer; none when trackers are turned off or the torrent names none. */
export function torrentAnnouncer(
  meta: TorrentMeta,
  ctx: TorrentContext,
  options: TorrentOptions,
  hooks: AnnouncerHooks,
): Announcer | undefined {
  if (options.useTrackers === false || meta.announce.length === 0) return undefined;
  // BEP 52: a hybrid is announced under its truncated v2 hash too, as libtorrent does.
  const v2 = hybridV2WireHash(meta);
  return new Announcer({
    tiers: meta.announce,
    infoHash: meta.infoHash,
    ...(v2 !== undefined ? { alsoInfoHash: v2 } : {}),
    peerId: ctx.peerId,
    port: ctx.port,
    ...hooks,
    ...(options.trackerClients ? { clients: options.trackerClients } : {}),
  });
}

/**
 * The error a downloading torrent fails with when it has no way to find a peer: no tracker, no
 * `--peer`, no web seed, and no DHT or LSD. Undefined when it has one.
 */
export function noPeerSource(
  options: TorrentOptions,
  trackers: boolean,
  discoveryAvailable: boolean,
): TorkError | undefined {
  if (
    trackers ||
    (options.peers?.length ?? 0) > 0 ||
    (options.webSeeds?.length ?? 0) > 0 ||
    discoveryAvailable
  )
    return undefined;
  return new TorkError(
    TorkErrorCode.USAGE,
    'no peer source: the torrent has no trackers, no --peer was given and no DHT or LSD may be used',
  );
}
