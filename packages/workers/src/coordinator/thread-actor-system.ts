import { MessageChannel, type MessagePort, Worker } from 'node:worker_threads';
import {
  type ActorSystem,
  type EncryptionPolicy,
  type HostCommand,
  type HostEvent,
  HostListenOptions,
  type HostStats,
  type PeerHostSettings,
  PeerHostSettings as PeerHostSettingsSchema,
  type PeerHostWorkerData,
  type PlainTorkError,
  parseHostCommandBatch,
  parseHostEvents,
  parseHostStats,
  parsePlainError,
  TorkError,
  TorkErrorCode,
  toTorkError,
} from '@tork/core';
import * as Comlink from 'comlink';
import type { PeerHostApi } from '../peer-host/peer-host-api.js';
import { nodeEndpoint } from '../shared/comlink-node-adapter.js';
import { defaultPeerHosts } from './available-cores.js';

/** A connection a peer host accepted on its own socket, as `listen`'s `onIncoming` sees it. */
export interface HostedIncoming {
  readonly infoHashHex: string;
  readonly address: string;
  /** Empty: the host keeps what it read. */
  readonly initial: Uint8Array;
  readonly hosted: { readonly host: number; readonly connection: number };
}

/**
 * Node's `net.Server.listen` has `reusePort` from 22.12 (22.x) and 23.1: then every peer host
 * can accept on the engine's port itself. Node 20 has none (the coordinator's Listener relays).
 */
export function hasReusePort(version: string = process.versions.node): boolean {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  return major > 23 || (major === 23 && minor >= 1) || (major === 22 && minor >= 12);
}

export interface ThreadActorSystemOptions {
  /** Peer host threads; each hosts many actors. Default: `defaultPeerHosts()` (the cores available but one, at least 1). */
  readonly workers?: number;
  /**
   * Passed to every host (timeouts, queue depths, tick interval): what can cross to a thread in its
   * `workerData` (core's `PeerHostSettings`; checked here, TORK_ERR_USAGE if malformed). Default:
   * the hosts' defaults.
   */
  readonly host?: PeerHostSettings;
  /**
   * Errors that belong to no actor: a malformed batch (dropped, never acted on), a host thread
   * that died. Default: printed to stderr.
   */
  readonly onError?: (error: TorkError) => void;
  /**
   * The worker entry each host thread runs. Default: `peer-host/peer-host-worker.js` of this
   * package's compiled output. Tests point it at a misbehaving host.
   */
  readonly hostEntry?: URL;
  /** How long `close()` waits for a host's orderly shutdown before terminating it, ms. Default: 2,000. */
  readonly shutdownTimeoutMs?: number;
  /**
   * Dials uTP connections (the UDP host: `UtpService.dial`): a `connect` with `transport: 'utp'`
   * gets the actor's end of a new channel, the dialler the other. Default: none (uTP connects
   * end at once with TORK_ERR_IO 'uTP is off'). Also settable later with `useUtp`.
   */
  readonly utp?: UtpDialer;
}

/** Who hears of data-plane batches (core's `TraceRecorder` is one). */
export interface BatchTrace {
  commandBatch(host: number, commands: number): void;
  eventBatch(host: number, events: number, sentAtMs: number | undefined): void;
}

/** Who dials a uTP connection and relays its stream over `relay` (see `UdpHostCommand` `utp-connect`). */
export type UtpDialer = (host: string, port: number, relay: MessagePort) => void;

/** Spare piece buffers kept by all hosts together (see BufferPool), and the least one host keeps. */
const SYSTEM_POOL_BYTES = 64 * 1024 * 1024;
const MIN_HOST_POOL_BYTES = 8 * 1024 * 1024;

interface HostSlot {
  readonly index: number;
  readonly worker: Worker;
  readonly api: Comlink.Remote<PeerHostApi>;
  /** Our end of the host's data channel. */
  readonly port: MessagePort;
  readonly attached: Promise<void>;
  /** Settles when the thread has exited, however it ended. */
  readonly gone: Promise<void>;
  readonly actors: Set<number>;
  queue: HostCommand[];
  alive: boolean;
  /** Data-plane traffic with this host since it started (see `traffic()`). */
  readonly traffic: HostTraffic;
}

/** A host's data-plane traffic as the coordinator saw it: batches and messages each way. */
export interface HostTraffic {
  /** Command batches posted to the host, and the commands in them. */
  commandBatches: number;
  commands: number;
  /** Event batches received from the host, and the events in them (before the schema check). */
  eventBatches: number;
  events: number;
}

