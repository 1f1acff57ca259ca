import { timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import { TorkErrorCode } from '@tork/core';
import type { MiddlewareHandler } from 'hono';
import { apiError, errorResponse } from './api-errors.js';

/** Whether an address is a loopback one (127.0.0.0/8, ::1, localhost). */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  return bare === 'localhost' || bare === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(bare);
}

/** The host name of a Host header (`name:port`, `[v6]:port`), lower case; undefined when malformed. */
function hostName(header: string): string | undefined {
  const match = /^(\[[0-9a-fA-F:.]+\]|[^:[\]\s/@]+)(?::\d{1,5})?$/.exec(header);
  return match?.[1]?.replace(/^\[(.*)\]$/, '$1').toLowerCase();
}

export interface GuardOptions {
  /** The address the API is bound to (a name there is accepted as a Host). */
  readonly bindHost: string;
  /** Required as `Authorization: Bearer TOKEN` when set. */
  readonly token: string | undefined;
  /** GET/HEAD paths served without the token (the web page's static files). Default: none. */
  readonly tokenFree?: (path: string) => boolean;
}

/**
 * Checks every request before any route sees it. The Host header must be an IP address,
 * `localhost`, or the bound name: a page of another site, whose name resolves to 127.0.0.1 (DNS
 * rebinding), sends its own name and is refused with 403. With a token, a request without it (or
 * with another) is refused with 401, except a GET of a `tokenFree` path (the web page's own files).
 */
export function apiGuard(options: GuardOptions): MiddlewareHandler {
  const expected = options.token === undefined ? undefined : Buffer.from(`Bearer ${options.token}`);
  const bindName = options.bindHost.toLowerCase();
  return async (c, next) => {
    const name = hostName(c.req.header('host') ?? '');
    if (name === undefined || !(isIP(name) !== 0 || name === 'localhost' || name === bindName))
      return errorResponse(
        c,
        apiError(TorkErrorCode.API_FORBIDDEN, 'the Host header names no address of this daemon'),
      );
    const free =
      (c.req.method === 'GET' || c.req.method === 'HEAD') && (options.tokenFree?.(c.req.path) ?? false);
    if (expected && !free) {
      const given = Buffer.from(c.req.header('authorization') ?? '');
      if (given.length !== expected.length || !timingSafeEqual(given, expected))
        return errorResponse(
          c,
          apiError(TorkErrorCode.API_UNAUTHORIZED, 'missing or wrong token (Authorization: Bearer …)'),
        );
    }
    await next();
    return undefined;
  };
}
