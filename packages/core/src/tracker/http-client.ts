/**
 * HTTP(S) tracker client (BEP 3, BEP 23, BEP 48) over node:http/https: one GET per announce or
 * scrape, no keep-alive (announces are minutes apart), bounded in time and in bytes.
 */
import http from 'node:http';
import https from 'node:https';
import zlib from 'node:zlib';
import { TorkError, TorkErrorCode } from '../errors.js';
import { validateAnnounceRequest } from './announce-request.js';
import {
  bodyExcerpt,
  buildAnnounceUrl,
  buildScrapeUrl,
  DEFAULT_HTTP_MAX_BODY_BYTES,
  parseAnnounceBody,
  parseScrapeBody,
} from './http-codec.js';
import { displayUrl } from './printable.js';
import type {
  AnnounceRequest,
  AnnounceResponse,
  ScrapeResponse,
  ScrapeStats,
  TrackerClient,
} from './types.js';

/** Time allowed to resolve the host and open the TCP connection, per request (each redirect hop too). */
export const DEFAULT_HTTP_CONNECT_TIMEOUT_MS = 10_000;
/** Time allowed for a whole announce or scrape: connect, redirects, headers and body. */
export const DEFAULT_HTTP_TIMEOUT_MS = 30_000;
/** Redirects followed before giving up. */
export const DEFAULT_HTTP_MAX_REDIRECTS = 3;
/** Info-hashes per HTTP scrape request: keeps the URL near 4 KB, below common server limits. */
export const MAX_HTTP_SCRAPE_HASHES = 64;
/** Bytes of a non-200 reply read to quote in the error. */
const ERROR_BODY_BYTES = 4096;

export interface HttpTrackerClientOptions {
  /** Time to resolve the host and open the TCP connection, per request and redirect hop, in ms. Default: 10,000. */
  readonly connectTimeoutMs?: number;
  /** Total time for one announce or scrape (connect, redirects, body), in ms. Default: 30,000. */
  readonly timeoutMs?: number;
  /** Largest reply body, in bytes, after decompression; beyond it the request is aborted with LIMIT_EXCEEDED. Default: 2 MiB. */
  readonly maxBodyBytes?: number;
  /** Redirects (301, 302, 303, 307, 308) followed. Default: 3. */
  readonly maxRedirects?: number;
  /** `User-Agent` header. Default: `'tork/0.1'`. */
  readonly userAgent?: string;
  /** Extra TLS options for https trackers (e.g. `ca` in tests). Default: Node's defaults. */
  readonly tls?: https.RequestOptions;
}

interface Reply {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Uint8Array;
}

function aborted(): TorkError {
  return new TorkError(TorkErrorCode.ABORTED, 'tracker request aborted');
}

/** Checks an http(s) announce URL; throws TRACKER_URL. */
function checkHttpUrl(url: string): void {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new TorkError(TorkErrorCode.TRACKER_URL, `not a URL: ${displayUrl(url)}`, { url: displayUrl(url) });
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new TorkError(TorkErrorCode.TRACKER_URL, `not an http(s) tracker URL: ${displayUrl(url)}`, {
      url: displayUrl(url),
    });
  }
}

export class HttpTrackerClient implements TrackerClient {
  readonly url: string;
  private readonly connectTimeoutMs: number;
  private readonly timeoutMs: number;
  private readonly maxBodyBytes: number;
  private readonly maxRedirects: number;
  private readonly userAgent: string;
  private readonly tls: https.RequestOptions;
  /** The last `tracker id` received: BEP 3 asks us to send it back on later announces. */
  private trackerId: string | undefined;
  private readonly inFlight = new Set<AbortController>();
  private closed = false;

  constructor(url: string, options: HttpTrackerClientOptions = {}) {
    checkHttpUrl(url);
    this.url = url;
    this.connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_HTTP_CONNECT_TIMEOUT_MS;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_HTTP_TIMEOUT_MS;
    this.maxBodyBytes = options.maxBodyBytes ?? DEFAULT_HTTP_MAX_BODY_BYTES;
    this.maxRedirects = options.maxRedirects ?? DEFAULT_HTTP_MAX_REDIRECTS;
    this.userAgent = options.userAgent ?? 'tork/0.1';
    this.tls = options.tls ?? {};
  }

  async announce(request: AnnounceRequest, signal?: AbortSignal): Promise<AnnounceResponse> {
    validateAnnounceRequest(request);
    const trackerId = request.trackerId ?? this.trackerId;
    const url = buildAnnounceUrl(this.url, trackerId === undefined ? request : { ...request, trackerId });
    const body = await this.get(url, signal);
    const response = this.withUrl(() => parseAnnounceBody(body, { maxBytes: this.maxBodyBytes }));
    if (response.trackerId !== undefined) this.trackerId = response.trackerId;
    return response;
  }

