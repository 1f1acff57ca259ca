/**
 * Test fixture (not shipped behaviour): a peer host that misbehaves. Mode `malformed`: on attach
 * it posts a malformed event batch (which the coordinator side must drop, not act on) followed by
 * a well-formed one, so a test can tell "dropped" from "never arrived". Mode `crash`: the thread
 * exits on the first command batch, as a host that hit a fatal bug would.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { nodeEndpoint, type PeerHostApi } from '@tork/workers';
import * as Comlink from 'comlink';

if (parentPort === null) throw new Error('rogue-host-worker.js must run as a worker thread');

const api: PeerHostApi = {
  attach(dataPort) {
    if ((workerData as { options?: { mode?: string } } | undefined)?.options?.mode === 'crash') {
      dataPort.on('message', () => process.exit(3));
      return;
    }
    dataPort.postMessage({ events: [{ type: 'piece', actorId: 1, index: 0, data: 'not an ArrayBuffer' }] });
    dataPort.postMessage({ events: [{ type: 'choke', actorId: 1, choked: true }] });
    dataPort.on('message', () => {});
  },
  stats: () => ({
    actors: 0,
    torrents: 0,
    bytesReceived: 0,
    bytesSent: 0,
    eventLoopLagMs: 0,
    eventLoopLagMaxMs: 0,
    rejectedBatches: 0,
    lastRejection: null,
    bufferPoolBytes: 0,
    buffersReused: 0,
    buffersAllocated: 0,
  }),
  shutdown() {},
};

Comlink.expose(api, nodeEndpoint(parentPort));
