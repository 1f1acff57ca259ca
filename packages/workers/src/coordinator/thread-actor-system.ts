import { MessageChannel, type MessagePort, type Worker } from 'node:worker_threads';
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
import { DOUBLE_ZERO } from '@tork/core/internal/double-zero.js';
import * as Comlink from 'comlink';
import type { PeerHostApi } from '../peer-host/peer-host-api.js';
import { nodeEndpoint } from '../shared/comlink-node-adapter.js';
import { availableCores, defaultPeerHosts } from './available-cores.js';
import {
  type PeerHostThread,
  peerHostEntry,
  peerHostWorkerData,
  startPeerHostThread,
} from './peer-host-threads.js';

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
   * The worker entry each host thread runs. Default: this package's `bundle/peer-host-worker.js`
   * when the build wrote it, else `peer-host/peer-host-worker.js` (see `threadEntry`). Tests point it at a misbehaving host.
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
  /**
   * Host threads started earlier (`prestartPeerHosts`, by `tork download` before it loaded the
   * rest of its code). One is adopted as host `i` when it was started with exactly the data host
   * `i` gets here; the others are terminated and started afresh. Default: none.
   */
  readonly prestarted?: readonly PeerHostThread[];
  /**
   * Hosts from this index on start only when measured load asks for one (see `stats`): every
   * running host busy at least `GROW_BUSY_SHARE` of the time while the process leaves a core idle.
   * `tork download` passes the cores available, so `--workers` above the cores adds threads only
   * where there is a core for them. Default: none (all `workers` hosts start at once).
   */
  readonly onDemandFrom?: number;
}

/** A host counts as saturated, for starting one more on demand, from this busy share (0..1). */
export const GROW_BUSY_SHARE = 0.9;

/** Who hears of data-plane batches (core's `TraceRecorder` is one). */
export interface BatchTrace {
  commandBatch(host: number, commands: number): void;
  eventBatch(host: number, events: number, sentAtMs: number | undefined): void;
}

