/**
 * A TCP relay on 127.0.0.1 that paces what a target sends back (the upload of a good seeder) to a
 * fixed rate: it makes a download last long enough for tork's time-based rules (snubbing, idle
 * peers, flood detection) to act while a hostile peer is connected. Bytes towards the target pass
 * unchanged; the target is paused while more than a little is queued, so memory stays small.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

export interface ThrottleProxy {
  /** `127.0.0.1:port` to dial instead of the target. */
  readonly address: string;
  close(): Promise<void>;
}

const TICK_MS = 50;
const HIGH_WATER = 256 * 1024;

export async function startThrottleProxy(
  targetHost: string,
  targetPort: number,
  bytesPerSecond: number,
): Promise<ThrottleProxy> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const target = connect({ host: targetHost, port: targetPort });
    sockets.add(client);
    sockets.add(target);
    const queue: Buffer[] = [];
    let queued = 0;
    const perTick = Math.max(1, Math.floor((bytesPerSecond * TICK_MS) / 1000));
    const timer = setInterval(() => {
      let budget = perTick;
      while (budget > 0 && queue.length > 0) {
        const head = queue[0]!;
        const part = head.length <= budget ? head : head.subarray(0, budget);
        if (part === head) queue.shift();
        else queue[0] = head.subarray(budget);
        budget -= part.length;
        queued -= part.length;
        client.write(part);
      }
      if (queued < HIGH_WATER / 4 && target.isPaused()) target.resume();
    }, TICK_MS);
    const end = (): void => {
      clearInterval(timer);
      client.destroy();
      target.destroy();
      sockets.delete(client);
      sockets.delete(target);
    };
    target.on('data', (chunk: Buffer) => {
      queue.push(chunk);
      queued += chunk.length;
      if (queued > HIGH_WATER) target.pause();
    });
    client.on('data', (chunk: Buffer) => target.write(chunk));
    for (const socket of [client, target]) {
      socket.on('error', end);
      socket.on('close', end);
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    address: `127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
