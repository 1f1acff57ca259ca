/**
 * Test fixture (not a test, not part of the package's API): a peer host in a real worker thread,
 * attached over comlink with a data port, as `ThreadActorSystem` starts one.
 */
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
): Promise<{ worker: Worker; api: Comlink.Remote<PeerHostApi>; port: MessagePort }> {
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
  return { worker, api, port };
}
