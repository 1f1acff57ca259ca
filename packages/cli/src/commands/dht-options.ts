/**
 * The DHT's options of `tork download` and `tork seed` (`--no-dht`, `--dht-bootstrap`,
 * `--dht-state`), their help, and the service they build: kept apart so that download.ts only
 * spreads them in and starts/closes the service.
 */
import { isIPv6 } from 'node:net';
import { resolve } from 'node:path';
import {
  type DhtBootstrapAddress,
  MAX_DHT_BOOTSTRAP_NODES,
  type PeerDiscovery,
  TorkError,
  TorkErrorCode,
} from '@tork/core';
import {
  DhtService,
  type DhtServiceEvent,
  defaultDhtBootstrap,
  defaultDhtStatePath,
  PUBLIC_DHT_ROUTERS,
  type UdpHostThread,
} from '@tork/workers';
import type { CommandHelp } from '../help.js';
import type { CliIo } from '../io.js';

export const dhtOptions = {
  'no-dht': { type: 'boolean', default: false },
  'dht-bootstrap': { type: 'string' },
  'dht-state': { type: 'string' },
} as const;

export const dhtHelp: CommandHelp<typeof dhtOptions>['help'] = {
  'no-dht': { text: 'no DHT (it is never used for private torrents anyway)' },
  'dht-bootstrap': {
    arg: 'host:port,…',
    text: 'DHT routers to start from when the saved routing table is short ("" for none)',
    default: `${PUBLIC_DHT_ROUTERS.map((node) => `${node.host}:${node.port}`).join(',')}; none with TORK_HERMETIC=1`,
  },
  'dht-state': {
    arg: 'FILE',
    text: 'where the DHT routing table is kept across runs',
    default: '$XDG_CACHE_HOME/tork/dht.json or ~/.cache/tork/dht.json; none with TORK_HERMETIC=1',
  },
};

/** What the DHT options ask for: undefined with `--no-dht`. */
export interface DhtConfig {
  readonly bootstrap: readonly DhtBootstrapAddress[];
  readonly statePath: string | undefined;
}

/** `host:port,host:port` (IPv4 literals or host names: the DHT speaks IPv4 only). */
export function parseDhtBootstrap(text: string): DhtBootstrapAddress[] {
  const entries = text
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
  if (entries.length > MAX_DHT_BOOTSTRAP_NODES) {
    throw new TorkError(
      TorkErrorCode.USAGE,
      `--dht-bootstrap takes at most ${MAX_DHT_BOOTSTRAP_NODES} addresses`,
    );
  }
  return entries.map((entry) => {
    const match = /^([^:[\]\s]+):(\d{1,5})$/.exec(entry);
    const port = match ? Number(match[2]) : 0;
    if (!match || port < 1 || port > 65535 || isIPv6(match[1]!)) {
      throw new TorkError(
        TorkErrorCode.USAGE,
        `--dht-bootstrap must be host:port,… with IPv4 addresses or host names, got '${entry}'`,
      );
    }
    return { host: match[1]!, port };
  });
}

/** Reads the DHT options; throws TorkError USAGE for a bad `--dht-bootstrap`. */
export function dhtConfig(
  values: { 'no-dht'?: boolean; 'dht-bootstrap'?: string; 'dht-state'?: string },
  env: NodeJS.ProcessEnv = process.env,
): DhtConfig | undefined {
  if (values['no-dht']) {
    if (values['dht-bootstrap'] !== undefined || values['dht-state'] !== undefined) {
      throw new TorkError(TorkErrorCode.USAGE, '--dht-bootstrap and --dht-state need the DHT: drop --no-dht');
    }
    return undefined;
  }
  return {
    bootstrap:
      values['dht-bootstrap'] !== undefined
        ? parseDhtBootstrap(values['dht-bootstrap'])
        : defaultDhtBootstrap(env),
    statePath: values['dht-state'] !== undefined ? resolve(values['dht-state']) : defaultDhtStatePath(env),
  };
}

/**
 * The DHT service for an Engine's `discovery` (its thread starts only when a public torrent joins),
 * reporting on stderr, or as NDJSON `dht-*` events with `--json`.
 */
export function openDht(
  config: DhtConfig | undefined,
  where: { host: string; port: number; thread?: UdpHostThread },
  io: CliIo,
  output: 'json' | 'text' | 'quiet',
): (PeerDiscovery & { close(): Promise<void> }) | undefined {
  if (!config) return undefined;
  const onEvent = (event: DhtServiceEvent): void => {
    if (output === 'json') {
      const { type, ...data } = event;
      io.stdout(`${JSON.stringify({ event: `dht-${type}`, time: Date.now(), ...data })}\n`);
    } else if (event.type === 'error' && output === 'text') {
      io.stderr(`tork: dht: ${event.error.message}${event.fatal ? ' (continuing without the DHT)' : ''}\n`);
    }
  };
  return new DhtService({
    host: where.host,
    port: where.port,
    ...(where.thread ? { thread: where.thread } : {}),
    bootstrap: config.bootstrap,
    ...(config.statePath ? { statePath: config.statePath } : {}),
    onEvent,
  });
}
