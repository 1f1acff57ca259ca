import { TorkErrorCode } from '@tork/core';
import { apiError, errorResponse } from '../api-errors.js';
import { type RouteModule, readBody } from '../api-server.js';
import { dispatch } from './rpc-methods.js';
import { rpcRequest } from './rpc-schemas.js';
import { RpcState } from './rpc-state.js';
import { hasSessionId, sessionConflict } from './session-id.js';

/** Where Transmission's clients post (transmission-remote adds the trailing slash). */
export const TRANSMISSION_RPC_PATHS = ['/transmission/rpc', '/transmission/rpc/'] as const;

/**
 * Transmission RPC on the API's listener, behind the same guard (Host check, token as Bearer or as
 * the password of HTTP Basic auth, body cap). A request without the daemon's session id gets 409
 * with the id in `X-Transmission-Session-Id`; malformed JSON, or a body that is no RPC request, is
 * a 400 (TORK_ERR_API_BAD_REQUEST); the rest is Transmission's: HTTP 200 with a `result` string.
 */
export const transmissionRoute: RouteModule = {
  paths: TRANSMISSION_RPC_PATHS,
  mount(app, context) {
    const state = new RpcState(context);
    for (const path of TRANSMISSION_RPC_PATHS) {
      app.post(path, async (c) => {
        if (!hasSessionId(c, state.sessionId)) return sessionConflict(c, state.sessionId);
        const request = await readBody(c, rpcRequest);
        return c.json(await dispatch(state, request));
      });
      // Some clients fetch the id with a GET first.
      app.get(path, (c) =>
        hasSessionId(c, state.sessionId)
          ? errorResponse(c, apiError(TorkErrorCode.API_METHOD, 'Transmission RPC takes POST requests'))
          : sessionConflict(c, state.sessionId),
      );
    }
  },
};
