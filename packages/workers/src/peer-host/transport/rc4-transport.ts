import type { Rc4 } from '@tork/core/internal/mse/rc4.js';
import type { BufferPool } from '../buffer-pool.js';
import type { PeerTransport, TransportHandlers } from './peer-transport.js';

/**
 * The session's handlers behind a decrypting stream: each chunk is decrypted in place (a
 * transport's chunk is its own memory until `onData` returns) before the session reads it.
 * `decrypt` null: a plaintext stream, handed on as is.
 */
export function decryptingHandlers(handlers: TransportHandlers, decrypt: Rc4 | null): TransportHandlers {
  if (!decrypt) return handlers;
  return {
    onConnect: () => handlers.onConnect(),
    onData: (chunk) => {
      decrypt.transform(chunk);
      handlers.onData(chunk);
    },
    onDrain: () => handlers.onDrain(),
    onClose: (error) => handlers.onClose(error),
  };
}

/**
 * `inner` behind an encrypting stream: a turn's chunks are encrypted into one buffer from the
 * pool (RC4 cannot run in place: a chunk may be a view of a cached piece shared with other
 * sessions), written, and given back to the pool once the inner transport is done with it.
 */
export function encryptingTransport(
  inner: PeerTransport,
  encrypt: Rc4 | null,
  pool: BufferPool | undefined,
  encryption: PeerTransport['encryption'],
): PeerTransport {
  return {
    write(chunks, bytes, owned) {
      if (!encrypt || bytes === 0) {
        inner.write(chunks, bytes, owned);
        return;
      }
      const capacity = writeCapacity(bytes);
      const buffer = pool ? pool.take(capacity) : new ArrayBuffer(capacity);
      const out = new Uint8Array(buffer, 0, bytes);
      let at = 0;
      for (const chunk of chunks) {
        encrypt.transformInto(chunk, out, at);
        at += chunk.length;
      }
      // The plaintext's gather buffers were copied out: reusable at once.
      if (owned && pool) for (const gathered of owned) pool.give(gathered);
      inner.write([out], bytes, [buffer]);
    },
    get pending() {
      return inner.pending;
    },
    consumed: (bytes) => inner.consumed(bytes),
    destroy: () => inner.destroy(),
    end: () => (inner.end ? inner.end() : inner.destroy()),
    encryption,
  };
}

/** Power-of-two sizes from 64 KiB, so the pool finds a buffer again. */
function writeCapacity(bytes: number): number {
  let capacity = 64 * 1024;
  while (capacity < bytes) capacity *= 2;
  return capacity;
}
