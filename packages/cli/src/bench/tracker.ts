import { createServer, type Server } from 'node:http';
import { encodeBencode } from '@tork/core';

/**
 * The bench's own HTTP tracker on 127.0.0.1: every announce, from any client, gets the same
 * compact list of the seeders' ports. It is how aria2c (which takes no peers by hand), libtorrent
 * and tork all find the same swarm the same way.
 */
export interface BenchTracker {
  readonly url: string;
  /** Replaces the peer list handed out from now on. */
  setPorts(ports: readonly number[]): void;
  readonly announces: number;
  close(): Promise<void>;
}

export async function startTracker(host = '127.0.0.1'): Promise<BenchTracker> {
  let peers = Buffer.alloc(0);
  let count = 0;
  let announces = 0;
  const address = host.split('.').map(Number);
  const server: Server = createServer((request, response) => {
    announces++;
    const body = request.url?.startsWith('/announce')
      ? encodeBencode({ interval: 1800, 'min interval': 1800, complete: count, incomplete: 0, peers })
      : encodeBencode({ 'failure reason': 'announce only' });
    response.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length });
    response.end(Buffer.from(body));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, resolve);
  });
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://${host}:${port}/announce`,
    setPorts(ports) {
      count = ports.length;
      peers = Buffer.alloc(6 * ports.length);
      ports.forEach((p, i) => {
        peers.set(address, i * 6);
        peers.writeUInt16BE(p, i * 6 + 4);
      });
    },
    get announces() {
      return announces;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
