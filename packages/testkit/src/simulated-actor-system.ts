import { createHash } from 'node:crypto';
import {
  type ActorStats,
  type ActorSystem,
  Bitfield,
  createRng,
  type HostCommand,
  type HostEvent,
  type PlainTorkError,
  parseHostCommandBatch,
  parseHostEventBatch,
  peerKey,
  type ReleaseReason,
  type Rng,
  TorkError,
  TorkErrorCode,
} from '@tork/core';
import { EventQueue } from './event-queue.js';
import {
  chokeSeconds,
  chokesNow,
  gainPiece,
  initialPieces,
  lifetimeMs,
  type SimulatedPeer,
} from './swarm.js';

/**
 * An in-memory, seeded swarm behind the `ActorSystem` interface, for testing the coordinator
 * (Engine → Torrent) deterministically: thousands of peers and faults, no sockets, no threads, no
 * sleeps. Each `connect` becomes a simulated PeerActor that behaves like the real one in
 * `@tork/workers` (choke releases, snub releases, `peer does not have the piece`, ban on close…)
 * in front of a simulated remote peer (seed or leecher, heavy-tailed rate, choking, dropping,
 * stalling, corrupt or refusing connections).
 *
 * Time is virtual, in milliseconds from 0. The sim drives the coordinator's clock through
 * `advanceClock` (in tests: node:test's `mock.timers.tick`, with `Date` and `setInterval` mocked
 * and starting at 0), so `Date.now()` and the Torrent's tick follow the simulation. `run` is the
 * driver: one simulated action at a time; its events go one per batch, and after each the real
 * event loop is let run until the coordinator is quiet (its `setImmediate` command flush, and its
 * disk writes while `busy` says so). So every command the sim receives was decided with every event
 * delivered before it: the run is a pure function of the seeds, and the sim can hold the
 * coordinator to strict rules (see `violations`). The disk is thus infinitely fast in virtual time.
 */

/** Bytes of one block request (the actor's queue depth counts these). */
const BLOCK = 16 * 1024;

export interface SimulatedActorSystemOptions {
  /** Seeds every random draw of the sim (latencies, choking, drops, piece gains). */
  readonly seed: number;
  readonly peers: readonly SimulatedPeer[];
  /** The torrent's payload, files concatenated: what honest peers send. */
  readonly payload: Uint8Array;
  /**
   * Moves the coordinator's clock on by `ms` (`Date.now()` and its timers): in tests,
   * `(ms) => mock.timers.tick(ms)` with the mocked clock starting at 0. Default: nothing.
   */
  readonly advanceClock?: (ms: number) => void;
  /** Seconds with requests out and no block before the actor is snubbed (real actor: 30). Default 30. */
  readonly snubSeconds?: number;
  /** Connection set-up time, ms: uniform in [min, max]. Default [20, 300]. */
  readonly connectLatencyMs?: readonly [number, number];
}

export interface RunOptions {
  /** Checked after every step, once the coordinator is quiet; the run stops when it holds. */
  readonly until: () => boolean;
  /** Virtual time limit, ms since the start. */
  readonly maxMs: number;
  /**
   * The coordinator has asynchronous work under way that must finish before the next step (its
   * disk writes): the driver lets the real event loop run while this holds.
   */
  readonly busy?: () => boolean;
  /** Called after every step, once the coordinator is quiet. */
  readonly onStep?: (nowMs: number) => void;
  /** Real milliseconds the coordinator may stay busy before the run fails. Default 30,000. */
  readonly busyTimeoutMs?: number;
}

export interface RunResult {
  readonly reason: 'until' | 'time limit' | 'no events';
  /** Virtual ms at the end. */
  readonly nowMs: number;
  readonly steps: number;
  /** Real ms the run took. */
  readonly realMs: number;
}

/** What the sim saw, for assertions and reports. */
export interface SimulationCounters {
  batches: number;
  commands: Record<HostCommand['type'], number>;
  /** Events emitted, by type. */
  events: Record<HostEvent['type'], number>;
  /** Connections accepted (handshake done) / refused / dropped by the remote peer. */
  connections: number;
  refusals: number;
  drops: number;
  /** Most actors open at once (from `connect` until `closed` was delivered). */
  peakOpenActors: number;
  /** Peers we unchoked at once, at most (the choker's slots plus the optimistic one). */
  peakUnchoked: number;
  /** `choke` commands that unchoked / choked a peer. */
  unchokes: number;
  chokes: number;
  /** Piece assignments in all, and those made while another actor held the piece (endgame copies). */
  assignments: number;
  duplicateAssignments: number;
  /** Most actors holding one piece at once. */
  maxCopies: number;
  /** Assignments to actors that were snubbed (a staller's after its snub: they wait for the endgame). */
  assignmentsToSnubbed: number;
  /** Good pieces delivered to the coordinator, and those for a piece delivered before. */
  deliveries: number;
  duplicateDeliveries: number;
  hashFailures: number;
  hashFailedBytes: number;
  /** Pieces given back, by reason. */
  releases: Record<string, number>;
  /** Copies cancelled by `unassign`, and the partial bytes they had received. */
  cancelled: number;
  cancelledBytes: number;
  /** Partial pieces lost to chokes and dropped connections. */
  lostBytes: number;
  /** Payload bytes the remote peers sent in all (good, bad and partial). */
  downloadedBytes: number;
  /** `have` commands and the pieces they announced. */
  haveCommands: number;
  announcedPieces: number;
}

