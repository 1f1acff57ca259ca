/**
 * A BEP 10 extension (ut_metadata, ut_pex…), registered with every session of a host by its
 * name: a small module that opens one handler per connection. Its wire codec belongs in core;
 * what it learns reaches the coordinator as schema-checked host events, like everything else.
 */
export interface PeerExtension {
  /** Its name in the BEP 10 `m` dictionary, e.g. `ut_metadata`. */
  readonly name: string;
  /** A handler for one connection, which sends through `peer`. */
  open(peer: ExtensionPeer): ExtensionHandler;
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
}
