import type { TorkError } from '@tork/core/internal/errors.js';
import type { ConnectionEncryption } from '@tork/core/internal/mse/encryption-policy.js';

/** What a transport tells the session it carries. */
export interface TransportHandlers {
  /** The connection is up (dialled ones only: a relayed connection is up from the start). */
  onConnect(): void;
  /**
   * Bytes from the peer. The session decodes them and copies out what it keeps before it returns:
   * a transport may reuse `chunk`'s memory for its next read.
   */
  onData(chunk: Uint8Array): void;
  /** Room to write again after `pending` was high. */
  onDrain(): void;
  /** The connection is gone; called at most once. */
  onClose(error: TorkError): void;
}

/**
 * A peer session's byte stream, whichever way it reaches the thread: a socket the session dialled
 * itself (`dialTransport`), or an accepted connection the coordinator relays over a MessagePort
 * (`relayTransport`: Node 20 cannot move a socket into a worker thread). The session knows
 * nothing else of it, so another stream (uTP) is another implementation, and a transform (MSE's
 * RC4) is a transport that wraps one: it hands the session its own handlers' decrypted bytes.
 */
export interface PeerTransport {
  /**
   * Writes the chunks in order (the caller never mutates them afterwards). `owned` buffers (the
   * chunks' pooled gather buffers) go back to the pool once their bytes are written or copied.
   */
  write(chunks: readonly Uint8Array[], bytes: number, owned?: readonly ArrayBuffer[]): void;
  /** Bytes written but not yet taken by the kernel (socket) or the coordinator (relay). */
  readonly pending: number;
  /** The session has processed `bytes` of received data (the relay acknowledges them). */
  consumed(bytes: number): void;
  /** Closes the connection without calling `onClose`. */
  destroy(): void;
  /**
   * Closes after what was written reaches the peer (a socket's FIN; the relay's `end` does that
   * already), without calling `onClose`. Default: destroy().
   */
  end?(): void;
  /** An MSE handshake is under way (the session is still `connecting`). Default: false. */
  readonly negotiating?: boolean;
  /** What the stream uses (MSE's choice, or `none`). Default: none. */
  readonly encryption?: ConnectionEncryption;
}
