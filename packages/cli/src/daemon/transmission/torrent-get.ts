import type { z } from 'zod';
import type { torrentGetArgs, torrentGetResult } from './rpc-schemas.js';
import type { RpcState } from './rpc-state.js';
import { torrentFields } from './torrent-fields.js';

/**
 * `torrent-get`: the named fields of the selected torrents, as objects or (`format: "table"`) as a
 * header row of field names followed by one row of values per torrent. `recently-active` also
 * lists the ids removed within the last minute (`removed`).
 */
export function torrentGet(
  state: RpcState,
  args: z.infer<typeof torrentGetArgs>,
): z.infer<typeof torrentGetResult> {
  const hashes = state.ids.select(args.ids);
  const objects = hashes.map((hash) => torrentFields(state.source(hash), args.fields));
  const removed = args.ids === 'recently-active' ? { removed: state.ids.recentlyRemoved() } : {};
  if (args.format === 'table') {
    const fields = [...new Set(args.fields)];
    const rows = objects.map((torrent) =>
      fields.map((field) => (torrent as Record<string, unknown>)[field] ?? null),
    );
    return { torrents: [fields, ...rows], ...removed };
  }
  return { torrents: objects, ...removed };
}
