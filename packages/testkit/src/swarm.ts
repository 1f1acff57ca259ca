import { Bitfield, createRng, type Rng, TorkError, TorkErrorCode } from '@tork/core';

/**
 * The swarm the test kit simulates: one model of remote peers (their kinds, rates, choking,
 * lifetimes, piece gains) shared by both simulations that run against it: `SimulatedActorSystem`
 * (the whole coordinator, Engine → Torrent, over simulated actors) and `simulateSwarm` (the
 * `PieceScheduler` and the shipped `AssignmentPolicy`, fast). A peer's behaviour is drawn with
 * the helpers below so both simulations read the same spec the same way.
 */

export type SimulatedPeerKind =
  /** Sends the pieces it is asked for, at its rate. */
  | 'honest'
  /** Claims every piece, unchokes, accepts requests, never sends a block. */
  | 'staller'
  /** Claims every piece and sends them at its rate, every one of them bad. */
  | 'corrupt'
  /** Refuses every connection. */
  | 'refuse';

/** One remote peer of the swarm. */
export interface SimulatedPeer {
  readonly host: string;
  readonly port: number;
  readonly kind: SimulatedPeerKind;
  /** Fraction of the pieces it has at the start (1: a seed); stallers and corrupt peers claim all. */
  readonly have: number;
  /** Bytes per virtual second while it sends. */
  readonly rate: number;
  /** Seconds after we declare interest until it unchokes us; null: it never does. */
  readonly unchokeAfter: number | null;
  /** Chance per second, while it unchokes us, that it chokes us again for 5–30 s. */
  readonly chokeChance: number;
  /** Mean seconds a connection to it lives before it drops (exponential); null: it never drops. */
  readonly meanLifetime: number | null;
  /** Chance per second that a leecher gets one more piece from elsewhere (and announces it). */
  readonly gainChance: number;
}

export interface SwarmOptions {
  readonly seed: number;
  /** Peers in all, every kind included. */
  readonly peers: number;
  /** Honest peers with every piece that unchoke quickly and never drop. Default: max(2, 3 %). */
  readonly seeds?: number;
  /** Default 0. */
  readonly stallers?: number;
  /** Default 0. */
  readonly corrupt?: number;
  /** Peers that refuse connections. Default 0. */
  readonly refusing?: number;
  /** Fraction of honest leechers that never unchoke us. Default 0.1. */
  readonly chokeForever?: number;
  /** Fraction of honest leechers whose connections drop (mean life 60 s). Default 0.2. */
  readonly flaky?: number;
  /** Chance per second that an unchoked honest leecher chokes us again for a while. Default 0.003. */
  readonly chokeChance?: number;
  /** Slowest rate, bytes/s: rates are Pareto(minRate, α 1.16), capped at maxRate. Default 16 KiB/s. */
  readonly minRate?: number;
  /** Default 16 MiB/s. */
  readonly maxRate?: number;
  /** Rate of corrupt peers (fast, so they are picked). Default 4 MiB/s. */
  readonly corruptRate?: number;
  /** Seconds until an honest leecher unchokes: uniform in [0.05, this]. Default 30. */
  readonly maxUnchokeAfter?: number;
}

const KiB = 1024;
const MiB = 1024 * 1024;

/** A seeded swarm of peers at 10.x.y.z:6881, kinds shuffled (the order is the dial order). */
export function generateSwarm(options: SwarmOptions): SimulatedPeer[] {
  const rng = createRng(options.seed);
  const count = options.peers;
  const seeds = options.seeds ?? Math.max(2, Math.round(count * 0.03));
  const stallers = options.stallers ?? 0;
  const corrupt = options.corrupt ?? 0;
  const refusing = options.refusing ?? 0;
  const chokeForever = options.chokeForever ?? 0.1;
  const flaky = options.flaky ?? 0.2;
  const chokeChance = options.chokeChance ?? 0.003;
  const minRate = options.minRate ?? 16 * KiB;
  const maxRate = options.maxRate ?? 16 * MiB;
  const corruptRate = options.corruptRate ?? 4 * MiB;
  const maxUnchokeAfter = options.maxUnchokeAfter ?? 30;
  if (seeds + stallers + corrupt + refusing > count) {
    throw new TorkError(TorkErrorCode.USAGE, 'generateSwarm: more special peers than peers');
  }
  const peers: SimulatedPeer[] = [];
  for (let i = 0; i < count; i++) {
    const kind: SimulatedPeerKind =
      i < stallers
        ? 'staller'
        : i < stallers + corrupt
          ? 'corrupt'
          : i < stallers + corrupt + refusing
            ? 'refuse'
            : 'honest';
    const isSeed = kind === 'honest' && i < stallers + corrupt + refusing + seeds;
    const pareto = Math.min(maxRate, minRate / (1 - rng()) ** (1 / 1.16));
    const leecher = kind === 'honest' && !isSeed;
    const never = leecher && rng() < chokeForever;
    peers.push({
      host: '',
      port: 6881,
      kind,
      have: kind === 'honest' ? (isSeed ? 1 : rng() * 0.95) : 1,
      rate: kind === 'corrupt' ? corruptRate : Math.round(pareto),
      unchokeAfter: never ? null : isSeed || !leecher ? 0.05 + rng() * 2 : 0.05 + rng() * maxUnchokeAfter,
      chokeChance: leecher ? chokeChance : 0,
      meanLifetime: leecher && rng() < flaky ? 60 : null,
      gainChance: leecher ? 0.1 : 0,
    });
  }
  // Shuffle (Fisher–Yates), then number the addresses in dial order.
  for (let i = peers.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [peers[i], peers[j]] = [peers[j]!, peers[i]!];
  }
  return peers.map((peer, i) => ({ ...peer, host: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}` }));
}

/** The pieces a peer has when the torrent is added: seeds, stallers and corrupt peers all of them. */
export function initialPieces(peer: SimulatedPeer, pieceCount: number, rng: Rng): Bitfield {
  const bits = new Bitfield(pieceCount);
  const fraction = peer.kind === 'honest' ? peer.have : 1;
  for (let i = 0; i < pieceCount; i++) if (fraction >= 1 || rng() < fraction) bits.set(i);
  return bits;
}

/** How long a connection to the peer lives before it drops, ms (exponential); null: it never drops. */
export function lifetimeMs(peer: SimulatedPeer, rng: Rng): number | null {
  const life = peer.meanLifetime;
  return life === null ? null : Math.max(1, Math.round(-life * 1000 * Math.log(1 - rng())));
}

/** Drawn once a second while the peer unchokes us: it chokes us now. */
export function chokesNow(peer: SimulatedPeer, rng: Rng): boolean {
  return peer.chokeChance > 0 && rng() < peer.chokeChance;
}

/** How long a choke lasts, seconds: 5–30. */
export function chokeSeconds(rng: Rng): number {
  return 5 + rng() * 25;
}

/**
 * Drawn once a second: a leecher got one more piece from elsewhere (it sets it in `bits` and
 * returns its index, to announce with `have`), or -1.
 */
export function gainPiece(peer: SimulatedPeer, bits: Bitfield, rng: Rng): number {
  if (peer.gainChance === 0 || bits.complete || rng() >= peer.gainChance) return -1;
  let index = Math.floor(rng() * bits.length);
  while (bits.has(index)) index = (index + 1) % bits.length;
  bits.set(index);
  return index;
}