/** Who dials a uTP connection and relays its stream over `relay` (see `UdpHostCommand` `utp-connect`). */
export type UtpDialer = (host: string, port: number, relay: MessagePort) => void;

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
  /** Busy share (0..1) at the last `stats` call; 0 until measured. */
  busy: number;
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
  /** `workers`: the most hosts; those from `onDemandFrom` on start when load asks (`#maybeGrow`). */
  readonly #maxHosts: number;
  /** What `listen` told the hosts: a host started on demand later listens with it too. */
  #listenOptions: HostListenOptions | undefined;
  /** The hosts started at once: they split the buffer budget (see `peerHostWorkerData`). */
  readonly #sharing: number;
  readonly #entry: URL;
  readonly #hostSettings: PeerHostSettings | undefined;
  /** Process CPU time and wall time at the last `stats` call: the share of the cores in use. */
  #lastCpu = process.cpuUsage();
  #lastCpuAt = performance.now();
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
    const entry = options.hostEntry ?? peerHostEntry();
    const settings = PeerHostSettingsSchema.safeParse(options.host ?? {});
    if (!settings.success) {
      const issue = settings.error.issues[0];
      throw new TorkError(
        TorkErrorCode.USAGE,
        `peer host options: ${issue?.path.join('.') || '(root)'}: ${issue?.message ?? 'invalid'}`,
      );
    }
    const prestarted: (PeerHostThread | undefined)[] = [...(options.prestarted ?? [])];
    this.#maxHosts = count;
    this.#entry = entry;
    this.#hostSettings = options.host;
    const eager = Math.min(count, Math.max(1, Math.floor(options.onDemandFrom ?? count)));
    this.#sharing = eager;
    for (let index = 0; index < eager; index++) {
      const workerData = peerHostWorkerData(index, eager, options.host);
      const early = prestarted[index];
      // threadId -1: the thread has already ended (a message to it would be dropped, and the
      // ports inside it never closed), so a fresh one replaces it.
      const adopt =
        early !== undefined &&
        early.worker.threadId !== -1 &&
        options.hostEntry === undefined &&
        sameData(early.workerData, workerData);
      if (adopt) prestarted[index] = undefined;
      const thread = adopt ? early : startPeerHostThread(entry, workerData);
      thread.worker.ref();
      this.#hosts.push(this.#startHost(thread, index));
    }
    // Started for a different count or settings: not used.
    for (const unused of prestarted) if (unused !== undefined) void unused.worker.terminate();
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
    this.#listenOptions = HostListenOptions.parse(options);
    await Promise.all(
      this.#hosts
        .filter((host) => host.alive)
        .map((host) => host.api.listen(HostListenOptions.parse(options))),
    );
  }

  get hostCount(): number {
    return this.#hosts.length;
  }

  /** The hosts' thread ids, in host order (which threads run them: a prestarted one keeps its id). */
  get threadIds(): readonly number[] {
    return this.#hosts.map((host) => host.worker.threadId);
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
    const live = this.#hosts.filter((host) => host.alive);
    const stats = await Promise.all(live.map(async (host) => parseHostStats(await host.api.stats())));
    live.forEach((host, i) => {
      host.busy = stats[i]?.eventLoopUtilization ?? host.busy;
    });
    this.#maybeGrow(live);
    return stats;
  }

  /**
   * Starts one more host (up to `workers`) when every running one was busy at least
   * GROW_BUSY_SHARE since the last `stats` call and the whole process used less than all cores
   * but one: a thread where no core is free only adds start-up and switching cost (docs/performance.md
   * "Threads"). It takes the next connections (`#route` prefers the least loaded host).
   */
  #maybeGrow(live: readonly HostSlot[]): void {
    const now = performance.now();
    const cpu = process.cpuUsage(this.#lastCpu);
    const wallMs = now - this.#lastCpuAt;
    this.#lastCpu = process.cpuUsage();
    this.#lastCpuAt = now;
    if (this.#closing || this.#hosts.length >= this.#maxHosts || live.length === 0 || wallMs < 100) return;
    const coresUsed = (cpu.user + cpu.system) / 1000 / wallMs;
    if (live.some((host) => host.busy < GROW_BUSY_SHARE)) return;
    if (coresUsed > availableCores() - 1) return;
    const index = this.#hosts.length;
    const thread = startPeerHostThread(
      this.#entry,
      peerHostWorkerData(index, this.#sharing, this.#hostSettings),
    );
    const host = this.#startHost(thread, index);
    this.#hosts.push(host);
    host.attached.catch((error: unknown) => this.#onError(toTorkError(error, TorkErrorCode.INTERNAL)));
    const listening = this.#listenOptions;
    // Best effort: a host that cannot bind still serves dialled and relayed peers.
    if (listening) void host.api.listen(listening).catch(() => {});
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

  #startHost(thread: PeerHostThread, index: number): HostSlot {
    const { worker } = thread;
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
    // comlink never settles a call whose thread died: a host that fails to start must not hang
    // `start()`. `thread.exited` was listened for since the thread started (a prestarted thread
    // may have ended before it was adopted).
    const exited = thread.exited.then((code): never => {
      throw new TorkError(
        TorkErrorCode.INTERNAL,
        `peer host thread ${index} exited (code ${code}) before it started`,
        {
          host: index,
          exitCode: code,
          ...(thread.error() ? { cause: thread.error()!.message } : {}),
        },
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
      busy: DOUBLE_ZERO,
    };
    // Thread boundary (data plane): events arrive batched on our end of the channel.
    port1.on('message', (value: unknown) => this.#onBatch(host, value));
    worker.on('error', (error) => {
      this.#onError(toTorkError(error, TorkErrorCode.INTERNAL, `peer host thread ${index} failed`));
    });
    void thread.exited.then((code) => this.#hostExited(host, code));
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
      case 'report-stats':
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
        // The least loaded host: actors weighted by the host's measured busy share, so a host
        // whose peers are slow (or idle) takes more of them than one whose peers keep it busy.
        let best: HostSlot | undefined;
        // A connection a host accepted itself runs there: its socket cannot move.
        if (command.type === 'accept' && command.hosted) {
          const holder = this.#hosts[command.hosted.host];
          best = holder?.alive ? holder : undefined;
        } else {
          let bestLoad = Number.POSITIVE_INFINITY;
          for (const host of this.#hosts) {
            if (!host.alive) continue;
            const load = (host.actors.size + 1) * (0.5 + host.busy);
            if (load < bestLoad) {
              best = host;
              bestLoad = load;
            }
          }
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

/** Whether two hosts' start data are the same (settings are flat: numbers and booleans). */
function sameData(a: PeerHostWorkerData, b: PeerHostWorkerData): boolean {
  return a.index === b.index && JSON.stringify(a.options ?? {}) === JSON.stringify(b.options ?? {});
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TorkError(TorkErrorCode.INTERNAL, `timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