/**
 * The production ActorSystem: actors are peer sessions in `workers` peer host threads. Commands
 * are routed (`connect` to the host with the fewest actors, actor commands to the actor's host,
 * torrent-wide ones to every host) and posted once per event-loop turn per host; event batches are
 * schema-checked on arrival before the handler sees them. No socket is ever opened on this thread.
 */
export class ThreadActorSystem implements ActorSystem {
  readonly #hosts: HostSlot[] = [];
  readonly #actorHost = new Map<number, HostSlot>();
  readonly #onError: (error: TorkError) => void;
  readonly #shutdownTimeoutMs: number;
  #utp: UtpDialer | undefined;
  #handler: ((events: readonly HostEvent[]) => void) | null = null;
  /** Events that arrived before `onEvents` was called. */
  #early: HostEvent[][] = [];
  /** Events made up on this side (a dead host's actors), delivered on the next turn. */
  #synthetic: HostEvent[] = [];
  #flushScheduled = false;
  #closing: Promise<void> | null = null;
  readonly #ready: Promise<void>;
  /** Answers the hosts' `incoming` connections (see `listen`); null: every one is refused. */
  #onIncoming: ((peer: HostedIncoming) => boolean) | null = null;
  /** Told of every data-plane batch when a trace is on (see `traceBatches`); null: no cost. */
  #batchTrace: BatchTrace | null = null;

  /** Starts the threads and waits until every host has its data port. */
  /** Routes `connect`s over uTP to the UDP host (the socket is there); none: uTP is off. */
  useUtp(dialer: UtpDialer | undefined): void {
    this.#utp = dialer;
  }

  /**
   * Reports every data-plane batch to `trace` (a `TraceRecorder`): command batches as they are
   * posted, event batches as they arrive, with the host's send time. Undefined: stop.
   */
  traceBatches(trace: BatchTrace | undefined): void {
    this.#batchTrace = trace ?? null;
  }

  static async start(options: ThreadActorSystemOptions = {}): Promise<ThreadActorSystem> {
    const system = new ThreadActorSystem(options);
    try {
      await system.ready();
    } catch (error) {
      await system.close();
      throw error;
    }
    return system;
  }

  /** Starts the threads; commands sent before they are ready wait in the data ports. */
  constructor(options: ThreadActorSystemOptions = {}) {
    this.#onError = options.onError ?? ((error) => console.error(`tork: ${error.code}: ${error.message}`));
    this.#shutdownTimeoutMs = options.shutdownTimeoutMs ?? 2_000;
    this.#utp = options.utp;
    const count = Math.max(1, Math.floor(options.workers ?? defaultPeerHosts()));
    const entry = options.hostEntry ?? new URL('../peer-host/peer-host-worker.js', import.meta.url);
    const settings = PeerHostSettingsSchema.safeParse(options.host ?? {});
    if (!settings.success) {
      const issue = settings.error.issues[0];
      throw new TorkError(
        TorkErrorCode.USAGE,
        `peer host options: ${issue?.path.join('.') || '(root)'}: ${issue?.message ?? 'invalid'}`,
      );
    }
    for (let index = 0; index < count; index++) {
      // One budget of spare piece buffers for the whole system, split between the hosts: more
      // threads must not mean more memory held idle.
      const host: PeerHostSettings = {
        bufferPoolBytes: Math.max(MIN_HOST_POOL_BYTES, Math.floor(SYSTEM_POOL_BYTES / count)),
        ...options.host,
      };
      this.#hosts.push(this.#startHost(entry, index, host));
    }
    this.#ready = Promise.all(this.#hosts.map((host) => host.attached)).then(() => {});
    // A failed start is reported by `ready()`/`start()`; do not also crash on an unhandled rejection.
    this.#ready.catch(() => {});
  }

  /**
   * Every host listens on `port` too, with `reusePort` (Node >= 22.12 / 23.1, see
   * `hasReusePort`): a connection a host accepts is offered to `onIncoming` (production:
   * `engine.acceptIncoming`, which counts and limits it as it does the Listener's) and, when taken,
   * runs on that host's own socket; refused, the host closes it. Rejects with TORK_ERR_IO when a
   * host cannot bind.
   */
  async listen(
    options: { port: number; host: string; encryption: EncryptionPolicy },
    onIncoming: (peer: HostedIncoming) => boolean,
  ): Promise<void> {
    this.#onIncoming = onIncoming;
    await Promise.all(
      this.#hosts
        .filter((host) => host.alive)
        .map((host) => host.api.listen(HostListenOptions.parse(options))),
    );
  }

