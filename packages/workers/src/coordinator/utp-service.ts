import type { MessagePort } from 'node:worker_threads';
import { type EncryptionPolicy, parseRelayMessage, type UtpHostSettings } from '@tork/core';
import { IncomingHandshake } from './incoming-handshake.js';
import type { IncomingPeer } from './listener.js';
import type { UdpHostThread } from './udp-host-thread.js';

export interface UtpServiceOptions {
  /** The UDP host thread (shared with the DHT: one socket on the torrent port). */
  readonly thread: UdpHostThread;
  /** Caps and timeouts of the uTP side (each defaults to its named limit). */
  readonly settings?: UtpHostSettings;
  /**
   * Called once an incoming connection's handshake names a torrent; true takes the peer (the relay
   * then belongs to an actor), false closes it. Production: `engine.acceptIncoming`.
   */
  readonly onPeer: (peer: IncomingPeer & { readonly transport: 'utp' }) => boolean;
  /** Encrypted handshakes, as the Listener: `prefer` (default with `findMseTorrent`), `require`, `disable`. */
  readonly encryption?: EncryptionPolicy;
  /** The info-hash an MSE handshake names by HASH('req2', SKEY). Production: `engine.torrentForMseKey`. */
  readonly findMseTorrent?: (key: Uint8Array) => Uint8Array | undefined;
  /** Longest wait for an incoming peer's handshake, ms. Default: 10,000. */
  readonly handshakeTimeoutMs?: number;
  /** Incoming connections still handshaking at once; more are closed. Default: 64. */
  readonly maxHandshaking?: number;
}

/** Counters of the uTP service, for tests and the benchmark. */
export interface UtpServiceStats {
  /** Incoming connections handed to an actor, and of them encrypted ones. */
  readonly accepted: number;
  readonly encrypted: number;
  /** Incoming connections closed before an actor took them (bad handshake, unknown torrent, caps). */
  readonly refused: number;
  /** Dials asked of the UDP host. */
  readonly dialled: number;
}

/**
 * uTP (BEP 29) from the coordinator. The connections live in the UDP host thread, which owns the
 * socket; their byte streams come over MessagePorts, one per connection, in the relay protocol
 * the Listener uses for TCP. Outgoing: `dial` (the actor system's `UtpDialer`) asks the UDP host to
 * dial and relay to the actor's port. Incoming: the UDP host hands the stream's port here; the
 * peer's handshake (plain or MSE) is read from it as the Listener reads a socket's, then the same
 * port moves on to the actor (queued messages go with it), so after the handshake no byte passes
 * through this thread.
 */
export class UtpService {
  readonly #options: UtpServiceOptions;
  #handshaking = 0;
  #accepted = 0;
  #encrypted = 0;
  #refused = 0;
  #dialled = 0;
  #closed = false;
  readonly #pending = new Set<MessagePort>();

  constructor(options: UtpServiceOptions) {
    this.#options = options;
    options.thread.contribute(() => ({ utp: options.settings ?? {} }));
    options.thread.listen({ utpIncoming: (event) => this.#onIncoming(event.address, event.relay) });
  }

  /** Starts the UDP host (uTP must listen from the start); resolves once it listens or failed. */
  start(): Promise<void> {
    return this.#options.thread.start();
  }

  /** The actor system's `UtpDialer`: the UDP host dials and relays the stream over `relay`. */
  readonly dial = (host: string, port: number, relay: MessagePort): void => {
    this.#dialled++;
    // Thread boundary: the actor's twin port goes to the UDP host, which owns the socket.
    this.#options.thread.send({ type: 'utp-connect', host, port, relay }, [relay]);
  };

  stats(): UtpServiceStats {
    return {
      accepted: this.#accepted,
      encrypted: this.#encrypted,
      refused: this.#refused,
      dialled: this.#dialled,
    };
  }

  /** Drops the connections still handshaking; the UDP host thread is closed by its owner. */
  close(): void {
    this.#closed = true;
    for (const port of this.#pending) port.close();
    this.#pending.clear();
  }

  #onIncoming(address: string, port: MessagePort): void {
    if (this.#closed || this.#handshaking >= (this.#options.maxHandshaking ?? 64)) {
      this.#refused++;
      port.close();
      return;
    }
    this.#handshaking++;
    this.#pending.add(port);
    const findMseTorrent = this.#options.findMseTorrent;
    const handshake = new IncomingHandshake({
      encryption: this.#options.encryption ?? (findMseTorrent ? 'prefer' : 'disable'),
      findMseTorrent,
    });
    let received = 0;
    let settled = false;
    const finish = () => {
      settled = true;
      this.#handshaking--;
      this.#pending.delete(port);
      clearTimeout(timer);
      port.removeAllListeners('message');
      port.removeAllListeners('close');
    };
    const refuse = () => {
      if (settled) return;
      finish();
      this.#refused++;
      // The UDP host resets the connection when its end of the port closes.
      port.close();
    };
    const timer = setTimeout(refuse, this.#options.handshakeTimeoutMs ?? 10_000);
    port.on('close', refuse);
    port.on('message', (value: unknown) => {
      if (settled) return;
      let message: ReturnType<typeof parseRelayMessage>;
      try {
        // Thread boundary: checked on arrival, like every relay message.
        message = parseRelayMessage(value);
      } catch {
        refuse();
        return;
      }
      let chunk: Uint8Array;
      if (message instanceof ArrayBuffer) chunk = new Uint8Array(message);
      else if (message.type === 'data') chunk = new Uint8Array(message.buffer, 0, message.length);
      else {
        // `end` (the peer left) or an ack before we wrote anything: nothing to hand on.
        if (message.type !== 'ack') refuse();
        return;
      }
      received += chunk.length;
      const step = handshake.push(chunk);
      for (const bytes of step.send) {
        // The MSE responder's answer, as the actor would write it: a moved buffer of exactly its
        // bytes (a copy: a Buffer's `slice` is a view, its `.buffer` a shared pool).
        const out = new Uint8Array(bytes).buffer;
        port.postMessage(out, [out]);
      }
      if (step.refused) {
        refuse();
        return;
      }
      if (!step.done) return;
      finish();
      const { infoHashHex, initial, mse } = step.done;
      // The handshake's own bytes (MSE's) are consumed here; the actor acknowledges `initial`.
      const consumed = received - initial.length;
      if (consumed > 0) port.postMessage({ type: 'ack', bytes: consumed });
      let taken = false;
      try {
        taken = this.#options.onPeer({
          infoHashHex,
          address,
          relay: port,
          initial,
          transport: 'utp',
          ...(mse ? { mse } : {}),
        });
      } catch {
        taken = false;
      }
      if (!taken) {
        this.#refused++;
        port.close();
        return;
      }
      this.#accepted++;
      if (mse) this.#encrypted++;
    });
  }
}
