import type { PeerAddress } from '../tracker/types.js';
import { hybridV2WireHash } from './hybrid-hashes.js';
import type { TorrentMeta } from './torrent-options.js';

/** A torrent as a peer discovery service sees it. */
export interface DiscoveryTorrent {
  readonly infoHash: Uint8Array;
  readonly infoHashHex: string;
  /** The port we accept peers on (announced to others). */
  readonly port: number;
}

/** What a torrent holds of a discovery service while it runs. */
export interface DiscoveryHandle {
  /** The torrent is short of peers: look again now (the service may limit how often). */
  lookup(): void;
  /** The torrent stops: no more lookups or announces for it. */
  leave(): void;
}

/**
 * A source of peer addresses beyond trackers: the DHT (BEP 5) or local service discovery
 * (BEP 14). The Engine hands its services to each public torrent (never a private one, BEP 27):
 * the torrent joins at start and leaves at stop; what a service finds goes to the torrent's
 * PeerBook like a tracker's answer, as the service's source.
 */
export interface PeerDiscovery {
  readonly source: 'dht' | 'lsd';
  /** Starts looking for peers of `torrent` and announcing it; `found` receives what turns up. */
  join(torrent: DiscoveryTorrent, found: (peers: readonly PeerAddress[]) => void): DiscoveryHandle;
}

/**
 * The discovery services of one torrent while it runs: joined at start (public torrents only),
 * asked to look again when the torrent is short of peers, left at stop.
 */
export class TorrentDiscovery {
  #handles: DiscoveryHandle[] = [];

  constructor(
    private readonly services: readonly PeerDiscovery[],
    private readonly torrent: DiscoveryTorrent & {
      readonly private?: boolean;
    } & Partial<Pick<TorrentMeta, 'version' | 'infoHashV2'>>,
  ) {}

  /** True when the torrent will join at least one service (it is public and there are some). */
  get available(): boolean {
    return !this.torrent.private && this.services.length > 0;
  }

  /** Joins every service (none for a private torrent, BEP 27); `found` gets each one's finds. */
  join(found: (source: PeerDiscovery['source'], peers: readonly PeerAddress[]) => void): void {
    if (this.torrent.private || this.#handles.length > 0) return;
    // BEP 52: a hybrid is looked up and announced under its truncated v2 hash too, as libtorrent
    // does; what either finds goes to the same torrent.
    const v2 = hybridV2WireHash(this.torrent);
    const swarms: DiscoveryTorrent[] = [this.torrent];
    if (v2 !== undefined) {
      swarms.push({ infoHash: v2, infoHashHex: Buffer.from(v2).toString('hex'), port: this.torrent.port });
    }
    for (const service of this.services) {
      for (const swarm of swarms) {
        this.#handles.push(service.join(swarm, (peers) => found(service.source, peers)));
      }
    }
  }

  lookup(): void {
    for (const handle of this.#handles) handle.lookup();
  }

  leave(): void {
    for (const handle of this.#handles) handle.leave();
    this.#handles = [];
  }
}
