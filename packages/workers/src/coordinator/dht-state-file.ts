import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import {
  type DhtBootstrapAddress,
  type DhtStateFile,
  MAX_DHT_STATE_FILE_BYTES,
  parseDhtState,
  TorkError,
  TorkErrorCode,
  toTorkError,
} from '@tork/core';

/** The well-known public routers libtorrent and others bootstrap from. */
export const PUBLIC_DHT_ROUTERS: readonly DhtBootstrapAddress[] = [
  { host: 'router.bittorrent.com', port: 6881 },
  { host: 'router.utorrent.com', port: 6881 },
  { host: 'dht.transmissionbt.com', port: 6881 },
  { host: 'dht.libtorrent.org', port: 25401 },
];

/**
 * `TORK_HERMETIC=1`: nothing may reach beyond this machine. The test script sets it, so that no
 * test that leaves the DHT on by default ever asks a public router or a node saved by a real run.
 */
export function isHermetic(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.TORK_HERMETIC === '1';
}

/** The default bootstrap list: the public routers, none under `TORK_HERMETIC=1`. */
export function defaultDhtBootstrap(env: NodeJS.ProcessEnv = process.env): readonly DhtBootstrapAddress[] {
  return isHermetic(env) ? [] : PUBLIC_DHT_ROUTERS;
}

/**
 * Where the routing table is kept across runs: `$XDG_CACHE_HOME/tork/dht.json`, else
 * `~/.cache/tork/dht.json`. Undefined under `TORK_HERMETIC=1` (a table saved by a real run lists
 * public nodes): a hermetic run keeps a table only where it is told to.
 */
export function defaultDhtStatePath(
  env: NodeJS.ProcessEnv = process.env,
  home: string = homedir(),
): string | undefined {
  if (isHermetic(env)) return undefined;
  const cache = env.XDG_CACHE_HOME?.startsWith('/') ? env.XDG_CACHE_HOME : join(home, '.cache');
  return join(cache, 'tork', 'dht.json');
}

/**
 * Reads a saved routing table: undefined when there is none; TorkError TORK_ERR_DHT when it is
 * unreadable, too large or malformed (the caller starts from zero and says so).
 */
export async function loadDhtState(path: string): Promise<DhtStateFile | undefined> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw toTorkError(error, TorkErrorCode.DHT, `cannot read the DHT state ${path}`);
  }
  if (bytes.length > MAX_DHT_STATE_FILE_BYTES) {
    throw new TorkError(TorkErrorCode.DHT, `DHT state ${path} is over ${MAX_DHT_STATE_FILE_BYTES} bytes`, {
      path,
      length: bytes.length,
    });
  }
  try {
    return parseDhtState(bytes.toString('utf8'));
  } catch (error) {
    const bad = toTorkError(error, TorkErrorCode.DHT);
    throw new TorkError(bad.code, `${path}: ${bad.message}`, { path }, { cause: bad });
  }
}

/** Writes the routing table atomically (temp file, rename), creating its directory. */
export async function saveDhtState(path: string, state: DhtStateFile): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const temp = `${path}.${process.pid}.tmp`;
  await writeFile(temp, `${JSON.stringify(state)}\n`);
  await rename(temp, path);
}
