import type { TorrentEvent } from './torrent-registry.js';

/** Event-stream clients at once (`GET /api/v1/events`); one more is refused with 503. */
export const MAX_EVENT_CLIENTS = 16;
/** Events queued for one slow client; past it the client is dropped (it reconnects and re-reads state). */
export const MAX_EVENT_QUEUE = 4096;

/** One event-stream client: its queue, drained by its response stream. */
export class EventSubscription {
  readonly #queue: TorrentEvent[] = [];
  #wake: (() => void) | undefined;
  #closed = false;
  /** Why the hub dropped it (queue overflow), if it did. */
  dropped: string | undefined;
  readonly #onClose: () => void;

  constructor(onClose: () => void) {
    this.#onClose = onClose;
  }

  push(event: TorrentEvent): void {
    if (this.#closed) return;
    if (this.#queue.length >= MAX_EVENT_QUEUE) {
      this.dropped = `more than ${MAX_EVENT_QUEUE} events queued`;
      this.close();
      return;
    }
    this.#queue.push(event);
    this.#wake?.();
  }

  /** The next events (all queued), or undefined once closed; waits at most `timeoutMs` (then []). */
  async next(timeoutMs: number): Promise<TorrentEvent[] | undefined> {
    if (this.#queue.length === 0 && !this.#closed) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, timeoutMs);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#wake = undefined;
    }
    if (this.#queue.length === 0 && this.#closed) return undefined;
    return this.#queue.splice(0);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#wake?.();
    this.#onClose();
  }
}

/** Fans every torrent event out to the event-stream clients, at most MAX_EVENT_CLIENTS of them. */
export class EventHub {
  readonly #clients = new Set<EventSubscription>();

  get clients(): number {
    return this.#clients.size;
  }

  /** A new client; undefined when MAX_EVENT_CLIENTS are connected. */
  subscribe(): EventSubscription | undefined {
    if (this.#clients.size >= MAX_EVENT_CLIENTS) return undefined;
    const subscription: EventSubscription = new EventSubscription(() => this.#clients.delete(subscription));
    this.#clients.add(subscription);
    return subscription;
  }

  publish(event: TorrentEvent): void {
    for (const client of this.#clients) client.push(event);
  }

  close(): void {
    for (const client of [...this.#clients]) client.close();
  }
}