interface PeerState {
  readonly spec: SimulatedPeer;
  readonly key: string;
  bits: Bitfield | undefined;
  actor: Actor | undefined;
}

interface Actor {
  readonly id: number;
  readonly peer: PeerState;
  state: 'connecting' | 'open' | 'closing';
  /** The remote peer chokes us / we told it we are interested. */
  choking: boolean;
  /** What the coordinator has been told (events delivered): choking, and the peer's pieces. */
  toldChoking: boolean;
  toldBits: Bitfield | undefined;
  interested: boolean;
  unchokePending: boolean;
  /** The coordinator chokes this peer (its choker decision); the sim does not model uploading. */
  amChoking: boolean;
  /** Assigned pieces in order; `current` (if any) is the first. */
  pieces: number[];
  current: number;
  startedAt: number;
  /** Bumped whenever the pipeline changes, so stale completions do nothing. */
  token: number;
  /** Complete piece bytes received. */
  received: number;
  /** When the last byte arrived (ms), for the decaying rate; -1 never. */
  lastDataAt: number;
  /** When requests went out with no block since (stallers), for the snub timer. */
  waitingSince: number;
  snubbed: boolean;
}

/** See the module comment. */
export class SimulatedActorSystem implements ActorSystem {
  /** Broken rules, by the coordinator (or by the sim itself): a good run has none. */
  readonly violations: string[] = [];
  readonly counters: SimulationCounters = {
    batches: 0,
    commands: {
      'add-torrent': 0,
      'add-magnet': 0,
      'fetch-metadata': 0,
      'fetch-hashes': 0,
      'remove-torrent': 0,
      connect: 0,
      assign: 0,
      unassign: 0,
      interest: 0,
      have: 0,
      close: 0,
      accept: 0,
      choke: 0,
      recycle: 0,
      'torrent-peers': 0,
      'rate-limits': 0,
      'rate-grant': 0,
      'web-seed': 0,
      'refuse-incoming': 0,
      'report-stats': 0,
    },
    events: {
      incoming: 0,
      connected: 0,
      bitfield: 0,
      have: 0,
      choke: 0,
      piece: 0,
      pieces: 0,
      'hash-failed': 0,
      released: 0,
      stats: 0,
      closed: 0,
      'peer-interest': 0,
      'peer-info': 0,
      'metadata-available': 0,
      metadata: 0,
      'piece-hashes': 0,
      'hashes-rejected': 0,
      'pex-peers': 0,
      unreadable: 0,
      'rate-need': 0,
    },
    connections: 0,
    refusals: 0,
    drops: 0,
    peakOpenActors: 0,
    peakUnchoked: 0,
    unchokes: 0,
    chokes: 0,
    assignments: 0,
    duplicateAssignments: 0,
    maxCopies: 0,
    assignmentsToSnubbed: 0,
    deliveries: 0,
    duplicateDeliveries: 0,
    hashFailures: 0,
    hashFailedBytes: 0,
    releases: {},
    cancelled: 0,
    cancelledBytes: 0,
    lostBytes: 0,
    downloadedBytes: 0,
    haveCommands: 0,
    announcedPieces: 0,
  };
  /** Per piece: assignments (copies included), and good deliveries. Empty until `add-torrent`. */
  assignsPerPiece = new Uint32Array(0);
  deliveriesPerPiece = new Uint32Array(0);
  /** `connect` commands per peer address ("host:port"). */
  readonly connectsByPeer = new Map<string, number>();

