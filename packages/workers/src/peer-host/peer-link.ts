import type { HostEvent } from '@tork/core/internal/messages/host-event.js';
import type { ActorTorrent } from './actor-torrent.js';
import type { BufferPool } from './buffer-pool.js';
import type { WireWriter } from './wire-writer.js';

/**
 * What a peer session shares with its parts (the Downloader and the Uploader): who the peer is
 * to the coordinator, the torrent, this turn's wire writer and the way to the host. The session
 * itself implements it, so a part's call is a plain method call on one object.
 */
export interface PeerLink {
  /** The actor id the coordinator knows this connection by. */
  readonly id: number;
  readonly torrent: ActorTorrent;
  /** This turn's outgoing messages; call `schedule` after adding to it. */
  readonly writer: WireWriter;
  /** The host's piece buffers (see BufferPool). */
  readonly buffers: BufferPool;
  /** Both handshakes are done and the connection is not closed. */
  readonly open: boolean;
  /** The peer announced the fast extension (BEP 6) in its handshake; we always do. */
  readonly fast: boolean;
  /** Bytes queued and not yet taken: the writer's and the transport's. */
  readonly unsent: number;
  /** Queues an event for this turn's batch to the coordinator; `transfer` is moved with it. */
  emit(event: HostEvent, transfer?: ArrayBuffer): void;
  /**
   * A verified piece of a torrent whose pieces are one block: copied into this turn's batch to
   * the coordinator before the call returns, so `bytes` may be the received block's view.
   */
  packPiece(index: number, bytes: Uint8Array): void;
  /** Asks for this session's `flush` at the end of the turn. */
  schedule(): void;
}
