/**
 * A Node with `reusePort` (>= 22.12) for the tests of the peer hosts' own accept: this machine's
 * Node may be 20. Fetched once from the npm registry's `node-<platform>-<arch>` package (the
 * official binary) into a cache directory under the temp dir; `.ci/run` fills the same cache
 * before the tests, so under CI the test never downloads.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';

export const NEWER_NODE_VERSION = '22.12.0';

/** Where the binary is cached: `<tmpdir>/tork-node-<version>/bin/node` (.ci/run uses the same). */
export function newerNodeDir(): string {
  return join(tmpdir(), `tork-node-${NEWER_NODE_VERSION}`);
}

function hasReusePort(version: string): boolean {
  const [major = 0, minor = 0] = version.replace(/^v/, '').split('.').map(Number);
  return major > 23 || (major === 23 && minor >= 1) || (major === 22 && minor >= 12);
}

/** The binary's path, or why there is none. Fetches at most once (the cache is kept). */
export function obtainNewerNode(): { path: string } | { reason: string } {
  if (hasReusePort(process.versions.node)) return { path: process.execPath };
  if (process.platform !== 'linux' && process.platform !== 'darwin')
    return { reason: `no node-${process.platform}-${process.arch} package on npm` };
  const dir = newerNodeDir();
  const binary = join(dir, 'bin', 'node');
  if (!existsSync(binary)) {
    const pkg = `node-${process.platform}-${process.arch}@${NEWER_NODE_VERSION}`;
    mkdirSync(dir, { recursive: true });
    const staging = mkdtempSync(join(dir, 'fetch-'));
    try {
      const pack = spawnSync('npm', ['pack', pkg, '--pack-destination', staging, '--silent'], {
        encoding: 'utf8',
        timeout: 300_000,
      });
      if (pack.status !== 0)
        return { reason: `npm pack ${pkg} failed: ${(pack.stderr || pack.error?.message || '').trim()}` };
      const tarball = join(staging, pack.stdout.trim().split('\n').at(-1)!);
      const tar = spawnSync('tar', ['xzf', tarball, '-C', staging, 'package/bin/node'], {
        encoding: 'utf8',
        timeout: 120_000,
      });
      if (tar.status !== 0) return { reason: `tar of ${tarball} failed: ${tar.stderr}` };
      mkdirSync(join(dir, 'bin'), { recursive: true });
      // Atomic: a concurrent run sees either no binary or a whole one.
      renameSync(join(staging, 'package/bin/node'), binary);
    } finally {
      rmSync(staging, { recursive: true, force: true });
    }
  }
  const version = spawnSync(binary, ['--version'], { encoding: 'utf8', timeout: 30_000 });
  if (version.status !== 0 || !hasReusePort(version.stdout.trim()))
    return { reason: `${binary} --version: ${version.stdout.trim() || version.stderr.trim()}` };
  return { path: binary };
}

/** Like requireProgram: skip with the reason, except under CI=true where it fails. */
export function requireNewerNode(t: TestContext): string | undefined {
  const found = obtainNewerNode();
  if ('path' in found) return found.path;
  const reason = `no Node >= 22.12 (reusePort): ${found.reason}`;
  if (process.env.CI === 'true') throw new Error(`${reason} (required when CI=true)`);
  t.skip(reason);
  return undefined;
}
