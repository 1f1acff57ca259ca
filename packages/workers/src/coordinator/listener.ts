import { createSocket } from 'node:dgram';
import { createServer, isIP, type Server, type Socket } from 'node:net';
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import {
  type EncryptionPolicy,
  type MseStreams,
  parseRelayMessage,
  RELAY_WINDOW_BYTES,
  TorkError,
  TorkErrorCode,
} from '@tork/core';
import { IncomingHandshake } from './incoming-handshake.js';

/** An accepted connection whose handshake named a torrent, ready to be handed to an actor. */
export interface IncomingPeer {
  /** Info-hash from the peer's handshake, lowercase hex. */
  readonly infoHashHex: string;
  /** `host:port` of the remote end. */
  readonly address: string;
  /** The actor's end of the relay: move it to the actor's thread (transfer list). */
  readonly relay: MessagePort;
  /** Bytes read so far, the peer's handshake first: the actor decodes them before the rest. */
  readonly initial: Uint8Array;
  /**
   * The peer opened with an MSE handshake, which the Listener ran: `initial` is decrypted, and
   * these are the streams' states for the actor, which decrypts and encrypts from here on.
   */
  readonly mse?: MseStreams;
  /** What carries it: the Listener's TCP sockets, or a uTP stream from the UDP host. Default: tcp. */
  readonly transport?: 'tcp' | 'utp';
}

/** Kernel-chosen ports tried for one whose UDP twin is free too (`udpTwin`). */
export const LISTEN_PORT_ATTEMPTS = 8;

/**
 * Binds with `bind` until `twinFree` says the port's UDP twin is free, at most `attempts` times;
 * each port given up is closed, and the last one is kept whatever its twin.
 */
export async function withFreeTwin<T extends { readonly port: number; close(): Promise<void> }>(
  bind: () => Promise<T>,
  twinFree: (port: number) => Promise<boolean>,
  attempts: number,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const bound = await bind();
    if (attempt >= attempts || (await twinFree(bound.port))) return bound;
    await bound.close();
  }
}

/** Whether a UDP socket can bind `host:port` now (closed again at once). */
function udpPortFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    // isIP tries the short IPv4 pattern first: Node's IPv6 one costs a few ms to compile in each thread.
    const socket = createSocket(isIP(host) === 6 ? 'udp6' : 'udp4');
    socket.once('error', () => {
      try {
        socket.close();
      } catch {
        // Never bound: nothing to close.
      }
      resolve(false);
    });
    socket.bind(port, host, () => socket.close(() => resolve(true)));
  });
}

export interface ListenerOptions {
  /** TCP port; 0 picks a free one (see `port` after `listen`). Default: 6881. */
  readonly port?: number;
  /** Address to bind. Default: `'0.0.0.0'` (tests use `'127.0.0.1'`). */
  readonly host?: string;
  /**
   * Called once a connection's handshake names a torrent. Return true to take the peer (the
   * relay then belongs to an actor); false closes the connection (unknown info-hash, torrent
   * full or stopped).
   */
  readonly onPeer: (peer: IncomingPeer) => boolean;
  /**
   * Bind with `reusePort` (Node >= 22.12 / 23.1 only, see `hasReusePort`), so the peer hosts can
   * bind the same port and accept themselves (`ThreadActorSystem.listen`); then `stopAccepting`.
   * Default: false.
   */
  readonly reusePort?: boolean;
  /**
   * The same port number is bound for UDP too (uTP and the DHT share it). With `port` 0, a
   * kernel-chosen TCP port whose UDP twin another process holds is given up for another, at most
   * `LISTEN_PORT_ATTEMPTS` times (the last one is kept: uTP is then off, TCP works). A fixed port
   * is never changed. Default: false.
   */
  readonly udpTwin?: boolean;
  /** Longest wait for the peer's 68-byte handshake, ms. Default: 10,000. */
  readonly handshakeTimeoutMs?: number;
  /** Connections still handshaking at once; more are closed at once. Default: 64. */
  readonly maxHandshaking?: number;
  /**
   * Encrypted (MSE/PE) handshakes: `prefer` accepts them and plain ones, `require` only them (RC4
   * only), `disable` only plain ones. Default: `prefer` when `findMseTorrent` is given, else
   * `disable`.
   */
  readonly encryption?: EncryptionPolicy;
  /**
   * The info-hash an MSE handshake names by HASH('req2', SKEY), or undefined (refused). Without
   * it, encrypted handshakes are refused. Production: `engine.torrentForMseKey`.
   */
  readonly findMseTorrent?: (key: Uint8Array) => Uint8Array | undefined;
}

/** Counters of a Listener, for the benchmark and tests. */
export interface ListenerStats {
  readonly accepted: number;
  /** Of those accepted, how many opened with an MSE handshake. */
  readonly encrypted: number;
  readonly refused: number;
  /** Connections relayed right now. */
  readonly relaying: number;
  /** Bytes moved through relays, each direction. */
  readonly relayedIn: number;
  readonly relayedOut: number;
}

