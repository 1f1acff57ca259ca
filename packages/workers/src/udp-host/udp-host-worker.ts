/**
 * Entry of the UDP host thread (compiled to `udp-host-worker.js`, started by `DhtService`). A plain
 * worker thread, not piscina: it is long-lived and owns a socket. It talks to the coordinator over
 * `parentPort` only, in core's `UdpHost*` messages.
 */
import { type MessagePort, parentPort, workerData } from 'node:worker_threads';
import { TorkErrorCode, toTorkError } from '@tork/core/internal/errors.js';
import type { UdpHostEvent } from '@tork/core/internal/messages/udp-host.js';
import { parseUdpHostCommand, parseUdpHostWorkerData } from '@tork/core/internal/messages/validate.js';
import { UdpHost } from './udp-host.js';

if (parentPort === null) throw new Error('udp-host-worker.js must run as a worker thread');
const port = parentPort;
const post = (event: UdpHostEvent, transfer?: MessagePort[]): void =>
  transfer ? port.postMessage(event, transfer) : port.postMessage(event);

// Thread boundary: workerData was cloned from the coordinator; checked before the socket is bound.
const data = parseUdpHostWorkerData(workerData);
const host = await UdpHost.open(data, post).catch((error: unknown) => {
  // Nothing else keeps this thread alive: it ends once the report is out.
  post({ type: 'failed', error: toTorkError(error, TorkErrorCode.DHT).toPlain() });
  port.close();
  return undefined;
});

if (host) {
  post({ type: 'listening', port: host.port, nodeId: host.nodeId });
  // Thread boundary: every command is parsed on arrival; a malformed one is reported and ignored.
  port.on('message', (raw: unknown) => {
    let command: ReturnType<typeof parseUdpHostCommand>;
    try {
      command = parseUdpHostCommand(raw);
    } catch (error) {
      post({ type: 'error', error: toTorkError(error, TorkErrorCode.THREAD_MESSAGE).toPlain() });
      return;
    }
    host.command(command);
  });
}
