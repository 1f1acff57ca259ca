import { DOUBLE_ZERO } from '../double-zero.js';
import type { ActorStats } from '../messages/host-event.js';
import type { ConnectionEncryption, DialEncryption } from '../mse/encryption-policy.js';
import type { PolicyPeer } from '../scheduler/assignment-policy.js';
import type { PeerSource } from './peer-pool.js';
import type { PeerTransportKind } from './transport-policy.js';

/** One connection as the coordinator sees it. A class: one shape and prototype getters for V8. */
export class PeerRecord implements PolicyPeer {
  /** Its peer id, hex, once the handshake is done. */
  peerId = '';
  /** It is interested in our pieces / we unchoke it (the choker's decision, as sent). */
  peerInterested = false;
  unchoked = false;
  connected = false;
  client = '';
  /** What it calls itself in its BEP 10 handshake (`v`). */
  agent: string | null = null;
  peerChoking = true;
  amInterested = false;
  seed = false;
  stats: ActorStats | undefined = undefined;
  /** Last time the peer was useful: unchoked us with something we need, or delivered a piece. */
  usefulAt: number;
  piecesReceived = 0;
  /** See PolicyPeer: its rate when it last had work (a double: DOUBLE_ZERO). */
  knownRate = DOUBLE_ZERO;
  /** It gave pieces back as snubbed and has delivered none since: it gets no new ones. */
  snubbedByRelease = false;
  closing = false;
  /** The listen address this connection stands for in the pool, when it was not dialled there. */
  aliasKey: string | undefined = undefined;
  /** The port a peer that dialled us listens on (its BEP 10 `p`), once told. */
  listenPort: number | undefined = undefined;
  /** How we dialled it (an outgoing connection): `none`, or an MSE handshake first. */
  dialled: DialEncryption = 'none';
  /** Dialled plain because the last encrypted dial failed at its MSE handshake (`prefer`). */
  plainRetry = false;
  /** Over what we dialled it (an outgoing connection). */
  dialledTransport: PeerTransportKind = 'tcp';
  /** What the connection uses, once its handshake is done. */
  encryption: ConnectionEncryption = 'none';
  transport: 'tcp' | 'utp' = 'tcp';
  /** Banned here (a web seed: no pool address to ban). */
  banned = false;
  /** Its requests refused as last reported (a `peer-requests-refused` event when it grows). */
  refusedReported = 0;
  /** It was stalled at the last stats (a `peer-stalled` event on the change). */
  uploadStalled = false;
  downloadStalled = false;

  constructor(
    readonly actorId: number,
    /** `host:port` (IPv6 in brackets). */
    readonly key: string,
    readonly host: string,
    readonly port: number,
    readonly openedAt: number,
    /** It dialled us (through the Listener). */
    readonly incoming: boolean,
    /** Where its address came from. */
    readonly source: PeerSource = incoming ? 'incoming' : 'manual',
  ) {
    this.usefulAt = openedAt;
  }

  /** PolicyPeer: connected, not closing, unchoked by the peer, and we want something of it. */
  get canFetch(): boolean {
    return this.connected && !this.closing && !this.peerChoking && this.amInterested;
  }

  /** PolicyPeer: snubbed by release or by its actor's own stats. */
  get snubbed(): boolean {
    return this.snubbedByRelease || (this.stats?.snubbed ?? false);
  }
}
