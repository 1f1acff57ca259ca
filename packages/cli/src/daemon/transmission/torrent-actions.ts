import type { z } from 'zod';
import type { IdsSelector, torrentRemoveArgs } from './rpc-schemas.js';
import { RpcFailure, type RpcState } from './rpc-state.js';

/** `torrent-start` / `torrent-start-now`: resumes each (from its resume data); tork has no queue. */
export async function torrentStart(state: RpcState, ids: IdsSelector): Promise<Record<string, never>> {
  for (const hash of state.selectForChange(ids)) await state.context.registry.resume(hash);
  return {};
}

/** `torrent-stop`: pauses each (connections closed, resume data saved; it stays listed). */
export async function torrentStop(state: RpcState, ids: IdsSelector): Promise<Record<string, never>> {
  for (const hash of state.selectForChange(ids)) await state.context.registry.pause(hash);
  return {};
}

/** `torrent-remove`: removes each; `delete-local-data` also deletes its files and resume data. */
export async function torrentRemove(
  state: RpcState,
  args: z.infer<typeof torrentRemoveArgs>,
): Promise<Record<string, never>> {
  for (const hash of state.selectForChange(args.ids))
    await state.context.registry.remove(hash, args['delete-local-data']);
  state.sync();
  return {};
}

/**
 * `torrent-verify`: refused with a reason. tork checks a torrent's pieces against its resume data
 * and the files' sizes and times when it starts (stop and start it to do that), and verifies every
 * piece it downloads; a full re-hash on demand is not built.
 */
export function torrentVerify(): never {
  throw new RpcFailure(
    'torrent-verify is not supported: tork checks pieces against its resume data when a torrent starts (stop and start it)',
  );
}
