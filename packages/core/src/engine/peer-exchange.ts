import { isIPv4 } from 'node:net';
import type { HostCommand, SwarmPeer } from '../messages/host-command.js';
import { MAX_TORRENT_PEERS } from '../messages/message-limits.js';
import type { PeerAddress } from '../tracker/types.js';
import { isPexAddress, PexFlag, type PexPeer } from '../wire/ut-pex.js';
import type { PeerRecord } from './peer-record.js';

/**
 * The coordinator's side of peer exchange (BEP 11) for one torrent. Outgoing: the list of its
 * connected peers as others may be told of them (listen address and flags), sent to the hosts as
 * a `torrent-peers` command whenever it changes — the hosts' `ut_pex` handlers work out each
 * peer's added/dropped from it at BEP 11's rate. Incoming: which of the addresses a peer sent are
 * worth dialling. Off for private torrents (BEP 27) and when turned off (`--no-pex`).
 */
export class PeerExchange {
  readonly enabled: boolean;
  readonly #torrentId: string;
  /** The last list sent, as text: a new one is sent only when it differs. */
  #sent = '';

  constructor(torrentId: string, enabled: boolean) {
    this.#torrentId = torrentId;
    this.enabled = enabled;
  }

  /**
   * The `torrent-peers` command when the advertised list changed since the last one, else null.
   * A peer is advertised once its handshake is done, at the address it listens on: the one we
   * dialled (flag `reachable`: we got through), or for a peer that dialled us the port it gave in
   * its BEP 10 handshake (none given: not advertised, as its ephemeral port is useless to others).
   * Only IP literals can travel in PEX (a `--peer` given by host name is not advertised).
   */
  update(peers: Iterable<PeerRecord>): HostCommand | null {
    if (!this.enabled) return null;
    const list: SwarmPeer[] = [];
    for (const peer of peers) {
      if (list.length >= MAX_TORRENT_PEERS) break;
      // A web seed is an HTTP server, not a BitTorrent peer: never advertised.
      if (!peer.connected || peer.closing || peer.source === 'webseed' || !isPexAddress(peer.host)) continue;
      const port = peer.incoming ? peer.listenPort : peer.port;
      if (port === undefined) continue;
      const flags = (peer.seed ? PexFlag.seed : 0) | (peer.incoming ? 0 : PexFlag.reachable);
      list.push({ actorId: peer.actorId, host: peer.host, port, flags });
    }
    const text = list.map((peer) => `${peer.actorId} ${peer.host} ${peer.port} ${peer.flags}`).join(',');
    if (text === this.#sent) return null;
    this.#sent = text;
    return { type: 'torrent-peers', torrentId: this.#torrentId, peers: list };
  }

  /**
   * The addresses worth dialling among those `from` sent. Never one that cannot be dialled
   * (unspecified, multicast, broadcast); an address of a private network, loopback or link-local
   * only from a peer that is itself on such an address (as libtorrent does): a peer on the
   * internet must not make us dial into our own network. While `seeding`, no seeds (nothing to
   * trade).
   */
  usable(from: PeerRecord, added: readonly PexPeer[], seeding: boolean): PeerAddress[] {
    if (!this.enabled) return [];
    const localSender = addressScope(from.host) === 'local';
    const usable: PeerAddress[] = [];
    for (const peer of added) {
      const scope = addressScope(peer.host);
      if (scope === 'never' || (scope === 'local' && !localSender)) continue;
      if (seeding && (peer.flags & PexFlag.seed) !== 0) continue;
      usable.push({ host: peer.host, port: peer.port });
    }
    return usable;
  }
}

/**
 * Where an IP address can be reached from: `never` (unspecified, multicast, broadcast and other
 * reserved ranges), `local` (loopback, RFC 1918 private, link-local, IPv6 unique-local), or
 * `global`. A host that is not an IP literal counts as `global`.
 */
export function addressScope(host: string): 'never' | 'local' | 'global' {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(host)?.[1];
  const v4 = mapped ?? (isIPv4(host) ? host : undefined);
  if (v4 !== undefined) {
    const [a = 0, b = 0] = v4.split('.').map(Number);
    if (a === 0 || a >= 224) return 'never';
    if (a === 127 || a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168))
      return 'local';
    if (a === 169 && b === 254) return 'local';
    return 'global';
  }
  const lower = host.toLowerCase();
  if (!lower.includes(':')) return 'global';
  if (lower === '::') return 'never';
  // ff00::/8 multicast (a first group of four digits: `ff:` is 0x00ff).
  if (/^ff[0-9a-f]{2}:/.test(lower)) return 'never';
  if (lower === '::1') return 'local';
  // fe80::/10 link-local, fc00::/7 unique-local.
  if (/^fe[89ab][0-9a-f]:/.test(lower) || /^f[cd][0-9a-f]{2}:/.test(lower)) return 'local';
  return 'global';
}
