import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { isIPv4 } from 'node:net';
import {
  type DiscoveryHandle,
  type DiscoveryTorrent,
  decodeLsdAnnounce,
  encodeLsdAnnounce,
  LSD_IPV4_GROUP,
  LSD_PORT,
  MAX_LSD_INFOHASHES,
  type PeerAddress,
  type PeerDiscovery,
  TorkError,
  TorkErrorCode,
  toTorkError,
} from '@tork/core';

/** BEP 14's pace: each torrent is announced every 5 minutes… */
export const LSD_ANNOUNCE_INTERVAL_MS = 5 * 60_000;
/** …and never more than once a minute, however often the torrent asks for peers. */
export const LSD_MIN_ANNOUNCE_INTERVAL_MS = 60_000;
/** Announces accepted from one source address in one second; the rest are dropped unread. */
export const LSD_MAX_MESSAGES_PER_SECOND = 20;
/** Source addresses accepted from in one second; messages from further ones are dropped unread. */
export const LSD_MAX_SOURCES_PER_SECOND = 256;
/** Multicast TTL: 1 keeps announces on the local link (BEP 14 allows more; we do not need it). */
export const LSD_MULTICAST_TTL = 1;

export interface LocalServiceDiscoveryOptions {
  /**
   * Address the UDP socket binds. Default `'0.0.0.0'`: the group is received on every interface
   * it was joined on. (On Linux a socket bound to a unicast address receives no multicast; to
   * choose the interface, use `interface`.)
   */
  readonly address?: string;
  /**
   * IPv4 address of the interface to join the group on and send announces from. Default: the
   * kernel's choice (the route to the group).
   */
  readonly interface?: string;
  /**
   * The group announces go to: default `239.192.152.143` (BEP 14, IPv4 only). A unicast address
   * (tests) is sent to as is and nothing is joined.
   */
  readonly group?: string;
  /** The group's port. Default: 6771. */
  readonly port?: number;
  /** Port the socket binds. Default: `port` (tests bind another, to talk to a socket of their own). */
  readonly bindPort?: number;
  /** Each torrent is announced this often. Default: {@link LSD_ANNOUNCE_INTERVAL_MS}. */
  readonly intervalMs?: number;
  /** A torrent short of peers is announced again at most this often. Default: {@link LSD_MIN_ANNOUNCE_INTERVAL_MS}. */
  readonly minIntervalMs?: number;
  /** Default: {@link LSD_MAX_MESSAGES_PER_SECOND}. */
  readonly maxMessagesPerSecond?: number;
  /** Default: {@link LSD_MAX_SOURCES_PER_SECOND}. */
  readonly maxSourcesPerSecond?: number;
  /** Default: {@link LSD_MULTICAST_TTL}. */
  readonly ttl?: number;
  /** Our cookie, which marks our own announces when they come back. Default: random. */
  readonly cookie?: string;
  /** The clock for pacing and rate limits, ms. Default: `Date.now`. */
  readonly now?: () => number;
  /** A send or socket error (LSD goes on; the next announce is tried as usual). */
  readonly onWarning?: (error: TorkError) => void;
}

/** Counters, for tests and the curious. */
export interface LsdStats {
  /** Torrents joined now. */
  readonly joined: number;
  /** Datagrams sent and those whose send failed. */
  readonly sent: number;
  readonly sendErrors: number;
  /** Datagrams received, and what became of them. */
  readonly received: number;
  readonly rateLimited: number;
  readonly malformed: number;
  /** Our own announces, recognised by the cookie. */
  readonly own: number;
  /** From an address no peer can have (0.0.0.0, multicast, broadcast). */
  readonly unusable: number;
  /** Announces from others that were read. */
  readonly accepted: number;
  /** Peers reported to joined torrents. */
  readonly peersFound: number;
}

