/**
 * What `pnpm pack` would publish: the shipped code and nothing of the test kit (simulations,
 * fixtures, invariant checks, tests), and every file the package's own exports and worker entries
 * need.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../../../', import.meta.url));

/** Test machinery by name: none of it may ship. */
const TEST_ONLY = /\.test\.|fixture|simulat|event-queue|testkit|test-helper|invariant/i;

const packages: Record<string, { readonly mustShip: readonly string[] }> = {
  core: { mustShip: ['dist/index.js', 'dist/index.d.ts'] },
  workers: {
    // Loaded by URL at run time: a missing entry only shows when a thread starts.
    mustShip: ['dist/index.js', 'dist/hash-worker/hash-worker.js', 'dist/peer-host/peer-host-worker.js'],
  },
  cli: {
    // The web page's files are read at run time from web/ next to dist/ (tsc does not copy them).
    mustShip: [
      'dist/main.js',
      'dist/index.js',
      'web/index.html',
      'web/app.js',
      'web/style.css',
      'web/icon.svg',
    ],
  },
};

async function packedFiles(name: string): Promise<string[]> {
  const { stdout } = await run('pnpm', ['pack', '--dry-run', '--json'], {
    cwd: `${root}packages/${name}`,
    maxBuffer: 16 * 1024 * 1024,
  });
  const report = JSON.parse(stdout) as { files: { path: string }[] };
  return report.files.map((file) => file.path);
}

describe('published packages (pnpm pack)', () => {
  for (const [name, { mustShip }] of Object.entries(packages)) {
    it(`@tork/${name} ships no test machinery and every file it needs`, async () => {
      const files = await packedFiles(name);
      assert.ok(files.length > 10, `${files.length} files`);
      const leaked = files.filter((file) => TEST_ONLY.test(file));
      assert.deepEqual(leaked, [], `test-only files in @tork/${name}`);
      for (const file of mustShip) assert.ok(files.includes(file), `${file} missing from @tork/${name}`);
      const manifest = JSON.parse(await readFile(`${root}packages/${name}/package.json`, 'utf8'));
      for (const target of Object.values(manifest.exports ?? {})) {
        const paths = typeof target === 'string' ? [target] : Object.values(target as Record<string, string>);
        for (const path of paths) {
          const file = path.replace(/^\.\//, '');
          if (file === 'package.json') continue;
          if (file.includes('*')) {
            // A subpath pattern (`./internal/*.js` → `./dist/*.js`): something must ship under it.
            const [prefix, suffix] = file.split('*') as [string, string];
            assert.ok(
              files.some((shipped) => shipped.startsWith(prefix) && shipped.endsWith(suffix)),
              `export ${path} matches no shipped file`,
            );
          } else assert.ok(files.includes(file), `export ${path} not shipped`);
        }
      }
      // Bundle chunks are named by content hash: one no bundle file imports is left from an
      // earlier build (scripts/bundle.mjs removes them) and would ship for nothing.
      const chunks = files.filter((file) => /^dist\/bundle\/chunk-[^/]+\.js$/.test(file));
      const bundles = files.filter((file) => /^dist\/bundle\/[^/]+\.js$/.test(file));
      const sources = await Promise.all(
        bundles.map((file) => readFile(`${root}packages/${name}/${file}`, 'utf8')),
      );
      for (const chunk of chunks) {
        const base = chunk.split('/').pop()!;
        assert.ok(
          sources.some((source, i) => bundles[i] !== chunk && source.includes(`./${base}`)),
          `${chunk} is imported by no bundle file (left from an earlier build)`,
        );
      }
      const deps = { ...manifest.dependencies, ...manifest.peerDependencies };
      assert.equal(deps['@tork/testkit'], undefined, 'a shipped package depends on the test kit');
    });
  }
});
