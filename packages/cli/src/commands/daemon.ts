import { randomBytes } from 'node:crypto';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { TorkError, TorkErrorCode, toTorkError } from '@tork/core';
import { defaultPeerHosts } from '@tork/workers/available-cores';
import { intOption, oneLine } from '../args.js';
import { isLoopbackHost } from '../daemon/api-guard.js';
import { MAX_API_MAX_PEERS, MAX_API_UPLOAD_SLOTS } from '../daemon/api-schemas.js';
import { startApiServer } from '../daemon/api-server.js';
import { DaemonState, defaultStateDir } from '../daemon/daemon-state.js';
import { DownloadRoot } from '../daemon/download-root.js';
import { openEngineStack } from '../daemon/engine-stack.js';
import { EventHub } from '../daemon/event-hub.js';
import { DAEMON_ROUTE_MODULES } from '../daemon/route-modules.js';
import { sharedThreadStats } from '../daemon/thread-sampler.js';
import { DEFAULT_DAEMON_MAX_PEERS, TorrentRegistry } from '../daemon/torrent-registry.js';
import { type CommandHelp, PEER_HOSTS, printedHelp } from '../help.js';
import { type CliIo, ExitCode } from '../io.js';
import { dhtConfig, dhtHelp, dhtOptions } from './dht-options.js';
import { rateOption } from './download.js';
import { DEFAULT_LISTEN_HOST, DEFAULT_PORT } from './download-options.js';

/** `--rpc-listen` default: loopback, the port `transmission-remote` tries first. */
export const DEFAULT_RPC_LISTEN = '127.0.0.1:9091';

const options = {
  'rpc-listen': { type: 'string' },
  'rpc-token': { type: 'string' },
  state: { type: 'string' },
  'download-dir': { type: 'string' },
  'download-root': { type: 'string' },
  port: { type: 'string' },
  'listen-host': { type: 'string' },
  workers: { type: 'string' },
  'max-download': { type: 'string' },
  'max-upload': { type: 'string' },
  'max-peers': { type: 'string' },
  'upload-slots': { type: 'string' },
  ...dhtOptions,
} as const;

export const daemonHelp: CommandHelp<typeof options> = {
  usage:
    'usage: tork daemon [--rpc-listen HOST:PORT] [--state DIR] [--download-dir DIR] [--download-root DIR]',
  summary:
    'run many torrents in one process (one engine, one peer port), driven by an HTTP API (tork remote)',
  options,
  help: {
    'rpc-listen': {
      arg: 'HOST:PORT',
      text: 'where the HTTP API listens (a non-loopback address needs --rpc-token)',
      default: DEFAULT_RPC_LISTEN,
    },
    'rpc-token': {
      arg: 'TOKEN',
      text: "required as 'Authorization: Bearer TOKEN' (or as the HTTP Basic password, for Transmission clients); 'auto' generates one and prints it once",
      default: 'none (then only a loopback --rpc-listen is allowed)',
    },
    state: {
      arg: 'DIR',
      text: 'where the list of torrents is kept across restarts',
      default: '$XDG_DATA_HOME/tork or ~/.local/share/tork',
    },
    'download-dir': {
      arg: 'DIR',
      text: 'output directory of torrents added without one',
      default: '--download-root if given, else ~/Downloads',
    },
    'download-root': {
      arg: 'DIR',
      text: 'the API may name no directory or file outside DIR',
      default: 'none (any path)',
    },
    port: {
      arg: 'N',
      text: 'peer port (TCP, and UDP for uTP and the DHT); 0 picks a free one',
      default: String(DEFAULT_PORT),
    },
    'listen-host': { arg: 'HOST', text: 'address to accept peers on', default: DEFAULT_LISTEN_HOST },
    workers: { arg: 'N', text: 'peer worker threads', default: PEER_HOSTS },
    'max-download': {
      arg: 'RATE',
      text: 'cap on all torrents together, e.g. 10MiB (the API can change it)',
      default: 'none',
    },
    'max-upload': { arg: 'RATE', text: 'cap on all torrents together, e.g. 2MiB', default: 'none' },
    'max-peers': {
      arg: 'N',
      text: 'peer connections of all torrents together, 1 to 10000 (each torrent has its own limit too; the API can change both)',
      default: String(DEFAULT_DAEMON_MAX_PEERS),
    },
    'upload-slots': {
      arg: 'N',
      text: 'regular upload slots of all torrents together, shared equally among those with peers',
      default: 'none (each torrent its own, 4 by default)',
    },
    ...dhtHelp,
  },
};

/** `HOST:PORT` (IPv6 in brackets). */
export function parseListen(text: string): { host: string; port: number } {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s]+)):(\d{1,5})$/.exec(text);
  const port = match ? Number(match[3]) : -1;
  if (!match || port > 65535)
    throw new TorkError(TorkErrorCode.USAGE, `--rpc-listen must be HOST:PORT, got '${text}'`);
  return { host: (match[1] ?? match[2])!, port };
}

