import { networkInterfaces } from 'node:os';

/** Addresses reported to us by other nodes (BEP 42 `ip`) that are remembered as ours. */
export const MAX_EXTERNAL_ADDRESSES = 4;

/**
 * Who we are on the network, so that the DHT never hands us our own address as a peer or a node:
 * our TCP port (peers) and UDP port (nodes) at the address we bound — any local address when bound
 * to the wildcard — or at an address other nodes say they see us at (BEP 42, the last few).
 */
export class OwnAddress {
  readonly #bindHost: string;
  readonly #wildcard: boolean;
  readonly #external: string[] = [];
  #local: Set<string> | undefined;
  peerPort: number;
  nodePort: number;

  constructor(bindHost: string, peerPort: number, nodePort = 0) {
    this.#bindHost = bindHost;
    this.#wildcard = bindHost === '0.0.0.0' || bindHost === '::' || bindHost === '';
    this.peerPort = peerPort;
    this.nodePort = nodePort;
  }

  isOwnHost(host: string): boolean {
    if (this.#external.includes(host)) return true;
    if (!this.#wildcard) return host === this.#bindHost;
    if (host.startsWith('127.') || host === '0.0.0.0') return true;
    this.#local ??= new Set(
      Object.values(networkInterfaces())
        .flat()
        .map((info) => info?.address)
        .filter((address): address is string => address !== undefined),
    );
    return this.#local.has(host);
  }

  isOwnPeer(host: string, port: number): boolean {
    return port === this.peerPort && this.isOwnHost(host);
  }

  isOwnNode(host: string, port: number): boolean {
    return port === this.nodePort && this.isOwnHost(host);
  }

  /** A node said it sees us at `host` (BEP 42 `ip`). */
  noteExternal(host: string): void {
    if (this.#external.includes(host)) return;
    this.#external.push(host);
    if (this.#external.length > MAX_EXTERNAL_ADDRESSES) this.#external.shift();
  }
}
