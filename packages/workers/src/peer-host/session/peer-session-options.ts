import type { DownloaderOptions } from '../download/downloader.js';
import type { UploaderOptions } from '../upload/uploader.js';
import type { HashResponderOptions } from '../v2/hash-responder.js';

/** Per-connection behaviour and limits: the session's own, and its downloader's and uploader's. */
export interface PeerSessionOptions extends DownloaderOptions, UploaderOptions, HashResponderOptions {
  /** Longest wait for the TCP connection, ms. Default: 10,000. */
  readonly connectTimeoutMs?: number;
  /** Longest wait for the peer's handshake once connected, ms. Default: 20,000. */
  readonly handshakeTimeoutMs?: number;
  /** A keep-alive is sent after this long without sending anything, ms. Default: 120,000. */
  readonly keepAliveIntervalMs?: number;
  /** The peer is dropped after this long without receiving anything, ms. Default: 180,000. */
  readonly idleTimeoutMs?: number;
  /**
   * A peer that announced the fast extension must send a bitfield, have-all or have-none right
   * after its handshake (BEP 6); one that sends none within this long is dropped, ms.
   * Default: 30,000.
   */
  readonly firstMessageTimeoutMs?: number;
  /**
   * Redundant messages (a `have` for a piece it already announced, a keep-alive) a peer may send
   * in one second before it is dropped as a flood. Honest peers send a handful. Default: 1,000.
   */
  readonly maxRedundantPerSecond?: number;
  /** The `v` we advertise in the BEP 10 handshake. Default: `TORK_CLIENT_NAME` (`tork <version>`). */
  readonly clientName?: string;
}

/** The name these options had when the session was one `PeerActor` class; kept for the public API. */
export type PeerActorOptions = PeerSessionOptions;
