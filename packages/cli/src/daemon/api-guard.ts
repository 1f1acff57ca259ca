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
  /**
   * Required when set: `Authorization: Bearer TOKEN`, or HTTP Basic auth whose password is TOKEN
   * (any user name), which is what Transmission's clients send (`transmission-remote --auth u:TOKEN`).
   */
  readonly token: string | undefined;
  /** GET/HEAD paths served without the token (the web page's static files). Default: none. */
  readonly tokenFree?: (path: string) => boolean;
}

/** Constant-time equality of two strings' bytes. */
function sameBytes(given: Buffer, expected: Buffer): boolean {
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** The password of a `Basic` Authorization header; undefined when it is not one. */
function basicPassword(header: string): Buffer | undefined {
  const match = /^Basic\s+([A-Za-z0-9+/=]{1,4096})$/i.exec(header);
  if (!match) return undefined;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon < 0 ? undefined : Buffer.from(decoded.slice(colon + 1));
}

/**
 * Checks every request before any route sees it. The Host header must be an IP address,
 * `localhost`, or the bound name: a page of another site, whose name resolves to 127.0.0.1 (DNS
 * rebinding), sends its own name and is refused with 403. With a token, a request without it (or
 * with another) is refused with 401, except a GET of a `tokenFree` path (the web page's own files).
 */
export function apiGuard(options: GuardOptions): MiddlewareHandler {
  const expected = options.token === undefined ? undefined : Buffer.from(`Bearer ${options.token}`);
  const password = options.token === undefined ? undefined : Buffer.from(options.token);
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
    if (expected && password && !free) {
      const header = c.req.header('authorization') ?? '';
      const basic = basicPassword(header);
      const ok = basic ? sameBytes(basic, password) : sameBytes(Buffer.from(header), expected);
      if (!ok) {
        const refused = errorResponse(
          c,
          apiError(
            TorkErrorCode.API_UNAUTHORIZED,
            'missing or wrong token (Authorization: Bearer TOKEN, or Basic auth with the token as password)',
          ),
        );
        // Transmission's clients send their credentials once asked (curl's default scheme is Basic).
        // Only there: a browser would answer the challenge with its own login dialog, over the web
        // page's token prompt.
        if (c.req.path.startsWith('/transmission/'))
          refused.headers.set('WWW-Authenticate', 'Basic realm="tork daemon"');
        return refused;
      }
    }
    await next();
    return undefined;
  };
}
