import { Engine, type RateLimits } from '@tork/core';
import {
  HashPool,
  hasReusePort,
  Listener,
  ThreadActorSystem,
  UdpHostThread,
  UtpService,
} from '@tork/workers';
import { type DhtConfig, openDht } from '../commands/dht-options.js';
import type { CliIo } from '../io.js';

/** What the daemon's one engine is built with. */
export interface EngineStackOptions {
  /** Peer port (TCP, and UDP for uTP and the DHT); 0 picks a free one. */
  readonly port: number;
  /** Address the peer port binds. */
  readonly host: string;
  /** Worker threads for peers, and hashing threads. */
  readonly workers: number;
  /** The DHT node all public torrents share; undefined: none. */
  readonly dht: DhtConfig | undefined;
  /** Caps on all torrents together at start. */
  readonly rateLimits: RateLimits;
}

/**
 * One engine with its listener, worker threads, hash pool, UDP host (uTP, DHT): the same building
 * blocks `tork download` wires for one torrent, wired once for every torrent of the daemon.
 */
export interface EngineStack {
  readonly engine: Engine;
  readonly listener: Listener;
  readonly actors: ThreadActorSystem;
  /** The UDP host thread (uTP, the DHT): its counters feed `/metrics`. */
  readonly udp: UdpHostThread;
  close(): Promise<void>;
}

export async function openEngineStack(options: EngineStackOptions, io: CliIo): Promise<EngineStack> {
  let engine: Engine | undefined;
  // Node >= 22.12: the peer hosts accept on the port themselves (see `tork download`).
  const hostAccept = hasReusePort() && process.env.TORK_HOST_ACCEPT !== '0';
  const listener = await Listener.listen({
    port: options.port,
    host: options.host,
    reusePort: hostAccept,
    // uTP and the DHT bind the same number for UDP: with port 0, one free for both.
    udpTwin: true,
    onPeer: (peer) => engine?.acceptIncoming(peer) ?? false,
    findMseTorrent: (key) => engine?.torrentForMseKey(key),
  });
  const actors = await ThreadActorSystem.start({ workers: options.workers });
  const hasher = new HashPool({ threads: options.workers });
  const udpThread = new UdpHostThread({ host: options.host, port: listener.port });
  const utp = new UtpService({
    thread: udpThread,
    onPeer: (peer) => engine?.acceptIncoming(peer) ?? false,
    findMseTorrent: (key) => engine?.torrentForMseKey(key),
  });
  const dht = openDht(
    options.dht,
    { host: options.host, port: listener.port, thread: udpThread },
    io,
    'quiet',
  );
  udpThread.listen({ error: () => {} });
  await utp.start();
  if (udpThread.state === 'running') actors.useUtp(utp.dial);
  engine = new Engine({
    actors,
    port: listener.port,
    hasher,
    discovery: dht ? [dht] : [],
    rateLimits: options.rateLimits,
  });
  const built = engine;
  if (hostAccept) {
    try {
      await actors.listen({ port: listener.port, host: options.host, encryption: 'prefer' }, (peer) =>
        built.acceptIncoming(peer),
      );
      listener.stopAccepting();
    } catch (error) {
      // The coordinator's Listener still accepts (and relays): slower, not broken.
      io.stderr(`tork daemon: peer hosts cannot listen: ${(error as Error).message}\n`);
    }
  }
  return {
    engine: built,
    listener,
    actors,
    udp: udpThread,
    async close() {
      await listener.close();
      utp.close();
      await built.close();
      await dht?.close();
      await udpThread.close();
      await hasher.close();
    },
  };
}