  get hostCount(): number {
    return this.#hosts.length;
  }

  /** Resolves once every host thread has started and taken its data port. */
  ready(): Promise<void> {
    return this.#ready;
  }

  send(commands: readonly HostCommand[]): void {
    if (this.#closing) return;
    if (commands.length === 0) return;
    // Checked here as well as on arrival: a coordinator bug then throws at its call site, with
    // its stack, instead of turning up later as a rejected batch in another thread.
    parseHostCommandBatch({ commands });
    const connecting = new Set<number>();
    for (const command of commands) {
      if (command.type !== 'connect' && command.type !== 'accept' && command.type !== 'web-seed') continue;
      if (this.#actorHost.has(command.actorId) || connecting.has(command.actorId)) {
        throw new TorkError(TorkErrorCode.INTERNAL, `connect: actor ${command.actorId} already exists`, {
          actorId: command.actorId,
        });
      }
      connecting.add(command.actorId);
    }
    for (const command of commands) this.#route(command);
    this.#scheduleFlush();
  }

  onEvents(handler: (events: readonly HostEvent[]) => void): void {
    this.#handler = handler;
    const early = this.#early;
    this.#early = [];
    for (const events of early) handler(events);
  }

  /**
   * The index of the host thread an actor lives on (the `N` of `peer-host-N` in `/metrics`), or
   * undefined once it has closed: what the web page shows next to each peer. A map lookup.
   */
  hostOf(actorId: number): number | undefined {
    return this.#actorHost.get(actorId)?.index;
  }

  /** Every host's counters, over the control plane (each answer checked against its schema). */
  async stats(): Promise<HostStats[]> {
    return Promise.all(
      this.#hosts.filter((host) => host.alive).map(async (host) => parseHostStats(await host.api.stats())),
    );
  }

  /**
   * Every host's data-plane traffic, in host order, read without a round trip (counted here, two
   * additions per batch): what `/metrics` shows per thread next to the hosts' own `stats()`.
   */
  traffic(): HostTraffic[] {
    return this.#hosts.map((host) => ({ ...host.traffic }));
  }

  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#early = [];
    this.#synthetic = [];
    for (const host of this.#hosts) host.queue = [];
    await Promise.all(
      this.#hosts.map(async (host) => {
        if (host.alive) {
          // Orderly first (sockets closed by their own thread), then terminate regardless.
          // A thread that dies meanwhile never answers: stop waiting when it is gone.
          await withTimeout(Promise.race([host.api.shutdown(), host.gone]), this.#shutdownTimeoutMs).catch(
            () => {},
          );
        }
        host.alive = false;
        host.port.close();
        await host.worker.terminate();
      }),
    );
    this.#actorHost.clear();
  }

  #startHost(entry: URL, index: number, options: PeerHostSettings): HostSlot {
    const workerData: PeerHostWorkerData = { index, options };
    // The entry is compiled .js resolved relative to this file: the shipped CLI and the tests run the same.
    // Workers inherit the process's execArgv; `--input-type` (from `node --input-type=module -e`)
    // applies to string input only and would stop every worker from starting.
    const execArgv = process.execArgv.filter((arg) => !arg.startsWith('--input-type'));
    const worker = startWorker(entry, workerData, execArgv);
    const api = Comlink.wrap<PeerHostApi>(nodeEndpoint(worker));
    const { port1, port2 } = new MessageChannel();
    // Thread boundary: a host's error report is plain data from another thread, checked first.
    const report = (value: unknown): void => {
      let error: TorkError;
      try {
        error = TorkError.fromPlain(parsePlainError(value));
      } catch (malformed) {
        error = toTorkError(malformed, TorkErrorCode.THREAD_MESSAGE);
      }
      this.#onError(error);
    };
    // Thread boundary (control plane): the data port is transferred to the host (it cannot be
    // cloned), and the error callback is a comlink proxy (functions cannot be cloned either).
    const attaching = api.attach(
      Comlink.transfer(port2, [port2]) as unknown as MessagePort,
      Comlink.proxy(report) as unknown as (error: PlainTorkError) => void,
    );
    // comlink never settles a call whose thread died: a host that fails to start must not hang `start()`.
    const exited = new Promise<never>((_, reject) => {
      worker.once('exit', (code) =>
        reject(
          new TorkError(
            TorkErrorCode.INTERNAL,
            `peer host thread ${index} exited (code ${code}) before it started`,
            {
              host: index,
              exitCode: code,
            },
          ),
        ),
      );
    });
    const attached = Promise.race([attaching, exited]);
    attached.catch(() => {});
    const gone = exited.catch(() => {});
    const host: HostSlot = {
      index,
      worker,
      api,
      port: port1,
      attached,
      gone,
      actors: new Set(),
      queue: [],
      alive: true,
      traffic: { commandBatches: 0, commands: 0, eventBatches: 0, events: 0 },
    };
    // Thread boundary (data plane): events arrive batched on our end of the channel.
    port1.on('message', (value: unknown) => this.#onBatch(host, value));
    worker.on('error', (error) => {
      this.#onError(toTorkError(error, TorkErrorCode.INTERNAL, `peer host thread ${index} failed`));
    });
    worker.on('exit', (code) => this.#hostExited(host, code));
    return host;
  }

  #hostExited(host: HostSlot, code: number): void {
    if (!host.alive || this.#closing) return;
    host.alive = false;
    host.queue = [];
    host.port.close();
    const error = new TorkError(
      TorkErrorCode.INTERNAL,
      `peer host thread ${host.index} exited (code ${code})`,
      {
        host: host.index,
        exitCode: code,
      },
    );
    this.#onError(error);
    // Its actors are gone: tell the coordinator, so their pieces are reassigned.
    for (const actorId of host.actors) {
      this.#actorHost.delete(actorId);
      this.#synthetic.push({ type: 'closed', actorId, error: error.toPlain() });
    }
    host.actors.clear();
    this.#scheduleFlush();
  }

  #route(command: HostCommand): void {
    switch (command.type) {
      case 'add-torrent':
      case 'add-magnet':
      case 'remove-torrent':
      case 'have':
      case 'torrent-peers':
      case 'rate-limits':
        for (const host of this.#hosts) if (host.alive) host.queue.push(command);
        return;
      case 'connect':
      case 'accept':
      case 'web-seed': {
        if (command.type === 'connect' && command.transport === 'utp' && !command.relay) {
          if (!this.#utp) {
            const error = new TorkError(TorkErrorCode.IO, 'uTP is off', { cause: 'EUTPOFF' });
            this.#synthetic.push({ type: 'closed', actorId: command.actorId, error: error.toPlain() });
            return;
          }
          // The UDP host owns the socket and dials; the actor gets the stream's other end.
          const { port1, port2 } = new MessageChannel();
          this.#utp(command.host, command.port, port1);
          command = { ...command, relay: port2 };
        }
        let best: HostSlot | undefined;
        // A connection a host accepted itself runs there: its socket cannot move.
        if (command.type === 'accept' && command.hosted) {
          const holder = this.#hosts[command.hosted.host];
          best = holder?.alive ? holder : undefined;
        } else
          for (const host of this.#hosts) {
            if (host.alive && (best === undefined || host.actors.size < best.actors.size)) best = host;
          }
        if (best === undefined) {
          const error = new TorkError(TorkErrorCode.INTERNAL, 'no peer host thread is running');
          this.#synthetic.push({
            type: 'closed',
            actorId: command.actorId,
            error: error.toPlain(),
          });
          return;
        }
        best.actors.add(command.actorId);
        this.#actorHost.set(command.actorId, best);
        best.queue.push(command);
        return;
      }
      case 'recycle': {
        // Back to the host that filled them; if that actor is gone, any live host can use them.
        const owner = this.#actorHost.get(command.actorId);
        const host = owner?.alive ? owner : this.#hosts.find((candidate) => candidate.alive);
        host?.queue.push(command);
        return;
      }
      case 'refuse-incoming':
        // Only `#incoming` makes these, queued on the host that holds the connection.
        return;
      default: {
        // An actor that already closed: the coordinator raced its `closed` event; nothing to do.
        const host = this.#actorHost.get(command.actorId);
        if (host?.alive) host.queue.push(command);
      }
    }
  }

  #scheduleFlush(): void {
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    setImmediate(() => this.#flush());
  }

  /** Once per event-loop turn: one command batch per host. */
  #flush(): void {
    this.#flushScheduled = false;
    if (this.#closing) return;
    for (const host of this.#hosts) {
      if (host.queue.length === 0 || !host.alive) continue;
      const commands = host.queue;
      host.queue = [];
      // Thread boundary (data plane): commands are small plain data; cloning them is cheap. The
      // relay ports of accepted connections cannot be cloned: they are transferred.
      // Recycled piece buffers are moved the same way.
      const transfer: Array<MessagePort | ArrayBuffer> = [];
      for (const command of commands) {
        if (command.type === 'accept') {
          if (command.relay) transfer.push(command.relay);
        } else if (command.type === 'connect' && command.relay) transfer.push(command.relay);
        else if (command.type === 'recycle') transfer.push(...command.buffers);
      }
      // A trace on: the send time, so the host can tell how long the batch waited to be read.
      const batch = this.#batchTrace
        ? { commands, sentAt: performance.timeOrigin + performance.now() }
        : { commands };
      host.port.postMessage(batch, transfer);
      host.traffic.commandBatches++;
      host.traffic.commands += commands.length;
      if (this.#batchTrace) this.#batchTrace.commandBatch(host.index, commands.length);
    }
    if (this.#synthetic.length > 0) {
      const events = this.#synthetic;
      this.#synthetic = [];
      this.#deliver(events);
    }
  }

  #onBatch(host: HostSlot, value: unknown): void {
    if (this.#closing) return;
    host.traffic.eventBatches++;
    const sent = (value as { events?: unknown } | null)?.events;
    if (Array.isArray(sent)) host.traffic.events += sent.length;
    if (this.#batchTrace) {
      const sentAt = (value as { sentAt?: unknown }).sentAt;
      this.#batchTrace.eventBatch(
        host.index,
        Array.isArray(sent) ? sent.length : 0,
        typeof sentAt === 'number' && Number.isFinite(sentAt) ? sentAt : undefined,
      );
    }
    let events: HostEvent[];
    try {
      // Thread boundary: another thread's events are trusted only once their schema passed, one
      // by one: a malformed event is reported and dropped, the rest of its batch (verified pieces
      // whose buffers were transferred, and would be lost) is delivered.
      const parsed = parseHostEvents(value);
      events = parsed.events;
      for (const rejected of parsed.rejected) this.#onError(rejected);
    } catch (error) {
      this.#onError(toTorkError(error, TorkErrorCode.THREAD_MESSAGE));
      return;
    }
    let incoming = false;
    for (const event of events) {
      if (event.type === 'incoming') {
        incoming = true;
        this.#incoming(host, event);
      } else if (event.type === 'closed' && this.#actorHost.get(event.actorId) === host) {
        this.#actorHost.delete(event.actorId);
        host.actors.delete(event.actorId);
      }
    }
    this.#deliver(incoming ? events.filter((event) => event.type !== 'incoming') : events);
  }

  /** A host accepted a connection itself: the coordinator's limits decide; refused, it is closed. */
  #incoming(host: HostSlot, event: Extract<HostEvent, { type: 'incoming' }>): void {
    let taken = false;
    try {
      taken =
        this.#onIncoming?.({
          infoHashHex: event.infoHashHex,
          address: event.address,
          initial: new Uint8Array(0),
          hosted: { host: host.index, connection: event.connection },
        }) ?? false;
    } catch {
      taken = false;
    }
    if (!taken) {
      host.queue.push({ type: 'refuse-incoming', connection: event.connection });
      this.#scheduleFlush();
    }
  }

  #deliver(events: HostEvent[]): void {
    if (events.length === 0) return;
    if (this.#handler) this.#handler(events);
    else this.#early.push(events);
  }
}

/**
 * A worker with the process's flags, minus those a worker refuses: process-wide V8 flags such as
 * `--trace-gc` or `--max-semi-space-size` would otherwise stop `node --trace-gc tork …` outright.
 */
function startWorker(entry: URL, workerData: PeerHostWorkerData, execArgv: string[]): Worker {
  try {
    return new Worker(entry, { workerData, execArgv });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ERR_WORKER_INVALID_EXEC_ARGV') throw error;
    const refused = String((error as Error).message.split('flags:')[1] ?? '')
      .split(',')
      .map((flag) => flag.trim().split('=')[0]!)
      .filter(Boolean);
    const kept = execArgv.filter((arg) => !refused.includes(arg.split('=')[0]!));
    return new Worker(entry, { workerData, execArgv: kept });
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TorkError(TorkErrorCode.INTERNAL, `timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
