import type { PlainTorkError } from '../errors.js';
import type { PeerSource } from './peer-pool.js';
import type { TorrentProgress } from './progress.js';

/** What a Torrent reports, as typed events (also the `--json` event stream of the CLI). */
export interface TorrentEventMap {
  /** Files are ready and peers are being sought. */
  started: [{ infoHash: string; name: string; length: number; pieceCount: number; outDir: string }];
  /** `source`: where its address came from (`incoming`: it dialled us). */
  /** `encryption`: `rc4`/`plaintext` after an MSE handshake, `none` for plain BitTorrent. */
  'peer-connected': [
    {
      actorId: number;
      address: string;
      client: string;
      peerId: string;
      source: PeerSource;
      encryption: 'rc4' | 'plaintext' | 'none';
      transport: 'tcp' | 'utp';
    },
  ];
  'peer-disconnected': [
    { actorId: number; address: string; reason: PlainTorkError; banned: boolean; source: PeerSource },
  ];
  /** A web seed URL that is not fetched (not http: or https:, or not a URL), with why. */
  'web-seed-ignored': [{ url: string; reason: string }];
  /**
   * A peer became stalled (or recovered): `upload`, it has requests queued with us, unchoked, and
   * got no block for a while; `download`, it has our requests and sent no block (snubbed).
   */
  'peer-stall': [{ actorId: number; address: string; direction: 'upload' | 'download'; stalled: boolean }];
  /**
   * Requests of a peer were refused because its queue with us was full (rejected under BEP 6, or
   * dropped by a choke it is then unchoked from): `refused` in all so far, `queued` now. At most
   * once per stats report per peer.
   */
  'peer-requests-refused': [{ actorId: number; address: string; refused: number; queued: number }];
  /**
   * BEP 52: a peer's hash requests we answered (`hashes`) and rejected (`hash reject`), in all so
   * far on this connection; at most once per stats report per peer, when either grew.
   */
  'peer-hash-requests': [{ actorId: number; address: string; answered: number; rejected: number }];
  /** Pieces verified since the last such event (batched about once a second). */
  'pieces-verified': [{ pieces: number[]; verifiedPieces: number; pieceCount: number }];
  /**
   * One piece is verified and written: its bytes can be read from the files now (what `tork
   * stream` waits for). Per piece, not batched; not part of the CLI's `--json` stream.
   */
  'piece-written': [{ index: number }];
  /** About once a second. */
  progress: [TorrentProgress];
  /**
   * The DHT, peer exchange or local service discovery gave addresses: `peers` other than us,
   * `added` of them new to the torrent.
   */
  'dht-peers': [{ peers: number; added: number }];
  'pex-peers': [{ peers: number; added: number }];
  'lsd-peers': [{ peers: number; added: number }];
  /** A tracker answered with peers: `peers` other than us. */
  'tracker-peers': [{ url: string; peers: number }];
  /** Every tracker failed this time; the torrent goes on with other peer sources and retries. */
  'tracker-error': [{ error: PlainTorkError }];
  /**
   * Resume state was read at start: `trusted` pieces counted without hashing (clean stop, files
   * unchanged), `rechecked` hashed, `verified` the total now had.
   */
  resumed: [{ trusted: number; rechecked: number; verified: number; reason: string }];
  /** Resume state could not be used or written; the torrent goes on (a later start rechecks). */
  'resume-warning': [{ message: string }];
  /** Existing data was hashed at start: `verified` of `checked` pieces matched. */
  checked: [{ checked: number; verified: number }];
  /** A piece we had could not be served (read failed, or the file changed under us). */
  'piece-unreadable': [{ index: number; error: PlainTorkError }];
  /** Every piece is verified and written. */
  done: [TorrentProgress];
  /** A fatal error: the torrent stopped (disk failure, …). */
  error: [{ error: PlainTorkError }];
}
