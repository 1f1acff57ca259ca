import type { HostCommand } from '../messages/host-command.js';
import type { HostEvent } from '../messages/host-event.js';

/**
 * How the coordinator reaches peers. The production implementation runs PeerActors in worker
 * threads (`@tork/workers`); tests use an in-memory, seeded simulation. The coordinator never
 * sees a socket, so the same Engine runs over both.
 */
export interface ActorSystem {
  /**
   * Queues commands; they are delivered in order, batched per host. `add-torrent`,
   * `remove-torrent`, `have`, `torrent-peers`, `rate-limits` and `report-stats` go to every host; `connect` picks a host; the
   * rest are routed to the host that owns the actor.
   */
  send(commands: readonly HostCommand[]): void;
  /** Registers the single consumer of events; batches arrive in the order hosts produced them. */
  onEvents(handler: (events: readonly HostEvent[]) => void): void;
  /** Stops every actor and host; pending commands are dropped. */
  close(): Promise<void>;
}
