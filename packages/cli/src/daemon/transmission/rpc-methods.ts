import { TorkError } from '@tork/core';
import type { z } from 'zod';
import {
  type RpcRequest,
  type RpcResponse,
  sessionGetArgs,
  sessionSetArgs,
  torrentActionArgs,
  torrentAddArgs,
  torrentGetArgs,
  torrentRemoveArgs,
  torrentSetArgs,
} from './rpc-schemas.js';
import { failureText, RpcFailure, type RpcState } from './rpc-state.js';
import { sessionGet, sessionSet, sessionStats } from './session-methods.js';
import { torrentRemove, torrentStart, torrentStop, torrentVerify } from './torrent-actions.js';
import { torrentAdd } from './torrent-add.js';
import { torrentGet } from './torrent-get.js';
import { torrentSet } from './torrent-set.js';

/** One method: the schema of its arguments and what it does with them. */
interface RpcMethod<S extends z.ZodType> {
  readonly args: S;
  run(state: RpcState, args: z.infer<S>): Promise<object> | object;
}

function method<S extends z.ZodType>(args: S, run: RpcMethod<S>['run']): RpcMethod<z.ZodType> {
  return { args, run } as RpcMethod<z.ZodType>;
}

const noArgs = torrentActionArgs.pick({});

/** The methods tork answers; any other name is "method name not recognized", as in Transmission. */
export const RPC_METHODS: Readonly<Record<string, RpcMethod<z.ZodType>>> = {
  'session-get': method(sessionGetArgs, sessionGet),
  'session-set': method(sessionSetArgs, sessionSet),
  'session-stats': method(noArgs, sessionStats),
  'torrent-add': method(torrentAddArgs, torrentAdd),
  'torrent-get': method(torrentGetArgs, torrentGet),
  'torrent-set': method(torrentSetArgs, torrentSet),
  'torrent-start': method(torrentActionArgs, (state, args) => torrentStart(state, args.ids)),
  'torrent-start-now': method(torrentActionArgs, (state, args) => torrentStart(state, args.ids)),
  'torrent-stop': method(torrentActionArgs, (state, args) => torrentStop(state, args.ids)),
  'torrent-remove': method(torrentRemoveArgs, torrentRemove),
  'torrent-verify': method(torrentActionArgs, torrentVerify),
};

/**
 * Runs one request: its arguments are checked against the method's schema, and a failure (bad
 * arguments, a refused change, a TorkError from the registry) is the answer's `result` string with
 * HTTP 200, which is how Transmission's clients expect to hear of it. Anything else is a bug and
 * propagates (a 500).
 */
export async function dispatch(state: RpcState, request: RpcRequest): Promise<RpcResponse> {
  const tag = request.tag !== undefined ? { tag: request.tag } : {};
  const answer = (result: string, args: object = {}): RpcResponse => ({
    result,
    arguments: args as Record<string, unknown>,
    ...tag,
  });
  const known = Object.hasOwn(RPC_METHODS, request.method) ? RPC_METHODS[request.method] : undefined;
  if (!known) return answer('method name not recognized');
  const parsed = known.args.safeParse(request.arguments ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.length ? `${issue.path.join('.')}: ` : '';
    return answer(`TORK_ERR_API_BAD_REQUEST: invalid arguments: ${where}${issue?.message ?? 'invalid'}`);
  }
  state.sync();
  try {
    return answer('success', await known.run(state, parsed.data));
  } catch (error) {
    if (error instanceof RpcFailure) return answer(error.message);
    if (error instanceof TorkError) return answer(failureText(error));
    throw error;
  }
}
