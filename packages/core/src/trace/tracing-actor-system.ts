import type { ActorSystem } from '../engine/actor-system.js';
import type { HostCommand } from '../messages/host-command.js';
import type { HostEvent } from '../messages/host-event.js';
import { PEER_PID_BASE, type TraceRecorder, traceNowUs } from './trace-recorder.js';

/** A peer's tracks: connection (connect, handshake, disconnect), choke/snub spans, rates. */
const CONNECTION_TID = 1;
const STATE_TID = 2;
const PIECES_TID = 3;
/** Blocks are 16 KiB: the request→block latency is estimated from the queue depth and the rate. */
const BLOCK_BYTES = 16 * 1024;

interface PeerTrack {
  readonly pid: number;
  readonly torrentId: string;
  readonly address: string;
  readonly startedAt: number;
  connectedAt: number | undefined;
  chokedSince: number | undefined;
  snubbedSince: number | undefined;
  /** Piece index → when it was assigned (µs). */
  readonly pieces: Map<number, number>;
}

/**
 * An ActorSystem that passes everything through and records, per peer, what the coordinator
 * already sees: connect and handshake, choke and snub spans, each piece from assignment to
 * verification (or release, cancel, hash failure), endgame copies and which one won, rates and
 * the request→block latency (estimated from the stats' queue depth and rate, Little's law), and
 * the disconnect with its reason. Only built when a trace is asked for: without one the engine
 * talks to the actor system directly.
 */
export class TracingActorSystem implements ActorSystem {
  readonly #inner: ActorSystem;
  readonly #trace: TraceRecorder;
  readonly #peers = new Map<number, PeerTrack>();
  readonly #geometry = new Map<string, { pieceLength: number; length: number }>();
  /** `torrentId:piece` → the actors fetching it now (more than one: endgame copies). */
  readonly #holders = new Map<string, Set<number>>();
  /** `torrentId:piece` → the actor whose copy was verified (the others are cancelled next). */
  readonly #winners = new Map<string, number>();
  #inFlight = 0;

  constructor(inner: ActorSystem, trace: TraceRecorder) {
    this.#inner = inner;
    this.#trace = trace;
  }

  /** Bytes of the pieces assigned to some peer and not verified yet. */
  get bytesInFlight(): number {
    return this.#inFlight;
  }

  send(commands: readonly HostCommand[]): void {
    for (const command of commands) this.#command(command);
    this.#inner.send(commands);
  }

