// Run by `pnpm run build` after `tsc -b`: bundles the code each thread loads at start into one ES
// module per entry. Why: Node 20 loads ES modules one by one (resolve, read, compile, link), and
// `tork download`'s coordinator loads ~300 of them (~0.65 CPU s), each peer host ~170 (95 of them
// zod's, ~0.25–0.45 s); one bundled file of only what is imported costs a quarter of that
// (docs/architecture.md "Start-up"). The compiled modules stay the fallback: main.js and
// @tork/workers' threadEntry pick a bundle only when it exists.
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const workersDist = join(root, 'packages/workers/dist');
const cliDist = join(root, 'packages/cli/dist');

const common = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: true,
  logLevel: 'warning',
  // CommonJS dependencies (bittorrent-dht and its tree) call require() for Node built-ins, which
  // an ES module has no binding for.
  banner: {
    js: "import { createRequire as __torkCreateRequire } from 'node:module';\nconst require = __torkCreateRequire(import.meta.url);",
  },
};

function mustExist(path) {
  if (!existsSync(path)) throw new Error(`bundle: ${path} is missing (run tsc -b first)`);
  return path;
}

const started = performance.now();
/** Thread entries, relative to packages/workers/dist; each becomes dist/bundle/<basename>. */
const threadEntries = [
  'peer-host/peer-host-worker.js',
  'hash-worker/hash-worker.js',
  'udp-host/udp-host-worker.js',
];
for (const entry of threadEntries) {
  await build({
    ...common,
    entryPoints: [mustExist(join(workersDist, entry))],
    outfile: join(workersDist, 'bundle', entry.split('/').pop()),
  });
}
// `tork download` / `tork seed`: what main.js imports for them, as one module. The other commands
// (info, remote, daemon, bench, …): cli.js, whose commands are dynamic imports, so each one's code
// is a chunk loaded when it runs (`tork --version` loads none). One build for both entries: the
// chunks they share (core, zod) are one file each.
const cliBundle = join(cliDist, 'bundle');
const { metafile } = await build({
  ...common,
  metafile: true,
  entryPoints: {
    download: mustExist(join(cliDist, 'download-entry.js')),
    cli: mustExist(join(cliDist, 'cli.js')),
  },
  // piscina finds its own worker file beside its module (__dirname): it stays a package, which is
  // why @tork/cli depends on it directly.
  external: ['piscina'],
  outdir: cliBundle,
  // What download.ts imports only when asked (metrics' prom-client, the extension, the trace
  // writer) stays in chunks of its own, loaded when it is used, as unbundled.
  splitting: true,
  chunkNames: 'chunk-[hash]',
});
// Chunks are named by their content hash: an incremental build writes new ones beside those of
// the builds before, and `pnpm pack` of a working tree would ship them all. What this build did not
// write goes.
// The metafile's paths are relative to the working directory.
const written = new Set(Object.keys(metafile.outputs).map((path) => relative(cliBundle, resolve(path))));
let stale = 0;
for (const name of readdirSync(cliBundle)) {
  if (name.startsWith('chunk-') && !written.has(name)) {
    rmSync(join(cliBundle, name));
    stale++;
  }
}
console.log(
  `bundled ${threadEntries.length + 2} entries in ${Math.round(performance.now() - started)} ms` +
    (stale > 0 ? `; ${stale} stale chunk files removed` : ''),
);
