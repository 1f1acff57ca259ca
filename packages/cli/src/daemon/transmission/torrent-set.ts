import type { FilePriority, RateLimits } from '@tork/core';
import { MAX_API_MAX_PEERS } from '../api-schemas.js';
import type { TorrentSetArgs } from './rpc-schemas.js';
import { RpcFailure, type RpcState } from './rpc-state.js';

/**
 * The new priorities: `files-unwanted` skips a file, `files-wanted` brings a skipped one back at
 * normal priority, then `priority-*` set the wanted files' priority (tork keeps one priority per
 * file, with `skip` as "unwanted", so a skipped file keeps no priority of its own).
 */
export function newPriorities(current: readonly FilePriority[], args: TorrentSetArgs): FilePriority[] {
  const next = [...current];
  const check = (indices: readonly number[] | undefined, key: string) => {
    for (const index of indices ?? [])
      if (index >= next.length)
        throw new RpcFailure(`${key}: file ${index} does not exist (the torrent has ${next.length} files)`);
  };
  for (const key of [
    'files-wanted',
    'files-unwanted',
    'priority-high',
    'priority-normal',
    'priority-low',
  ] as const)
    check(args[key], key);
  for (const index of args['files-unwanted'] ?? []) next[index] = 'skip';
  for (const index of args['files-wanted'] ?? []) if (next[index] === 'skip') next[index] = 'normal';
  const set = (indices: readonly number[] | undefined, priority: FilePriority) => {
    for (const index of indices ?? []) if (next[index] !== 'skip') next[index] = priority;
  };
  set(args['priority-low'], 'low');
  set(args['priority-normal'], 'normal');
  set(args['priority-high'], 'high');
  return next;
}

/**
 * The torrent's new rate caps (Transmission's KB/s are 1000 bytes). `…Limited: false` lifts a cap;
 * `…Limited: true` caps at `…Limit` (or the cap it has). A `…Limit` alone changes a cap in force and
 * is dropped otherwise: tork keeps no disabled cap per torrent.
 */
export function newLimits(current: RateLimits, args: TorrentSetArgs): RateLimits {
  const one = (
    now: number | undefined,
    limit: number | undefined,
    limited: boolean | undefined,
    key: string,
  ) => {
    const enabled = limited ?? now !== undefined;
    if (!enabled) return undefined;
    const bytes = limit !== undefined ? limit * 1000 : now;
    if (bytes === undefined) throw new RpcFailure(`${key}Limited: true needs ${key}Limit`);
    if (bytes === 0) throw new RpcFailure(`${key}Limit 0 is not supported: stop the torrent instead`);
    return bytes;
  };
  const download = one(current.download, args.downloadLimit, args.downloadLimited, 'download');
  const upload = one(current.upload, args.uploadLimit, args.uploadLimited, 'upload');
  return { ...(download !== undefined ? { download } : {}), ...(upload !== undefined ? { upload } : {}) };
}

const FILE_KEYS = [
  'files-wanted',
  'files-unwanted',
  'priority-high',
  'priority-normal',
  'priority-low',
] as const;
const LIMIT_KEYS = ['downloadLimit', 'downloadLimited', 'uploadLimit', 'uploadLimited'] as const;

/** Largest per-torrent peer cap `peer-limit` may set (the JSON API's bound). */
const MAX_TORRENT_PEER_LIMIT = MAX_API_MAX_PEERS;

/**
 * `torrent-set`: file selection and priorities, per-torrent rate caps and `peer-limit` (the
 * torrent's connected-peer cap: a lower one closes the surplus at once). Every torrent's change is
 * checked before any is applied.
 */
export async function torrentSet(state: RpcState, args: TorrentSetArgs): Promise<Record<string, never>> {
  const peerLimit = args['peer-limit'];
  if (peerLimit !== undefined && (peerLimit < 1 || peerLimit > MAX_TORRENT_PEER_LIMIT))
    throw new RpcFailure(`peer-limit must be 1 to ${MAX_TORRENT_PEER_LIMIT}: stop the torrent for none`);
  const { registry } = state.context;
  const files = FILE_KEYS.some((key) => args[key] !== undefined);
  const limits = LIMIT_KEYS.some((key) => args[key] !== undefined);
  const plans = state.selectForChange(args.ids).map((hash) => {
    const meta = registry.meta(hash);
    if (files && !meta) throw new RpcFailure(`torrent ${hash} has no metadata yet: its files are not known`);
    const record = registry.record(hash);
    const current =
      registry.torrent(hash)?.files.priorities ??
      record.filePriorities ??
      (meta?.files ?? []).map((): FilePriority => 'normal');
    return {
      hash,
      ...(files ? { priorities: newPriorities(current, args) } : {}),
      ...(limits ? { limits: newLimits(record.rateLimits, args) } : {}),
    };
  });
  for (const plan of plans) {
    if (plan.priorities) await registry.setFiles(plan.hash, plan.priorities);
    // The registry merges a change: a direction left uncapped is said so (null), not left out.
    if (plan.limits)
      await registry.setLimits(plan.hash, {
        download: plan.limits.download ?? null,
        upload: plan.limits.upload ?? null,
      });
    if (peerLimit !== undefined) await registry.setLimits(plan.hash, { maxPeers: peerLimit });
  }
  return {};
}
