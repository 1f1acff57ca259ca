import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { getRequestListener } from '@hono/node-server';
import { type Engine, TORK_VERSION, TorkErrorCode, type UdpHostStats } from '@tork/core';
import type { ThreadActorSystem } from '@tork/workers';
import { type Context, Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { z } from 'zod';
import { apiError, errorResponse } from './api-errors.js';
import { apiGuard } from './api-guard.js';
import { API_CONNECTION_OVERHEAD_MS, ApiPacer } from './api-pacer.js';
import { MAX_API_BODY_BYTES } from './api-schemas.js';
import { torrentRoutes } from './api-torrent-routes.js';
import type { DownloadRoot } from './download-root.js';
import type { EventHub } from './event-hub.js';
import { eventsRoute } from './events-route.js';
import { threadsRoute } from './threads-route.js';
import type { TorrentRegistry } from './torrent-registry.js';

/** What every route module is given: the daemon's parts. */
export interface ApiContext {
  readonly registry: TorrentRegistry;
  /** The daemon's one engine (session-wide figures: rate caps, torrents). */
  readonly engine: Engine;
  /**
   * The peer-host threads: their counters (event-loop lag, messages) for metrics and the web page,
   * and which thread hosts a peer. Default: none (no thread figures, peers' `thread` is null).
   */
  readonly threads?: Pick<ThreadActorSystem, 'stats' | 'traffic' | 'hostOf'>;
  /** The UDP host's counters (DHT nodes, uTP), for metrics. Default: none. */
  readonly udp?: { stats(): Promise<UdpHostStats | undefined> };
  readonly hub: EventHub;
  readonly root: DownloadRoot;
  /** The default output directory (`--download-dir`). */
  readonly downloadDir: string;
  /** The engine's peer port. */
  readonly peerPort: number;
}

/**
 * A set of routes mounted on the API's listener (the JSON API is one; Transmission RPC at
 * `/transmission/rpc`, `/metrics` and the web page at `/` plug in the same way). `mount` adds
 * routes with their methods; `paths` lists every path it serves, so that another method on one of
 * them answers 405 rather than 404.
 */
export interface RouteModule {
  readonly paths: readonly string[];
  /**
   * Paths of this module served without the token (the Host check still applies): only the web
   * page's static files, which hold no data; the page then asks for the token. Default: none.
   */
  readonly tokenFree?: (path: string) => boolean;
  mount(app: Hono, context: ApiContext): void;
}

export interface ApiServerOptions {
  readonly host: string;
  readonly port: number;
  readonly token: string | undefined;
  /** Route modules besides the JSON API (mounted after it). */
  readonly routes?: readonly RouteModule[];
}

/** Reads a JSON request body against its schema: malformed JSON or a mismatch is a 400. */
export async function readBody<S extends z.ZodType>(c: Context, schema: S): Promise<z.infer<S>> {
  const text = await c.req.text();
  let json: unknown;
  try {
    json = text === '' ? {} : JSON.parse(text);
  } catch (error) {
    throw apiError(TorkErrorCode.API_BAD_REQUEST, `malformed JSON: ${(error as Error).message}`);
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.length ? `${issue.path.join('.')}: ` : '';
    throw apiError(TorkErrorCode.API_BAD_REQUEST, `${where}${issue?.message ?? 'invalid body'}`);
  }
  return parsed.data;
}

/** The API's pacer: it paces while any torrent downloads. */
function apiPacer(context: ApiContext): ApiPacer {
  return new ApiPacer({
    busy: () => context.engine.torrents.some((torrent) => torrent.state === 'downloading'),
  });
}

/** Builds the app: the guard, the body cap, the JSON API, the extra modules, 404 and 405. */
export function createApiApp(
  context: ApiContext,
  options: Omit<ApiServerOptions, 'port'>,
  pacer: ApiPacer = apiPacer(context),
): Hono {
  const app = new Hono();
  const extra = options.routes ?? [];
  app.use(
    '*',
    apiGuard({
      bindHost: options.host,
      token: options.token,
      tokenFree: (path) => extra.some((module) => module.tokenFree?.(path) ?? false),
    }),
  );
  // After the guard (a refused request costs nothing to wait for), before any work.
  app.use('*', pacer.middleware());
  app.use(
    '*',
    bodyLimit({
      maxSize: MAX_API_BODY_BYTES,
      onError: (c) =>
        errorResponse(
          c,
          apiError(TorkErrorCode.LIMIT_EXCEEDED, `request body over ${MAX_API_BODY_BYTES} bytes`),
        ),
    }),
  );
  const session: RouteModule = {
    paths: ['/api/v1/session'],
    mount(api, { registry, hub, peerPort, engine }) {
      api.get('/api/v1/session', (c) => {
        const torrents = registry.list();
        const limits = registry.sessionPeerLimits;
        const sum = (key: 'downloadRate' | 'uploadRate' | 'downloadedBytes' | 'uploadedBytes') =>
          torrents.reduce((total, torrent) => total + torrent[key], 0);
        return c.json({
          version: TORK_VERSION,
          peerPort,
          torrents: torrents.length,
          running: torrents.filter((torrent) => !torrent.paused && torrent.state !== 'failed').length,
          downloadRate: sum('downloadRate'),
          uploadRate: sum('uploadRate'),
          downloadedBytes: sum('downloadedBytes'),
          uploadedBytes: sum('uploadedBytes'),
          rateLimits: registry.sessionLimits,
          maxPeers: limits.maxPeers,
          uploadSlots: limits.uploadSlots ?? null,
          connections: engine.connections,
          memory: { rssBytes: process.memoryUsage.rss(), heapUsedBytes: process.memoryUsage().heapUsed },
          eventClients: hub.clients,
        });
      });
    },
  };
  const modules = [torrentRoutes, session, eventsRoute, threadsRoute, ...extra];
  for (const module of modules) module.mount(app, context);
  // A known path with another method: 405 (after the modules, so their own methods match first).
  for (const path of new Set(modules.flatMap((module) => module.paths)))
    app.all(path, (c) =>
      errorResponse(c, apiError(TorkErrorCode.API_METHOD, `${c.req.method} is not allowed on ${c.req.path}`)),
    );
  app.notFound((c) => errorResponse(c, apiError(TorkErrorCode.API_NOT_FOUND, `no route ${c.req.path}`)));
  app.onError((error, c) => errorResponse(c, error));
  return app;
}

/**
 * Connections the kernel queues for the API before it accepts them (Node's default is 511). 1,000
 * clients connecting at once overflowed 511: some were reset (ECONNRESET) instead of answered.
 * The kernel caps it at net.core.somaxconn (4,096 on Linux 5.4 and later).
 */
export const API_LISTEN_BACKLOG = 4_096;

/** How long an idle API connection stays open for the client's next request (ms). */
export const API_KEEP_ALIVE_MS = 60_000;
/** API connections open at once at most; the kernel's backlog holds the next ones, Node closes those beyond. */
export const MAX_API_CONNECTIONS = 4_096;

/** The API on its own HTTP listener; resolves once it listens. */
export async function startApiServer(
  context: ApiContext,
  options: ApiServerOptions,
): Promise<{ server: Server; port: number; close(): Promise<void> }> {
  const pacer = apiPacer(context);
  const app = createApiApp(context, options, pacer);
  const server = createServer(getRequestListener(app.fetch));
  // Slow or idle clients do not hold sockets for ever; the event stream keeps its own alive.
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  // A client polling every few seconds keeps its connection: a new one costs the coordinator
  // more than a request does (~0.5 ms against ~0.15 ms).
  server.keepAliveTimeout = API_KEEP_ALIVE_MS;
  server.maxConnections = MAX_API_CONNECTIONS;
  server.on('connection', () => pacer.charge(API_CONNECTION_OVERHEAD_MS));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port: options.port, host: options.host, backlog: API_LISTEN_BACKLOG }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    server,
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        context.hub.close();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
