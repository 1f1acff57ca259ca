import {
  AssignmentPolicy,
  type Bitfield,
  createRng,
  type EndgameOptions,
  PeerPool,
  PieceScheduler,
  type PolicyPeer,
  peerKey,
} from '@tork/core';
import { EventQueue } from './event-queue.js';
import { checkSchedulerInvariants } from './scheduler-invariants.js';
import {
  chokeSeconds,
  chokesNow,
  gainPiece,
  generateSwarm,
  initialPieces,
  lifetimeMs,
  type SimulatedPeer,
  type SwarmOptions,
} from './swarm.js';

/**
 * A seeded discrete-event simulation of one download from the test kit's swarm (`generateSwarm`,
 * the same peers `SimulatedActorSystem` plays), driving the `PieceScheduler` through the shipped
 * `AssignmentPolicy` the way the coordinator's `Torrent` does — fill, fill order, endgame copies,
 * snubbing — with the shipped `PeerPool` for redialling. It skips the rest of the coordinator
 * (threads, messages, files: the disk is a queue with a rate), so thousands of pieces and hundreds
 * of peers run in well under a second. Virtual time only: no sockets, no sleeps. Same options, same
 * result.
 */
export interface SimulationOptions {
  /** Seed of everything random in the run (the swarm, the scheduler's tie-breaks, the peers' behaviour). */
  seed: number;
  /** Default 2000. */
  pieceCount?: number;
  /** Default 256 KiB. */
  pieceLength?: number;
  /** Total bytes. Default `pieceCount × pieceLength − pieceLength / 4` (a short last piece). */
  length?: number;
  /**
   * The swarm, as `generateSwarm` takes it (its seed is derived from `seed`). Default: 300 peers,
   * 6 seeds, 3 stallers, 2 corrupt peers, `generateSwarm`'s defaults for the rest.
   */
  swarm?: Partial<Omit<SwarmOptions, 'seed'>>;
  /** Disk writer throughput, bytes/s, one write at a time. Default 200 MiB/s. */
  diskRate?: number;
  /** Fixed cost per write, seconds. Default 0.005. */
  diskLatency?: number;
  /** Bytes waiting for the disk at which assignment pauses (the DiskWriter's queue cap). Default 64 MiB. */
  maxQueuedWriteBytes?: number;
  /** Seconds with requests out and no block before an actor is snubbed (the real actor's). Default 30. */
  snubSeconds?: number;
  maxBytesInFlight?: number;
  initialRandomPieces?: number;
  endgame?: EndgameOptions;
  /** Run the scheduler's full invariant check every this many events (0: only at the end). Default 500. */
  checkEvery?: number;
  /** Give up after this much virtual time, s. Default 36,000. */
  maxSeconds?: number;
}

export interface SimulationResult {
  completed: boolean;
  /** Virtual seconds until every piece was verified and written. */
  seconds: number;
  /**
   * A lower bound on `seconds`: total bytes at the summed rate of the fastest honest peers the
   * budget has room for (one piece each), or the disk's time with its per-write latency.
   */
  idealSeconds: number;
  totalBytes: number;
  events: number;
  /** Pieces handed to actors, duplicates included. */
  assignments: number;
  /** Of which endgame copies (the piece was already assigned to another peer). */
  duplicateAssignments: number;
  /** Distinct pieces that ever had more than one copy in flight. */
  endgamePieces: number;
  /** Copies cancelled because another copy was verified first. */
  cancelled: number;
  /** Verified copies that arrived after another copy had won (dropped). */
  wastedDeliveries: number;
  /** Payload bytes received in all: complete pieces, bad pieces and partial pieces given up. */
  downloadedBytes: number;
  /** Of which not part of the one accepted copy of each piece: the sum of the three below. */
  wastedBytes: number;
  /** Endgame copies: partial bytes of cancelled copies, and copies that arrived second. */
  duplicateBytes: number;
  /** Partial pieces given up when a peer choked us or disconnected (an actor keeps no blocks). */
  lostBytes: number;
  /** Pieces that failed the hash check. */
  corruptBytes: number;
  hashFailures: number;
  /** Distinct pieces that failed the hash check at least once. */
  failedPieces: number[];
  /** Addresses (`host:port`) banned, in order. */
  banned: string[];
  corruptAddresses: string[];
  stallerAddresses: string[];
  /** Address that delivered the accepted copy of each piece ('' : none). */
  verifiedBy: string[];
  /** Pieces given back because the actor was snubbed / the peer choked us. */
  snubReleases: number;
  chokeReleases: number;
  disconnects: number;
  /** Largest `bytesInFlight` seen after any event, and its endgame part. */
  maxBytesInFlight: number;
  maxDuplicateBytes: number;
  bytesInFlightBound: number;
  /** Longest virtual time without a piece verified, after the first one. */
  maxVerifyGap: number;
  /** Broken invariants (empty on a good run). */
  violations: string[];
}

