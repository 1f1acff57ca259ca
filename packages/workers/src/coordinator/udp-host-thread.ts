import { randomBytes } from 'node:crypto';
import type { MessagePort, Worker } from 'node:worker_threads';
import {
  type DhtContact,
  parseUdpHostEvent,
  parseUdpHostWorkerData,
  TorkError,
  TorkErrorCode,
  toTorkError,
  type UdpHostCommand,
  type UdpHostEvent,
  type UdpHostStats,
  type UdpHostWorkerData,
} from '@tork/core';
import { HOST_THREAD_YOUNG_GENERATION_MB, startWorker } from '../shared/start-worker.js';
import { threadEntry } from '../shared/thread-entry.js';

export interface UdpHostThreadOptions {
  /** The TCP listener's host: the UDP socket binds it too (an IPv6 host binds 0.0.0.0). */
  readonly host: string;
  /** The TCP listener's port: the UDP socket binds the same number (0: no listener). */
  readonly port: number;
  /** UDP port to bind instead of `port` (tests: 0, any free port). */
  readonly udpPort?: number;
  /** Longest wait for the thread's orderly close. Default 3 s. */
  readonly closeTimeoutMs?: number;
}

/** What a user of the thread gives to its `workerData` before it starts (the DHT's table, uTP's settings). */
export type UdpHostPart = Partial<
  Pick<UdpHostWorkerData, 'nodeId' | 'nodes' | 'bootstrap' | 'settings' | 'dht' | 'dhtOnDemand' | 'utp'>
>;

/** The table the thread hands back at close (empty without a DHT). */
export interface UdpHostClosed {
  readonly nodeId: string;
  readonly nodes: DhtContact[];
}

type EventOf<T extends UdpHostEvent['type']> = Extract<UdpHostEvent, { type: T }>;

/** What the thread's users hear: its events (routed by type), and its end. */
export interface UdpHostListener {
  /** The socket is bound. */
  readonly listening?: (port: number, nodeId: string) => void;
  readonly peers?: (event: EventOf<'peers'>) => void;
  readonly lookupDone?: (event: EventOf<'lookup-done'>) => void;
  readonly utpIncoming?: (event: EventOf<'utp-incoming'>) => void;
  /** An error; `fatal`: the thread is gone (it could not bind, or it died). */
  readonly error?: (error: TorkError, fatal: boolean) => void;
}

const WORKER_ENTRY = threadEntry('udp-host-worker.js', 'udp-host/udp-host-worker.js');

/**
 * The UDP host thread, from the coordinator: one socket on the torrent port serving the DHT and
 * uTP (a UDP socket cannot be shared across threads, so both live behind one). Its users (the
 * `DhtService`, the `UtpService`) each `contribute` their part of the `workerData` and `listen`;
 * the first `start` launches the thread. Commands sent before it listens are queued.
 */
export class UdpHostThread {
  readonly #options: UdpHostThreadOptions;
  readonly #parts: Array<() => Promise<UdpHostPart> | UdpHostPart> = [];
  readonly #listeners: UdpHostListener[] = [];
  readonly #requests = new Map<number, (stats: UdpHostStats | undefined) => void>();
  #state: 'idle' | 'starting' | 'running' | 'failed' | 'closed' = 'idle';
  #worker: Worker | undefined;
  #starting: Promise<void> | undefined;
  #queue: Array<{ command: UdpHostCommand; transfer: Array<MessagePort | ArrayBuffer> }> = [];
  #nextRequest = 1;
  #onClosed: ((event: EventOf<'closed'>) => void) | undefined;
  #closing: Promise<UdpHostClosed | undefined> | undefined;
  #port: number | undefined;
  /** Ends `#launch`'s wait: the thread listens, failed or exited. */
  #launched: (() => void) | undefined;

  constructor(options: UdpHostThreadOptions) {
    this.#options = options;
  }

  get state(): 'idle' | 'starting' | 'running' | 'failed' | 'closed' {
    return this.#state;
  }

  /** The UDP port bound, once listening. */
  get port(): number | undefined {
    return this.#port;
  }

  /** Adds to the `workerData` (called once at start, in order). Before `start` only. */
  contribute(part: () => Promise<UdpHostPart> | UdpHostPart): void {
    this.#parts.push(part);
  }

  listen(listener: UdpHostListener): void {
    this.#listeners.push(listener);
  }

