import { EventEmitter } from 'node:events';
import type { AddressInfo } from 'node:net';

/**
 * What `k-rpc-socket` (under `bittorrent-dht`) takes as `opts.socket` in place of a dgram socket:
 * the UDP host owns the real socket and its demultiplexer, and hands the DHT library only the KRPC
 * datagrams that passed the guard (`deliver`); what the library sends goes back through `out`.
 * `bind` and `close` touch nothing real: the socket is shared (uTP will use it too).
 */
export class ShimSocket extends EventEmitter {
  readonly #out: (bytes: Uint8Array, port: number, host: string) => void;
  readonly #address: () => AddressInfo;

  constructor(out: (bytes: Uint8Array, port: number, host: string) => void, address: () => AddressInfo) {
    super();
    this.#out = out;
    this.#address = address;
  }

  /** A datagram for the library, as dgram would emit it. */
  deliver(bytes: Uint8Array, from: { address: string; port: number }): void {
    const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
    this.emit('message', buffer, {
      address: from.address,
      port: from.port,
      family: 'IPv4',
      size: buffer.length,
    });
  }

  send(
    buffer: Uint8Array,
    offset: number,
    length: number,
    port: number,
    host: string,
    callback?: (error: Error | null) => void,
  ): void {
    this.#out(buffer.subarray(offset, offset + length), port, host);
    callback?.(null);
  }

  address(): AddressInfo {
    return this.#address();
  }

  bind(...args: unknown[]): void {
    const callback = args.find((arg): arg is () => void => typeof arg === 'function');
    process.nextTick(() => {
      this.emit('listening');
      callback?.();
    });
  }

  close(): void {
    process.nextTick(() => this.emit('close'));
  }
}