  readonly #rng: Rng;
  readonly #queue = new EventQueue();
  readonly #payload: Uint8Array;
  readonly #advanceClock: (ms: number) => void;
  readonly #snubMs: number;
  readonly #latency: readonly [number, number];
  readonly #peers = new Map<string, PeerState>();
  readonly #actors = new Map<number, Actor>();
  /** Piece → actors holding it. */
  readonly #holders = new Map<number, Set<number>>();
  readonly #trace = createHash('sha1');
  #handler: ((events: readonly HostEvent[]) => void) | undefined;
  #pending: HostEvent[] = [];
  /** The action the queue handed out and the driver has not run yet. */
  #due: (() => void) | undefined;
  #clockAt = 0;
  /** Until when the torrent reports its counters itself (`report-stats`), virtual ms. */
  #statsAskedUntil = 0;
  #closed = false;
  #torrentId: string | undefined;
  #pieceLength = 0;
  #length = 0;
  #pieceCount = 0;
  #hashes: Uint8Array = new Uint8Array(0);

  constructor(options: SimulatedActorSystemOptions) {
    this.#rng = createRng(options.seed);
    this.#payload = options.payload;
    this.#advanceClock = options.advanceClock ?? (() => {});
    this.#snubMs = (options.snubSeconds ?? 30) * 1000;
    this.#latency = options.connectLatencyMs ?? [20, 300];
    for (const spec of options.peers) {
      const key = peerKey(spec.host, spec.port);
      if (this.#peers.has(key)) throw new TorkError(TorkErrorCode.USAGE, `peer ${key} given twice`);
      this.#peers.set(key, { spec, key, bits: undefined, actor: undefined });
    }
    this.#at(1000, () => this.#heartbeat());
  }

  /** Virtual ms since the start. */
  get now(): number {
    return this.#queue.now;
  }

  /** Actors open now (from `connect` until their `closed` is delivered). */
  get openActors(): number {
    return this.#actors.size;
  }

  /** SHA-1 (hex) over every command received and event delivered, with their times: same seed, same trace. */
  traceDigest(): string {
    return this.#trace.copy().digest('hex');
  }

  // ---- ActorSystem ----

  send(commands: readonly HostCommand[]): void {
    if (this.#closed) return;
    this.counters.batches++;
    let batch: readonly HostCommand[];
    try {
      batch = parseHostCommandBatch({ commands }).commands;
    } catch (error) {
      this.#violate(`invalid command batch: ${error instanceof Error ? error.message : String(error)}`);
      return;
    }
    for (const command of batch) {
      this.counters.commands[command.type]++;
      // `have` follows real disk writes (pieces are announced once on disk), whose timing against
      // virtual time is not reproducible: it stays out of the trace (its total is still checked).
      // `add-torrent` names real paths under a per-run temp directory: only their lengths count.
      const traced =
        command.type === 'add-torrent'
          ? {
              ...command,
              files: command.files.map((file) => ({ pad: file.path === null, length: file.length })),
            }
          : command;
      if (command.type !== 'have' && command.type !== 'recycle')
        this.#trace.update(`${this.now} > ${traceJson(traced)}\n`);
      this.#command(command);
    }
  }

  onEvents(handler: (events: readonly HostEvent[]) => void): void {
    this.#handler = handler;
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#actors.clear();
    for (const peer of this.#peers.values()) peer.actor = undefined;
  }

  // ---- the driver ----

  /**
   * Runs the simulation until `until()` holds or virtual time passes `maxMs`. Each step: advance
   * the coordinator's clock to the next action (its timers fire), let it settle, run the action,
   * deliver the events it produced one at a time, letting the coordinator settle after each.
   */
  async run(options: RunOptions): Promise<RunResult> {
    const realStart = performance.now();
    let steps = 0;
    await this.#settle(options);
    for (;;) {
      options.onStep?.(this.now);
      if (options.until()) return this.#result('until', steps, realStart);
      if (this.#due === undefined && !this.#queue.runNext()) {
        return this.#result('no events', steps, realStart);
      }
      // Past the limit the action stays due, for a later run.
      if (this.now > options.maxMs) return this.#result('time limit', steps, realStart);
      const action = this.#due!;
      this.#due = undefined;
      if (this.now > this.#clockAt) {
        // The coordinator's timers due by now fire first, and what they decide is flushed.
        this.#advanceClock(this.now - this.#clockAt);
        this.#clockAt = this.now;
        await this.#settle(options);
      }
      action();
      if (this.#pending.length > 0) await this.#deliver(options);
      else await this.#settle(options);
      steps++;
    }
  }

  #result(reason: RunResult['reason'], steps: number, realStart: number): RunResult {
    return { reason, nowMs: this.now, steps, realMs: performance.now() - realStart };
  }

  /** Lets the real event loop run: the coordinator's command flush, and its disk writes while busy. */
  async #settle(options: RunOptions): Promise<void> {
    const deadline = performance.now() + (options.busyTimeoutMs ?? 30_000);
    await nextTurn();
    while (options.busy?.()) {
      if (performance.now() > deadline) {
        throw new TorkError(TorkErrorCode.INTERNAL, 'simulation: the coordinator stayed busy too long');
      }
      await nextTurn();
    }
    // Work that completed in the last turn may have queued commands: one more turn flushes them.
    await nextTurn();
  }

  /**
   * Delivers the events the last action produced, each as a batch of its own, letting the
   * coordinator settle after each: so every command it sends afterwards was decided with every
   * event delivered before, and the sim may hold it to strict rules (no assignment to a choking
   * peer, interest exactly when the peer has something we need…). With several events per batch a
   * command decided on an early event could look wrong against a later one.
   */
  async #deliver(options: RunOptions): Promise<void> {
    while (this.#pending.length > 0 && !this.#closed) {
      const event = this.#pending.shift()!;
      let batch: readonly HostEvent[];
      try {
        batch = parseHostEventBatch({ events: [event] }).events;
      } catch (error) {
        this.#violate(`the sim emitted an invalid event: ${String(error)}`);
        continue;
      }
      this.counters.events[event.type]++;
      this.#trace.update(`${this.now} < ${traceJson(event)}\n`);
      this.#told(event);
      this.#handler?.(batch);
      await this.#settle(options);
    }
    this.#pending = [];
  }

  /** Keeps track of what the coordinator knows, for the strict checks. */
  #told(event: HostEvent): void {
    if (event.type === 'stats' || event.type === 'pieces' || event.type === 'incoming') return;
    const actor = this.#actors.get(event.actorId);
    if (actor === undefined) return;
    switch (event.type) {
      case 'closed':
        this.#forget(actor);
        return;
      case 'choke':
        actor.toldChoking = event.choked;
        return;
      case 'bitfield':
        actor.toldBits = new Bitfield(this.#pieceCount, event.bitfield);
        return;
      case 'have':
        for (const index of event.pieces) actor.toldBits?.set(index);
        return;
      case 'piece':
        this.counters.deliveries++;
        if (this.deliveriesPerPiece[event.index]! > 0) this.counters.duplicateDeliveries++;
        this.deliveriesPerPiece[event.index]!++;
        return;
      default:
        return;
    }
  }

  // ---- commands ----

  #command(command: HostCommand): void {
    switch (command.type) {
      case 'add-torrent':
        this.#addTorrent(command);
        return;
      case 'remove-torrent':
        if (command.torrentId !== this.#torrentId)
          this.#violate(`remove-torrent of unknown ${command.torrentId}`);
        return;
      case 'connect':
        this.#connect(command);
        return;
      case 'recycle':
        // Buffers back after their write: the sim allocates its own (real I/O timing: untraced).
        return;
      case 'torrent-peers':
        // Peer exchange: the sim's peers never send or read PEX messages.
        return;
      case 'web-seed':
        this.#violate(`web-seed actor ${command.actorId}: the sim has no HTTP servers`);
        return;
      case 'accept':
        // The sim has no listener: nothing dials us.
        this.#violate(`accept of actor ${command.actorId}: the sim has no incoming connections`);
        return;
      case 'have':
        this.#have(command.pieces);
        return;
      case 'add-magnet':
        this.#violate('add-magnet: the sim plays a torrent with its metainfo');
        return;
      case 'rate-limits':
        // The sim meters nothing: its peers' speeds are the model's.
        return;
      case 'report-stats':
        // Like a peer host: the counters now, and none in the heartbeat while the torrent asks.
        this.#statsAskedUntil = this.now + 2 * command.intervalMs;
        this.#emitStats();
        return;
      case 'refuse-incoming':
        this.#violate('refuse-incoming: the sim accepts no connections');
        return;
      default:
        break;
    }
    const actor = this.#actors.get(command.actorId);
    if (actor === undefined) {
      this.#violate(`${command.type} for actor ${command.actorId}, which is not open`);
      return;
    }
    switch (command.type) {
      case 'assign':
        this.#assign(actor, command.pieces);
        return;
      case 'unassign':
        this.#unassign(actor, command.pieces);
        return;
      case 'interest':
        this.#interest(actor, command.interested);
        return;
      case 'choke':
        this.#chokeCommand(actor, command.choked);
        return;
      case 'close':
        this.#closeByCoordinator(actor, command.reason);
        return;
    }
  }

  #addTorrent(command: CommandOf<'add-torrent'>): void {
    if (this.#torrentId !== undefined) {
      this.#violate('a second add-torrent: the sim plays one torrent');
      return;
    }
    this.#torrentId = command.torrentId;
    this.#pieceLength = command.pieceLength;
    this.#length = command.length;
    this.#pieceCount = Math.ceil(command.length / command.pieceLength);
    this.#hashes = command.pieceHashes;
    if (command.length !== this.#payload.length) {
      this.#violate(`add-torrent says ${command.length} bytes, the payload has ${this.#payload.length}`);
    }
    if (command.pieceHashes.length !== this.#pieceCount * 20) this.#violate('add-torrent: piece hashes');
    if (command.have.length !== Math.ceil(this.#pieceCount / 8)) this.#violate('add-torrent: have bitfield');
    this.assignsPerPiece = new Uint32Array(this.#pieceCount);
    this.deliveriesPerPiece = new Uint32Array(this.#pieceCount);
    for (const peer of this.#peers.values())
      peer.bits = initialPieces(peer.spec, this.#pieceCount, this.#rng);
  }

  #connect(command: CommandOf<'connect'>): void {
    if (command.torrentId !== this.#torrentId)
      this.#violate(`connect for unknown torrent ${command.torrentId}`);
    if (this.#actors.has(command.actorId)) {
      this.#violate(`connect reuses actor id ${command.actorId}`);
      return;
    }
    const key = peerKey(command.host, command.port);
    this.connectsByPeer.set(key, (this.connectsByPeer.get(key) ?? 0) + 1);
    const peer = this.#peers.get(key);
    const [low, high] = this.#latency;
    const latency = Math.round(low + this.#rng() * (high - low));
    if (peer === undefined) {
      this.#violate(`connect to ${key}, not in the swarm`);
      return;
    }
    if (peer.actor !== undefined)
      this.#violate(`second connection to ${key} (actors ${peer.actor.id}, ${command.actorId})`);
    const actor: Actor = {
      id: command.actorId,
      peer,
      state: 'connecting',
      choking: true,
      toldChoking: true,
      toldBits: undefined,
      interested: false,
      unchokePending: false,
      amChoking: true,
      pieces: [],
      current: -1,
      startedAt: 0,
      token: 0,
      received: 0,
      lastDataAt: -1,
      waitingSince: 0,
      snubbed: false,
    };
    this.#actors.set(actor.id, actor);
    peer.actor = actor;
    this.counters.peakOpenActors = Math.max(this.counters.peakOpenActors, this.#actors.size);
    this.#at(latency, () => {
      if (actor.state !== 'connecting') return;
      if (peer.spec.kind === 'refuse') {
        this.counters.refusals++;
        this.#emitClosed(actor, {
          code: TorkErrorCode.IO,
          message: 'connection refused',
          details: { actorId: actor.id, peer: key, cause: 'ECONNREFUSED' },
        });
        return;
      }
      actor.state = 'open';
      this.counters.connections++;
      this.#emit({
        type: 'connected',
        actorId: actor.id,
        peerId: peerIdHex(key),
        client: 'Simulated 1.0',
        fastExtension: false,
        extensionProtocol: false,
      });
      this.#emit({ type: 'bitfield', actorId: actor.id, bitfield: peer.bits!.bytes.slice() });
      // A leecher wants what we will have: interested in us from the start (the choker's input).
      if (peer.spec.kind === 'honest' && peer.spec.have < 1) {
        this.#emit({ type: 'peer-interest', actorId: actor.id, interested: true });
      }
      const life = lifetimeMs(peer.spec, this.#rng);
      if (life !== null) this.#at(life, () => this.#drop(actor));
    });
  }

  /** The actors we unchoke now, in id order. */
  unchoked(): number[] {
    const ids: number[] = [];
    for (const actor of this.#actors.values())
      if (actor.state === 'open' && !actor.amChoking) ids.push(actor.id);
    return ids.sort((a, b) => a - b);
  }

  /** The remote peer behind an actor (its rate, kind), for tests that check decisions. */
  peerOf(actorId: number): SimulatedPeer | undefined {
    return this.#actors.get(actorId)?.peer.spec;
  }

  #chokeCommand(actor: Actor, choked: boolean): void {
    if (actor.state !== 'open') this.#violate(`choke for actor ${actor.id} in state ${actor.state}`);
    if (actor.amChoking === choked) this.#violate(`choke(${choked}) for actor ${actor.id}, already so`);
    actor.amChoking = choked;
    if (choked) this.counters.chokes++;
    else this.counters.unchokes++;
    this.counters.peakUnchoked = Math.max(this.counters.peakUnchoked, this.unchoked().length);
  }

  #have(pieces: readonly number[]): void {
    this.counters.haveCommands++;
    this.counters.announcedPieces += pieces.length;
    for (const index of pieces) {
      if (index >= this.#pieceCount) this.#violate(`have for piece ${index} beyond ${this.#pieceCount}`);
      else if (this.deliveriesPerPiece[index] === 0) {
        this.#violate(`have for piece ${index}, which no peer ever delivered`);
      }
    }
  }

  #assign(actor: Actor, pieces: readonly number[]): void {
    if (actor.state !== 'open') {
      this.#violate(`assign to actor ${actor.id} in state ${actor.state}`);
      return;
    }
    if (actor.toldChoking) this.#violate(`assign to actor ${actor.id}, which the peer chokes`);
    if (!actor.interested) this.#violate(`assign to actor ${actor.id}, which is not interested`);
    const lacking: number[] = [];
    const choked: number[] = [];
    for (const index of pieces) {
      if (index >= this.#pieceCount) {
        this.#violate(`assign of piece ${index} beyond ${this.#pieceCount}`);
        continue;
      }
      if (actor.pieces.includes(index)) {
        this.#violate(`piece ${index} assigned twice to actor ${actor.id}`);
        continue;
      }
      if (!(actor.toldBits?.has(index) ?? false)) {
        this.#violate(`piece ${index} assigned to actor ${actor.id}, whose peer did not announce it`);
      }
      if (!actor.peer.bits!.has(index)) {
        lacking.push(index);
        continue;
      }
      if (actor.choking) {
        choked.push(index);
        continue;
      }
      this.counters.assignments++;
      if (actor.snubbed) this.counters.assignmentsToSnubbed++;
      this.assignsPerPiece[index]!++;
      let holders = this.#holders.get(index);
      if (holders === undefined) {
        holders = new Set();
        this.#holders.set(index, holders);
      }
      if (holders.size > 0) this.counters.duplicateAssignments++;
      holders.add(actor.id);
      this.counters.maxCopies = Math.max(this.counters.maxCopies, holders.size);
      actor.pieces.push(index);
    }
    // As the real actor does: what it cannot fetch goes straight back.
    if (lacking.length > 0) this.#release(actor, lacking, 'peer-lacks');
    if (choked.length > 0) this.#release(actor, choked, 'choked');
    this.#startNext(actor);
  }

  #unassign(actor: Actor, pieces: readonly number[]): void {
    for (const index of pieces) {
      const at = actor.pieces.indexOf(index);
      if (at < 0) {
        this.#violate(`unassign of piece ${index} that actor ${actor.id} does not hold`);
        continue;
      }
      this.counters.cancelled++;
      if (actor.current === index) this.counters.cancelledBytes += this.#abandonCurrent(actor);
      actor.pieces.splice(at, 1);
      this.#unhold(index, actor.id);
    }
    this.#startNext(actor);
  }

  #interest(actor: Actor, interested: boolean): void {
    if (actor.state !== 'open') this.#violate(`interest for actor ${actor.id} in state ${actor.state}`);
    if (actor.interested === interested) {
      this.#violate(`interest ${interested} repeated for actor ${actor.id}`);
      return;
    }
    actor.interested = interested;
    // The coordinator is interested exactly when the peer has a piece it has not got yet.
    if (interested !== this.#hasWanted(actor)) {
      this.#violate(
        `interest ${interested} in actor ${actor.id}, whose peer has ${interested ? 'nothing' : 'pieces'} we need`,
      );
    }
    const after = actor.peer.spec.unchokeAfter;
    if (interested && actor.choking && !actor.unchokePending && after !== null) {
      actor.unchokePending = true;
      this.#at(Math.max(1, Math.round(after * 1000)), () => this.#unchoke(actor));
    }
  }

