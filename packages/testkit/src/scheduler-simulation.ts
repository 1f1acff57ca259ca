import {
  Bitfield,
  createRng,
  type EndgameOptions,
  PieceScheduler,
  piecesForRate,
  randomInt,
} from '@tork/core';
import { EventQueue } from './event-queue.js';

/**
 * A seeded discrete-event simulation of a swarm that drives a `PieceScheduler` the way the
 * coordinator does: peers with heavy-tailed rates, choking, disconnects and reconnects, stalling
 * and corrupt peers, per-actor pipelines, actor-side stall detection and a disk writer with a
 * queue. Virtual time only: no sockets, no sleeps. Same options, same result.
 */
export interface SimulationOptions {
  /** Seed of everything random in the run. */
  seed: number;
  /** Default 2000. */
  pieceCount?: number;
  /** Default 256 KiB. */
  pieceLength?: number;
  /** Total bytes. Default `pieceCount × pieceLength − pieceLength / 4` (a short last piece). */
  length?: number;
  /** Peers in the swarm, all kinds together. Default 300. */
  peers?: number;
  /** Honest peers with every piece that never disconnect (so the torrent is always complete). Default 6. */
  seeds?: number;
  /** Peers that claim every piece, accept assignments and never deliver. Default 3. */
  stallers?: number;
  /** Fast peers that claim every piece and send only bad data. Default 2. */
  corrupt?: number;
  /** Fraction of honest peers that choke us at first and unchoke after 1–60 s. Default 0.3. */
  initiallyChoking?: number;
  /** Fraction of honest non-seed peers whose connections drop (mean life 60 s), back after 5–30 s. Default 0.2. */
  flaky?: number;
  /** Chance per second that an unchoked honest non-seed peer chokes us for 5–30 s. Default 0.003. */
  chokeChance?: number;
  /** Slowest peer rate, bytes/s; rates are Pareto(minRate, α 1.16), capped at maxRate. Default 16 KiB/s. */
  minRate?: number;
  /** Default 16 MiB/s. */
  maxRate?: number;
  /** Disk writer throughput, bytes/s, one write at a time. Default 200 MiB/s. */
  diskRate?: number;
  /** Fixed cost per write, seconds. Default 0.005. */
  diskLatency?: number;
  /** An actor that receives nothing for this long releases its pieces. Default 20 s. */
  stallTimeout?: number;
  /** A peer released for stalling gets nothing for this long, then one piece at a time. Default 60 s. */
  snubSeconds?: number;
  maxBytesInFlight?: number;
  initialRandomPieces?: number;
  endgame?: EndgameOptions;
  /**
   * The coordinator lets an idle peer copy pieces in flight elsewhere (AssignOptions.duplicates)
   * when it fetches a piece within this many seconds and at 8× the median measured rate.
   * 0 disables. Default 10.
   */
  stealWithin?: number;
  /** Run the scheduler's full invariant check every this many events (0: only at the end). Default 500. */
  checkEvery?: number;
  /** Give up after this much virtual time. Default 36,000 s. */
  maxSeconds?: number;
}

