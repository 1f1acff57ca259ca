import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { TorkError, TorkErrorCode } from '@tork/core';
import type { Metrics } from './metrics.js';

/** A request that has not sent its headers by then is dropped, ms (a scrape is one small GET). */
const HEADERS_TIMEOUT_MS = 10_000;

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
): Promise<MetricsServer> {
  const server: Server = createServer((request, response) => {
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
  server.headersTimeout = HEADERS_TIMEOUT_MS;
  server.requestTimeout = HEADERS_TIMEOUT_MS;
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