  #closeByCoordinator(actor: Actor, reason: string): void {
    if (actor.state === 'closing') {
      this.#violate(`close of actor ${actor.id} twice`);
      return;
    }
    this.#shutdown(actor);
    this.#at(0, () =>
      this.#emit({
        type: 'closed',
        actorId: actor.id,
        error: { code: TorkErrorCode.ABORTED, message: `closed by coordinator: ${reason}`, details: {} },
      }),
    );
  }

  // ---- the remote peer and the actor's pipeline ----

  #unchoke(actor: Actor): void {
    actor.unchokePending = false;
    if (actor.state !== 'open' || !actor.choking) return;
    actor.choking = false;
    this.#emit({ type: 'choke', actorId: actor.id, choked: false });
    this.#startNext(actor);
  }

  /** Without the fast extension a choke voids every request: the actor releases all its pieces. */
  #choke(actor: Actor, seconds: number): void {
    if (actor.state !== 'open' || actor.choking) return;
    actor.choking = true;
    this.#emit({ type: 'choke', actorId: actor.id, choked: true });
    if (actor.current >= 0) this.counters.lostBytes += this.#abandonCurrent(actor);
    const pieces = actor.pieces;
    actor.pieces = [];
    for (const index of pieces) this.#unhold(index, actor.id);
    if (pieces.length > 0) this.#release(actor, pieces, 'choked');
    actor.unchokePending = true;
    this.#at(Math.round(seconds * 1000), () => this.#unchoke(actor));
  }

  #startNext(actor: Actor): void {
    if (actor.state !== 'open' || actor.choking || actor.current >= 0) return;
    const index = actor.pieces[0];
    if (index === undefined) return;
    actor.current = index;
    actor.startedAt = this.now;
    const token = ++actor.token;
    if (actor.peer.spec.kind === 'staller') {
      if (!actor.snubbed) actor.waitingSince = this.now;
      return;
    }
    const ms = Math.max(1, Math.ceil((this.#pieceSize(index) / actor.peer.spec.rate) * 1000));
    this.#at(ms, () => this.#complete(actor, token));
  }

  #complete(actor: Actor, token: number): void {
    if (actor.state !== 'open' || actor.token !== token) return;
    const index = actor.current;
    const size = this.#pieceSize(index);
    actor.current = -1;
    actor.token++;
    actor.pieces.shift();
    this.#unhold(index, actor.id);
    actor.received += size;
    actor.lastDataAt = this.now;
    this.counters.downloadedBytes += size;
    // What the worker does: assemble, SHA-1, then either transfer the piece or report a failure.
    const start = index * this.#pieceLength;
    const data = new Uint8Array(size);
    data.set(this.#payload.subarray(start, start + size));
    if (actor.peer.spec.kind === 'corrupt') data[Math.floor(this.#rng() * size)]! ^= 0xff;
    const expected = this.#hashes.subarray(index * 20, index * 20 + 20);
    const good = Buffer.from(createHash('sha1').update(data).digest()).equals(expected);
    if (good) {
      if (actor.peer.spec.kind === 'corrupt') this.#violate(`a corrupt piece ${index} passed SHA-1`);
      this.#emit({ type: 'piece', actorId: actor.id, index, data: data.buffer });
    } else {
      if (actor.peer.spec.kind !== 'corrupt') this.#violate(`honest piece ${index} failed SHA-1`);
      this.counters.hashFailures++;
      this.counters.hashFailedBytes += size;
      this.#emit({ type: 'hash-failed', actorId: actor.id, index });
    }
    this.#startNext(actor);
  }

  /** Gives up the piece being received; returns the partial bytes that were received. */
  #abandonCurrent(actor: Actor): number {
    const index = actor.current;
    actor.current = -1;
    actor.token++;
    if (index < 0 || actor.peer.spec.kind === 'staller') return 0;
    const partial = Math.floor(
      Math.min(this.#pieceSize(index), ((this.now - actor.startedAt) / 1000) * actor.peer.spec.rate),
    );
    actor.received += partial;
    this.counters.downloadedBytes += partial;
    if (partial > 0) actor.lastDataAt = this.now;
    return partial;
  }

  #release(actor: Actor, pieces: number[], reason: ReleaseReason): void {
    this.counters.releases[reason] = (this.counters.releases[reason] ?? 0) + pieces.length;
    this.#emit({ type: 'released', actorId: actor.id, pieces, reason });
  }

  /** The remote peer drops the connection. */
  #drop(actor: Actor): void {
    if (actor.state !== 'open') return;
    this.counters.drops++;
    this.counters.lostBytes += this.#shutdown(actor);
    this.#emitClosed(actor, {
      code: TorkErrorCode.IO,
      message: 'connection reset by peer',
      details: { actorId: actor.id, peer: actor.peer.key, cause: 'ECONNRESET' },
    });
  }

  /** Stops the actor's pipeline (it is closing); returns the partial bytes lost. */
  #shutdown(actor: Actor): number {
    const lost = actor.current >= 0 ? this.#abandonCurrent(actor) : 0;
    for (const index of actor.pieces) this.#unhold(index, actor.id);
    actor.pieces = [];
    actor.state = 'closing';
    return lost;
  }

  #emitClosed(actor: Actor, error: PlainTorkError): void {
    this.#shutdown(actor);
    const details: Record<string, string | number | boolean | null> = {};
    for (const [key, value] of Object.entries(error.details)) if (value !== undefined) details[key] = value;
    this.#emit({
      type: 'closed',
      actorId: actor.id,
      error: { code: error.code, message: error.message, details },
    });
  }

  /** Forgets an actor once its `closed` is delivered. */
  #forget(actor: Actor): void {
    this.#actors.delete(actor.id);
    if (actor.peer.actor === actor) actor.peer.actor = undefined;
  }

  /** The peer announced a piece not delivered yet (with no duplicate deliveries: not verified yet). */
  #hasWanted(actor: Actor): boolean {
    const bits = actor.toldBits;
    if (bits === undefined) return false;
    for (let i = 0; i < this.#pieceCount; i++)
      if (this.deliveriesPerPiece[i] === 0 && bits.has(i)) return true;
    return false;
  }

  #unhold(index: number, actorId: number): void {
    const holders = this.#holders.get(index);
    if (holders?.delete(actorId) && holders.size === 0) this.#holders.delete(index);
  }

  /** Once a second, like a peer host's tick: snub timers, the swarm's own life, and `stats`. */
  #heartbeat(): void {
    this.#at(1000, () => this.#heartbeat());
    if (this.#torrentId === undefined) return;
    for (const actor of this.#actors.values()) {
      if (actor.state !== 'open') continue;
      const spec = actor.peer.spec;
      if (!actor.snubbed && actor.current >= 0 && spec.kind === 'staller') {
        if (this.now - actor.waitingSince >= this.#snubMs) {
          // The real actor keeps only started pieces at depth 1: a staller started none.
          actor.snubbed = true;
          actor.current = -1;
          actor.token++;
          const pieces = actor.pieces;
          actor.pieces = [];
          for (const index of pieces) this.#unhold(index, actor.id);
          this.#release(actor, pieces, 'snubbed');
        }
      }
      if (!actor.choking && chokesNow(spec, this.#rng)) this.#choke(actor, chokeSeconds(this.#rng));
    }
    for (const peer of this.#peers.values()) {
      const index = gainPiece(peer.spec, peer.bits!, this.#rng);
      if (index >= 0 && peer.actor?.state === 'open')
        this.#emit({ type: 'have', actorId: peer.actor.id, pieces: [index] });
    }
    if (this.now >= this.#statsAskedUntil) this.#emitStats();
  }

  #emitStats(): void {
    const actors: ActorStats[] = [];
    for (const actor of this.#actors.values()) if (actor.state === 'open') actors.push(this.#stats(actor));
    if (actors.length > 0) this.#emit({ type: 'stats', actors });
  }

  #stats(actor: Actor): ActorStats {
    const spec = actor.peer.spec;
    const receiving = actor.current >= 0 && !actor.choking && spec.kind !== 'staller';
    const partial = receiving
      ? Math.min(this.#pieceSize(actor.current), ((this.now - actor.startedAt) / 1000) * spec.rate)
      : 0;
    // A meter: the peer's rate while blocks flow, fading out over 5 s after the last one.
    const since = actor.lastDataAt < 0 ? Number.POSITIVE_INFINITY : this.now - actor.lastDataAt;
    const rate = receiving ? spec.rate : spec.rate * Math.max(0, 1 - since / 5000);
    const target = actor.snubbed ? 1 : Math.min(500, Math.max(4, Math.ceil((spec.rate * 3) / BLOCK)));
    let blocks = 0;
    for (const index of actor.pieces) blocks += Math.ceil(this.#pieceSize(index) / BLOCK);
    return {
      actorId: actor.id,
      downloaded: Math.floor(actor.received + partial),
      uploaded: 0,
      downloadRate: Math.round(rate),
      uploadRate: 0,
      amChoking: actor.amChoking,
      peerInterested: actor.peer.spec.kind === 'honest' && actor.peer.spec.have < 1,
      queueDepth: actor.choking ? 0 : Math.min(target, blocks),
      targetQueueDepth: target,
      peerChoking: actor.choking,
      amInterested: actor.interested,
      snubbed: actor.snubbed,
      requestsQueued: 0,
      requestsRefused: 0,
      uploadStalled: false,
    };
  }

  // ---- plumbing ----

  #emit(event: HostEvent): void {
    this.#pending.push(event);
  }

  /** Schedules `action` `ms` virtual ms from now (rounded up to whole ms, so `Date.now()` stays whole). */
  #at(ms: number, action: () => void): void {
    this.#queue.schedule(Math.ceil(Math.max(0, ms)), () => {
      this.#due = action;
    });
  }

  #pieceSize(index: number): number {
    return index === this.#pieceCount - 1 ? this.#length - index * this.#pieceLength : this.#pieceLength;
  }

  #violate(message: string): void {
    if (this.violations.length < 50) this.violations.push(`t=${this.now}ms ${message}`);
  }
}

type CommandOf<T extends HostCommand['type']> = Extract<HostCommand, { type: T }>;

function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** A stable 40-hex peer id per address. */
function peerIdHex(key: string): string {
  return createHash('sha1').update(`simulated peer ${key}`).digest('hex');
}

/** JSON for the trace: bytes as hex, piece data by length (the output files prove the bytes). */
function traceJson(value: unknown): string {
  return JSON.stringify(value, (_key, item: unknown) => {
    if (item instanceof Uint8Array) return Buffer.from(item).toString('hex');
    if (item instanceof ArrayBuffer) return `${item.byteLength} bytes`;
    return item;
  });
}