export interface SimulationResult {
  completed: boolean;
  /** Virtual seconds until every piece was verified and written. */
  seconds: number;
  /**
   * A lower bound on `seconds`: total bytes at the summed rate of the fastest honest peers that the
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
  /** Addresses banned, in order. */
  banned: number[];
  corruptAddresses: number[];
  stallerAddresses: number[];
  /** Address that delivered the accepted copy of each piece (-1: none). */
  verifiedBy: number[];
  stallReleases: number;
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

type Kind = 'honest' | 'staller' | 'corrupt';

interface SimPeer {
  readonly address: number;
  readonly rate: number;
  readonly kind: Kind;
  readonly seed: boolean;
  readonly flaky: boolean;
  readonly bits: Bitfield;
  chokedUntil: number;
  banned: boolean;
  conn: Conn | undefined;
}

/** One connection = one actor; a reconnect is a new actor id. */
interface Conn {
  readonly actor: number;
  readonly peer: SimPeer;
  open: boolean;
  choked: boolean;
  /** Assigned pieces not started yet, in order. */
  queue: number[];
  /** The piece being received (the pipeline runs pieces one after another at the peer's rate). */
  current: number;
  started: number;
  /** Bumped whenever `current` changes, so stale completion and stall events do nothing. */
  token: number;
  /** The rate the coordinator knows (from actor stats): 0 until the first piece arrived. */
  knownRate: number;
  snubbedUntil: number;
  /** After a stall: one piece at a time until it delivers. */
  probation: boolean;
  /** When it last got pieces: among peers of equal rank, the one waiting longest goes first. */
  servedAt: number;
}

const KiB = 1024;
const MiB = 1024 * 1024;

export function simulateSwarm(options: SimulationOptions): SimulationResult {
  const rng = createRng(options.seed);
  const pieceCount = options.pieceCount ?? 2000;
  const pieceLength = options.pieceLength ?? 256 * KiB;
  const length = options.length ?? pieceCount * pieceLength - Math.floor(pieceLength / 4);
  const peerCount = options.peers ?? 300;
  const seedCount = options.seeds ?? 6;
  const stallerCount = options.stallers ?? 3;
  const corruptCount = options.corrupt ?? 2;
  const initiallyChoking = options.initiallyChoking ?? 0.3;
  const flakyFraction = options.flaky ?? 0.2;
  const chokeChance = options.chokeChance ?? 0.003;
  const minRate = options.minRate ?? 16 * KiB;
  const maxRate = options.maxRate ?? 16 * MiB;
  const diskRate = options.diskRate ?? 200 * MiB;
  const diskLatency = options.diskLatency ?? 0.005;
  const stallTimeout = options.stallTimeout ?? 20;
  const snubSeconds = options.snubSeconds ?? 60;
  const checkEvery = options.checkEvery ?? 500;
  const stealWithin = options.stealWithin ?? 10;
  const maxSeconds = options.maxSeconds ?? 36_000;

  const scheduler = new PieceScheduler({
    pieceCount,
    pieceLength,
    length,
    // The scheduler gets its own stream, so the swarm's draws do not depend on its internals.
    rng: createRng(options.seed ^ 0x5eed),
    ...(options.maxBytesInFlight === undefined ? {} : { maxBytesInFlight: options.maxBytesInFlight }),
    ...(options.initialRandomPieces === undefined
      ? {}
      : { initialRandomPieces: options.initialRandomPieces }),
    ...(options.endgame === undefined ? {} : { endgame: options.endgame }),
  });
  const clock = new EventQueue();
  const violations: string[] = [];
  const violate = (message: string): void => {
    if (violations.length < 20) violations.push(`t=${clock.now.toFixed(3)} ${message}`);
  };

  // ---- the swarm ----
  const peers: SimPeer[] = [];
  for (let address = 0; address < peerCount; address++) {
    const kind: Kind =
      address < stallerCount ? 'staller' : address < stallerCount + corruptCount ? 'corrupt' : 'honest';
    const seed = kind === 'honest' && address < stallerCount + corruptCount + seedCount;
    const bits = new Bitfield(pieceCount);
    if (kind !== 'honest' || seed) {
      for (let i = 0; i < pieceCount; i++) bits.set(i);
    } else {
      const fraction = rng() * 0.95;
      for (let i = 0; i < pieceCount; i++) if (rng() < fraction) bits.set(i);
    }
    const pareto = minRate / (1 - rng()) ** (1 / 1.16);
    const rate = kind === 'corrupt' ? 4 * MiB : Math.min(maxRate, pareto);
    const choking = kind === 'honest' && rng() < initiallyChoking;
    peers.push({
      address,
      rate,
      kind,
      seed,
      flaky: kind === 'honest' && !seed && rng() < flakyFraction,
      bits,
      chokedUntil: choking ? 1 + rng() * 59 : 0,
      banned: false,
      conn: undefined,
    });
  }
  // A peer fetches one piece at a time, so with the budget holding `slots` pieces the best possible
  // rate is that of the `slots` fastest honest peers; the disk pays its latency per piece.
  const slots = Math.max(1, Math.floor(scheduler.maxBytesInFlight / pieceLength));
  const fastest = peers
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
  const banned: number[] = [];
  const verifiedBy = new Array<number>(pieceCount).fill(-1);
  let stallReleases = 0;
  let chokeReleases = 0;
  let disconnects = 0;
  let maxBytesInFlight = 0;
  let maxDuplicateBytes = 0;
  let lastVerify = -1;
  let maxVerifyGap = 0;
  let diskFree = 0;
  let completedAt = -1;
  let medianRate = 0;

  const held = (conn: Conn): number => conn.queue.length + (conn.current >= 0 ? 1 : 0);

  /** Bytes of the current piece received so far (lost when it is given up). */
  const partial = (conn: Conn): number =>
    conn.current < 0 || conn.peer.kind === 'staller'
      ? 0
      : Math.min(scheduler.pieceSize(conn.current), (clock.now - conn.started) * conn.peer.rate);

  const giveUpCurrent = (conn: Conn, copyCancelled = false): void => {
    const bytes = partial(conn);
    // The actor's stats had a rate once data flowed for a second, finished piece or not.
    if (conn.current >= 0 && conn.peer.kind !== 'staller' && clock.now - conn.started >= 1) {
      conn.knownRate = conn.peer.rate;
    }
    downloadedBytes += bytes;
    if (copyCancelled) duplicateBytes += bytes;
    else lostBytes += bytes;
    conn.current = -1;
    conn.token++;
  };

  const connect = (peer: SimPeer): void => {
    if (done || peer.banned || peer.conn !== undefined) return;
    const conn: Conn = {
      actor: nextActor++,
      peer,
      open: true,
      choked: clock.now < peer.chokedUntil,
      queue: [],
      current: -1,
      started: 0,
      token: 0,
      knownRate: 0,
      snubbedUntil: 0,
      probation: false,
      servedAt: 0,
    };
    peer.conn = conn;
    conns.set(conn.actor, conn);
    scheduler.addPeer(conn.actor, peer.bits);
    if (conn.choked) clock.schedule(peer.chokedUntil - clock.now, () => unchoke(conn));
    if (peer.flaky) clock.schedule(-60 * Math.log(1 - rng()), () => disconnect(conn));
    topUp(conn);
  };

  const close = (conn: Conn): void => {
    if (!conn.open) return;
    giveUpCurrent(conn);
    conn.open = false;
    conn.queue = [];
    conns.delete(conn.actor);
    conn.peer.conn = undefined;
    scheduler.removePeer(conn.actor);
    topUpAll();
  };

  const disconnect = (conn: Conn): void => {
    if (!conn.open) return;
    disconnects++;
    close(conn);
    clock.schedule(5 + rng() * 25, () => connect(conn.peer));
  };

  const unchoke = (conn: Conn): void => {
    if (!conn.open || !conn.choked) return;
    conn.choked = false;
    topUp(conn);
  };

  /** Without the fast extension a choke drops every request: the actor releases its pieces. */
  const choke = (conn: Conn, seconds: number): void => {
    if (!conn.open || conn.choked) return;
    conn.choked = true;
    const pieces = [...(conn.current >= 0 ? [conn.current] : []), ...conn.queue];
    giveUpCurrent(conn);
    conn.queue = [];
    if (pieces.length > 0) {
      chokeReleases++;
      scheduler.released(conn.actor, pieces);
    }
    clock.schedule(seconds, () => unchoke(conn));
    topUpAll();
  };

  const topUp = (conn: Conn): void => {
    if (done || !conn.open || conn.choked || clock.now < conn.snubbedUntil) return;
    if (!scheduler.interesting(conn.actor)) return;
    // Endgame copies are few (`copies` per piece): a peer that stalled before, or whose rate is
    // unknown, would only sit on one while a measured peer waits.
    if (scheduler.inEndgame && (conn.probation || conn.knownRate === 0)) return;
    const target = conn.probation ? 1 : piecesForRate(conn.knownRate, pieceLength);
    const want = target - held(conn);
    if (want <= 0) return;
    // An idle peer much faster than most may take over pieces stuck on slow ones
    // (AssignOptions.duplicates): it fetches a piece within `stealWithin` s and at 8× the median,
    // and fetches, not the disk queue, hold most of the budget (else copies cannot help).
    const steal =
      held(conn) === 0 &&
      conn.knownRate * stealWithin >= pieceLength &&
      conn.knownRate >= 8 * medianRate &&
      scheduler.bytesPendingWrite < scheduler.maxBytesInFlight / 2;
    const pieces = scheduler.assign(conn.actor, want, { duplicates: steal });
    if (pieces.length > want) violate(`assign returned ${pieces.length} > ${want}`);
    for (const index of pieces) {
      if (!conn.peer.bits.has(index)) {
        violate(`piece ${index} assigned to peer ${conn.peer.address} that lacks it`);
      }
      if (conn.current === index || conn.queue.includes(index)) {
        violate(`piece ${index} assigned twice to ${conn.actor}`);
      }
      if (verifiedBy[index] !== -1) violate(`verified piece ${index} assigned`);
      const copies = scheduler.assignedTo(index).length;
      if (copies > 1) {
        duplicateAssignments++;
        endgamePieces.add(index);
      }
      conn.queue.push(index);
    }
    assignments += pieces.length;
    if (pieces.length > 0) conn.servedAt = clock.now;
    startNext(conn);
  };

  /**
   * Peers not measured yet first (a measurement needs a piece: without one a fast peer is never
   * found), then the fastest, since the budget may not stretch to all; among equals, the one
   * served longest ago (so the unmeasured are probed in turn). Also updates the median measured
   * rate that `topUp` compares stealers with.
   */
  const topUpAll = (): void => {
    const all = [...conns.values()];
    const known = all.filter((c) => c.knownRate > 0).map((c) => c.knownRate);
    known.sort((a, b) => a - b);
    medianRate = known[known.length >> 1] ?? 0;
    const rank = (c: Conn): number => (c.knownRate > 0 ? c.knownRate : Number.POSITIVE_INFINITY);
    all.sort((a, b) => rank(b) - rank(a) || a.servedAt - b.servedAt || a.actor - b.actor);
    for (const conn of all) topUp(conn);
  };

  const startNext = (conn: Conn): void => {
    if (!conn.open || conn.choked || conn.current >= 0) return;
    const next = conn.queue.shift();
    if (next === undefined) return;
    conn.current = next;
    conn.started = clock.now;
    const token = ++conn.token;
    if (conn.peer.kind === 'staller') {
      // Requests go out and nothing ever comes back: the actor's stall timer fires.
      clock.schedule(stallTimeout, () => stalled(conn, token));
    } else {
      clock.schedule(scheduler.pieceSize(next) / conn.peer.rate, () => complete(conn, token));
    }
  };

  const stalled = (conn: Conn, token: number): void => {
    if (!conn.open || conn.token !== token) return;
    const pieces = [conn.current, ...conn.queue];
    giveUpCurrent(conn);
    conn.queue = [];
    stallReleases++;
    scheduler.released(conn.actor, pieces);
    conn.snubbedUntil = clock.now + snubSeconds;
    conn.probation = true;
    clock.schedule(snubSeconds, () => topUp(conn));
    topUpAll();
  };

  const complete = (conn: Conn, token: number): void => {
    if (!conn.open || conn.token !== token) return;
    const index = conn.current;
    const size = scheduler.pieceSize(index);
    conn.current = -1;
    conn.token++;
    downloadedBytes += size;
    // Actor stats measure the download rate whatever the hash check says.
    conn.knownRate = conn.peer.rate;
    if (conn.peer.kind === 'corrupt') {
      corruptBytes += size;
      hashFailures++;
      failedPieces.add(index);
      const { ban } = scheduler.hashFailed(index, conn.actor);
      if (ban) {
        conn.peer.banned = true;
        banned.push(conn.peer.address);
        close(conn);
        return;
      }
      startNext(conn);
      topUp(conn);
      topUpAll();
      return;
    }
    conn.probation = false;
    const result = scheduler.verified(index, conn.actor);
    if (!result.accepted) {
      wastedDeliveries++;
      duplicateBytes += size;
    } else {
      if (verifiedBy[index] !== -1) violate(`piece ${index} verified twice`);
      verifiedBy[index] = conn.peer.address;
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
      }
    }
    startNext(conn);
    topUp(conn);
  };