/** One connection = one actor; a redial is a new actor id. */
interface Conn extends PolicyPeer {
  readonly actorId: number;
  readonly peer: SimPeer;
  readonly openedAt: number;
  open: boolean;
  /** The remote peer chokes us. */
  choked: boolean;
  /** We are interested (the scheduler says it has something we need). */
  interested: boolean;
  /** Assigned pieces in order; the first is being received when `current` is set. */
  queue: number[];
  current: number;
  started: number;
  /** Bumped whenever `current` changes, so stale completion and snub events do nothing. */
  token: number;
  knownRate: number;
  snubbed: boolean;
  piecesReceived: number;
  readonly canFetch: boolean;
}

interface SimPeer {
  readonly spec: SimulatedPeer;
  readonly key: string;
  readonly bits: Bitfield;
  conn: Conn | undefined;
}

const KiB = 1024;
const MiB = 1024 * 1024;

export function simulateSwarm(options: SimulationOptions): SimulationResult {
  const rng = createRng(options.seed);
  const pieceCount = options.pieceCount ?? 2000;
  const pieceLength = options.pieceLength ?? 256 * KiB;
  const length = options.length ?? pieceCount * pieceLength - Math.floor(pieceLength / 4);
  const diskRate = options.diskRate ?? 200 * MiB;
  const diskLatency = options.diskLatency ?? 0.005;
  const maxQueuedWrite = options.maxQueuedWriteBytes ?? 64 * MiB;
  const snubSeconds = options.snubSeconds ?? 30;
  const checkEvery = options.checkEvery ?? 500;
  const maxSeconds = options.maxSeconds ?? 36_000;

  const scheduler = new PieceScheduler({
    pieceCount,
    pieceLength,
    length,
    // The scheduler gets its own stream, so the swarm's draws do not depend on its internals.
    rng: createRng(options.seed ^ 0x5eed),
    maxBytesInFlight: options.maxBytesInFlight,
    initialRandomPieces: options.initialRandomPieces,
    endgame: options.endgame,
  });
  const clock = new EventQueue();
  // The policy reads time in ms, as the Torrent's Date.now().
  const nowMs = () => clock.now * 1000;
  const policy = new AssignmentPolicy(pieceLength, 0);
  const pool = new PeerPool();
  const violations: string[] = [];
  const violate = (message: string): void => {
    if (violations.length < 20) violations.push(`t=${clock.now.toFixed(3)} ${message}`);
  };

  // ---- the swarm ----
  const specs = generateSwarm({
    peers: 300,
    seeds: 6,
    stallers: 3,
    corrupt: 2,
    ...options.swarm,
    seed: options.seed ^ 0x5a4a,
  });
  const peers = new Map<string, SimPeer>();
  for (const spec of specs) {
    const key = peerKey(spec.host, spec.port);
    peers.set(key, { spec, key, bits: initialPieces(spec, pieceCount, rng), conn: undefined });
  }
  pool.add(specs, 'tracker', 0);
  // A peer fetches one piece at a time here, so with the budget holding `slots` pieces the best
  // possible rate is that of the `slots` fastest honest peers; the disk pays its latency per piece.
  const slots = Math.max(1, Math.floor(scheduler.maxBytesInFlight / pieceLength));
  const fastest = specs
    .filter((p) => p.kind === 'honest')
    .map((p) => p.rate)
    .sort((a, b) => b - a)
    .slice(0, slots)
    .reduce((sum, rate) => sum + rate, 0);
  const idealSeconds = Math.max(length / fastest, length / diskRate + pieceCount * diskLatency);

  // ---- bookkeeping ----
  const conns = new Map<number, Conn>();
  let nextActor = 1;
  let done = false;
  let events = 0;
  let assignments = 0;
  let duplicateAssignments = 0;
  const endgamePieces = new Set<number>();
  let cancelled = 0;
  let wastedDeliveries = 0;
  let downloadedBytes = 0;
  let duplicateBytes = 0;
  let lostBytes = 0;
  let corruptBytes = 0;
  let hashFailures = 0;
  const failedPieces = new Set<number>();
  const banned: string[] = [];
  const verifiedBy = new Array<string>(pieceCount).fill('');
  let snubReleases = 0;
  let chokeReleases = 0;
  let disconnects = 0;
  let maxBytesInFlight = 0;
  let maxDuplicateBytes = 0;
  let lastVerify = -1;
  let maxVerifyGap = 0;
  let diskFree = 0;
  let queuedWriteBytes = 0;
  let completedAt = -1;

  /** Bytes of the current piece received so far (lost when it is given up). */
  const partial = (conn: Conn): number =>
    conn.current < 0 || conn.peer.spec.kind === 'staller'
      ? 0
      : Math.min(scheduler.pieceSize(conn.current), (clock.now - conn.started) * conn.peer.spec.rate);

  const giveUpCurrent = (conn: Conn, copyCancelled = false): void => {
    const bytes = partial(conn);
    // The actor's stats had a rate once data flowed for a second, finished piece or not.
    if (bytes > 0 && clock.now - conn.started >= 1) conn.knownRate = conn.peer.spec.rate;
    downloadedBytes += bytes;
    if (copyCancelled) duplicateBytes += bytes;
    else lostBytes += bytes;
    conn.current = -1;
    conn.token++;
  };

  // ---- the coordinator side: what Torrent does, through the shipped policy ----

  const updateInterest = (conn: Conn): void => {
    if (conn.open) conn.interested = scheduler.interesting(conn.actorId);
  };

  const fill = (conn: Conn): void => {
    if (done) return;
    const pieces = policy.fill(scheduler, conn, nowMs(), queuedWriteBytes >= maxQueuedWrite);
    for (const index of pieces) {
      if (!conn.peer.bits.has(index)) violate(`piece ${index} assigned to ${conn.peer.key}, which lacks it`);
      if (conn.current === index || conn.queue.includes(index)) violate(`piece ${index} assigned twice`);
      if (verifiedBy[index] !== '') violate(`verified piece ${index} assigned`);
      if (scheduler.assignedTo(index).length > 1) {
        duplicateAssignments++;
        endgamePieces.add(index);
      }
      conn.queue.push(index);
    }
    assignments += pieces.length;
    startNext(conn);
  };

  const fillAll = (): void => {
    for (const conn of policy.fillOrder(conns.values())) fill(conn);
  };

  const dial = (): void => {
    if (done) return;
    for (const { host, port } of pool.take(Number.POSITIVE_INFINITY, nowMs())) {
      const peer = peers.get(peerKey(host, port))!;
      // Connection set-up, as the actor system's: 20–300 ms.
      clock.schedule(0.02 + rng() * 0.28, () => connect(peer));
    }
  };

  const connect = (peer: SimPeer): void => {
    if (done) return;
    if (peer.spec.kind === 'refuse') {
      pool.disconnected(peer.key, true, nowMs());
      return;
    }
    const conn: Conn = {
      actorId: nextActor++,
      peer,
      openedAt: nowMs(),
      open: true,
      choked: true,
      interested: false,
      queue: [],
      current: -1,
      started: 0,
      token: 0,
      knownRate: 0,
      snubbed: false,
      piecesReceived: 0,
      get canFetch() {
        return this.open && !this.choked && this.interested;
      },
    };
    peer.conn = conn;
    conns.set(conn.actorId, conn);
    pool.connected(peer.key);
    scheduler.addPeer(conn.actorId, peer.bits);
    updateInterest(conn);
    const after = peer.spec.unchokeAfter;
    if (after !== null) clock.schedule(after, () => unchoke(conn));
    const life = lifetimeMs(peer.spec, rng);
    if (life !== null) clock.schedule(life / 1000, () => close(conn, true));
  };

  /** The connection ends (`dropped`: by the remote peer); the pool redials it after its backoff. */
  const close = (conn: Conn, dropped: boolean): void => {
    if (!conn.open) return;
    if (dropped) disconnects++;
    giveUpCurrent(conn);
    conn.open = false;
    conn.queue = [];
    conns.delete(conn.actorId);
    conn.peer.conn = undefined;
    scheduler.removePeer(conn.actorId);
    pool.disconnected(conn.peer.key, conn.piecesReceived === 0, nowMs());
    fillAll();
  };

  const unchoke = (conn: Conn): void => {
    if (!conn.open || !conn.choked) return;
    conn.choked = false;
    fill(conn);
  };

  /** Without the fast extension a choke voids every request: the actor releases its pieces. */
  const choke = (conn: Conn, seconds: number): void => {
    if (!conn.open || conn.choked) return;
    conn.choked = true;
    const pieces = [...(conn.current >= 0 ? [conn.current] : []), ...conn.queue];
    giveUpCurrent(conn);
    conn.queue = [];
    if (pieces.length > 0) {
      chokeReleases += pieces.length;
      scheduler.released(conn.actorId, pieces);
    }
    clock.schedule(seconds, () => unchoke(conn));
    fillAll();
  };

  const startNext = (conn: Conn): void => {
    if (!conn.open || conn.choked || conn.current >= 0) return;
    const next = conn.queue.shift();
    if (next === undefined) return;
    conn.current = next;
    conn.started = clock.now;
    const token = ++conn.token;
    if (conn.peer.spec.kind === 'staller') {
      // Requests go out and no block ever comes back: the actor's snub timer fires.
      clock.schedule(snubSeconds, () => snubbed(conn, token));
    } else {
      clock.schedule(scheduler.pieceSize(next) / conn.peer.spec.rate, () => complete(conn, token));
    }
  };

  /** The actor keeps only started pieces at depth 1 (a staller started none) and says it is snubbed. */
  const snubbed = (conn: Conn, token: number): void => {
    if (!conn.open || conn.token !== token) return;
    const pieces = [conn.current, ...conn.queue];
    giveUpCurrent(conn);
    conn.queue = [];
    snubReleases += pieces.length;
    conn.snubbed = true;
    scheduler.released(conn.actorId, pieces);
    fillAll();
  };

  const complete = (conn: Conn, token: number): void => {
    if (!conn.open || conn.token !== token) return;
    const index = conn.current;
    const size = scheduler.pieceSize(index);
    conn.current = -1;
    conn.token++;
    downloadedBytes += size;
    // Actor stats measure the download rate whatever the hash check says.
    conn.knownRate = conn.peer.spec.rate;
    if (conn.peer.spec.kind === 'corrupt') {
      corruptBytes += size;
      hashFailures++;
      failedPieces.add(index);
      const { ban } = scheduler.hashFailed(index, conn.actorId);
      if (ban) {
        pool.ban(conn.peer.key);
        banned.push(conn.peer.key);
        close(conn, false);
        return;
      }
      startNext(conn);
      fill(conn);
      fillAll();
      return;
    }
    conn.snubbed = false;
    policy.pieceVerified(nowMs());
    const result = scheduler.verified(index, conn.actorId);
    if (!result.accepted) {
      wastedDeliveries++;
      duplicateBytes += size;
      startNext(conn);
      return;
    }
    conn.piecesReceived++;
    if (verifiedBy[index] !== '') violate(`piece ${index} verified twice`);
    verifiedBy[index] = conn.peer.key;
    if (lastVerify >= 0) maxVerifyGap = Math.max(maxVerifyGap, clock.now - lastVerify);
    lastVerify = clock.now;
    write(index);
    for (const { peer: actor, index: piece } of result.cancel) {
      cancelled++;
      const other = conns.get(actor);
      if (other === undefined) {
        violate(`cancel for unknown actor ${actor}`);
        continue;
      }
      if (other.current === piece) {
        giveUpCurrent(other, true);
        startNext(other);
      } else {
        other.queue = other.queue.filter((i) => i !== piece);
      }
      if (policy.snubsLoser(other, nowMs())) other.snubbed = true;
    }
    for (const actor of result.uninteresting) {
      const other = conns.get(actor);
      if (other) updateInterest(other);
    }
    startNext(conn);
    fill(conn);
  };

  const write = (index: number): void => {
    const size = scheduler.pieceSize(index);
    queuedWriteBytes += size;
    const start = Math.max(clock.now, diskFree);
    diskFree = start + diskLatency + size / diskRate;
    clock.schedule(diskFree - clock.now, () => {
      queuedWriteBytes -= size;
      scheduler.written(index);
      if (scheduler.isComplete) {
        done = true;
        completedAt = clock.now;
        return;
      }
      // Each completed write frees budget and queue room: top peers up again.
      fillAll();
    });
  };

  /** Once a second: the actors' stats, the swarm's own life, and the Torrent's tick. */
  const tick = (): void => {
    if (done) return;
    for (const peer of peers.values()) {
      const conn = peer.conn;
      // Actor stats (about once a second) give the coordinator a rate once data flows.
      if (conn !== undefined && conn.current >= 0 && partial(conn) > 0 && clock.now - conn.started >= 1) {
        conn.knownRate = peer.spec.rate;
      }
      // Leechers keep getting pieces from the rest of the swarm and announce them.
      const gained = gainPiece(peer.spec, peer.bits, rng);
      if (gained >= 0 && conn !== undefined) {
        scheduler.peerHave(conn.actorId, gained);
        updateInterest(conn);
      }
      if (conn !== undefined && !conn.choked && chokesNow(peer.spec, rng)) choke(conn, chokeSeconds(rng));
    }
    dial();
    fillAll();
    clock.schedule(1, tick);
  };

  const check = (): void => {
    try {
      checkSchedulerInvariants(scheduler);
    } catch (error) {
      violate(String(error));
    }
    for (const conn of conns.values()) {
      const held = conn.queue.length + (conn.current >= 0 ? 1 : 0);
      if (scheduler.heldBy(conn.actorId) !== held) {
        violate(`actor ${conn.actorId} holds ${held}, scheduler says ${scheduler.heldBy(conn.actorId)}`);
      }
    }
  };

  dial();
  clock.schedule(1, tick);

  const bound = scheduler.bytesInFlightBound;
  while (!done && clock.now <= maxSeconds && clock.runNext()) {
    events++;
    const inFlight = scheduler.bytesInFlight;
    if (inFlight > maxBytesInFlight) maxBytesInFlight = inFlight;
    if (scheduler.duplicateBytesInFlight > maxDuplicateBytes) {
      maxDuplicateBytes = scheduler.duplicateBytesInFlight;
    }
    if (inFlight > bound) violate(`bytesInFlight ${inFlight} > bound ${bound}`);
    if (checkEvery > 0 && events % checkEvery === 0) check();
  }
  check();

  const keysOf = (kind: SimulatedPeer['kind']) =>
    [...peers.values()].filter((p) => p.spec.kind === kind).map((p) => p.key);
  return {
    completed: done,
    seconds: done ? completedAt : clock.now,
    idealSeconds,
    totalBytes: length,
    events,
    assignments,
    duplicateAssignments,
    endgamePieces: endgamePieces.size,
    cancelled,
    wastedDeliveries,
    downloadedBytes,
    wastedBytes: duplicateBytes + lostBytes + corruptBytes,
    duplicateBytes,
    lostBytes,
    corruptBytes,
    hashFailures,
    failedPieces: [...failedPieces].sort((a, b) => a - b),
    banned,
    corruptAddresses: keysOf('corrupt'),
    stallerAddresses: keysOf('staller'),
    verifiedBy,
    snubReleases,
    chokeReleases,
    disconnects,
    maxBytesInFlight,
    maxDuplicateBytes,
    bytesInFlightBound: bound,
    maxVerifyGap,
    violations,
  };
}