/**
 * The engine's listening port, on the coordinator thread. Node 20 cannot hand an accepted socket
 * to a worker thread, so the Listener reads the handshake to find the torrent, then relays the
 * byte stream over a MessageChannel to the actor's PeerSession (see relay-message.ts in @tork/core).
 * Socket chunks are transferred, never cloned; a window of unacknowledged bytes bounds each
 * direction.
 */
export class Listener {
  readonly #server: Server;
  readonly #options: ListenerOptions;
  readonly #sockets = new Set<Socket>();
  #handshaking = 0;
  #accepted = 0;
  #refused = 0;
  #relaying = 0;
  #relayedIn = 0;
  #relayedOut = 0;
  #encrypted = 0;
  #closed = false;
  #accepting = true;
  #port = 0;

  private constructor(server: Server, options: ListenerOptions) {
    this.#server = server;
    this.#options = options;
  }

  /** Binds and starts accepting; rejects with TORK_ERR_IO when the port cannot be bound. */
  static async listen(options: ListenerOptions): Promise<Listener> {
    const at = { port: options.port ?? 6881, host: options.host ?? '0.0.0.0' };
    // With `reusePort` a second tork (same user) on a fixed port would bind it too and silently
    // share its connections: a plain bind first still fails with "address in use" then.
    if (options.reusePort && at.port !== 0) {
      const probe = createServer();
      await Listener.#bind(probe, at, at);
      await new Promise<void>((resolve) => probe.close(() => resolve()));
    }
    // Why a probe, not the UDP socket itself: the UDP host binds it in its own thread, and Node
    // cannot hand a socket to a thread. The probe is closed at once; the host binds ~0.2 s later.
    return withFreeTwin(
      async () => {
        const server = createServer({ noDelay: true, pauseOnConnect: false });
        const listener = new Listener(server, options);
        server.on('connection', (socket) => listener.#onConnection(socket));
        // `reusePort` is not in Node 20's types; the caller checked the version.
        await Listener.#bind(server, (options.reusePort ? { ...at, reusePort: true } : at) as never, at);
        // After a successful bind an error on the server is not fatal to the engine.
        server.on('error', () => {});
        const address = server.address();
        listener.#port = typeof address === 'object' && address !== null ? address.port : 0;
        return listener;
      },
      (port) => udpPortFree(at.host, port),
      options.udpTwin && at.port === 0 ? LISTEN_PORT_ATTEMPTS : 1,
    );
  }

  static #bind(
    server: Server,
    listenOptions: { port: number; host: string },
    at: { port: number },
  ): Promise<void> {
    const options = { port: at.port };
    return new Promise<void>((resolve, reject) => {
      server.once('error', (error: NodeJS.ErrnoException) =>
        reject(
          new TorkError(
            TorkErrorCode.IO,
            `cannot listen on port ${options.port}: ${error.code === 'EADDRINUSE' ? 'address in use' : error.message}`,
            { port: options.port, cause: error.code ?? null },
          ),
        ),
      );
      server.listen(listenOptions, () => resolve());
    });
  }

  /** The bound port. */
  get port(): number {
    return this.#port;
  }

