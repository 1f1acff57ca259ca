import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { Context } from 'hono';

/** The header Transmission's CSRF handshake uses (clients read it from a 409 and send it back). */
export const SESSION_ID_HEADER = 'X-Transmission-Session-Id';

/**
 * A per-daemon random session id, as Transmission makes one: 48 characters. Clients learn it from
 * a 409 answer and repeat it; a page of another site cannot read it (no CORS), so it cannot post
 * RPC requests in the user's name.
 */
export function newSessionId(): string {
  return randomBytes(36).toString('base64url');
}

/** Whether the request carries `expected` (constant time). */
export function hasSessionId(c: Context, expected: string): boolean {
  const given = Buffer.from(c.req.header(SESSION_ID_HEADER) ?? '');
  const wanted = Buffer.from(expected);
  return given.length === wanted.length && timingSafeEqual(given, wanted);
}

/** Transmission's 409: the id in a header (and in the page, for people who look). */
export function sessionConflict(c: Context, id: string): Response {
  return c.html(
    `<h1>409: Conflict</h1><p>Your request had an invalid session-id header.</p><p><code>${SESSION_ID_HEADER}: ${id}</code></p>`,
    409,
    { [SESSION_ID_HEADER]: id },
  );
}
