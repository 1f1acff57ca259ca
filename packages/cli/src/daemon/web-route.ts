import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { RouteModule } from './api-server.js';

/** The page's own files: `packages/cli/web/`, shipped next to `dist/` (tsc never touches them). */
const WEB_DIR = new URL('../../web/', import.meta.url);

const require = createRequire(import.meta.url);
/** uPlot from the package's own dependency, resolved where npm/pnpm put it. */
const uplot = (file: string) => require.resolve(`uplot/dist/${file}`);

const HTML = 'text/html; charset=utf-8';
const JS = 'text/javascript; charset=utf-8';
const CSS = 'text/css; charset=utf-8';

/**
 * Every file the page is made of, by URL path. Nothing else is served: a path is looked up in this
 * table, never joined onto a directory, so `/assets/../../etc/passwd` (or its %2e%2e spelling) is
 * simply an unknown path, answered 404 by the API's not-found handler.
 */
export const WEB_ASSETS: Readonly<Record<string, { readonly file: () => string; readonly type: string }>> = {
  '/': { file: () => fileURLToPath(new URL('index.html', WEB_DIR)), type: HTML },
  '/assets/app.js': { file: () => fileURLToPath(new URL('app.js', WEB_DIR)), type: JS },
  '/assets/style.css': { file: () => fileURLToPath(new URL('style.css', WEB_DIR)), type: CSS },
  '/assets/icon.svg': { file: () => fileURLToPath(new URL('icon.svg', WEB_DIR)), type: 'image/svg+xml' },
  '/assets/uplot.js': { file: () => uplot('uPlot.iife.min.js'), type: JS },
  '/assets/uplot.css': { file: () => uplot('uPlot.min.css'), type: CSS },
};

/**
 * Only this origin's scripts, styles, images and connections; no plugins, no framing, no
 * `<base>`. No inline script or style is allowed (the page has none; uPlot sets styles through
 * the CSSOM, which the policy does not cover).
 */
export const WEB_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
  "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

const HEADERS = {
  'content-security-policy': WEB_CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  // Small files, read from memory: always revalidated, so a new daemon's page is never stale.
  'cache-control': 'no-cache',
};

/**
 * The web page at `/` and its files under `/assets/`: static, read once into memory at the first
 * request (a few tens of KB). Served without the token (they hold no data); the page sends the
 * token, which it asks for on a 401, with its own API calls.
 */
export const webRoute: RouteModule = {
  paths: Object.keys(WEB_ASSETS),
  tokenFree: (path) => Object.hasOwn(WEB_ASSETS, path),
  mount(app) {
    const cache = new Map<string, Promise<Buffer>>();
    for (const [path, asset] of Object.entries(WEB_ASSETS))
      app.get(path, async (c) => {
        let body = cache.get(path);
        if (!body) {
          body = readFile(asset.file());
          cache.set(path, body);
          body.catch(() => cache.delete(path));
        }
        return c.body(new Uint8Array(await body), 200, { ...HEADERS, 'content-type': asset.type });
      });
  },
};
