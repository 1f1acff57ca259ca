import type { RouteModule } from './api-server.js';
import { metricsRoute } from './metrics-route.js';
import { transmissionRoute } from './transmission/transmission-route.js';

/**
 * The route modules `tork daemon` serves besides its JSON API (`/api/v1/…`), in mount order. Prometheus
 * `/metrics` is one (`metrics-route.ts`), Transmission RPC at `/transmission/rpc` another
 * (`transmission/`); the rest of issue 15 plugs in here, each a module of its own: the web page at `/`.
 * Each gets the `ApiContext` (registry, engine, threads, event hub) and sits behind the same guard
 * (Host check, token, body cap).
 */
export const DAEMON_ROUTE_MODULES: readonly RouteModule[] = [metricsRoute, transmissionRoute];
