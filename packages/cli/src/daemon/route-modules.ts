import type { RouteModule } from './api-server.js';
import { metricsRoute } from './metrics-route.js';
import { transmissionRoute } from './transmission/transmission-route.js';
import { webRoute } from './web-route.js';

/**
 * The route modules `tork daemon` serves besides its JSON API (`/api/v1/…`), in mount order:
 * Prometheus `/metrics` (`metrics-route.ts`), Transmission RPC at `/transmission/rpc`
 * (`transmission/`) and the web page at `/` (`web-route.ts`).
 * Each gets the `ApiContext` (registry, engine, threads, event hub) and sits behind the same guard
 * (Host check, token, body cap).
 */
export const DAEMON_ROUTE_MODULES: readonly RouteModule[] = [metricsRoute, transmissionRoute, webRoute];