  onEvents(handler: (events: readonly HostEvent[]) => void): void {
    this.#inner.onEvents((events) => {
      for (const event of events) this.#event(event);
      handler(events);
    });
  }

  /** Ends every open span (peers still connected at the end), then closes the actor system. */
  async close(): Promise<void> {
    const now = traceNowUs();
    for (const [actorId, peer] of this.#peers) this.#end(actorId, peer, now, 'open at end');
    this.#peers.clear();
    await this.#inner.close();
  }

  #command(command: HostCommand): void {
    const now = traceNowUs();
    switch (command.type) {
      case 'add-torrent':
        this.#geometry.set(command.torrentId, { pieceLength: command.pieceLength, length: command.length });
        return;
      case 'connect':
        this.#open(command.actorId, command.torrentId, `${command.host}:${command.port}`, now, 'outgoing');
        return;
      case 'accept':
        this.#open(command.actorId, command.torrentId, command.address, now, 'incoming');
        return;
      case 'web-seed':
        this.#open(command.actorId, command.torrentId, command.url.slice(0, 200), now, 'web seed');
        return;
      case 'assign': {
        const peer = this.#peers.get(command.actorId);
        if (!peer) return;
        for (const index of command.pieces) {
          if (peer.pieces.has(index)) continue;
          peer.pieces.set(index, now);
          const key = `${peer.torrentId}:${index}`;
          let holders = this.#holders.get(key);
          if (!holders) {
            holders = new Set();
            this.#holders.set(key, holders);
            this.#inFlight += this.#pieceBytes(peer.torrentId, index);
          }
          holders.add(command.actorId);
        }
        return;
      }
      case 'unassign': {
        const peer = this.#peers.get(command.actorId);
        if (!peer) return;
        for (const index of command.pieces) this.#pieceEnd(command.actorId, peer, index, now, 'cancelled');
        return;
      }
      case 'choke':
        this.#instant(command.actorId, command.choked ? 'we choke' : 'we unchoke', now);
        return;
      case 'close': {
        this.#instant(command.actorId, 'close asked', now, { reason: command.reason });
        return;
      }
      default:
        return;
    }
  }

  #event(event: HostEvent): void {
    if (!('actorId' in event)) {
      if (event.type === 'stats') this.#stats(event.actors);
      else if (event.type === 'pieces') {
        const now = traceNowUs();
        for (const { actorId, index } of event.pieces) {
          const peer = this.#peers.get(actorId);
          if (peer) this.#pieceEnd(actorId, peer, index, now, 'verified');
        }
      }
      return;
    }
    const peer = this.#peers.get(event.actorId);
    if (!peer) return;
    const now = traceNowUs();
    switch (event.type) {
      case 'connected': {
        peer.connectedAt = now;
        peer.chokedSince = now;
        this.#trace.buffer.name(peer.pid, undefined, `peer ${peer.address} ${event.client}`.trim());
        this.#span(peer, CONNECTION_TID, 'connect + handshake', peer.startedAt, now, {
          client: event.client,
          encryption: event.encryption ?? 'none',
          transport: event.transport ?? 'tcp',
        });
        return;
      }
      case 'choke':
        if (event.choked) peer.chokedSince ??= now;
        else if (peer.chokedSince !== undefined) {
          this.#span(peer, STATE_TID, 'choked', peer.chokedSince, now);
          peer.chokedSince = undefined;
        }
        return;
      case 'piece':
        this.#pieceEnd(event.actorId, peer, event.index, now, 'verified');
        return;
      case 'hash-failed':
        this.#pieceEnd(event.actorId, peer, event.index, now, 'hash-failed');
        return;
      case 'released':
        for (const index of event.pieces)
          this.#pieceEnd(event.actorId, peer, index, now, `released (${event.reason})`);
        return;
      case 'closed':
        this.#end(event.actorId, peer, now, `${event.error.code}: ${event.error.message}`);
        this.#peers.delete(event.actorId);
        return;
      default:
        return;
    }
  }

  #open(actorId: number, torrentId: string, address: string, now: number, direction: string): void {
    const pid = PEER_PID_BASE + actorId;
    this.#peers.set(actorId, {
      pid,
      torrentId,
      address,
      startedAt: now,
      connectedAt: undefined,
      chokedSince: undefined,
      snubbedSince: undefined,
      pieces: new Map(),
    });
    this.#trace.buffer.name(pid, undefined, `peer ${address}`, pid);
    this.#trace.buffer.name(pid, CONNECTION_TID, 'connection');
    this.#trace.buffer.name(pid, STATE_TID, 'choked / snubbed');
    this.#trace.buffer.name(pid, PIECES_TID, 'pieces');
    this.#trace.buffer.push({
      ph: 'i',
      name: direction === 'incoming' ? 'accepted' : 'dial',
      cat: 'peer',
      ts: now,
      pid,
      tid: CONNECTION_TID,
      s: 't',
      args: { address, direction, actorId },
    });
  }

  /** The peer is gone (or the trace ends): every open span of it ends now. */
  #end(actorId: number, peer: PeerTrack, now: number, reason: string): void {
    if (peer.connectedAt === undefined)
      this.#span(peer, CONNECTION_TID, 'connect (failed)', peer.startedAt, now);
    if (peer.chokedSince !== undefined) this.#span(peer, STATE_TID, 'choked', peer.chokedSince, now);
    if (peer.snubbedSince !== undefined) this.#span(peer, STATE_TID, 'snubbed', peer.snubbedSince, now);
    peer.chokedSince = undefined;
    peer.snubbedSince = undefined;
    for (const index of [...peer.pieces.keys()]) this.#pieceEnd(actorId, peer, index, now, 'peer closed');
    this.#trace.buffer.push({
      ph: 'i',
      name: 'disconnect',
      cat: 'peer',
      ts: now,
      pid: peer.pid,
      tid: CONNECTION_TID,
      s: 't',
      args: { reason },
    });
  }

  #pieceEnd(actorId: number, peer: PeerTrack, index: number, now: number, result: string): void {
    const start = peer.pieces.get(index);
    if (start === undefined) return;
    peer.pieces.delete(index);
    const key = `${peer.torrentId}:${index}`;
    const holders = this.#holders.get(key);
    const copies = holders?.size ?? 1;
    const args: Record<string, unknown> = { index, result, bytes: this.#pieceBytes(peer.torrentId, index) };
    if (result === 'verified') {
      if (copies > 1 || this.#winners.has(key)) {
        args.endgame = true;
        args.won = true;
      }
      if (copies > 1) this.#winners.set(key, actorId);
    } else {
      const winner = this.#winners.get(key);
      if (winner !== undefined) {
        args.endgame = true;
        args.won = false;
        args.winner = winner;
      }
    }
    holders?.delete(actorId);
    if (holders && holders.size === 0) {
      this.#holders.delete(key);
      this.#winners.delete(key);
      this.#inFlight -= this.#pieceBytes(peer.torrentId, index);
    }
    const id = `${actorId}:${index}:${start}`;
    this.#trace.buffer.push({
      ph: 'b',
      name: `piece ${index}`,
      cat: 'piece',
      ts: start,
      pid: peer.pid,
      tid: PIECES_TID,
      id,
      args,
    });
    this.#trace.buffer.push({
      ph: 'e',
      name: `piece ${index}`,
      cat: 'piece',
      ts: Math.max(start, now),
      pid: peer.pid,
      tid: PIECES_TID,
      id,
    });
  }

  #stats(actors: Extract<HostEvent, { type: 'stats' }>['actors']): void {
    const now = traceNowUs();
    for (const stats of actors) {
      const peer = this.#peers.get(stats.actorId);
      if (!peer) continue;
      // Little's law: blocks outstanding over blocks per second is how long a request waits.
      const latencyMs =
        stats.downloadRate > 0 && stats.queueDepth > 0
          ? Math.round(((stats.queueDepth * BLOCK_BYTES) / stats.downloadRate) * 1000)
          : 0;
      this.#trace.buffer.push({
        ph: 'C',
        name: 'rates',
        cat: 'peer',
        ts: now,
        pid: peer.pid,
        tid: CONNECTION_TID,
        args: { downloadRate: Math.round(stats.downloadRate), uploadRate: Math.round(stats.uploadRate) },
      });
      this.#trace.buffer.push({
        ph: 'C',
        name: 'requests',
        cat: 'peer',
        ts: now,
        pid: peer.pid,
        tid: CONNECTION_TID,
        args: { queueDepth: stats.queueDepth, latencyMs, downloaded: stats.downloaded },
      });
      if (stats.snubbed && peer.snubbedSince === undefined) peer.snubbedSince = now;
      else if (!stats.snubbed && peer.snubbedSince !== undefined) {
        this.#span(peer, STATE_TID, 'snubbed', peer.snubbedSince, now);
        peer.snubbedSince = undefined;
      }
    }
  }

  #span(
    peer: PeerTrack,
    tid: number,
    name: string,
    start: number,
    end: number,
    args?: Record<string, unknown>,
  ): void {
    this.#trace.buffer.push({
      ph: 'X',
      name,
      cat: 'peer',
      ts: start,
      dur: Math.max(1, end - start),
      pid: peer.pid,
      tid,
      ...(args ? { args } : {}),
    });
  }

  #instant(actorId: number, name: string, now: number, args?: Record<string, unknown>): void {
    const peer = this.#peers.get(actorId);
    if (!peer) return;
    this.#trace.buffer.push({
      ph: 'i',
      name,
      cat: 'peer',
      ts: now,
      pid: peer.pid,
      tid: STATE_TID,
      s: 't',
      ...(args ? { args } : {}),
    });
  }

  #pieceBytes(torrentId: string, index: number): number {
    const geometry = this.#geometry.get(torrentId);
    if (!geometry) return 0;
    return Math.max(0, Math.min(geometry.pieceLength, geometry.length - index * geometry.pieceLength));
  }
}
