import { DEFAULT_MAX_PEERS, TORK_VERSION } from '@tork/core';
import type { z } from 'zod';
import type { SessionSetArgs, sessionGetArgs, sessionGetResult, sessionStatsResult } from './rpc-schemas.js';
import { RpcFailure, type RpcState } from './rpc-state.js';

/** The RPC level answered: Transmission 3.00's. */
export const RPC_VERSION = 16;
export const RPC_VERSION_MINIMUM = 1;

/**
 * The version string clients see. Sonarr and Radarr parse `MAJOR.MINOR` out of it and refuse a
 * Transmission older than 2.40, so it leads with the Transmission release whose RPC this follows;
 * tork's own version follows in brackets.
 */
export const RPC_DAEMON_VERSION = `3.00 (tork ${TORK_VERSION})`;

type SessionGet = z.infer<typeof sessionGetResult>;

/** `session-get`: the daemon's settings under Transmission's names (`fields` picks some). */
export function sessionGet(state: RpcState, args: z.infer<typeof sessionGetArgs>): SessionGet {
  const limits = state.context.registry.sessionLimits;
  const all: SessionGet = {
    version: RPC_DAEMON_VERSION,
    'rpc-version': RPC_VERSION,
    'rpc-version-minimum': RPC_VERSION_MINIMUM,
    'session-id': state.sessionId,
    'download-dir': state.downloadDir,
    'peer-port': state.context.peerPort,
    'speed-limit-down': limits.download ? Math.round(limits.download / 1000) : state.speedDown,
    'speed-limit-down-enabled': limits.download !== undefined,
    'speed-limit-up': limits.upload ? Math.round(limits.upload / 1000) : state.speedUp,
    'speed-limit-up-enabled': limits.upload !== undefined,
    'peer-limit-global': state.context.registry.sessionPeerLimits.maxPeers,
    'peer-limit-per-torrent': DEFAULT_MAX_PEERS,
    // tork has no alternative ("turtle") speeds, no seed ratio or idle limits, no queue.
    'alt-speed-enabled': false,
    'alt-speed-down': 0,
    'alt-speed-up': 0,
    'alt-speed-time-enabled': false,
    'alt-speed-time-begin': 0,
    'alt-speed-time-end': 0,
    'alt-speed-time-day': 0,
    seedRatioLimit: 0,
    seedRatioLimited: false,
    'idle-seeding-limit': 0,
    'idle-seeding-limit-enabled': false,
    'utp-enabled': true,
    'port-forwarding-enabled': false,
    encryption: 'preferred',
    'start-added-torrents': true,
    'rename-partial-files': false,
    'incomplete-dir-enabled': false,
    'download-queue-enabled': false,
    'seed-queue-enabled': false,
    units: {
      'speed-units': ['kB/s', 'MB/s', 'GB/s', 'TB/s'],
      'speed-bytes': 1000,
      'size-units': ['kB', 'MB', 'GB', 'TB'],
      'size-bytes': 1000,
      'memory-units': ['KiB', 'MiB', 'GiB', 'TiB'],
      'memory-bytes': 1024,
    },
  };
  if (!args.fields) return all;
  const wanted = new Set(args.fields);
  return Object.fromEntries(Object.entries(all).filter(([key]) => wanted.has(key))) as SessionGet;
}

/**
 * `session-set`: the session's speed caps (KB/s, 1 KB = 1000 bytes; a cap remembered while
 * disabled, as Transmission does), the default download directory (inside `--download-root`) and
 * `peer-port` when it is the port already in use (tork cannot move its listener while running).
 * Other keys are ignored, as Transmission ignores keys it does not know.
 */
export async function sessionSet(state: RpcState, args: SessionSetArgs): Promise<Record<string, never>> {
  const { registry, root, peerPort } = state.context;
  if (args['peer-port'] !== undefined && args['peer-port'] !== peerPort)
    throw new RpcFailure(
      `peer-port cannot change while the daemon runs (it listens on ${peerPort}; restart with --port)`,
    );
  const downloadDir =
    args['download-dir'] !== undefined ? await root.check(args['download-dir'], 'download-dir') : undefined;
  const current = registry.sessionLimits;
  const downEnabled = args['speed-limit-down-enabled'] ?? current.download !== undefined;
  const upEnabled = args['speed-limit-up-enabled'] ?? current.upload !== undefined;
  const down = args['speed-limit-down'] ?? state.speedDown;
  const up = args['speed-limit-up'] ?? state.speedUp;
  if ((downEnabled && down === 0) || (upEnabled && up === 0))
    throw new RpcFailure('a speed limit of 0 is not supported: stop the torrents instead');
  const speedKeys = [
    'speed-limit-down',
    'speed-limit-down-enabled',
    'speed-limit-up',
    'speed-limit-up-enabled',
  ];
  if (speedKeys.some((key) => key in args && args[key as keyof SessionSetArgs] !== undefined)) {
    state.speedDown = down;
    state.speedUp = up;
    // The registry merges a change: a direction left uncapped is said so (null), not left out.
    await registry.setSessionLimits({
      download: downEnabled ? down * 1000 : null,
      upload: upEnabled ? up * 1000 : null,
    });
  }
  if (args['peer-limit-global'] !== undefined)
    await registry.setSessionLimits({ maxPeers: args['peer-limit-global'] });
  if (downloadDir !== undefined) state.downloadDir = downloadDir;
  return {};
}

/**
 * `session-stats`: rates and counts now, and bytes moved. tork keeps no totals across runs, so the
 * cumulative figures are this run's (one session).
 */
export function sessionStats(state: RpcState): z.infer<typeof sessionStatsResult> {
  const torrents = state.context.registry.list();
  const sum = (key: 'downloadRate' | 'uploadRate' | 'downloadedBytes' | 'uploadedBytes') =>
    Math.round(torrents.reduce((total, torrent) => total + torrent[key], 0));
  const stats = {
    uploadedBytes: sum('uploadedBytes'),
    downloadedBytes: sum('downloadedBytes'),
    filesAdded: 0,
    sessionCount: 1,
    secondsActive: Math.floor((Date.now() - state.startedAt) / 1000),
  };
  return {
    activeTorrentCount: torrents.filter((torrent) => torrent.downloadRate > 0 || torrent.uploadRate > 0)
      .length,
    pausedTorrentCount: torrents.filter((torrent) => torrent.paused).length,
    torrentCount: torrents.length,
    downloadSpeed: sum('downloadRate'),
    uploadSpeed: sum('uploadRate'),
    'cumulative-stats': stats,
    'current-stats': stats,
  };
}
