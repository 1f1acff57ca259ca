import { TorkError, TorkErrorCode, toTorkError } from '@tork/core/internal/errors.js';
import type { DialEncryption } from '@tork/core/internal/mse/encryption-policy.js';
import { MseInitiator, MseMethod } from '@tork/core/internal/mse/mse-handshake.js';
import type { Rc4 } from '@tork/core/internal/mse/rc4.js';
import type { BufferPool } from '../buffer-pool.js';
import type { PeerTransport, TransportHandlers } from './peer-transport.js';
import { encryptingTransport } from './rc4-transport.js';

/**
 * Dials (`dial`: a TCP socket, or a uTP stream through the UDP host) and runs the MSE/PE handshake as the initiator before the session sees the
 * connection: the session's `onConnect` comes once the handshake is done (so its BitTorrent
 * handshake is the first thing encrypted), and every byte after goes through the chosen stream.
 * A failure or a close during the handshake carries `details.phase = 'mse'`: under `prefer` the
 * coordinator dials the address again in plain BitTorrent (see `PeerPool.encryptionFailed`).
 */
export function mseDialTransport(
  dial: (handlers: TransportHandlers) => PeerTransport,
  handlers: TransportHandlers,
  pool: BufferPool | undefined,
  options: { readonly infoHash: Uint8Array; readonly encryption: Exclude<DialEncryption, 'none'> },
): PeerTransport {
  const initiator = new MseInitiator({
    infoHash: options.infoHash,
    provide: options.encryption === 'require' ? MseMethod.rc4 : MseMethod.rc4 | MseMethod.plaintext,
  });
  let decrypt: Rc4 | null = null;
  let outer: PeerTransport | null = null;
  let failed = false;
  const duringHandshake = (error: TorkError): TorkError =>
    new TorkError(
      error.code,
      `${error.message} (during the encrypted handshake)`,
      { ...error.details, phase: 'mse' },
      { cause: error },
    );
  const fail = (error: TorkError): void => {
    if (failed) return;
    failed = true;
    inner.destroy();
    handlers.onClose(error.details.phase === 'mse' ? error : duringHandshake(error));
  };
  /** The transport is up: a close from here on is the MSE handshake's failure. */
  let up = false;
  const inner: PeerTransport = dial({
    onConnect: () => {
      up = true;
      const hello = initiator.start();
      inner.write([hello], hello.length);
    },
    onData: (chunk) => {
      if (outer) {
        decrypt?.transform(chunk);
        handlers.onData(chunk);
        return;
      }
      if (failed) return;
      let step: ReturnType<MseInitiator['push']>;
      try {
        step = initiator.push(chunk);
      } catch (error) {
        fail(toTorkError(error, TorkErrorCode.WIRE_HANDSHAKE));
        return;
      }
      for (const bytes of step.send) inner.write([bytes], bytes.length);
      // The handshake's own bytes are consumed here (a relayed stream waits for their ack); the
      // payload after it is the session's to acknowledge.
      inner.consumed(chunk.length - (step.done?.rest.length ?? 0));
      if (!step.done) return;
      const done = step.done;
      decrypt = done.decrypt;
      outer = encryptingTransport(
        inner,
        done.encrypt,
        pool,
        done.method === MseMethod.rc4 ? 'rc4' : 'plaintext',
      );
      handlers.onConnect();
      if (done.rest.length > 0) handlers.onData(done.rest);
    },
    onDrain: () => handlers.onDrain(),
    onClose: (error) => {
      if (failed) return;
      failed = true;
      // Refused or unreachable before any MSE byte: the transport's failure, not MSE's.
      handlers.onClose(outer || !up ? error : duringHandshake(error));
    },
  });
  return {
    write(chunks, bytes, owned) {
      // The session writes only after its onConnect, which comes once the handshake is done.
      outer?.write(chunks, bytes, owned);
    },
    get pending() {
      return inner.pending;
    },
    consumed: (bytes) => inner.consumed(bytes),
    destroy: () => {
      failed = true;
      inner.destroy();
    },
    end: () => {
      failed = true;
      if (outer?.end) outer.end();
      else inner.destroy();
    },
    get negotiating() {
      return up && outer === null;
    },
    get encryption() {
      return outer?.encryption ?? 'none';
    },
  };
}
