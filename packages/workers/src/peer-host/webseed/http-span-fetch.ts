import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import { TorkError, TorkErrorCode } from '@tork/core/internal/errors.js';
import { parseContentRange } from '@tork/core/internal/webseed/content-range.js';
import {
  WEB_SEED_CONNECT_TIMEOUT_MS,
  WEB_SEED_FIRST_BYTE_TIMEOUT_MS,
  WEB_SEED_MAX_REDIRECTS,
  WEB_SEED_MAX_SKIP_BYTES,
  WEB_SEED_STALL_TIMEOUT_MS,
} from '@tork/core/internal/webseed/web-seed-limits.js';

/** Timeouts and caps of one span fetch; defaults are the `WEB_SEED_*` limits. */
export interface SpanFetchLimits {
  readonly connectTimeoutMs?: number;
  readonly firstByteTimeoutMs?: number;
  readonly stallTimeoutMs?: number;
  readonly maxRedirects?: number;
  readonly maxSkipBytes?: number;
}

/** One byte range of one file at a web seed, read into `target` at `at`. */
export interface SpanRequest {
  readonly url: string;
  /** Offset in the file, and how many bytes. */
  readonly offset: number;
  readonly length: number;
  readonly target: Uint8Array;
  readonly at: number;
  /** Keep-alive agents (one per web seed: its connections are reused between pieces). */
  readonly agents: { readonly http: http.Agent; readonly https: https.Agent };
  readonly signal: AbortSignal;
  /** Payload bytes as they arrive (stats, rate). */
  readonly onBytes: (bytes: number) => void;
  /**
   * A capped torrent's allowance (`--max-download`): every body chunk is paid for as it arrives;
   * false means spent, and the body is paused (TCP pushes back on the server) until `resume` is
   * called. Default: uncapped.
   */
  readonly take?: (bytes: number, resume: () => void) => boolean;
  /** The server ignored `Range` (a 200 with the whole file): counted, the span read anyway. */
  readonly onRangeIgnored?: () => void;
  readonly limits?: SpanFetchLimits;
  readonly userAgent?: string;
}

/**
 * A failed fetch. `transient`: worth another try after a wait (5xx, 408, 429, connection errors,
 * timeouts, a body that ended short); otherwise the web seed is dropped with this message (4xx,
 * a wrong `Content-Range`, a body longer than asked, a redirect loop, a non-http redirect).
 */
export function webSeedError(
  message: string,
  transient: boolean,
  details: Record<string, string | number> = {},
): TorkError {
  return new TorkError(TorkErrorCode.WEB_SEED, message, { transient, ...details });
}

export function isTransient(error: unknown): boolean {
  return error instanceof TorkError && error.details.transient === true;
}

/** Fetches one span, following up to `maxRedirects` redirects to http: or https: URLs. */
export async function fetchSpan(request: SpanRequest): Promise<void> {
  const maxRedirects = request.limits?.maxRedirects ?? WEB_SEED_MAX_REDIRECTS;
  let url = new URL(request.url);
  for (let redirects = 0; ; redirects++) {
    const next = await fetchOnce(url, request);
    if (next === undefined) return;
    if (redirects >= maxRedirects)
      throw webSeedError(`more than ${maxRedirects} redirects from ${request.url}`, false);
    if (next.protocol !== 'http:' && next.protocol !== 'https:')
      throw webSeedError(`redirected to ${next.protocol} (only http: and https: are followed)`, false);
    url = next;
  }
}