  /** Launches the thread (once); resolves when it listens, failed or exited. */
  start(): Promise<void> {
    if (this.#state === 'idle') {
      this.#state = 'starting';
      this.#starting = this.#launch().catch((error: unknown) =>
        this.#fail(toTorkError(error, TorkErrorCode.DHT)),
      );
    }
    return this.#starting ?? Promise.resolve();
  }

  /** Sends a command (queued until the thread listens; dropped once it failed or closed). */
  send(command: UdpHostCommand, transfer: Array<MessagePort | ArrayBuffer> = []): void {
    if (this.#state === 'running') this.#worker?.postMessage(command, transfer);
    else if (this.#state === 'starting') this.#queue.push({ command, transfer });
    else if (command.type === 'utp-connect') {
      // Nobody will dial: the actor hears so at once, as from a refused connection.
      command.relay.postMessage({ type: 'end', reason: 'uTP is off' });
      command.relay.close();
    }
  }

  /** The host's counters; undefined when it is not running. */
  stats(): Promise<UdpHostStats | undefined> {
    if (this.#state !== 'running') return Promise.resolve(undefined);
    const requestId = this.#nextRequest++;
    return new Promise((resolve) => {
      this.#requests.set(requestId, resolve);
      this.send({ type: 'stats', requestId });
    });
  }

  /** Stops the thread (its connections reset, the socket closed); resolves with the DHT table. Idempotent. */
  close(): Promise<UdpHostClosed | undefined> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<UdpHostClosed | undefined> {
    const wasStarting = this.#starting;
    const before = this.#state;
    this.#state = 'closed';
    if (before === 'idle') return undefined;
    await wasStarting;
    const worker = this.#worker;
    if (!worker) return undefined;
    let table: EventOf<'closed'> | undefined;
    if (before !== 'failed' && this.#port !== undefined) {
      table = await new Promise<EventOf<'closed'> | undefined>((resolve) => {
        const timer = setTimeout(() => resolve(undefined), this.#options.closeTimeoutMs ?? 3_000);
        this.#onClosed = (event) => {
          clearTimeout(timer);
          resolve(event);
        };
        worker.once('exit', () => {
          clearTimeout(timer);
          resolve(undefined);
        });
        worker.postMessage({ type: 'close' } satisfies UdpHostCommand);
      });
    }
    for (const resolve of this.#requests.values()) resolve(undefined);
    this.#requests.clear();
    for (const { command } of this.#queue.splice(0)) this.send(command);
    await worker.terminate();
    this.#worker = undefined;
    return table ? { nodeId: table.nodeId, nodes: table.nodes } : undefined;
  }

  async #launch(): Promise<void> {
    const parts: UdpHostPart[] = [];
    for (const part of this.#parts) parts.push(await part());
    if (this.#state !== 'starting') return;
    let workerData: UdpHostWorkerData;
    try {
      workerData = parseUdpHostWorkerData(
        Object.assign(
          {
            host: this.#options.host,
            port: this.#options.udpPort ?? this.#options.port,
            peerPort: this.#options.port,
            nodeId: randomBytes(20).toString('hex'),
            nodes: [],
            bootstrap: [],
            settings: {},
            dht: false,
          },
          ...parts,
        ),
      );
    } catch (error) {
      throw new TorkError(TorkErrorCode.USAGE, `UDP host settings refused: ${(error as Error).message}`);
    }
    // The process's flags, less those a worker refuses (`tork`'s V8 flags: startWorker).
    const worker = startWorker(WORKER_ENTRY, {
      workerData,
      resourceLimits: { maxYoungGenerationSizeMb: HOST_THREAD_YOUNG_GENERATION_MB },
    });
    this.#worker = worker;
    worker.on('message', (raw: unknown) => this.#onMessage(raw));
    worker.on('error', (error) => this.#fail(toTorkError(error, TorkErrorCode.DHT)));
    await new Promise<void>((resolve) => {
      this.#launched = resolve;
      worker.once('exit', (code) => {
        if (this.#state !== 'closed')
          this.#fail(new TorkError(TorkErrorCode.DHT, `the UDP host thread exited (code ${code})`));
        resolve();
      });
    });
  }

  // Thread boundary: everything the UDP host sends is parsed first; a malformed event is
  // reported and dropped (it cannot be acted on), the thread goes on.
  #onMessage(raw: unknown): void {
    let event: UdpHostEvent;
    try {
      event = parseUdpHostEvent(raw);
    } catch (error) {
      this.#report(toTorkError(error, TorkErrorCode.THREAD_MESSAGE), false);
      return;
    }
    switch (event.type) {
      case 'listening':
        this.#port = event.port;
        if (this.#state === 'starting') this.#state = 'running';
        for (const listener of this.#listeners) listener.listening?.(event.port, event.nodeId);
        for (const { command, transfer } of this.#queue.splice(0))
          this.#worker?.postMessage(command, transfer);
        this.#launched?.();
        break;
      case 'failed':
        this.#fail(TorkError.fromPlain(event.error));
        break;
      case 'error':
        this.#report(TorkError.fromPlain(event.error), false);
        break;
      case 'peers':
        for (const listener of this.#listeners) listener.peers?.(event);
        break;
      case 'lookup-done':
        for (const listener of this.#listeners) listener.lookupDone?.(event);
        break;
      case 'utp-incoming': {
        const taker = this.#listeners.find((listener) => listener.utpIncoming);
        if (taker) taker.utpIncoming?.(event);
        else event.relay.close();
        break;
      }
      case 'stats':
        this.#requests.get(event.requestId)?.(event.stats);
        this.#requests.delete(event.requestId);
        break;
      case 'closed':
        this.#onClosed?.(event);
        break;
    }
  }

  #fail(error: TorkError): void {
    if (this.#state === 'failed' || this.#state === 'closed') return;
    this.#state = 'failed';
    for (const { command } of this.#queue.splice(0)) this.send(command);
    this.#report(error, true);
    this.#launched?.();
  }

  #report(error: TorkError, fatal: boolean): void {
    for (const listener of this.#listeners) listener.error?.(error, fatal);
  }
}
