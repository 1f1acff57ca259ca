import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { TorkError, TorkErrorCode } from '@tork/core';
import type { Metrics } from './metrics.js';

/** A request that has not sent its headers by then is dropped, ms (a scrape is one small GET). */
export const METRICS_HEADERS_TIMEOUT_MS = 10_000;

/** Connections open at once; more are closed on accept (a scraper needs one). */
export const METRICS_MAX_CONNECTIONS = 16;

/** Options of `serveMetrics`. */
export interface ServeMetricsOptions {
  /** Headers must arrive within this, ms. Default: `METRICS_HEADERS_TIMEOUT_MS`. */
  readonly headersTimeoutMs?: number;
  /** Default: `METRICS_MAX_CONNECTIONS`. */
  readonly maxConnections?: number;
}

/** A running `/metrics` listener. */
export interface MetricsServer {
  readonly host: string;
  readonly port: number;
  close(): Promise<void>;
}

/**
 * Serves `metrics` at `GET /metrics` (and `HEAD`) with node:http: nothing else, no body read.
 * Other paths get 404, other methods 405. A scrape that fails answers 500 with the error's code.
 */
export async function serveMetrics(
  metrics: Metrics,
  where: { host: string; port: number },
  options: ServeMetricsOptions = {},
): Promise<MetricsServer> {
  const timeoutMs = options.headersTimeoutMs ?? METRICS_HEADERS_TIMEOUT_MS;
  // Node checks the headers timeout on this interval (default 30 s): as often as the timeout asks.
  const checkEvery = Math.max(100, Math.min(1_000, timeoutMs));
  const server: Server = createServer({ connectionsCheckingInterval: checkEvery }, (request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    if (path !== '/metrics') {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /metrics\n');
      return;
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response
        .writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' })
        .end('method not allowed\n');
      return;
    }
    metrics.render().then(
      (text) => {
        response.writeHead(200, { 'content-type': metrics.contentType, 'cache-control': 'no-store' });
        response.end(request.method === 'HEAD' ? undefined : text);
      },
      (error: unknown) => {
        const code = error instanceof TorkError ? error.code : TorkErrorCode.INTERNAL;
        response.writeHead(500, { 'content-type': 'text/plain' }).end(`${code}: scrape failed\n`);
      },
    );
  });
  server.headersTimeout = timeoutMs;
  server.requestTimeout = timeoutMs;
  server.maxConnections = options.maxConnections ?? METRICS_MAX_CONNECTIONS;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error) =>
      reject(
        new TorkError(TorkErrorCode.IO, `--metrics-listen ${where.host}:${where.port}: ${error.message}`),
      ),
    );
    server.listen(where.port, where.host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  return {
    host: address.address,
    port: address.port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
