/**
 * Test fixture (not shipped behaviour): a peer host that misbehaves. One entry file per mode
 * (`rogue-host/<mode>.js`: `workerData` is checked by the real system, and a worker URL's query is
 * dropped, so neither can carry the mode):
 * - `malformed`: on attach it posts a malformed event batch (which the coordinator side must drop,
 *   not act on) followed by a well-formed one, so a test can tell "dropped" from "never arrived";
 * - `mixed`: one batch with a verified piece, a malformed event and a choke: the good two must
 *   arrive;
 * - `crash`: the thread exits on the first command batch, as a host that hit a fatal bug would;
 * - `bad-stats`: `stats` answers with negative counters;
 * - `bad-report`: on attach it reports an error that is not a TorkError's plain form;
 * - `saturated` / `idle`: well-behaved, its `stats` say its event loop was busy 95 % / 10 % of the
 *   time (for the on-demand start of more hosts).
 */
import { parentPort } from 'node:worker_threads';
import type { HostStats } from '@tork/core';
import { nodeEndpoint, type PeerHostApi } from '@tork/workers';
import * as Comlink from 'comlink';

export type RogueMode = 'malformed' | 'mixed' | 'crash' | 'bad-stats' | 'bad-report' | 'saturated' | 'idle';

const goodStats: HostStats = {
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
};

export function runRogueHost(mode: RogueMode): void {
  if (parentPort === null) throw new Error('a rogue host must run as a worker thread');
  const api: PeerHostApi = {
    async listen() {},
    attach(dataPort, report) {
      switch (mode) {
        case 'crash':
          dataPort.on('message', () => process.exit(3));
          return;
        case 'mixed': {
          const data = new ArrayBuffer(16);
          dataPort.postMessage(
            {
              events: [
                { type: 'piece', actorId: 1, index: 0, data },
                { type: 'have', actorId: 1, pieces: [-5] },
                { type: 'choke', actorId: 1, choked: true },
              ],
            },
            [data],
          );
          break;
        }
        case 'bad-report':
          void report?.({ code: 'EIO', message: 42, details: [] } as never);
          break;
        case 'saturated':
        case 'idle':
          break;
        default:
          dataPort.postMessage({
            events: [{ type: 'piece', actorId: 1, index: 0, data: 'not an ArrayBuffer' }],
          });
          dataPort.postMessage({ events: [{ type: 'choke', actorId: 1, choked: true }] });
      }
      dataPort.on('message', () => {});
    },
    stats: () =>
      mode === 'bad-stats'
        ? { ...goodStats, actors: -1 }
        : mode === 'saturated'
          ? { ...goodStats, eventLoopUtilization: 0.95 }
          : mode === 'idle'
            ? { ...goodStats, eventLoopUtilization: 0.1 }
            : goodStats,
    shutdown() {},
  };

  Comlink.expose(api, nodeEndpoint(parentPort));
}
