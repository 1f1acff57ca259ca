import type { RouteModule } from './api-server.js';
import { metricsRoute } from './metrics-route.js';

/**
 * The route modules `tork daemon` serves besides its JSON API (`/api/v1/…`), in mount order. Prometheus
 * `/metrics` is one (`metrics-route.ts`); the rest of issue 15 plugs in here, each a module of its
 * own: Transmission RPC at `/transmission/rpc`, the web page at `/`.
 * Each gets the `ApiContext` (registry, engine, threads, event hub) and sits behind the same guard
 * (Host check, token, body cap).
 */
export const DAEMON_ROUTE_MODULES: readonly RouteModule[] = [metricsRoute];
