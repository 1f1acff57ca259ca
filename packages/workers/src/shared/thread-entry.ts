import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** What a thread of this build runs: one bundled file per entry, or the compiled modules. */
export type ThreadCode = 'bundled' | 'modules';

// Resolved through the package, not relative to this file: this module may itself run inside a
// bundle elsewhere (the CLI's download bundle, packages/cli/dist/bundle/), where a path relative to
// import.meta.url would point into the wrong package.
const WORKERS_DIST = new URL('./dist/', import.meta.resolve('@tork/workers/package.json'));
const BUNDLE_DIR = new URL('bundle/', WORKERS_DIST);

/**
 * The code a worker thread starts from: `dist/bundle/<name>` of @tork/workers (written by
 * scripts/bundle-threads.mjs in `pnpm run build`) when it exists, else the compiled module entry.
 * Why: a thread loads all of its code from scratch, and one bundled file costs it ~0.1 CPU s against
 * ~0.25–0.45 s for the ~170 modules it would otherwise load (docs/architecture.md "Start-up"). The
 * modules stay the fallback so a plain `tsc -b` build still runs.
 * @param name the entry's file name, e.g. `peer-host-worker.js`
 * @param modulePath the compiled module entry, relative to @tork/workers' `dist/`
 */
export function threadEntry(name: string, modulePath: string): URL {
  const bundled = new URL(name, BUNDLE_DIR);
  return existsSync(fileURLToPath(bundled)) ? bundled : new URL(modulePath, WORKERS_DIST);
}

/** Whether this build's threads run bundles (reported in `tork download --json`'s `startup` event). */
export function threadCode(): ThreadCode {
  return existsSync(fileURLToPath(new URL('peer-host-worker.js', BUNDLE_DIR))) ? 'bundled' : 'modules';
}
