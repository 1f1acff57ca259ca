/**
 * What `tork download` / `tork seed` need from this package, in one place: the entry of the bundle
 * scripts/bundle.mjs writes (dist/bundle/download.js), and main.js's fallback when there is none.
 */
export { runDownload } from './commands/download.js';
export { processIo, stopWhenStdoutCloses } from './io.js';