interface Joined {
  readonly torrent: DiscoveryTorrent;
  readonly found: (peers: readonly PeerAddress[]) => void;
  lastAnnounce: number;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/**
 * Local service discovery (BEP 14) as a peer source: one IPv4 UDP socket joined to
 * 239.192.152.143:6771, on the coordinator thread (a few datagrams a minute; nothing to gain from
 * a thread of its own). It announces each joined torrent at join and every 5 minutes (at most once
 * a minute when the torrent asks for peers), answers nothing, drops its own announces (cookie),
 * rate-limits what it reads per source, and reports the sender's address with the announced port
 * to the torrents joined. The Engine joins public torrents only (BEP 27).
 */
export class LocalServiceDiscovery implements PeerDiscovery {
  readonly source = 'lsd' as const;
  readonly cookie: string;
  readonly #socket: dgram.Socket;
  readonly #group: string;
  readonly #port: number;
  readonly #intervalMs: number;
  readonly #minIntervalMs: number;
  readonly #maxPerSecond: number;
  readonly #maxSources: number;
  readonly #now: () => number;
  readonly #onWarning: ((error: TorkError) => void) | undefined;
  readonly #joined = new Map<string, Set<Joined>>();
  readonly #timer: NodeJS.Timeout;
  /** Messages read per source address in the current one-second window. */
  readonly #window = new Map<string, number>();
  #windowStart = Number.NEGATIVE_INFINITY;
  #closed = false;
  readonly #stats: Mutable<Omit<LsdStats, 'joined'>> = {
    sent: 0,
    sendErrors: 0,
    received: 0,
    rateLimited: 0,
    malformed: 0,
    own: 0,
    unusable: 0,
    accepted: 0,
    peersFound: 0,
  };

