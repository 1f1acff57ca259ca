import type { Socket } from 'node:net';
import { MessagePort } from 'node:worker_threads';
import type { DialEncryption } from '@tork/core/internal/mse/encryption-policy.js';
import { MseMethod, type MseStreams } from '@tork/core/internal/mse/mse-handshake.js';
import { Rc4 } from '@tork/core/internal/mse/rc4.js';
import type { BufferPool } from '../buffer-pool.js';
import { dialTransport, socketTransport } from '../transport/dial-transport.js';
import { mseDialTransport } from '../transport/mse-dial-transport.js';
import type { PeerTransport, TransportHandlers } from '../transport/peer-transport.js';
import { decryptingHandlers, encryptingTransport } from '../transport/rc4-transport.js';
import { relayTransport } from '../transport/relay-transport.js';

/**
 * The transport of a dialled connection: the session's own TCP socket, or a uTP stream the UDP
 * host dials and relays over `utpRelay` (it says `open` once the peer answered); with `encryption`,
 * the MSE handshake runs over it first.
 */
export function dialledTransport(
  host: string,
  port: number,
  handlers: TransportHandlers,
  pool: BufferPool,
  options: { encryption: DialEncryption; infoHash: Uint8Array; utpRelay?: MessagePort | undefined },
): PeerTransport {
  const { encryption, infoHash, utpRelay } = options;
  const dial = (inner: TransportHandlers): PeerTransport =>
    utpRelay ? relayTransport(utpRelay, inner, pool) : dialTransport(host, port, inner, pool);
  return encryption === 'none'
    ? dial(handlers)
    : mseDialTransport(dial, handlers, pool, { infoHash, encryption });
}

/**
 * The transport of an accepted connection, relayed over `relay` by the Listener (TCP) or the UDP
 * host (uTP), or the socket this host accepted itself. When the coordinator ran an MSE handshake, its streams go on here, where the bytes are.
 */
export function acceptedTransport(
  relay: MessagePort | Socket,
  handlers: TransportHandlers,
  pool: BufferPool,
  mse: MseStreams | undefined,
): PeerTransport {
  // A socket: the host accepted it itself (`reusePort`); the bytes are already here.
  const carry = (inner: TransportHandlers): PeerTransport =>
    relay instanceof MessagePort
      ? relayTransport(relay, inner, pool)
      : socketTransport(relay, inner, pool, true);
  if (!mse) return carry(handlers);
  const decrypt = mse.decrypt ? Rc4.restore(mse.decrypt) : null;
  const encrypt = mse.encrypt ? Rc4.restore(mse.encrypt) : null;
  const relayed = carry(decryptingHandlers(handlers, decrypt));
  return encryptingTransport(relayed, encrypt, pool, mse.method === MseMethod.rc4 ? 'rc4' : 'plaintext');
}
