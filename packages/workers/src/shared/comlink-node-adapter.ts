import type { Endpoint } from 'comlink';

/**
 * The part of a `worker_threads` `Worker`, `MessagePort` or `parentPort` comlink needs: Node's
 * EventEmitter-style `on('message', value)`, where comlink expects DOM-style
 * `addEventListener('message', event => event.data)`. (A Node `MessagePort` also has
 * `addEventListener`, but a `Worker` does not, so one adapter serves all three alike.)
 */
export interface NodeMessageTarget {
  postMessage(value: unknown, transferList?: readonly NodeTransferable[]): void;
  on(event: 'message', listener: (value: unknown) => void): unknown;
  off(event: 'message', listener: (value: unknown) => void): unknown;
  start?: () => void;
}

/** What `worker_threads` can transfer; comlink hands its transfer list through untouched. */
// biome-ignore lint/suspicious/noExplicitAny: comlink types its transfer list with the DOM's `Transferable`, absent under Node's types.
type NodeTransferable = any;

type Listener = ((event: { data: unknown }) => void) | { handleEvent(event: { data: unknown }): void };

/**
 * Wraps a Node message target as a comlink `Endpoint`. Control plane only (attach, stats,
 * shutdown): comlink's per-call proxies and ids cost too much for the data plane, which uses a
 * plain `MessagePort` with batched, schema-checked messages.
 */
export function nodeEndpoint(target: NodeMessageTarget): Endpoint {
  // comlink removes listeners by identity, so remember which Node listener wraps which.
  const wrapped = new Map<Listener, (value: unknown) => void>();
  const endpoint = {
    postMessage(message: unknown, transfer?: readonly NodeTransferable[]): void {
      target.postMessage(message, transfer ?? []);
    },
    addEventListener(type: string, listener: Listener): void {
      if (type !== 'message' || wrapped.has(listener)) return;
      const onMessage = (data: unknown): void => {
        const event = { data };
        if (typeof listener === 'function') listener(event);
        else listener.handleEvent(event);
      };
      wrapped.set(listener, onMessage);
      target.on('message', onMessage);
    },
    removeEventListener(type: string, listener: Listener): void {
      const onMessage = wrapped.get(listener);
      if (type !== 'message' || onMessage === undefined) return;
      wrapped.delete(listener);
      target.off('message', onMessage);
    },
    ...(target.start ? { start: () => target.start?.() } : {}),
  };
  return endpoint as unknown as Endpoint;
}
