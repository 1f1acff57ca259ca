/**
 * The parts of `bittorrent-dht` 11.0.12 (no types of its own) that the UDP host uses. The version
 * is pinned exactly: `BoundedDht` in dht-node.ts overrides `announce` and reads `_tables`, `_rpc`,
 * `_peers` and `_secrets`, which are internal to this version.
 */
declare module 'bittorrent-dht' {
  import { EventEmitter } from 'node:events';

  export interface DhtLibContact {
    id: Buffer;
    host: string;
    port: number;
    token?: Buffer | null;
  }

  export interface DhtLibBucket {
    toArray(): DhtLibContact[];
    count(): number;
    closest(id: Buffer, n?: number): DhtLibContact[];
  }

  export interface DhtLibRpc {
    id: Buffer;
    k: number;
    queryAll(
      nodes: DhtLibContact[],
      message: { q: string; a: Record<string, unknown> },
      visit: null,
      cb: (error: Error | null, hits: number) => void,
    ): void;
  }

  export default class DHT extends EventEmitter {
    constructor(options?: Record<string, unknown>);
    readonly nodeId: Buffer;
    readonly nodes: DhtLibBucket;
    listening: boolean;
    destroyed: boolean;
    _rpc: DhtLibRpc;
    _tables: { get(key: string): DhtLibBucket | undefined };
    _peers: { readonly size: number };
    _secrets: Buffer[] | null;
    _preannounce(infoHash: Buffer, port: number, cb: (error: Error | null, hits?: number) => void): void;
    listen(...args: unknown[]): void;
    addNode(node: { id?: Buffer; host: string; port: number }): void;
    lookup(infoHash: Buffer, cb?: (error: Error | null, nodes?: number) => void): () => void;
    announce(infoHash: Buffer, port: number, cb?: (error: Error | null, hits?: number) => void): void;
    destroy(cb?: () => void): void;
  }
}
