import type { MessagePort } from 'node:worker_threads';
import type { HostStats } from '@tork/core/internal/messages/control-plane.js';
import type { HostErrorReporter } from './peer-host.js';

/**
 * The control plane of a peer host thread, exposed with comlink. The data plane (commands and
 * events) never goes through comlink: it is the MessagePort given to `attach`.
 */
export interface PeerHostApi {
  /**
   * Hands the host its data port (transferred with `Comlink.transfer`) and, optionally, a
   * `Comlink.proxy` callback for errors that belong to no actor (a rejected command batch).
   */
  attach(dataPort: MessagePort, report?: HostErrorReporter): void;
  /** The host's counters (checked against core's `HostStats` schema when they arrive). */
  stats(): HostStats;
  /** Listens on the engine's port too (`reusePort`; a `HostListenOptions`, checked on arrival). */
  listen(options: unknown): Promise<void>;
  /** Drops every connection and closes the data port; the thread can then be terminated. */
  shutdown(): void;
}