/** One request: resolves undefined once the span is in `target`, or with a redirect's target. */
function fetchOnce(url: URL, request: SpanRequest): Promise<URL | undefined> {
  const { offset, length, target, at, limits = {} } = request;
  const last = offset + length - 1;
  return new Promise((resolve, reject) => {
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    let response: IncomingMessage | undefined;
    const finish = (error: TorkError | undefined, redirect?: URL) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      request.signal.removeEventListener('abort', onAbort);
      if (error) {
        req.destroy();
        response?.destroy();
        reject(error);
      } else resolve(redirect);
    };
    const arm = (ms: number, what: string) => {
      clearTimeout(timer);
      timer = setTimeout(() => finish(webSeedError(`${what} within ${ms} ms from ${url.host}`, true)), ms);
    };
    const onAbort = () => finish(new TorkError(TorkErrorCode.ABORTED, 'span fetch aborted'));
    const module = url.protocol === 'https:' ? https : http;
    const req = module.request(url, {
      agent: url.protocol === 'https:' ? request.agents.https : request.agents.http,
      headers: {
        Range: `bytes=${offset}-${last}`,
        // A compressed body would not be the file's bytes.
        'Accept-Encoding': 'identity',
        ...(request.userAgent ? { 'User-Agent': request.userAgent } : {}),
      },
    });
    if (request.signal.aborted) {
      onAbort();
      return;
    }
    request.signal.addEventListener('abort', onAbort);
    arm(limits.connectTimeoutMs ?? WEB_SEED_CONNECT_TIMEOUT_MS, 'no connection');
    req.on('socket', (socket) => {
      const connected = () => arm(limits.firstByteTimeoutMs ?? WEB_SEED_FIRST_BYTE_TIMEOUT_MS, 'no response');
      // A reused keep-alive socket is connected already.
      if (socket.connecting) socket.once(url.protocol === 'https:' ? 'secureConnect' : 'connect', connected);
      else connected();
    });
    req.on('error', (error) => finish(webSeedError(`${url.host}: ${error.message}`, true)));
    req.on('response', (res) => {
      response = res;
      const status = res.statusCode ?? 0;
      const stall = limits.stallTimeoutMs ?? WEB_SEED_STALL_TIMEOUT_MS;
      const describe = `HTTP ${status}${res.statusMessage ? ` ${res.statusMessage}` : ''} for ${url.href}`;
      if ([301, 302, 303, 307, 308].includes(status)) {
        res.resume();
        const location = res.headers.location;
        if (!location) return finish(webSeedError(`${describe} without a Location`, false));
        let next: URL;
        try {
          next = new URL(location, url);
        } catch {
          return finish(webSeedError(`${describe} to a bad Location`, false));
        }
        return finish(undefined, next);
      }
      if (status === 408 || status === 429 || status >= 500)
        return finish(webSeedError(describe, true, { status }));
      if (status !== 200 && status !== 206) return finish(webSeedError(describe, false, { status }));
      const encoding = res.headers['content-encoding'];
      if (encoding !== undefined && encoding !== 'identity')
        return finish(webSeedError(`${describe}: Content-Encoding ${encoding} (asked for identity)`, false));
      // Where the body starts in the file, and what to keep of it.
      let position: number;
      if (status === 206) {
        const range = parseContentRange(res.headers['content-range']);
        if (!range || range.start !== offset || range.end !== last)
          return finish(
            webSeedError(
              `${describe}: Content-Range ${JSON.stringify(res.headers['content-range'] ?? null)}, asked for bytes ${offset}-${last}`,
              false,
            ),
          );
        position = offset;
      } else {
        // The server ignores Range and sends the whole file: skip to the span, stop after it.
        const maxSkip = limits.maxSkipBytes ?? WEB_SEED_MAX_SKIP_BYTES;
        if (offset > maxSkip)
          return finish(
            webSeedError(
              `${url.host} ignores Range and the span starts ${offset} bytes into the file (more than WEB_SEED_MAX_SKIP_BYTES, ${maxSkip})`,
              false,
            ),
          );
        const total = Number(res.headers['content-length'] ?? Number.NaN);
        if (Number.isFinite(total) && total < offset + length)
          return finish(
            webSeedError(
              `${describe}: the file is ${total} bytes, the span ends at ${offset + length}`,
              false,
            ),
          );
        request.onRangeIgnored?.();
        position = 0;
      }
      const end = offset + length;
      arm(stall, 'no body byte');
      // Rate cap: a chunk not paid for pauses the body (no stall timer while we hold it back).
      let paused = false;
      const pay = (bytes: number): void => {
        if (settled) return;
        if (!request.take || request.take(bytes, () => pay(bytes))) {
          if (paused) {
            paused = false;
            arm(stall, 'no body byte');
            res.resume();
          }
          return;
        }
        if (!paused) {
          paused = true;
          clearTimeout(timer);
          res.pause();
        }
      };
      res.on('data', (chunk: Buffer) => {
        if (settled) return;
        arm(stall, 'no body byte');
        pay(chunk.length);
        const from = Math.max(position, offset);
        const to = Math.min(position + chunk.length, end);
        if (status === 206 && position + chunk.length > end)
          return finish(
            webSeedError(`${describe}: the body is longer than the ${length} bytes asked for`, false),
          );
        if (to > from) {
          target.set(chunk.subarray(from - position, to - position), at + (from - offset));
          request.onBytes(to - from);
        }
        position += chunk.length;
        if (status === 200 && position >= end) {
          // The rest of the file is not wanted: the connection goes (it cannot be reused mid-body).
          finish(undefined);
          res.destroy();
        }
      });
      res.on('end', () => {
        if (position < end)
          finish(
            webSeedError(
              `${describe}: the body ended after ${Math.max(0, position - offset)} of ${length} bytes`,
              true,
            ),
          );
        else finish(undefined);
      });
      res.on('error', (error) => finish(webSeedError(`${url.host}: ${error.message}`, true)));
      res.on('aborted', () => finish(webSeedError(`${url.host}: response aborted`, true)));
    });
    req.end();
  });
}