  /** Scrapes in requests of at most 64 info-hashes. Throws TRACKER_URL when the URL has no scrape form. */
  async scrape(infoHashes: readonly Uint8Array[], signal?: AbortSignal): Promise<ScrapeResponse> {
    const result = new Map<string, ScrapeStats>();
    for (let start = 0; start < infoHashes.length; start += MAX_HTTP_SCRAPE_HASHES) {
      const batch = infoHashes.slice(start, start + MAX_HTTP_SCRAPE_HASHES);
      const body = await this.get(buildScrapeUrl(this.url, batch), signal);
      const stats = this.withUrl(() => parseScrapeBody(body, batch, { maxBytes: this.maxBodyBytes }));
      for (const [hash, entry] of stats) result.set(hash, entry);
    }
    return result;
  }

  /** Aborts requests in flight (ABORTED); later calls fail the same way. */
  close(): void {
    this.closed = true;
    for (const controller of this.inFlight) controller.abort(this.closedError());
  }

  /** Adds the tracker's (redacted) URL to errors from the pure parsers. */
  private withUrl<T>(parse: () => T): T {
    try {
      return parse();
    } catch (error) {
      if (!(error instanceof TorkError)) throw error;
      throw new TorkError(
        error.code,
        `${displayUrl(this.url)}: ${error.message}`,
        { ...error.details, url: displayUrl(this.url) },
        { cause: error },
      );
    }
  }

  /** GET with redirects, the total timeout and the caller's signal; resolves the body of a 200. */
  private async get(url: string, signal: AbortSignal | undefined): Promise<Uint8Array> {
    if (this.closed) throw this.closedError();
    if (signal?.aborted) throw aborted();
    const controller = new AbortController();
    const stop = (reason: TorkError): void => controller.abort(reason);
    const onAbort = (): void => stop(aborted());
    signal?.addEventListener('abort', onAbort, { once: true });
    this.inFlight.add(controller);
    const timer = setTimeout(
      () =>
        stop(
          new TorkError(
            TorkErrorCode.TRACKER_TIMEOUT,
            `tracker ${displayUrl(this.url)} did not answer within ${this.timeoutMs} ms`,
            { url: displayUrl(this.url), timeoutMs: this.timeoutMs },
          ),
        ),
      this.timeoutMs,
    );
    try {
      let current = new URL(url);
      for (let redirects = 0; ; redirects++) {
        const reply = await this.requestOnce(current, controller.signal);
        const location = reply.headers.location;
        if ([301, 302, 303, 307, 308].includes(reply.status) && location) {
          if (redirects >= this.maxRedirects) {
            throw new TorkError(
              TorkErrorCode.TRACKER_UNREACHABLE,
              `tracker ${displayUrl(this.url)} redirected more than ${this.maxRedirects} times`,
              { url: displayUrl(this.url), status: reply.status },
            );
          }
          const next = URL.canParse(location, current.href) ? new URL(location, current) : undefined;
          if (next === undefined || (next.protocol !== 'http:' && next.protocol !== 'https:')) {
            throw new TorkError(
              TorkErrorCode.TRACKER_URL,
              `tracker ${displayUrl(this.url)} redirected to ${next ? `a ${next.protocol} URL` : 'a malformed URL'}`,
              { url: displayUrl(this.url) },
            );
          }
          current = next;
          continue;
        }
        if (reply.status !== 200) {
          throw new TorkError(
            TorkErrorCode.TRACKER_UNREACHABLE,
            `tracker ${displayUrl(this.url)} answered HTTP ${reply.status}: ${bodyExcerpt(reply.body)}`,
            { url: displayUrl(this.url), status: reply.status },
          );
        }
        return this.decodeContent(reply);
      }
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      this.inFlight.delete(controller);
    }
  }

