import { createServer, type Server, type Socket } from 'node:net';
import { TorkError, TorkErrorCode } from '@tork/core/internal/errors.js';
import type { EncryptionPolicy } from '@tork/core/internal/mse/encryption-policy.js';
import type { MseStreams } from '@tork/core/internal/mse/mse-handshake.js';
import { IncomingHandshake } from '../coordinator/incoming-handshake.js';

/** A connection whose handshake named a torrent, held paused until the coordinator answers. */
export interface HeldConnection {
  readonly socket: Socket;
  readonly address: string;
  /** Plaintext bytes read so far (decrypted after MSE), the peer's handshake first. */
  readonly initial: Uint8Array;
  readonly mse?: MseStreams;
}

export interface HostListenerOptions {
  readonly port: number;
  readonly host: string;
  readonly encryption: EncryptionPolicy;
  /** The info-hash an MSE handshake names by HASH('req2', SKEY), among this host's torrents. */
  readonly findMseTorrent: (key: Uint8Array) => Uint8Array | undefined;
  /** A handshake named a torrent: the coordinator is asked (the host's `incoming` event). */
  readonly onIncoming: (connection: number, infoHashHex: string, address: string, encrypted: boolean) => void;
  /** Longest wait for the handshake, then for the coordinator's answer, ms. Default: 10,000. */
  readonly handshakeTimeoutMs?: number;
  /** Connections handshaking or waiting for an answer at once; more are closed. Default: 64. */
  readonly maxPending?: number;
}

/**
 * A peer host's own listening socket on the engine's TCP port, shared with the coordinator's
 * Listener and the other hosts through `reusePort` (Node >= 22.12 / 23.1; the kernel spreads
 * connections across the group). Reads the handshake (plain or MSE, as the coordinator's
 * Listener does) and holds the socket paused while the coordinator decides (limits, bans); the
 * actor then reads and writes that socket itself: no byte crosses a thread.
 */
export class HostListener {
  readonly #server: Server;
  readonly #options: HostListenerOptions;
  readonly #pending = new Map<number, { socket: Socket; held?: HeldConnection; timer: NodeJS.Timeout }>();
  #next = 0;
  #accepted = 0;
  #closed = false;

  private constructor(server: Server, options: HostListenerOptions) {
    this.#server = server;
    this.#options = options;
  }

  /** Binds with `reusePort`; rejects with TORK_ERR_IO when it cannot. */
  static async listen(options: HostListenerOptions): Promise<HostListener> {
    const server = createServer({ noDelay: true });
    const listener = new HostListener(server, options);
    server.on('connection', (socket) => listener.#onConnection(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', (error: NodeJS.ErrnoException) =>
        reject(
          new TorkError(
            TorkErrorCode.IO,
            `peer host cannot listen on port ${options.port}: ${error.message}`,
            {
              port: options.port,
              cause: error.code ?? null,
            },
          ),
        ),
      );
      // `reusePort` is not in Node 20's types; the caller checked the version.
      server.listen({ port: options.port, host: options.host, reusePort: true } as never, () => resolve());
    });
    server.on('error', () => {});
    return listener;
  }

  /** The bound port. */
  get port(): number {
    const address = this.#server.address();
    return typeof address === 'object' && address !== null ? address.port : 0;
  }

  /** Connections taken by actors so far. */
  get accepted(): number {
    return this.#accepted;
  }

  /** The connection the coordinator gave an actor, or undefined (closed or timed out meanwhile). */
  take(connection: number): HeldConnection | undefined {
    const entry = this.#pending.get(connection);
    if (!entry?.held) return undefined;
    this.#pending.delete(connection);
    clearTimeout(entry.timer);
    entry.socket.removeAllListeners();
    if (entry.socket.destroyed) return undefined;
    this.#accepted++;
    return entry.held;
  }

  /** The coordinator refused it (unknown torrent, full, banned). */
  refuse(connection: number): void {
    this.#drop(connection);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const id of [...this.#pending.keys()]) this.#drop(id);
    this.#server.close();
  }

  #drop(connection: number): void {
    const entry = this.#pending.get(connection);
    if (!entry) return;
    this.#pending.delete(connection);
    clearTimeout(entry.timer);
    entry.socket.destroy();
  }

  #onConnection(socket: Socket): void {
    if (this.#closed || this.#pending.size >= (this.#options.maxPending ?? 64)) {
      socket.destroy();
      return;
    }
    const id = this.#next++;
    const timeoutMs = this.#options.handshakeTimeoutMs ?? 10_000;
    const entry: { socket: Socket; held?: HeldConnection; timer: NodeJS.Timeout } = {
      socket,
      timer: setTimeout(() => this.#drop(id), timeoutMs),
    };
    this.#pending.set(id, entry);
    socket.setNoDelay(true);
    const remote = socket.remoteAddress ?? '';
    const address = `${remote.includes(':') ? `[${remote}]` : remote}:${socket.remotePort}`;
    const handshake = new IncomingHandshake({
      encryption: this.#options.encryption,
      findMseTorrent: this.#options.findMseTorrent,
    });
    const onData = (chunk: Buffer) => {
      const step = handshake.push(chunk);
      for (const bytes of step.send) socket.write(bytes);
      if (step.refused) {
        this.#drop(id);
        return;
      }
      if (!step.done) return;
      socket.off('data', onData);
      socket.pause();
      const { infoHashHex, initial, mse } = step.done;
      entry.held = { socket, address, initial, ...(mse ? { mse } : {}) };
      // A fresh deadline for the coordinator's answer.
      clearTimeout(entry.timer);
      entry.timer = setTimeout(() => this.#drop(id), timeoutMs);
      this.#options.onIncoming(id, infoHashHex, address, mse !== undefined);
    };
    socket.on('data', onData);
    socket.on('error', () => this.#drop(id));
    socket.on('close', () => this.#drop(id));
  }
}
