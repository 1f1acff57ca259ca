/** Test fixture: records an ActorSystem's events and lets a test wait for one. */
import type { ActorSystem, HostEvent } from '@tork/core';

type Waiter = { match: (event: HostEvent) => boolean; resolve: (event: HostEvent) => void };

export class EventLog {
  readonly events: HostEvent[] = [];
  readonly #waiters = new Set<Waiter>();
  readonly #listeners = new Set<(event: HostEvent) => void>();

  constructor(system: ActorSystem) {
    system.onEvents((events) => {
      for (const event of events) {
        this.events.push(event);
        for (const listener of this.#listeners) listener(event);
        for (const waiter of this.#waiters) {
          if (waiter.match(event)) {
            this.#waiters.delete(waiter);
            waiter.resolve(event);
          }
        }
      }
    });
  }

  /** Calls `listener` for every event from now on. */
  on(listener: (event: HostEvent) => void): void {
    this.#listeners.add(listener);
  }

  of<T extends HostEvent['type']>(type: T, actorId?: number): Extract<HostEvent, { type: T }>[] {
    return this.events.filter(
      (event): event is Extract<HostEvent, { type: T }> =>
        event.type === type && (actorId === undefined || !('actorId' in event) || event.actorId === actorId),
    );
  }

  /** The first event (already seen or still to come) of `type` for `actorId` that matches. */
  async wait<T extends HostEvent['type']>(
    type: T,
    actorId: number | undefined,
    timeoutMs = 5_000,
    match: (event: Extract<HostEvent, { type: T }>) => boolean = () => true,
  ): Promise<Extract<HostEvent, { type: T }>> {
    const seen = this.of(type, actorId).find(match);
    if (seen) return seen;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters.delete(waiter);
        const last = this.events
          .slice(-10)
          .map((event) =>
            JSON.stringify(event, (_, value) =>
              value instanceof ArrayBuffer ? `<${value.byteLength} bytes>` : value,
            ),
          );
        reject(
          new Error(
            `no ${type} event for actor ${actorId} within ${timeoutMs} ms; last events:\n${last.join('\n')}`,
          ),
        );
      }, timeoutMs);
      const waiter: Waiter = {
        match: (event) =>
          event.type === type &&
          (actorId === undefined || !('actorId' in event) || event.actorId === actorId) &&
          match(event as Extract<HostEvent, { type: T }>),
        resolve: (event) => {
          clearTimeout(timer);
          resolve(event as Extract<HostEvent, { type: T }>);
        },
      };
      this.#waiters.add(waiter);
    });
  }
}