  /** Undoes a `Content-Encoding` we did not ask for (we send `identity`), within the same size cap. */
  private decodeContent(reply: Reply): Uint8Array {
    const encoding = String(reply.headers['content-encoding'] ?? 'identity')
      .trim()
      .toLowerCase();
    if (encoding === 'identity' || encoding === '') return reply.body;
    const options = { maxOutputLength: this.maxBodyBytes };
    try {
      if (encoding === 'gzip' || encoding === 'x-gzip') return zlib.gunzipSync(reply.body, options);
      if (encoding === 'deflate') {
        // "deflate" is zlib-wrapped by the RFC but raw in some servers: accept both.
        return reply.body[0] === 0x78
          ? zlib.inflateSync(reply.body, options)
          : zlib.inflateRawSync(reply.body, options);
      }
    } catch (error) {
      if ((error as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') {
        throw this.tooLarge();
      }
      throw new TorkError(
        TorkErrorCode.TRACKER_PROTOCOL,
        `tracker ${displayUrl(this.url)} sent a corrupt ${encoding} body: ${(error as Error).message}`,
        { url: displayUrl(this.url) },
        { cause: error },
      );
    }
    throw new TorkError(
      TorkErrorCode.TRACKER_PROTOCOL,
      `tracker ${displayUrl(this.url)} sent an unsupported content-encoding '${encoding.slice(0, 40)}'`,
      { url: displayUrl(this.url) },
    );
  }

  private closedError(): TorkError {
    return new TorkError(TorkErrorCode.ABORTED, 'HTTP tracker client closed', { url: displayUrl(this.url) });
  }

  private tooLarge(): TorkError {
    return new TorkError(
      TorkErrorCode.LIMIT_EXCEEDED,
      `tracker ${displayUrl(this.url)} reply exceeds ${this.maxBodyBytes} bytes`,
      { url: displayUrl(this.url), maxBodyBytes: this.maxBodyBytes },
    );
  }

  /** One HTTP exchange, no redirect handling. Rejects only with TorkError. */
  private requestOnce(url: URL, signal: AbortSignal): Promise<Reply> {
    return new Promise<Reply>((resolve, reject) => {
      let settled = false;
      let connectTimer: NodeJS.Timeout | undefined;
      const settle = (error: TorkError | undefined, reply?: Reply): void => {
        if (settled) return;
        settled = true;
        clearTimeout(connectTimer);
        signal.removeEventListener('abort', onAbort);
        if (error) {
          req.destroy();
          reject(error);
        } else resolve(reply!);
      };
      const onAbort = (): void => settle(signal.reason instanceof TorkError ? signal.reason : aborted());
      const unreachable = (error: Error): TorkError =>
        new TorkError(
          TorkErrorCode.TRACKER_UNREACHABLE,
          `cannot reach tracker ${displayUrl(this.url)}: ${error.message}`,
          { url: displayUrl(this.url), cause: (error as { code?: string }).code },
          { cause: error },
        );

      const options: https.RequestOptions = {
        method: 'GET',
        agent: false,
        headers: { 'User-Agent': this.userAgent, 'Accept-Encoding': 'identity', Connection: 'close' },
        ...(url.protocol === 'https:' ? this.tls : {}),
      };
      const req = (url.protocol === 'https:' ? https : http).request(url, options);
      req.on('socket', (socket) => {
        if (!socket.connecting) return;
        connectTimer = setTimeout(
          () =>
            settle(
              new TorkError(
                TorkErrorCode.TRACKER_TIMEOUT,
                `cannot connect to tracker ${displayUrl(this.url)} within ${this.connectTimeoutMs} ms`,
                { url: displayUrl(this.url), connectTimeoutMs: this.connectTimeoutMs },
              ),
            ),
          this.connectTimeoutMs,
        );
        socket.once('connect', () => clearTimeout(connectTimer));
      });
      req.on('error', (error) => settle(unreachable(error)));
      req.on('response', (res) => {
        const status = res.statusCode ?? 0;
        const isRedirect = status >= 300 && status < 400 && res.headers.location !== undefined;
        // Read a redirect's body not at all, an error page's only far enough to quote it.
        const cap = isRedirect ? 0 : status === 200 ? this.maxBodyBytes : ERROR_BODY_BYTES;
        const declared = Number(res.headers['content-length']);
        if (status === 200 && Number.isFinite(declared) && declared > cap) {
          settle(this.tooLarge());
          return;
        }
        const chunks: Buffer[] = [];
        let length = 0;
        const done = (): void =>
          settle(undefined, {
            status,
            headers: res.headers,
            body: new Uint8Array(Buffer.concat(chunks, length)),
          });
        res.on('data', (chunk: Buffer) => {
          if (length + chunk.length > cap) {
            if (status === 200) {
              settle(this.tooLarge());
              return;
            }
            chunks.push(chunk.subarray(0, cap - length));
            length = cap;
            done();
            // Enough to quote: drop the rest rather than download it.
            req.destroy();
            return;
          }
          chunks.push(chunk);
          length += chunk.length;
        });
        res.on('end', done);
        res.on('error', (error) => settle(unreachable(error)));
        res.on('close', () => {
          if (!res.complete) {
            settle(
              new TorkError(
                TorkErrorCode.TRACKER_UNREACHABLE,
                `tracker ${displayUrl(this.url)} closed the connection before the reply was complete`,
                { url: displayUrl(this.url) },
              ),
            );
          }
        });
      });
      signal.addEventListener('abort', onAbort, { once: true });
      if (signal.aborted) onAbort();
      req.end();
    });
  }
}
