import type { FilePriority, RateLimits } from '@tork/core';
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

/**
 * `torrent-set`: file selection and priorities, and per-torrent rate caps. Every torrent's change is
 * checked before any is applied. `peer-limit` is refused: the daemon's registry has no per-torrent
 * peer cap to set yet.
 */
export async function torrentSet(state: RpcState, args: TorrentSetArgs): Promise<Record<string, never>> {
  if (args['peer-limit'] !== undefined)
    throw new RpcFailure('peer-limit is not supported by tork daemon yet (no per-torrent peer cap to set)');
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
    if (plan.limits) await registry.setLimits(plan.hash, plan.limits);
  }
  return {};
}
