import type { TorkError } from '@tork/core/internal/errors.js';
import type { HostEvent } from '@tork/core/internal/messages/host-event.js';
import type { ActorTorrent } from '../actor-torrent.js';

/**
 * A BEP 10 extension (ut_metadata, ut_pex…), registered with every session of a host by its
 * name: a small module that opens one handler per connection. Its wire codec belongs in core;
 * what it learns reaches the coordinator as schema-checked host events, like everything else.
 */
export interface PeerExtension {
  /** Its name in the BEP 10 `m` dictionary, e.g. `ut_metadata`. */
  readonly name: string;
  /**
   * A handler for one connection, which sends through `peer`; null: the extension is not offered
   * on this connection (e.g. peer exchange for a private torrent).
   */
  open(peer: ExtensionPeer): ExtensionHandler | null;
}

/** One connection as an extension's handler sees it. */
export interface ExtensionPeer {
  /** The peer's id for this extension: 0 until its handshake names it, or after it disabled it. */
  readonly remoteId: number;
  /**
   * Sends an extended message under the peer's id for this extension (written with the session's
   * other messages at the end of the turn). False, and nothing sent, while that id is 0 or the
   * connection is not open.
   */
  send(payload: Uint8Array): boolean;
  /** The coordinator's id of this connection (for the events an extension emits). */
  readonly actorId: number;
  /** The torrent the connection is for. */
  readonly torrent: ActorTorrent;
  /**
   * Queues an event for the coordinator with this turn's batch (schema-checked on arrival like
   * every host event); `transfer` is moved with it.
   */
  emit(event: HostEvent, transfer?: ArrayBuffer): void;
  /** Closes the connection with `error` (as a protocol fault thrown from a handler would). */
  close(error: TorkError): void;
}

/**
 * What a session calls on an extension's handler. Throwing a TorkError (TORK_ERR_WIRE_PROTOCOL
 * for a peer's fault) drops the peer with that error, as any protocol fault does.
 */
export interface ExtensionHandler {
  /** The peer's extended handshake, decoded; `remoteId` is current. Sent once or more (BEP 10). */
  onHandshake(handshake: Readonly<Record<string, unknown>>): void;
  /**
   * A message the peer sent under our id for this extension. `payload` is only valid during the
   * call (it may be a view of a reused read buffer): copy what you keep.
   */
  onMessage(payload: Uint8Array): void;
  /** Fields it adds to our extended handshake (e.g. ut_metadata's `metadata_size`). */
  handshakeFields?(): Readonly<Record<string, unknown>>;
  /** The host's tick (about once a second): deadlines, periodic messages. */
  tick?(now: number): void;
  /** The connection closed. */
  close?(): void;
}
