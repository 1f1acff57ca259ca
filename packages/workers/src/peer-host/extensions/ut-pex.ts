import type { SwarmPeer } from '@tork/core/internal/messages/host-command.js';
import {
  decodePexMessage,
  encodePexMessage,
  MAX_PEX_PEERS_PER_MESSAGE,
  PEX_MAX_ADDED,
  PEX_MAX_DROPPED,
  type PexPeer,
} from '@tork/core/internal/wire/ut-pex.js';
import type { ExtensionHandler, ExtensionPeer, PeerExtension } from './peer-extension.js';

/** BEP 11: peer exchange messages go out about once a minute; we send at most one a minute. */
export const DEFAULT_PEX_INTERVAL_MS = 60_000;
/**
 * Messages from one peer acted on per interval; more are ignored, undecoded. libtorrent sends a
 * full list, then a difference every minute (and drops a peer that sends more than 6 a minute);
 * 4 leaves room for a burst a slow connection delivered at once.
 */
export const DEFAULT_PEX_MAX_RECEIVED_PER_INTERVAL = 4;

export interface UtPexOptions {
  /** Least time between two messages to one peer, ms. Default: 60,000. */
  readonly intervalMs?: number;
  /** Messages from one peer acted on per `intervalMs`; the rest are ignored. Default: 4. */
  readonly maxReceivedPerInterval?: number;
  /** Added / dropped peers per message sent. Default: 50 each (BEP 11). */
  readonly maxAdded?: number;
  readonly maxDropped?: number;
}

/**
 * `ut_pex` (BEP 11) as a BEP 10 extension of every session. Never for a private torrent (BEP 27)
 * nor one whose peer exchange is off (`--no-pex`): `open` declines, so it is not even offered in
 * the handshake's `m`. Outgoing, each handler tells its peer the difference between what it last
 * told it and the torrent's connected peers (the coordinator's `torrent-peers` list, the peer
 * itself left out, by connection and by address), at most one message a minute, 50 added and 50 dropped in each; what did not
 * fit goes in the next. Incoming, a message's peers (at most MAX_PEX_PEERS_PER_MESSAGE, the codec
 * leaves out the rest) go to the coordinator as a `pex-peers` event; a malformed message drops the
 * peer (TORK_ERR_WIRE_PROTOCOL), too many in a minute are ignored.
 */
export class UtPexExtension implements PeerExtension {
  readonly name = 'ut_pex';
  readonly #options: UtPexOptions;

  constructor(options: UtPexOptions = {}) {
    this.#options = options;
  }

  open(peer: ExtensionPeer): ExtensionHandler | null {
    if (peer.torrent.private || !peer.torrent.pex) return null;
    return new UtPexHandler(peer, this.#options);
  }
}

/** One connection's peer exchange. */
class UtPexHandler implements ExtensionHandler {
  readonly #peer: ExtensionPeer;
  readonly #intervalMs: number;
  readonly #maxReceived: number;
  readonly #maxAdded: number;
  readonly #maxDropped: number;
  /** What the peer has been told we are connected to: key → address. */
  readonly #told = new Map<string, SwarmPeer>();
  /** When the last message went out; -Infinity: none yet. */
  #sentAt = Number.NEGATIVE_INFINITY;
  /** The swarm list last found to hold nothing new for the peer: no need to look again. */
  #unchanged: readonly SwarmPeer[] | null = null;
  /** When the messages acted on in the current interval arrived (oldest first). */
  readonly #received: number[] = [];

  constructor(peer: ExtensionPeer, options: UtPexOptions) {
    this.#peer = peer;
    this.#intervalMs = options.intervalMs ?? DEFAULT_PEX_INTERVAL_MS;
    this.#maxReceived = options.maxReceivedPerInterval ?? DEFAULT_PEX_MAX_RECEIVED_PER_INTERVAL;
    this.#maxAdded = options.maxAdded ?? PEX_MAX_ADDED;
    this.#maxDropped = options.maxDropped ?? PEX_MAX_DROPPED;
  }

  onHandshake(): void {
    // Nothing to do: the next tick sends once the peer's id for ut_pex is known.
  }

  onMessage(payload: Uint8Array): void {
    const now = performance.now();
    while (this.#received.length > 0 && now - this.#received[0]! >= this.#intervalMs) this.#received.shift();
    // Too many: ignored undecoded (the peer may still be a good source of pieces).
    if (this.#received.length >= this.#maxReceived) return;
    this.#received.push(now);
    // A malformed message throws TORK_ERR_WIRE_PROTOCOL: the session drops the peer.
    const message = decodePexMessage(payload, MAX_PEX_PEERS_PER_MESSAGE);
    if (message.added.length === 0 && message.dropped.length === 0) return;
    this.#peer.emit({
      type: 'pex-peers',
      actorId: this.#peer.actorId,
      added: message.added.map(({ host, port, flags }) => ({ host, port, flags })),
      dropped: message.dropped.map(({ host, port }) => ({ host, port })),
    });
  }

  tick(now: number): void {
    if (this.#peer.remoteId === 0 || now - this.#sentAt < this.#intervalMs) return;
    const swarm = this.#peer.torrent.swarm;
    if (swarm === this.#unchanged) return;
    // The peer itself is never told of: neither its own connection nor a second one to the same
    // listening address (both ends dialled at once, before the coordinator closes one of the
    // twins) — told of its own address, a peer dials itself.
    const itself = new Set<string>();
    for (const entry of swarm) if (entry.actorId === this.#peer.actorId) itself.add(addressKey(entry));
    const current = new Map<string, SwarmPeer>();
    for (const entry of swarm) {
      const key = addressKey(entry);
      if (!itself.has(key)) current.set(key, entry);
    }
    const added: PexPeer[] = [];
    for (const [key, entry] of current) {
      if (added.length >= this.#maxAdded) break;
      if (!this.#told.has(key)) added.push({ host: entry.host, port: entry.port, flags: entry.flags });
    }
    const dropped: SwarmPeer[] = [];
    for (const [key, entry] of this.#told) {
      if (dropped.length >= this.#maxDropped) break;
      if (!current.has(key)) dropped.push(entry);
    }
    if (added.length === 0 && dropped.length === 0) {
      this.#unchanged = swarm;
      return;
    }
    if (!this.#peer.send(encodePexMessage(added, dropped))) return;
    this.#sentAt = now;
    // What did not fit is still a difference: looked at again at the next interval.
    this.#unchanged = null;
    for (const peer of added) this.#told.set(addressKey(peer), current.get(addressKey(peer))!);
    for (const peer of dropped) this.#told.delete(addressKey(peer));
  }
}

function addressKey(peer: { readonly host: string; readonly port: number }): string {
  return `${peer.host}|${peer.port}`;
}
