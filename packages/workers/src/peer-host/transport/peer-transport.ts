import { connect, type Socket } from 'node:net';
import type { MessagePort } from 'node:worker_threads';
import { parseRelayMessage, TorkError, TorkErrorCode, toTorkError } from '@tork/core';
import type { BufferPool } from '../buffer-pool.js';

/** What a transport tells its actor. */
export interface TransportHandlers {
  /** The TCP connection is up (outgoing only; a relayed connection is up from the start). */
  onConnect(): void;
  onData(chunk: Uint8Array): void;
  /** Room to write again after `pending` was high. */
  onDrain(): void;
  /** The connection is gone; called at most once. */
  onClose(error: TorkError): void;
}

/**
 * An actor's byte stream, whichever way it reaches the thread: a socket the actor dialled itself,
 * or an accepted connection the coordinator relays over a MessagePort (Node 20 cannot move a
 * socket into a worker thread).
 */
export interface PeerTransport {
  /**
   * Writes the chunks in order (the caller never mutates them afterwards). `owned` buffers (the
   * chunks' pooled gather buffers) go back to the pool once their bytes are written or copied.
   */
  write(chunks: readonly Uint8Array[], bytes: number, owned?: readonly ArrayBuffer[]): void;
  /** Bytes written but not yet taken by the kernel (socket) or the coordinator (relay). */
  readonly pending: number;
  /** The actor has processed `bytes` of received data (the relay acknowledges them). */
  consumed(bytes: number): void;
  destroy(): void;
}

/** Bytes read from a socket per call: one buffer per thread, shared by every dialled socket. */
const READ_BUFFER_BYTES = 256 * 1024;
let readBuffer: Buffer | undefined;

/**
 * Dials `host:port`; the actor's own socket. Reads land in one buffer per thread, reused for every
 * read of every socket (Node's `onread`): no allocation per read, hence no external-memory GC
 * churn at hundreds of MB/s. Safe because the actor decodes and copies out what it keeps
 * synchronously, before the next read can land (the decoder runs with `reuseBuffers`).
 */
export function dialTransport(
  host: string,
  port: number,
  handlers: TransportHandlers,
  pool?: BufferPool,
): PeerTransport {
  readBuffer ??= Buffer.allocUnsafeSlow(READ_BUFFER_BYTES);
  const socket: Socket = connect({
    host,
    port,
    onread: {
      buffer: readBuffer,
      callback: (bytes: number, buffer: Uint8Array) => {
        handlers.onData(buffer.subarray(0, bytes));
        return true;
      },
    },
  });
  socket.setNoDelay(true);
  let closed = false;
  const close = (error: TorkError) => {
    if (closed) return;
    closed = true;
    handlers.onClose(error);
  };
  socket.on('connect', () => handlers.onConnect());
  socket.on('drain', () => handlers.onDrain());
  socket.on('error', (error) => close(socketError(error)));
  socket.on('close', () => close(new TorkError(TorkErrorCode.IO, 'connection closed by peer')));
  return {
    write(chunks, _bytes, owned) {
      if (socket.destroyed || chunks.length === 0) return;
      // Writes complete in order: the last one's callback frees every gather buffer of the turn.
      const done =
        owned && owned.length > 0 && pool
          ? (error?: Error | null) => {
              if (!error) for (const buffer of owned) pool.give(buffer);
            }
          : undefined;
      if (chunks.length === 1) {
        socket.write(chunks[0]!, done);
        return;
      }
      // One writev for the whole turn's messages.
      socket.cork();
      for (let i = 0; i < chunks.length; i++) {
        if (i === chunks.length - 1) socket.write(chunks[i]!, done);
        else socket.write(chunks[i]!);
      }
      socket.uncork();
    },
    get pending() {
      return socket.writableLength;
    },
    consumed() {},
    destroy() {
      closed = true;
      socket.destroy();
    },
  };
}

/**
 * The actor's end of a relayed connection. Bytes out are gathered into one ArrayBuffer per
 * write and transferred (one copy: the price of the relay); bytes in arrive as transferred
 * chunks. Acks are batched once per event-loop turn.
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
  const close = (error: TorkError) => {
    if (closed) return;
    closed = true;
    port.close();
    handlers.onClose(error);
  };
  const sendAck = () => {
    ackScheduled = false;
    if (closed || unacked === 0) return;
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
      // Every ack may open room below the actor's own high-water mark.
      handlers.onDrain();
    } else {
      close(new TorkError(TorkErrorCode.IO, message.reason));
    }
  });
  port.on('close', () => close(new TorkError(TorkErrorCode.IO, 'connection closed by peer')));
  return {
    write(chunks, bytes, owned) {
      if (closed || bytes === 0) return;
      // One buffer per write, from the pool (it comes back with the coordinator's ack).
      const capacity = relayCapacity(bytes);
      const buffer = pool ? pool.take(capacity) : new ArrayBuffer(capacity);
      const out = new Uint8Array(buffer);
      let at = 0;
      for (const chunk of chunks) {
        out.set(chunk, at);
        at += chunk.length;
      }
      if (owned && pool) for (const gathered of owned) pool.give(gathered);
      pending += bytes;
      // Thread boundary: the gathered bytes are transferred, not cloned.
      port.postMessage({ type: 'data', buffer, length: bytes }, [buffer]);
    },
    get pending() {
      return pending;
    },
    consumed(bytes) {
      if (closed) return;
      unacked += bytes;
      if (!ackScheduled) {
        ackScheduled = true;
        setImmediate(sendAck);
      }
    },
    destroy() {
      if (closed) return;
      closed = true;
      try {
        port.postMessage({ type: 'end', reason: 'closed by peer actor' });
      } catch {
        // The port is already gone.
      }
      port.close();
    },
  };
}

/** Relay buffers come in power-of-two sizes from 64 KiB, so the pool finds one again. */
function relayCapacity(bytes: number): number {
  let capacity = 64 * 1024;
  while (capacity < bytes) capacity *= 2;
  return capacity;
}

const SOCKET_REASONS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset by peer',
  EPIPE: 'connection reset by peer',
  ETIMEDOUT: 'timeout: could not connect',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host not found (DNS lookup failed)',
  EADDRNOTAVAIL: 'address not available',
};

function socketError(error: Error): TorkError {
  const code = (error as NodeJS.ErrnoException).code ?? '';
  const reason = SOCKET_REASONS[code] ?? error.message;
  return new TorkError(TorkErrorCode.IO, reason, { cause: code || null }, { cause: error });
}