  const write = (index: number): void => {
    const start = Math.max(clock.now, diskFree);
    diskFree = start + diskLatency + scheduler.pieceSize(index) / diskRate;
    clock.schedule(diskFree - clock.now, () => {
      // Freed budget matters only to peers the budget held back.
      const wasFull =
        scheduler.bytesInFlight - scheduler.duplicateBytesInFlight + pieceLength > scheduler.maxBytesInFlight;
      scheduler.written(index);
      if (scheduler.isComplete) {
        done = true;
        completedAt = clock.now;
        return;
      }
      if (wasFull) topUpAll();
    });
  };

  const tick = (): void => {
    if (done) return;
    for (const peer of peers) {
      // Actor stats (about once a second) give the coordinator a rate once data flows.
      const c = peer.conn;
      if (c !== undefined && c.current >= 0 && peer.kind !== 'staller' && clock.now - c.started >= 1) {
        c.knownRate = peer.rate;
      }
      // Leechers keep getting pieces from the rest of the swarm and announce them.
      if (peer.kind === 'honest' && !peer.seed && !peer.bits.complete && rng() < 0.1) {
        let index = randomInt(rng, pieceCount);
        while (peer.bits.has(index)) index = (index + 1) % pieceCount;
        peer.bits.set(index);
        if (peer.conn !== undefined) scheduler.peerHave(peer.conn.actor, index);
      }
      const conn = peer.conn;
      if (conn !== undefined && peer.kind === 'honest' && !peer.seed && !conn.choked && rng() < chokeChance) {
        choke(conn, 5 + rng() * 25);
      }
    }
    topUpAll();
    clock.schedule(1, tick);
  };

  const check = (): void => {
    try {
      scheduler.checkInvariants();
    } catch (error) {
      violate(String(error));
    }
    for (const conn of conns.values()) {
      if (scheduler.heldBy(conn.actor) !== held(conn)) {
        violate(`actor ${conn.actor} holds ${held(conn)}, scheduler says ${scheduler.heldBy(conn.actor)}`);
      }
    }
  };

  for (const peer of peers) clock.schedule(rng() * 5, () => connect(peer));
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
    corruptAddresses: peers.filter((p) => p.kind === 'corrupt').map((p) => p.address),
    stallerAddresses: peers.filter((p) => p.kind === 'staller').map((p) => p.address),
    verifiedBy,
    stallReleases,
    chokeReleases,
    disconnects,
    maxBytesInFlight,
    maxDuplicateBytes,
    bytesInFlightBound: bound,
    maxVerifyGap,
    violations,
  };
}