  private constructor(socket: dgram.Socket, options: LocalServiceDiscoveryOptions) {
    this.#socket = socket;
    this.#group = options.group ?? LSD_IPV4_GROUP;
    this.#port = options.port ?? LSD_PORT;
    this.#intervalMs = options.intervalMs ?? LSD_ANNOUNCE_INTERVAL_MS;
    this.#minIntervalMs = options.minIntervalMs ?? LSD_MIN_ANNOUNCE_INTERVAL_MS;
    this.#maxPerSecond = options.maxMessagesPerSecond ?? LSD_MAX_MESSAGES_PER_SECOND;
    this.#maxSources = options.maxSourcesPerSecond ?? LSD_MAX_SOURCES_PER_SECOND;
    this.#now = options.now ?? Date.now;
    this.#onWarning = options.onWarning;
    this.cookie = options.cookie ?? `tork-${randomBytes(6).toString('hex')}`;
    socket.on('message', (message, remote) => this.#onMessage(message, remote.address));
    socket.on('error', (error) => this.#warn(toTorkError(error, TorkErrorCode.IO, 'LSD socket')));
    // Due announces are checked ten times per interval (at most every 10 s): cheap, and no timer per torrent.
    const tickMs = Math.min(10_000, Math.max(10, Math.floor(this.#intervalMs / 10)));
    this.#timer = setInterval(() => this.#tick(), tickMs);
    this.#timer.unref();
  }

  /**
   * Binds the socket and joins the group. Rejects with TORK_ERR_IO when either fails (the port
   * is taken without address reuse, no route to the group, no such interface): tork then runs
   * without LSD.
   */
  static async open(options: LocalServiceDiscoveryOptions = {}): Promise<LocalServiceDiscovery> {
    const group = options.group ?? LSD_IPV4_GROUP;
    const port = options.port ?? LSD_PORT;
    const bindPort = options.bindPort ?? port;
    const address = options.address ?? '0.0.0.0';
    if (!isIPv4(group) || (options.interface !== undefined && !isIPv4(options.interface))) {
      throw new TorkError(TorkErrorCode.USAGE, 'LSD: the group and interface must be IPv4 addresses');
    }
    // Address reuse: several programs on one host (two torks, a tork and qBittorrent) share 6771.
    const socket = dgram.createSocket({ type: 'udp4', reuseAddr: true });
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.bind({ port: bindPort, address }, () => {
          socket.off('error', reject);
          resolve();
        });
      });
    } catch (error) {
      socket.close();
      throw toTorkError(error, TorkErrorCode.IO, `LSD: cannot bind ${address}:${bindPort}`);
    }
    try {
      if (isMulticast(group)) {
        socket.addMembership(group, options.interface);
        if (options.interface !== undefined) socket.setMulticastInterface(options.interface);
        socket.setMulticastTTL(options.ttl ?? LSD_MULTICAST_TTL);
        // Other programs on this host listen too (and our own copies are dropped by cookie).
        socket.setMulticastLoopback(true);
      }
    } catch (error) {
      socket.close();
      throw toTorkError(
        error,
        TorkErrorCode.IO,
        `LSD: cannot join ${group}${options.interface ? ` on ${options.interface}` : ''}`,
      );
    }
    return new LocalServiceDiscovery(socket, options);
  }

  /** The port the socket is bound to. */
  get boundPort(): number {
    return this.#socket.address().port;
  }

  stats(): LsdStats {
    let joined = 0;
    for (const entries of this.#joined.values()) joined += entries.size;
    return { joined, ...this.#stats };
  }

  join(torrent: DiscoveryTorrent, found: (peers: readonly PeerAddress[]) => void): DiscoveryHandle {
    if (this.#closed) return { lookup: () => {}, leave: () => {} };
    const entry: Joined = { torrent, found, lastAnnounce: Number.NEGATIVE_INFINITY };
    const hex = torrent.infoHashHex.toLowerCase();
    const entries = this.#joined.get(hex) ?? new Set<Joined>();
    this.#joined.set(hex, entries.add(entry));
    this.#announce([entry]);
    let left = false;
    return {
      lookup: () => {
        if (!left && this.#now() - entry.lastAnnounce >= this.#minIntervalMs) this.#announce([entry]);
      },
      leave: () => {
        if (left) return;
        left = true;
        entries.delete(entry);
        if (entries.size === 0 && this.#joined.get(hex) === entries) this.#joined.delete(hex);
      },
    };
  }

  /** Stops announcing and listening; idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    this.#joined.clear();
    await new Promise<void>((resolve) => this.#socket.close(() => resolve()));
  }

  #tick(): void {
    const now = this.#now();
    const due: Joined[] = [];
    for (const entries of this.#joined.values()) {
      for (const entry of entries) if (now - entry.lastAnnounce >= this.#intervalMs) due.push(entry);
    }
    if (due.length > 0) this.#announce(due);
  }

  /** Announces `entries` now: one datagram per port and up to MAX_LSD_INFOHASHES torrents. */
  #announce(entries: readonly Joined[]): void {
    if (this.#closed) return;
    const now = this.#now();
    const byPort = new Map<number, Set<string>>();
    for (const entry of entries) {
      entry.lastAnnounce = now;
      const hashes = byPort.get(entry.torrent.port) ?? new Set();
      byPort.set(entry.torrent.port, hashes.add(entry.torrent.infoHashHex.toLowerCase()));
    }
    for (const [port, hashes] of byPort) {
      // Port 0: the torrent accepts no peers; nothing to announce.
      if (port < 1 || port > 65535) continue;
      const list = [...hashes];
      for (let i = 0; i < list.length; i += MAX_LSD_INFOHASHES) {
        const datagram = encodeLsdAnnounce({
          port,
          infoHashes: list.slice(i, i + MAX_LSD_INFOHASHES),
          cookie: this.cookie,
          host: `${this.#group}:${this.#port}`,
        });
        this.#stats.sent++;
        this.#socket.send(datagram, this.#port, this.#group, (error) => {
          if (!error) return;
          this.#stats.sendErrors++;
          this.#warn(
            toTorkError(error, TorkErrorCode.IO, `LSD: cannot send to ${this.#group}:${this.#port}`),
          );
        });
      }
    }
  }

  #onMessage(message: Buffer, from: string): void {
    if (this.#closed) return;
    this.#stats.received++;
    if (!this.#admit(from)) {
      this.#stats.rateLimited++;
      return;
    }
    let announce: ReturnType<typeof decodeLsdAnnounce>;
    try {
      announce = decodeLsdAnnounce(message);
    } catch {
      this.#stats.malformed++;
      return;
    }
    if (announce.cookie === this.cookie) {
      this.#stats.own++;
      return;
    }
    if (!usableAddress(from)) {
      this.#stats.unusable++;
      return;
    }
    this.#stats.accepted++;
    const peer: PeerAddress = { host: from, port: announce.port };
    for (const hex of announce.infoHashes) {
      for (const entry of this.#joined.get(hex) ?? []) {
        this.#stats.peersFound++;
        entry.found([peer]);
      }
    }
  }

  /** True while `from` is within its messages for this second (and a place is left for it). */
  #admit(from: string): boolean {
    const now = this.#now();
    if (now - this.#windowStart >= 1000 || now < this.#windowStart) {
      this.#windowStart = now;
      this.#window.clear();
    }
    const count = this.#window.get(from);
    if (count === undefined) {
      if (this.#window.size >= this.#maxSources) return false;
      this.#window.set(from, 1);
      return true;
    }
    if (count >= this.#maxPerSecond) return false;
    this.#window.set(from, count + 1);
    return true;
  }

  #warn(error: TorkError): void {
    this.#onWarning?.(error);
  }
}

function isMulticast(address: string): boolean {
  const first = Number(address.split('.')[0]);
  return first >= 224 && first <= 239;
}

/** An IPv4 address a peer can listen on: not 0.0.0.0/8, multicast, or reserved/broadcast. */
function usableAddress(address: string): boolean {
  if (!isIPv4(address)) return false;
  const first = Number(address.split('.')[0]);
  return first !== 0 && first < 224;
}
