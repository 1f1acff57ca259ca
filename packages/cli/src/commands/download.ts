import { constants } from 'node:fs';
import { access, readFile, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import {
  DEFAULT_ENCRYPTION_POLICY,
  DEFAULT_TRANSPORT_POLICY,
  ENCRYPTION_POLICIES,
  type EncryptionPolicy,
  Engine,
  type FilePriority,
  type Magnet,
  type MetadataFetch,
  type Metainfo,
  type PeerAddress,
  parseMagnet,
  parseMetainfo,
  type RateLimits,
  TorkError,
  TorkErrorCode,
  type Torrent,
  TRANSPORT_POLICIES,
  TraceRecorder,
  type TransportPolicy,
  torrentFile,
  toTorkError,
  type UdpHostStats,
  v2PieceChecks,
  withPieceLayers,
} from '@tork/core';
import {
  availableCores,
  defaultPeerHosts,
  eagerPeerHosts,
  HashPool,
  hasReusePort,
  Listener,
  type PeerHostThread,
  ThreadActorSystem,
  threadCode,
  UdpHostThread,
  UtpService,
} from '@tork/workers';
import { intOption, oneLine, parseDuration, parsePeerAddress } from '../args.js';
import { formatBytes, parseSize } from '../format.js';
import { type AnyCommandHelp, printedHelp } from '../help.js';
import { type CliIo, ExitCode, stdoutClosed } from '../io.js';
import { openMetrics, parseMetricsListen } from '../metrics/metrics-listen.js';
import { attachJsonEvents, attachJsonFetchEvents } from '../progress/json-events.js';
import { formatRate, peerTable, statusLine } from '../progress/render.js';
import { StartupTimes } from '../progress/startup-times.js';
import { injectTestDelay } from '../test-inject-delay.js';
import { writeTrace } from '../trace/write-trace.js';
import { type EventLoopReport, EventLoopWatchdog } from '../watchdog.js';
import { type DhtConfig, dhtConfig, openDht } from './dht-options.js';
import type { DownloadExtension } from './download-extension.js';
import {
  DEFAULT_LISTEN_HOST,
  DEFAULT_MAX_PEERS,
  DEFAULT_PORT,
  DEFAULT_UPLOAD_SLOTS,
  downloadHelp,
  downloadOrSeedOptions,
  notFor,
  seedHelp,
} from './download-options.js';
import { lsdEnabled, openLsd } from './lsd.js';
import {
  filePrioritiesFor,
  type SelectionRequest,
  selectionRequest,
  skippedSummary,
} from './select-options.js';
import { webSeedsFor } from './web-seeds.js';

function usageError(message: string): TorkError {
  return new TorkError(TorkErrorCode.USAGE, message);
}

/** `--encryption`: one of `ENCRYPTION_POLICIES`; default `prefer`. */
export function encryptionPolicy(value: string | undefined): EncryptionPolicy {
  if (value === undefined) return DEFAULT_ENCRYPTION_POLICY;
  const policy = ENCRYPTION_POLICIES.find((known) => known === value);
  if (!policy) throw usageError(`--encryption must be ${ENCRYPTION_POLICIES.join(', ')}; got '${value}'`);
  return policy;
}

/** `--max-download` / `--max-upload`: a size a second (`10MiB`, `2MB/s`); undefined when not given. */
export function rateOption(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const bytes = parseSize(value.replace(/\/s$/i, ''));
  if (bytes === undefined || bytes < 1024 || bytes > 1024 ** 4)
    throw usageError(`--${name} must be a rate from 1KiB to 1TiB a second, such as 10MiB; got '${value}'`);
  return bytes;
}

/** `--transport`: one of `TRANSPORT_POLICIES`; default `both`. */
export function transportPolicy(value: string | undefined): TransportPolicy {
  if (value === undefined) return DEFAULT_TRANSPORT_POLICY;
  const policy = TRANSPORT_POLICIES.find((known) => known === value);
  if (!policy) throw usageError(`--transport must be ${TRANSPORT_POLICIES.join(', ')}; got '${value}'`);
  return policy;
}

/** Where output goes, by mode: NDJSON events, a live terminal display, or plain periodic lines. */
interface Reporter {
  attach(torrent: Torrent): void;
  /** A magnet's metadata phase, before `attach`. */
  attachFetch(fetch: MetadataFetch): void;
  finish(): void;
}

/**
 * NDJSON events. The first `peer-connected` and the first `piece-verified` carry `sinceStartMs`
 * (ms since the process started), and the first verified piece is followed by one `startup` event
 * with every start-up phase's time (`StartupTimes`): where a slow start went.
 */
function jsonReporter(io: CliIo, startup: StartupTimes): Reporter {
  const write = (event: string, data: object) =>
    io.stdout(`${JSON.stringify({ event, time: Date.now(), ...data })}\n`);
  let startupPrinted = false;
  const printStartup = () => {
    if (startupPrinted) return;
    startupPrinted = true;
    // threadCode: whether the threads ran bundles (a build without them starts slower).
    write('startup', { ...startup.toJson(), threadCode: threadCode() });
  };
  const emit = (event: string, data: object) => {
    const first =
      event === 'peer-connected'
        ? startup.mark('firstPeer')
        : event === 'piece-verified'
          ? startup.mark('firstPiece')
          : undefined;
    if (first !== undefined) {
      write(event, { ...data, sinceStartMs: first });
      if (event === 'piece-verified') printStartup();
      return;
    }
    if (event === 'tracker-peers') startup.mark('trackerPeers');
    // Nothing verified in this run (all resumed, or it failed): the phases reached still print.
    if (event === 'done' || event === 'error') printStartup();
    write(event, data);
  };
  return {
    attach: (torrent) => attachJsonEvents(torrent, emit),
    attachFetch: (fetch) => attachJsonFetchEvents(fetch, emit),
    finish() {},
  };
}

function textReporter(io: CliIo, tty: boolean, showPeers: boolean): Reporter {
  let lastLines = 0;
  let lastPlain = 0;
  let peersVisible = showPeers;
  let onKey: ((data: Buffer) => void) | undefined;
  return {
    attach(torrent) {
      torrent.on('tracker-error', ({ error }) => {
        if (!tty) io.stderr(`tork: tracker: ${error.message}\n`);
      });
      torrent.on('web-seed-ignored', ({ url, reason }) =>
        io.stderr(`tork: web seed ${url} ignored: ${reason}\n`),
      );
      torrent.on('peer-disconnected', ({ address, reason, source }) => {
        if (source === 'webseed' && torrent.state === 'downloading')
          io.stderr(`${tty ? '\n' : ''}tork: web seed ${address} dropped: ${reason.message}\n`);
      });
      // Trouble with one peer is worth a line of its own when no live display shows it.
      torrent.on('peer-stall', ({ address, direction, stalled }) => {
        if (!tty && stalled)
          io.stderr(
            `tork: ${address} stalled: ${direction === 'upload' ? 'it has requests queued and got no data from us' : 'it has our requests and sends nothing'}\n`,
          );
      });
      if (tty && process.stdin.isTTY) {
        // 'p' toggles the per-peer view; Ctrl-C still arrives as SIGINT through the raw TTY handler below.
        process.stdin.setRawMode(true);
        onKey = (data: Buffer) => {
          if (data[0] === 0x03) process.kill(process.pid, 'SIGINT');
          else if (data.toString() === 'p') peersVisible = !peersVisible;
        };
        process.stdin.on('data', onKey);
        process.stdin.resume();
      }
      torrent.on('progress', (progress) => {
        if (tty) {
          const lines = [statusLine(progress)];
          if (peersVisible) lines.push(...peerTable(torrent.peerViews()));
          else lines.push('  (press p for peers, Ctrl-C to stop)');
          // Move up over the previous frame and clear it, then draw the new one.
          const up = lastLines > 0 ? `\x1b[${lastLines}F` : '';
          io.stdout(`${up}\x1b[J${lines.join('\n')}\n`);
          lastLines = lines.length;
        } else if (Date.now() - lastPlain >= 5_000) {
          lastPlain = Date.now();
          io.stdout(`${statusLine(progress)}\n`);
          if (peersVisible) io.stdout(`${peerTable(torrent.peerViews()).join('\n')}\n`);
        }
      });
    },
    attachFetch(fetch) {
      fetch.on('metadata-progress', ({ peers, offering, elapsedMs }) => {
        const line = `fetching metadata from ${peers} peers (${offering} offering it), ${Math.round(elapsedMs / 1000)} s`;
        if (tty) io.stdout(`\r\x1b[K${line}`);
        else if (Date.now() - lastPlain >= 5_000) {
          lastPlain = Date.now();
          io.stdout(`${line}\n`);
        }
      });
      fetch.on('metadata-received', ({ size, address, elapsedMs }) => {
        io.stdout(
          `${tty ? '\r\x1b[K' : ''}metadata: ${formatBytes(size)} from ${address} in ${(elapsedMs / 1000).toFixed(1)} s\n`,
        );
      });
      fetch.on('metadata-rejected', ({ address, reason }) => io.stderr(`tork: ${address}: ${reason}\n`));
      fetch.on('piece-layers-received', ({ files, hashes, elapsedMs }) => {
        io.stdout(`piece layers: ${hashes} hashes of ${files} files in ${(elapsedMs / 1000).toFixed(1)} s\n`);
      });
      fetch.on('piece-layers-rejected', ({ address, reason }) => io.stderr(`tork: ${address}: ${reason}\n`));
    },
    finish() {
      if (onKey) {
        process.stdin.off('data', onKey);
        process.stdin.setRawMode(false);
        process.stdin.pause();
      }
    },
  };
}

/** `tork seed`: check the data in DIR (laid out as `download --out` writes it) and serve it. */
export function runSeed(args: readonly string[], io: CliIo): Promise<ExitCode> {
  return runDownload(args, io, 'seed');
}

export async function runDownload(
  args: readonly string[],
  io: CliIo,
  mode: 'download' | 'seed' = 'download',
  extension?: DownloadExtension,
  /** Peer host threads main.js started before loading this code (`prestartPeerHosts`); adopted when they fit. */
  peerHosts?: readonly PeerHostThread[],
): Promise<ExitCode> {
  const name = extension?.name ?? `tork ${mode}`;
  const help: AnyCommandHelp = extension?.help ?? (mode === 'seed' ? seedHelp : downloadHelp);
  const usage = help.usage;
  if (printedHelp(args, io, help)) return ExitCode.OK;
  const startup = new StartupTimes();
  startup.mark('modulesLoaded');
  if (mode === 'download') injectTestDelay();
  let meta: Metainfo | undefined;
  let magnet: Magnet | undefined;
  let torrentBytes: Uint8Array | undefined;
  let metadataTimeoutMs: number | undefined;
  let seeding: boolean;
  let seedRatio: number | undefined;
  let seedSeconds: number | undefined;
  let uploadSlots: number;
  let outDir: string;
  let parsed: ReturnType<
    typeof parseArgs<{
      args: string[];
      options: typeof downloadOrSeedOptions;
      allowPositionals: true;
      strict: true;
      tokens: true;
    }>
  >;
  let peers: PeerAddress[];
  let port: number;
  let maxPeers: number;
  let workers: number;
  let dht: DhtConfig | undefined;
  let encryption: EncryptionPolicy = DEFAULT_ENCRYPTION_POLICY;
  let transport: TransportPolicy = DEFAULT_TRANSPORT_POLICY;
  let rateLimits: RateLimits = {};
  let selection: SelectionRequest | undefined;
  let filePriorities: FilePriority[] | undefined;
  let metricsListen: { host: string; port: number } | undefined;
  try {
    // An extension's own options are read by it (`parse`); the types stay download's.
    const all = { ...downloadOrSeedOptions, ...extension?.help.options } as typeof downloadOrSeedOptions;
    parsed = parseArgs({ args: [...args], options: all, allowPositionals: true, strict: true, tokens: true });
    for (const token of parsed.tokens) {
      if (token.kind === 'option' && !Object.hasOwn(help.options, token.name))
        throw usageError(notFor[mode][token.name] ?? `Unknown option '${token.rawName}'`);
    }
    const [file, ...extra] = parsed.positionals;
    if (file === undefined || extra.length > 0)
      throw usageError('expected exactly one .torrent file or magnet link');
    const dir = mode === 'seed' ? parsed.values.data : (parsed.values.out ?? extension?.defaultOut);
    if (!dir) throw usageError(mode === 'seed' ? '--data DIR is required' : '--out DIR is required');
    outDir = resolve(dir);
    seeding = mode === 'seed' || parsed.values.seed;
    if (parsed.values.lsd && parsed.values['no-lsd']) throw usageError('--lsd and --no-lsd contradict');
    if (!seeding && (parsed.values['seed-ratio'] || parsed.values['seed-time'])) {
      throw usageError('--seed-ratio and --seed-time need --seed');
    }
    if (parsed.values['seed-ratio'] !== undefined) {
      seedRatio = Number(parsed.values['seed-ratio']);
      if (!Number.isFinite(seedRatio) || seedRatio < 0) {
        throw usageError(`--seed-ratio must be a number ≥ 0, got '${parsed.values['seed-ratio']}'`);
      }
    }
    if (parsed.values['seed-time'] !== undefined)
      seedSeconds = parseDuration(parsed.values['seed-time'], 'seed-time');
    uploadSlots = intOption(parsed.values['upload-slots'], 'upload-slots', 0, 1_000, DEFAULT_UPLOAD_SLOTS);
    peers = (parsed.values.peer ?? []).map(parsePeerAddress);
    port = intOption(parsed.values.port, 'port', 0, 65535, DEFAULT_PORT);
    maxPeers = intOption(parsed.values['max-peers'], 'max-peers', 1, 10_000, DEFAULT_MAX_PEERS);
    workers = intOption(parsed.values.workers, 'workers', 1, 64, defaultPeerHosts());
    dht = dhtConfig(parsed.values);
    encryption = encryptionPolicy(parsed.values.encryption);
    transport = transportPolicy(parsed.values.transport);
    const maxDownload = rateOption(parsed.values['max-download'], 'max-download');
    const maxUpload = rateOption(parsed.values['max-upload'], 'max-upload');
    rateLimits = {
      ...(maxDownload !== undefined ? { download: maxDownload } : {}),
      ...(maxUpload !== undefined ? { upload: maxUpload } : {}),
    };
    extension?.parse(parsed.values);
    if (parsed.values['metadata-timeout'] !== undefined)
      metadataTimeoutMs = parseDuration(parsed.values['metadata-timeout'], 'metadata-timeout') * 1000;
    selection = selectionRequest(parsed.values);
    if (parsed.values['metrics-listen'] !== undefined)
      metricsListen = parseMetricsListen(parsed.values['metrics-listen']);
    // The trace is written at the end: a directory that cannot take it is said now, not after the run.
    if (parsed.values.trace !== undefined) {
      const dir = dirname(resolve(parsed.values.trace));
      await access(dir, constants.W_OK).catch(() => {
        throw new TorkError(TorkErrorCode.USAGE, `--trace: cannot write in ${dir}`);
      });
    }
    if (file.startsWith('magnet:')) {
      magnet = parseMagnet(file);
    } else {
      const read = await readTorrentFile(file, parsed.values['save-torrent'] !== undefined);
      meta = read.meta;
      torrentBytes = read.bytes;
      // v2-only pieces are checked against the piece layers; fetching layers from peers is not wired yet.
      if (meta.version === 2 && v2PieceChecks(meta) === undefined) {
        throw new TorkError(
          TorkErrorCode.METAINFO,
          `${file}: v2-only torrents without their piece layers cannot be downloaded yet`,
        );
      }
      if (selection) filePriorities = filePrioritiesFor(selection, meta);
    }
  } catch (error) {
    const torkError = toTorkError(error, TorkErrorCode.USAGE);
    io.stderr(`${name}: ${oneLine(torkError)}\n`);
    if (torkError.code === TorkErrorCode.USAGE) io.stderr(`${usage}\n`);
    return ExitCode.BAD_INPUT;
  }
  startup.mark('parsed');

  const json = parsed.values.json;
  const quiet = parsed.values.quiet;
  const tty = !json && !quiet && Boolean(process.stdout.isTTY);
  const reporter: Reporter | undefined = json
    ? jsonReporter(io, startup)
    : quiet
      ? undefined
      : textReporter(io, tty, parsed.values.peers);

  // The engine is created after the listener (it announces the port actually bound).
  let engine: Engine | undefined;
  let listener: Listener;
  const listenHost = parsed.values['listen-host'] ?? DEFAULT_LISTEN_HOST;
  // Node >= 22.12: the peer hosts accept on the port themselves (no relay); TORK_HOST_ACCEPT=0 keeps
  // the coordinator's relay (for comparisons).
  const hostAccept = hasReusePort() && process.env.TORK_HOST_ACCEPT !== '0';
  try {
    listener = await Listener.listen({
      port,
      host: listenHost,
      // uTP and the DHT bind the same number for UDP: with --port 0, one free for both.
      udpTwin: true,
      reusePort: hostAccept,
      onPeer: (peer) => engine?.acceptIncoming(peer) ?? false,
      encryption,
      findMseTorrent: (key) => engine?.torrentForMseKey(key),
    });
  } catch (error) {
    io.stderr(`${name}: ${oneLine(toTorkError(error, TorkErrorCode.IO))}\n`);
    return ExitCode.FAILURE;
  }
  const listeningMs = startup.mark('listening');
  if (json)
    io.stdout(
      `${JSON.stringify({ event: 'listening', time: Date.now(), port: listener.port, sinceStartMs: listeningMs })}\n`,
    );
  // The peer hosts load their modules in their own threads while this one opens the UDP host, LSD
  // and the hash pool: start-up waits for the slowest of them, not for their sum.
  // --workers above the cores: the default starts, the rest only when measured load finds a core
  // for them (onDemandFrom).
  const actorsStarting = ThreadActorSystem.start({
    workers,
    onDemandFrom: eagerPeerHosts(workers),
    ...(peerHosts ? { prestarted: peerHosts } : {}),
  });
  // Awaited below; this handler only keeps a failure from being reported as unhandled meanwhile.
  actorsStarting.catch(() => {});
  // Hashing comes in bursts (the resume check, verified pieces): one thread per core, fewer when
  // --workers asks for fewer; never more than the cores (each thread costs its module load).
  const hasher = new HashPool({
    threads: Math.min(
      parsed.values.workers !== undefined ? workers : Number.POSITIVE_INFINITY,
      availableCores(),
    ),
  });
  const traceFile = parsed.values.trace !== undefined ? resolve(parsed.values.trace) : undefined;
  const trace = traceFile !== undefined ? new TraceRecorder() : undefined;
  const lsd = lsdEnabled({ lsd: parsed.values.lsd, noLsd: parsed.values['no-lsd'] }, meta?.private ?? false)
    ? await openLsd(name, io, parsed.values['listen-host'])
    : undefined;
  // One UDP socket on the TCP port's number serves the DHT and uTP, in the UDP host thread. With uTP
  // it starts now (incoming connections); with the DHT alone, at the first public torrent.
  const udpThread = new UdpHostThread({ host: listenHost, port: listener.port });
  const utp =
    transport === 'tcp'
      ? undefined
      : new UtpService({
          thread: udpThread,
          onPeer: (peer) => engine?.acceptIncoming(peer) ?? false,
          encryption,
          findMseTorrent: (key) => engine?.torrentForMseKey(key),
        });
  const dhtService = openDht(
    dht,
    { host: listenHost, port: listener.port, thread: udpThread },
    io,
    json ? 'json' : quiet ? 'quiet' : 'text',
  );
  // The UDP host (uTP, DHT) starts beside the peer hosts, and under `both` nobody waits for it: its
  // thread's start (~0.2 s on 2 cores) would delay every first TCP connection (docs/performance.md
  // "Start-up, third pass"). A uTP dial before its socket listens is queued by UdpHostThread and
  // sent when it does; if it never does (the port taken), the dial ends with "uTP is off" and `both`
  // dials TCP instead. It is waited for with uTP alone (nothing can connect without it) and by
  // `tork seed`, whose peers come to it over either transport as soon as it runs (a uTP SYN before
  // the socket listens is lost); a seeder's first second matters less than a download's.
  let utpStarting: Promise<void> | undefined;
  /** Why the UDP host could not listen (its port taken, say); undefined while it can. */
  let utpFailure: TorkError | undefined;
  if (utp) {
    udpThread.listen({
      listening: (udpPort) => {
        const sinceStart = startup.mark('utpListening');
        if (json)
          io.stdout(
            `${JSON.stringify({ event: 'utp-listening', time: Date.now(), port: udpPort, sinceStartMs: sinceStart })}\n`,
          );
      },
      error: (error, fatal) => {
        if (fatal) utpFailure = error;
        if (fatal && transport !== 'utp' && !json && !quiet)
          io.stderr(`${name}: uTP: ${oneLine(error)} (continuing over TCP)\n`);
      },
    });
    utpStarting = utp.start();
    if (transport === 'utp' || mode === 'seed') await utpStarting;
  }
  const actors = await actorsStarting;
  actors.traceBatches(trace);
  startup.mark('threadsStarted');
  if (utp && udpThread.state !== 'failed') actors.useUtp(utp.dial);
  const discovery = [...(dhtService ? [dhtService] : []), ...(lsd ? [lsd] : [])];
  engine = new Engine({
    actors,
    port: listener.port,
    hasher,
    discovery,
    encryption,
    transport,
    rateLimits,
    ...(trace ? { trace } : {}),
  });
  startup.mark('engineReady');
  if (hostAccept) {
    try {
      await actors.listen({ port: listener.port, host: listenHost, encryption }, (peer) =>
        engine ? engine.acceptIncoming(peer) : false,
      );
      listener.stopAccepting();
    } catch (error) {
      // The coordinator's Listener still accepts (and relays): slower, not broken.
      if (!json && !quiet)
        io.stderr(`${name}: peer hosts cannot listen: ${oneLine(toTorkError(error, TorkErrorCode.IO))}\n`);
    }
  }
  const watchdog = new EventLoopWatchdog(() => actors.stats());
  if (trace) watchdog.onSample = (hosts) => trace.hostStats(hosts);
  let eventLoop: EventLoopReport | undefined;
  /** The UDP host's last counters (uTP connections, retransmissions), read just before it closes. */
  let udpStats: UdpHostStats | undefined;
  let metrics: Awaited<ReturnType<typeof openMetrics>> | undefined;
  /** Connections accepted: relayed by the coordinator's Listener, or by the peer hosts themselves. */
  let incoming: { relayed: number; inHosts: number } | undefined;
  const closeAll = async () => {
    await metrics?.close();
    await extension?.close();
    if (incoming === undefined) {
      const hosts = await actors.stats().catch(() => []);
      incoming = {
        relayed: listener.stats().accepted,
        inHosts: hosts.reduce((sum, host) => sum + (host.acceptedInHost ?? 0), 0),
      };
    }
    // Before the hosts go: their last delay figures are read over the control plane.
    eventLoop ??= await watchdog.stop();
    await listener.close();
    utp?.close();
    await engine.close();
    // A stop during start-up: the UDP host's counters once it listens (or failed), not none.
    await utpStarting;
    udpStats ??= await udpThread.stats();
    await dhtService?.close();
    await udpThread.close();
    await lsd?.close();
    await hasher.close();
    if (trace && traceFile !== undefined && !traceWritten) {
      traceWritten = true;
      await writeTrace(traceFile, trace);
      const droppedEvents = trace.buffer.dropped;
      const written = { path: traceFile, events: trace.buffer.size, droppedEvents };
      if (json) io.stdout(`${JSON.stringify({ event: 'trace-written', time: Date.now(), ...written })}\n`);
      else if (!quiet)
        io.stdout(
          `trace: ${traceFile} (${written.events} events${droppedEvents > 0 ? `, ${droppedEvents} older ones dropped` : ''}; tork trace-summary ${traceFile})\n`,
        );
    }
  };
  let traceWritten = false;
  const cpuStart = process.cpuUsage();
  let interrupted = false;
  let errorReported = false;
  let stopSeeding: (() => void) | undefined;
  const onSignal = () => {
    interrupted = true;
    if (stopSeeding) stopSeeding();
    else void closeAll();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    // uTP alone and no UDP socket: no peer could ever be reached. Said now, not after a timeout.
    if (transport === 'utp' && udpThread.state === 'failed') {
      throw new TorkError(
        TorkErrorCode.IO,
        `--transport utp: cannot listen for uTP on UDP port ${listener.port}: ${utpFailure?.message ?? 'the UDP host did not start'}`,
        { port: listener.port, ...(utpFailure ? { cause: utpFailure.code } : {}) },
      );
    }
    if (metricsListen) {
      const sources = { engine, hostTraffic: () => actors.traffic(), udpStats: () => udpThread.stats() };
      metrics = await openMetrics(metricsListen, { ...sources, hostStats: () => watchdog.lastHostStats });
      const { host, port: at } = metrics;
      if (json)
        io.stdout(`${JSON.stringify({ event: 'metrics-listening', time: Date.now(), host, port: at })}\n`);
      else if (!quiet)
        io.stdout(`metrics: http://${host.includes(':') ? `[${host}]` : host}:${at}/metrics\n`);
    }
    const verb = mode === 'seed' ? 'seeding from' : '→';
    const announce = (known: Metainfo) => {
      // What parsing sanitised or ignored (names changed, trailing bytes, symlinks not created).
      for (const warning of known.warnings) {
        if (json)
          io.stdout(`${JSON.stringify({ event: 'metainfo-warning', time: Date.now(), ...warning })}\n`);
        else if (!quiet) io.stderr(`${name}: warning: ${warning.message}\n`);
      }
      if (!json && !quiet)
        io.stdout(
          `${known.name}: ${formatBytes(known.length)} in ${known.pieceCount} pieces ${verb} ${outDir} (port ${listener.port})\n`,
        );
    };
    const sources = webSeedsFor(meta?.urlList ?? magnet?.webSeeds ?? [], parsed.values['web-seed'] ?? []);
    for (const ignored of sources.ignored) {
      if (json) io.stdout(`${JSON.stringify({ event: 'web-seed-ignored', time: Date.now(), ...ignored })}\n`);
      else if (!quiet) io.stderr(`${name}: web seed ${ignored.url} ignored: ${ignored.reason}\n`);
    }
    const common = {
      outDir,
      webSeeds: sources.webSeeds,
      peers,
      maxPeers,
      uploadSlots,
      seeding,
      useTrackers: !parsed.values['no-trackers'],
      pex: !parsed.values['no-pex'],
      sequential: parsed.values.sequential || extension !== undefined,
    };
    const setup = (created: Torrent) => {
      reporter?.attach(created);
      created.on('error', () => {
        errorReported = true;
      });
    };
    let torrent: Torrent;
    if (meta !== undefined) {
      announce(meta);
      torrent = await engine.add({ ...common, meta, ...(filePriorities ? { filePriorities } : {}) }, setup);
    } else {
      const link = magnet!;
      if (!json && !quiet)
        io.stdout(`magnet ${link.infoHashHex}${link.name ? ` (${link.name})` : ''}: fetching metadata…\n`);
      torrent = await engine.addMagnet(
        {
          ...common,
          magnet: link,
          // An explicit selection wins over the magnet's so=.
          ...(selection ? { selectFiles: (known: Metainfo) => filePrioritiesFor(selection, known) } : {}),
          ...(metadataTimeoutMs !== undefined ? { metadataTimeoutMs } : {}),
        },
        (created) => {
          announce(created.meta as Metainfo);
          setup(created);
        },
        (fetch) => {
          if (!json && !quiet)
            io.stdout(
              `magnet ${link.infoHashHex}${link.name ? ` (${link.name})` : ''}: fetching metadata…\n`,
            );
          reporter?.attachFetch(fetch);
        },
      );
      const fetched = torrent.meta as Metainfo;
      torrentBytes = torrentFile(fetched.infoBytes, link.trackers);
      // BEP 52: the piece layers fetched from peers belong in the .torrent too.
      if (fetched.v2 !== undefined && fetched.v2.pieceLayers.size > 0)
        torrentBytes = withPieceLayers(torrentBytes, fetched.v2.pieceLayers);
    }
    startup.mark('added');
    meta = torrent.meta as Metainfo;
    if (parsed.values['save-torrent'] !== undefined && torrentBytes !== undefined) {
      await writeFile(resolve(parsed.values['save-torrent']), torrentBytes);
    }
    // This function lives as long as the download: what it holds is held that long (a 200,000-piece
    // .torrent is ~4 MB).
    torrentBytes = undefined;
    await extension?.running(torrent, json ? 'json' : quiet ? 'quiet' : 'text');
    const final = await torrent.whenDone();
    if (extension && !interrupted) {
      if (!json && !quiet) io.stdout('download complete; still serving (Ctrl-C to stop)\n');
      await seedUntil(torrent, torrent.meta.length, undefined, undefined, (stop) => {
        stopSeeding = stop;
      });
    } else if (seeding && !interrupted) {
      if (mode === 'seed' && final.resumedBytes < final.wantedBytes && !json && !quiet) {
        io.stdout(
          `note: ${formatBytes(final.wantedBytes - final.resumedBytes)} was missing or bad and was downloaded first\n`,
        );
      }
      if (!json && !quiet) io.stdout(`seeding on port ${listener.port} (Ctrl-C to stop)\n`);
      await seedUntil(torrent, torrent.meta.length, seedRatio, seedSeconds, (stop) => {
        stopSeeding = stop;
      });
    }
    reporter?.finish();
    await closeAll();
    // After the close: the actors' last counters have arrived.
    const last = torrent.progress();
    if (!json && !quiet && seeding) {
      io.stdout(
        `seeded: uploaded ${formatBytes(last.uploadedBytes)} (ratio ${(last.uploadedBytes / torrent.meta.length).toFixed(2)})\n`,
      );
    }
    if (json) {
      const udp = udpStats ? { udp: udpStats } : {};
      io.stdout(
        `${JSON.stringify({ event: 'stopped', time: Date.now(), ...last, eventLoop, ...udp, ...(incoming ? { incoming } : {}) })}\n`,
      );
    }
    if (!json && !quiet && final.downloadedBytes > 0) {
      const seconds = final.elapsedMs / 1000;
      const cpu = process.cpuUsage(cpuStart);
      // What moved in this run, not what was on disk already: a resumed run's rate counts only it.
      const fetched = final.verifiedBytes - final.resumedBytes;
      const resumed = final.resumedBytes > 0 ? `, ${formatBytes(final.resumedBytes)} resumed from disk` : '';
      io.stdout(
        `done: ${formatBytes(fetched)} fetched in ${seconds.toFixed(1)} s (${formatRate(fetched / Math.max(seconds, 0.001))})${resumed}${skippedSummary(final)}, ` +
          `CPU ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s (all tork threads), peak RSS ${formatBytes(process.resourceUsage().maxRSS * 1024)}, ` +
          `wasted ${formatBytes(final.wastedBytes)}\n`,
      );
      if (eventLoop) {
        io.stdout(
          `longest event-loop stall: coordinator ${eventLoop.coordinatorMaxMs} ms (p99 ${eventLoop.coordinatorP99Ms} ms), ` +
            `peer hosts ${eventLoop.hostsMaxMs.map((ms) => `${ms} ms`).join(', ')}\n`,
        );
      }
    }
    return ExitCode.OK;
  } catch (error) {
    reporter?.finish();
    await closeAll().catch(() => {});
    if (interrupted) {
      const why = stdoutClosed() ? 'because its output was closed' : 'by signal';
      io.stderr(`${name}: stopped ${why}; verified pieces are on disk\n`);
      // Streaming ends with Ctrl-C by design: a clean stop.
      return extension ? ExitCode.OK : ExitCode.FAILURE;
    }
    const torkError = toTorkError(error);
    // The torrent's own `error` event is already in the stream: one error event, not two.
    if (json && !errorReported)
      io.stdout(`${JSON.stringify({ event: 'error', time: Date.now(), error: torkError.toPlain() })}\n`);
    io.stderr(`${name}: ${oneLine(torkError)}\n`);
    return ExitCode.FAILURE;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** Resolves when the ratio or the time is reached, or `stop` is called (a signal). */
function seedUntil(
  torrent: Torrent,
  length: number,
  ratio: number | undefined,
  seconds: number | undefined,
  onStop: (stop: () => void) => void,
): Promise<void> {
  return new Promise((resolve) => {
    const started = Date.now();
    let timer: NodeJS.Timeout | undefined;
    const finish = () => {
      clearInterval(timer);
      resolve();
    };
    onStop(finish);
    const check = () => {
      const { uploadedBytes } = torrent.progress();
      if (ratio !== undefined && uploadedBytes >= ratio * length) finish();
      else if (seconds !== undefined && Date.now() - started >= seconds * 1000) finish();
    };
    check();
    timer = setInterval(check, 250);
  });
}

/**
 * Reads and parses a .torrent file; its bytes are returned only when `keepBytes` (`--save-torrent`).
 * A function of its own so that the bytes read are not left in a register of the command's
 * long-lived async function: a large .torrent would be held for the whole download.
 */
async function readTorrentFile(
  file: string,
  keepBytes: boolean,
): Promise<{ meta: Metainfo; bytes?: Uint8Array }> {
  const bytes = await readFile(file).catch((error: unknown) => {
    throw toTorkError(error, TorkErrorCode.IO, `cannot read ${file}`);
  });
  try {
    const meta = parseMetainfo(bytes);
    return keepBytes ? { meta, bytes } : { meta };
  } catch (error) {
    // Name the file, as `tork info` does: the line must say which input is bad.
    const bad = toTorkError(error, TorkErrorCode.METAINFO);
    throw new TorkError(bad.code, `${file}: ${bad.message}`, bad.details, { cause: bad });
  }
}
