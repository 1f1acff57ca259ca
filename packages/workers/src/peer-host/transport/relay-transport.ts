import type { MessagePort } from 'node:worker_threads';
import { TorkError, TorkErrorCode, toTorkError } from '@tork/core/internal/errors.js';
import { parseRelayMessage } from '@tork/core/internal/messages/validate.js';
import type { BufferPool } from '../buffer-pool.js';
import type { PeerTransport, TransportHandlers } from './peer-transport.js';

/** Consumed bytes acknowledged in the same turn once this many are unacknowledged: 64 KiB. */
export const RELAY_ACK_EAGER_BYTES = 64 * 1024;
/** Fewer consumed bytes are acknowledged within this many ms: 20. */
export const RELAY_ACK_DELAY_MS = 20;

/**
 * The session's end of a relayed connection. Bytes out are gathered into one ArrayBuffer per
 * write and transferred (one copy: the price of the relay); bytes in arrive as transferred
 * chunks. Acks are batched (RELAY_ACK_EAGER_BYTES, RELAY_ACK_DELAY_MS). The far end is the Listener (an accepted TCP
 * connection) or the UDP host (a uTP connection, accepted or dialled: a dialled one says `open`
 * once the peer answered, which is the session's `onConnect`).
 */
export function relayTransport(
  port: MessagePort,
  handlers: TransportHandlers,
  pool?: BufferPool,
): PeerTransport {
  let closed = false;
  let pending = 0;
  let unacked = 0;
  let ackScheduled = false;
  let ackTimer: NodeJS.Timeout | undefined;
  const close = (error: TorkError) => {
    if (closed) return;
    closed = true;
    clearTimeout(ackTimer);
    port.close();
    handlers.onClose(error);
  };
  const sendAck = () => {
    ackScheduled = false;
    if (ackTimer !== undefined) {
      clearTimeout(ackTimer);
      ackTimer = undefined;
    }
    if (closed || unacked === 0) return;
    // Thread boundary: what we consumed reopens the far end's window (it pauses the socket at
    // RELAY_WINDOW_BYTES unacknowledged); a few numbers, cloned.
    port.postMessage({ type: 'ack', bytes: unacked });
    unacked = 0;
  };
  port.on('message', (value: unknown) => {
    if (closed) return;
    let message: ReturnType<typeof parseRelayMessage>;
    try {
      // Thread boundary: relay messages are checked like every other cross-thread message.
      message = parseRelayMessage(value);
    } catch (error) {
      close(toTorkError(error, TorkErrorCode.THREAD_MESSAGE));
      return;
    }
    if (message instanceof ArrayBuffer) {
      handlers.onData(new Uint8Array(message));
    } else if (message.type === 'data') {
      handlers.onData(new Uint8Array(message.buffer, 0, message.length));
    } else if (message.type === 'ack') {
      // Our written buffers come back with the ack: the next writes reuse them.
      if (message.buffers && pool) for (const buffer of message.buffers) pool.give(buffer);
      pending = Math.max(0, pending - message.bytes);
      // Every ack may open room below the session's own high-water mark.
      handlers.onDrain();
    } else if (message.type === 'open') {
      handlers.onConnect();
    } else {
      close(new TorkError(TorkErrorCode.IO, message.reason));
    }
  });
  port.on('close', () => close(new TorkError(TorkErrorCode.IO, 'connection closed by peer')));
  /** chunks[from..to) copied into one buffer from the pool (it comes back with the ack). */
  const sendCopy = (chunks: readonly Uint8Array[], from: number, to: number) => {
    let bytes = 0;
    for (let i = from; i < to; i++) bytes += chunks[i]!.length;
    const capacity = relayCapacity(bytes);
    const buffer = pool ? pool.take(capacity) : new ArrayBuffer(capacity);
    const out = new Uint8Array(buffer);
    let at = 0;
    for (let i = from; i < to; i++) {
      out.set(chunks[i]!, at);
      at += chunks[i]!.length;
    }
    // Thread boundary: the gathered bytes are transferred, not cloned.
    port.postMessage({ type: 'data', buffer, length: bytes }, [buffer]);
  };
  return {
    write(chunks, bytes, owned) {
      if (closed || bytes === 0) return;
      pending += bytes;
      // A chunk that is the whole start of a gather buffer we own, and the only chunk in it, is
      // moved as it is (it comes back with the coordinator's ack): served blocks cross the relay
      // without a copy. The other chunks are gathered, in order, into pooled buffers.
      const movable = owned && owned.length > 0 && pool ? movableChunks(chunks, owned) : null;
      let start = 0;
      for (let i = 0; i <= chunks.length; i++) {
        if (i < chunks.length && !movable?.has(chunks[i]!)) continue;
        if (i > start) sendCopy(chunks, start, i);
        if (i < chunks.length) {
          const chunk = chunks[i]!;
          const length = chunk.length;
          // Thread boundary: the gather buffer is transferred, not cloned.
          port.postMessage({ type: 'data', buffer: chunk.buffer, length }, [chunk.buffer as ArrayBuffer]);
        }
        start = i + 1;
      }
      if (owned && pool) for (const gathered of owned) if (gathered.byteLength > 0) pool.give(gathered);
    },
    get pending() {
      return pending;
    },
    consumed(bytes) {
      if (closed) return;
      unacked += bytes;
      // A serving session receives only requests (17 bytes a block): acking them every turn cost
      // a message per block served. Acks go at once past RELAY_ACK_EAGER_BYTES (far below the
      // window, so the far end never pauses a healthy stream), else within RELAY_ACK_DELAY_MS.
      if (unacked >= RELAY_ACK_EAGER_BYTES) {
        if (!ackScheduled) {
          ackScheduled = true;
          setImmediate(sendAck);
        }
      } else if (ackTimer === undefined && !ackScheduled) {
        ackTimer = setTimeout(sendAck, RELAY_ACK_DELAY_MS);
      }
    },
    destroy() {
      if (closed) return;
      closed = true;
      clearTimeout(ackTimer);
      try {
        // Thread boundary: the Listener ends the socket after writing what we sent before this.
        port.postMessage({ type: 'end', reason: 'closed by peer actor' });
      } catch {
        // The port is already gone.
      }
      port.close();
    },
  };
}

/**
 * The chunks that may be moved instead of copied: each starts an owned buffer and is the only
 * chunk in it (moving the buffer detaches every view of it).
 */
function movableChunks(chunks: readonly Uint8Array[], owned: readonly ArrayBuffer[]): Set<Uint8Array> {
  const ownedSet = new Set<ArrayBufferLike>(owned);
  const uses = new Map<ArrayBufferLike, number>();
  for (const chunk of chunks) uses.set(chunk.buffer, (uses.get(chunk.buffer) ?? 0) + 1);
  const movable = new Set<Uint8Array>();
  for (const chunk of chunks)
    if (chunk.byteOffset === 0 && ownedSet.has(chunk.buffer) && uses.get(chunk.buffer) === 1)
      movable.add(chunk);
  return movable;
}

/** Relay buffers come in power-of-two sizes from 64 KiB, so the pool finds one again. */
function relayCapacity(bytes: number): number {
  let capacity = 64 * 1024;
  while (capacity < bytes) capacity *= 2;
  return capacity;
}
