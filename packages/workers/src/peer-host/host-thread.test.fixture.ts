/**
 * Test fixture (not a test, not part of the package's API): a peer host in a real worker thread,
 * attached over comlink with a data port, as `ThreadActorSystem` starts one.
 */
import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import { MessageChannel, type MessagePort, Worker } from 'node:worker_threads';
import type { HostEvent, PeerHostWorkerData, PlainTorkError } from '@tork/core';
import { parseHostEventBatch } from '@tork/core';
import * as Comlink from 'comlink';
import { nodeEndpoint } from '../shared/comlink-node-adapter.js';
import type { PeerHostApi } from './peer-host-api.js';

/** A peer host in a worker thread, attached: its events and error reports go to the callbacks. */
export async function startHostThread(
  options: PeerHostWorkerData['options'],
  onEvents: (events: HostEvent[]) => void,
  onReport: (error: PlainTorkError) => void,
): Promise<HostThread> {
  const workerData: PeerHostWorkerData = { index: 0, options };
  const worker = new Worker(new URL('./peer-host-worker.js', import.meta.url), { workerData });
  const api = Comlink.wrap<PeerHostApi>(nodeEndpoint(worker));
  const channel = new MessageChannel();
  const port = channel.port1;
  port.on('message', (value: unknown) => onEvents(parseHostEventBatch(value).events));
  await api.attach(
    Comlink.transfer(channel.port2, [channel.port2]) as unknown as MessagePort,
    Comlink.proxy((error: PlainTorkError) => {
      onReport(error);
    }) as unknown as (error: PlainTorkError) => void,
  );
  const stop = async () => {
    await api.shutdown();
    port.close();
    await worker.terminate();
  };
  return { worker, api, port, stop };
}

export interface HostThread {
  readonly worker: Worker;
  readonly api: Comlink.Remote<PeerHostApi>;
  readonly port: MessagePort;
  /** Shuts the host down, closes the data port and ends the thread. */
  stop(): Promise<void>;
}

/**
 * A TCP server on 127.0.0.1 that accepts and says nothing: the host's actors dial it and wait in
 * their handshake. `close` drops what it accepted.
 */
export async function silentPeer(): Promise<{
  server: Server;
  port: number;
  accepted: Socket[];
  close(): void;
}> {
  const accepted: Socket[] = [];
  const server = createServer((socket) => accepted.push(socket));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  return {
    server,
    port,
    accepted,
    close: () => {
      for (const socket of accepted) socket.destroy();
      server.close();
    },
  };
}
