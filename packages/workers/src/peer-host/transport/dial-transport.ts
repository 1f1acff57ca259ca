import { connect, type Socket } from 'node:net';
import { TorkError, TorkErrorCode } from '@tork/core/internal/errors.js';
import type { BufferPool } from '../buffer-pool.js';
import type { PeerTransport, TransportHandlers } from './peer-transport.js';

/** Bytes read from a socket per call: one buffer per thread, shared by every dialled socket. */
const READ_BUFFER_BYTES = 256 * 1024;
/** An ended socket the peer does not close in turn is destroyed after this many ms. */
export const SOCKET_END_GRACE_MS = 2_000;
let readBuffer: Buffer | undefined;

/**
 * Dials `host:port`; the session's own socket. Reads land in one buffer per thread, reused for every
 * read of every socket (Node's `onread`): no allocation per read, hence no external-memory GC
 * churn at hundreds of MB/s. Safe because the session decodes and copies out what it keeps
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
  socket.on('connect', () => handlers.onConnect());
  return socketTransport(socket, handlers, pool, false);
}

/**
 * A connected socket as a session's transport: a dialled one (above) or one a host accepted on
 * its own listening socket (`reusePort`, see HostListener), which is resumed here: it was held
 * paused while the coordinator decided whether a torrent takes it.
 */
export function socketTransport(
  socket: Socket,
  handlers: TransportHandlers,
  pool: BufferPool | undefined,
  accepted: boolean,
): PeerTransport {
  let closed = false;
  const close = (error: TorkError) => {
    if (closed) return;
    closed = true;
    handlers.onClose(error);
  };
  socket.on('drain', () => handlers.onDrain());
  // A dialled socket reads through `onread` (above); an accepted one through 'data' events.
  if (accepted) {
    socket.on('data', (chunk: Buffer) => handlers.onData(chunk));
    socket.resume();
  }
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
    end() {
      if (closed) return;
      closed = true;
      // FIN after the queued bytes (a socket's destroy drops what Node has not handed the kernel).
      socket.end();
      setTimeout(() => socket.destroy(), SOCKET_END_GRACE_MS).unref();
    },
    destroy() {
      closed = true;
      socket.destroy();
    },
  };
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