  /**
   * Stops accepting (the peer hosts do, on the same port: `reusePort`); connections relayed now
   * go on. Connections the kernel had queued for this socket, not yet accepted, are reset: peers
   * dial again.
   */
  stopAccepting(): void {
    if (!this.#accepting) return;
    this.#accepting = false;
    // Not awaited: `close` calls back only once every connection it accepted has ended.
    this.#server.close();
  }

  stats(): ListenerStats {
    return {
      accepted: this.#accepted,
      encrypted: this.#encrypted,
      refused: this.#refused,
      relaying: this.#relaying,
      relayedIn: this.#relayedIn,
      relayedOut: this.#relayedOut,
    };
  }

  /** Stops accepting and drops every connection, relayed or not. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const socket of this.#sockets) socket.destroy();
    this.#sockets.clear();
    if (!this.#accepting) return;
    this.#accepting = false;
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #onConnection(socket: Socket): void {
    const max = this.#options.maxHandshaking ?? 64;
    if (this.#closed || this.#handshaking >= max) {
      this.#refused++;
      socket.destroy();
      return;
    }
    this.#handshaking++;
    this.#sockets.add(socket);
    socket.setNoDelay(true);
    const address = `${socket.remoteAddress?.includes(':') ? `[${socket.remoteAddress}]` : socket.remoteAddress}:${socket.remotePort}`;
    const findMseTorrent = this.#options.findMseTorrent;
    const handshake = new IncomingHandshake({
      encryption: this.#options.encryption ?? (findMseTorrent ? 'prefer' : 'disable'),
      findMseTorrent,
    });
    let settled = false;
    const finish = (take: boolean) => {
      if (settled) return;
      settled = true;
      this.#handshaking--;
      clearTimeout(timer);
      socket.off('data', onData);
      if (!take) {
        this.#refused++;
        this.#sockets.delete(socket);
        socket.destroy();
      }
    };
    const timer = setTimeout(() => finish(false), this.#options.handshakeTimeoutMs ?? 10_000);
    const onData = (chunk: Buffer) => {
      const step = handshake.push(chunk);
      for (const bytes of step.send) socket.write(bytes);
      if (step.refused) {
        finish(false);
        return;
      }
      if (!step.done) return;
      const { infoHashHex, initial: buffered, mse } = step.done;
      const { port1, port2 } = new MessageChannel();
      // The socket's events go to the relay from here on; pause so no chunk slips between.
      socket.pause();
      finish(true);
      let taken = false;
      try {
        taken = this.#options.onPeer({
          infoHashHex,
          address,
          relay: port2,
          initial: buffered,
          ...(mse ? { mse } : {}),
        });
      } catch {
        taken = false;
      }
      if (!taken) {
        port1.close();
        port2.close();
        this.#refused++;
        this.#sockets.delete(socket);
        socket.destroy();
        return;
      }
      this.#accepted++;
      if (mse) this.#encrypted++;
      this.#relay(socket, port1);
    };
    socket.on('data', onData);
    socket.on('error', () => finish(false));
    socket.on('close', () => {
      finish(false);
      this.#sockets.delete(socket);
    });
  }

  /** The coordinator's end of a relay: socket bytes to the actor, the actor's bytes to the socket. */
  #relay(socket: Socket, port: MessagePort): void {
    this.#relaying++;
    let unacked = 0;
    let toAck = 0;
    /** The actor's written buffers, going back with the next ack for reuse. */
    let toReturn: ArrayBuffer[] = [];
    let ackScheduled = false;
    let ended = false;
    const end = (reason: string) => {
      if (ended) return;
      ended = true;
      this.#relaying--;
      try {
        port.postMessage({ type: 'end', reason });
      } catch {
        // The actor's end is gone already.
      }
      port.close();
      this.#sockets.delete(socket);
      socket.destroy();
    };
    const ack = () => {
      ackScheduled = false;
      if (ended || toAck === 0) return;
      const buffers = toReturn;
      toReturn = [];
      // Thread boundary: the actor's buffers are moved back, never cloned.
      if (buffers.length > 0) port.postMessage({ type: 'ack', bytes: toAck, buffers }, buffers);
      else port.postMessage({ type: 'ack', bytes: toAck });
      toAck = 0;
    };
    const written = (bytes: number, buffer?: ArrayBuffer) => {
      toAck += bytes;
      if (buffer) toReturn.push(buffer);
      if (!ackScheduled) {
        ackScheduled = true;
        setImmediate(ack);
      }
    };
    socket.on('data', (chunk: Buffer) => {
      if (ended) return;
      // Read before the transfer below: it detaches the chunk (its length becomes 0).
      const length = chunk.length;
      this.#relayedIn += length;
      // Thread boundary: a chunk that owns its ArrayBuffer exactly is moved; one that shares a
      // pooled buffer is copied (transferring it would send, and detach, the whole pool).
      const owned = chunk.byteOffset === 0 && chunk.byteLength === chunk.buffer.byteLength;
      const data = owned
        ? chunk.buffer
        : chunk.buffer.slice(chunk.byteOffset, chunk.byteOffset + chunk.byteLength);
      port.postMessage(data, [data as ArrayBuffer]);
      unacked += length;
      // A peer that floods faster than the actor decodes is held at the window, not buffered.
      if (unacked >= RELAY_WINDOW_BYTES) socket.pause();
    });
    socket.on('error', (error: NodeJS.ErrnoException) =>
      end(error.code === 'ECONNRESET' ? 'connection reset by peer' : error.message),
    );
    socket.on('close', () => end('connection closed by peer'));
    port.on('message', (value: unknown) => {
      if (ended) return;
      let message: ReturnType<typeof parseRelayMessage>;
      try {
        // Thread boundary: relay messages are checked on arrival like every other message.
        message = parseRelayMessage(value);
      } catch {
        end('malformed relay message');
        return;
      }
      if (message instanceof ArrayBuffer) {
        const bytes = message.byteLength;
        this.#relayedOut += bytes;
        socket.write(new Uint8Array(message), () => written(bytes));
      } else if (message.type === 'data') {
        const { buffer, length } = message;
        this.#relayedOut += length;
        socket.write(new Uint8Array(buffer, 0, length), () => written(length, buffer));
      } else if (message.type === 'ack') {
        unacked = Math.max(0, unacked - message.bytes);
        if (socket.isPaused() && unacked < RELAY_WINDOW_BYTES / 2) socket.resume();
      } else {
        ended = true;
        this.#relaying--;
        port.close();
        this.#sockets.delete(socket);
        // Let queued writes (our last messages) reach the peer before the FIN.
        socket.end();
        socket.setTimeout(5_000, () => socket.destroy());
      }
    });
    port.on('close', () => end('actor gone'));
    // Relayed from the start: anything after the handshake was already part of `initial`.
    socket.resume();
  }
}
