/**
 * Test fixture (not shipped behaviour): a worker that parses every batch it receives with the
 * same compiled schemas the real threads use and posts it back, re-transferring piece buffers.
 * It proves the message contract survives a real thread boundary (structured clone + transfer).
 */
import { parentPort } from 'node:worker_threads';
import { parseHostCommandBatch, parseHostEventBatch, TorkErrorCode, toTorkError } from '@tork/core';

if (parentPort === null) throw new Error('echo-worker.js must run as a worker thread');
const port = parentPort;

port.on('message', (value: unknown) => {
  try {
    if (value !== null && typeof value === 'object' && 'events' in value) {
      const batch = parseHostEventBatch(value);
      const transfer: ArrayBuffer[] = [];
      for (const event of batch.events) if (event.type === 'piece') transfer.push(event.data);
      port.postMessage({ ok: true, batch }, transfer);
    } else {
      port.postMessage({ ok: true, batch: parseHostCommandBatch(value) });
    }
  } catch (error) {
    port.postMessage({ ok: false, error: toTorkError(error, TorkErrorCode.THREAD_MESSAGE).toPlain() });
  }
});