/** `tork daemon`: the engine, the state, the API; runs until SIGINT or SIGTERM. */
export async function runDaemon(args: readonly string[], io: CliIo): Promise<ExitCode> {
  if (printedHelp(args, io, daemonHelp)) return ExitCode.OK;
  let values: ReturnType<
    typeof parseArgs<{ args: string[]; options: typeof options; strict: true }>
  >['values'];
  let listen: { host: string; port: number };
  let token: string | undefined;
  try {
    ({ values } = parseArgs({ args: [...args], options, strict: true }));
    listen = parseListen(values['rpc-listen'] ?? DEFAULT_RPC_LISTEN);
    token = values['rpc-token'];
    if (token === 'auto') {
      token = randomBytes(24).toString('base64url');
      io.stderr(`tork daemon: API token (printed once): ${token}\n`);
    }
    if (token !== undefined && token.length < 16)
      throw new TorkError(TorkErrorCode.USAGE, '--rpc-token must be at least 16 characters (or auto)');
    if (!isLoopbackHost(listen.host) && token === undefined)
      throw new TorkError(
        TorkErrorCode.USAGE,
        `--rpc-listen ${listen.host} is not a loopback address: it needs --rpc-token TOKEN (or --rpc-token auto)`,
      );
  } catch (error) {
    io.stderr(`tork daemon: ${oneLine(toTorkError(error, TorkErrorCode.USAGE))}\n${daemonHelp.usage}\n`);
    return ExitCode.BAD_INPUT;
  }
  const root = new DownloadRoot(values['download-root']);
  const state = new DaemonState(resolve(values.state ?? defaultStateDir()));
  let stack: Awaited<ReturnType<typeof openEngineStack>> | undefined;
  try {
    const downloadDir = await root.check(
      values['download-dir'] ?? root.root ?? join(homedir(), 'Downloads'),
      '--download-dir',
    );
    const maxDownload = rateOption(values['max-download'], 'max-download');
    const maxUpload = rateOption(values['max-upload'], 'max-upload');
    // Checked before anything opens.
    const peerDefaults = {
      maxPeers: intOption(values['max-peers'], 'max-peers', 1, MAX_API_MAX_PEERS, DEFAULT_DAEMON_MAX_PEERS),
      ...(values['upload-slots'] !== undefined
        ? { uploadSlots: intOption(values['upload-slots'], 'upload-slots', 1, MAX_API_UPLOAD_SLOTS, 1) }
        : {}),
    };
    stack = await openEngineStack(
      {
        port: intOption(values.port, 'port', 0, 65535, DEFAULT_PORT),
        host: values['listen-host'] ?? DEFAULT_LISTEN_HOST,
        workers: intOption(values.workers, 'workers', 1, 64, defaultPeerHosts()),
        dht: dhtConfig(values),
        rateLimits: {
          ...(maxDownload !== undefined ? { download: maxDownload } : {}),
          ...(maxUpload !== undefined ? { upload: maxUpload } : {}),
        },
      },
      io,
    );
    const registry = new TorrentRegistry(stack.engine, state, peerDefaults);
    const hub = new EventHub();
    registry.on('event', (event) => hub.publish(event));
    await registry.restore();
    const api = await startApiServer(
      {
        registry,
        engine: stack.engine,
        // One sample of the hosts' counters a second, shared by /metrics and the web page.
        threads: sharedThreadStats(stack.actors),
        udp: stack.udp,
        hub,
        root,
        downloadDir,
        peerPort: stack.listener.port,
      },
      { host: listen.host, port: listen.port, token, routes: DAEMON_ROUTE_MODULES },
    );
    const shown = listen.host.includes(':') ? `[${listen.host}]` : listen.host;
    io.stdout(
      `tork daemon: API on http://${shown}:${api.port}/api/v1; peers on port ${stack.listener.port}; ` +
        `${registry.ids.length} torrents; state in ${state.dir}\n`,
    );
    io.stdout(`tork daemon: web page at http://${shown}:${api.port}/\n`);
    const opened = stack;
    await new Promise<void>((resolveStop) => {
      const stop = () => {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        resolveStop();
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    });
    await api.close();
    await registry.close();
    await opened.close();
    io.stdout('tork daemon: stopped; every torrent saved its resume data\n');
    return ExitCode.OK;
  } catch (error) {
    await stack?.close().catch(() => {});
    const torkError = toTorkError(error, TorkErrorCode.IO);
    io.stderr(`tork daemon: ${oneLine(torkError)}\n`);
    return torkError.code === TorkErrorCode.USAGE || torkError.code === TorkErrorCode.API_FORBIDDEN
      ? ExitCode.BAD_INPUT
      : ExitCode.FAILURE;
  }
}
