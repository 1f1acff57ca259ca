/** The UDP host's thread messages: what each side accepts on arrival. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TorkError, TorkErrorCode } from '../errors.js';
import { parseUdpHostCommand, parseUdpHostEvent, parseUdpHostWorkerData } from './validate.js';

const hash = 'ab'.repeat(20);
const isThreadMessage = (error: unknown) =>
  error instanceof TorkError && error.code === TorkErrorCode.THREAD_MESSAGE;

describe('UDP host messages', () => {
  it('accepts well-formed commands and refuses the rest', () => {
    assert.equal(parseUdpHostCommand({ type: 'announce', torrentId: hash, port: 6881 }).type, 'announce');
    assert.equal(parseUdpHostCommand({ type: 'close' }).type, 'close');
    assert.throws(() => parseUdpHostCommand({ type: 'announce', torrentId: hash, port: 0 }), isThreadMessage);
    assert.throws(() => parseUdpHostCommand({ type: 'lookup', torrentId: 'AB'.repeat(20) }), isThreadMessage);
    assert.throws(() => parseUdpHostCommand({ type: 'explode' }), isThreadMessage);
  });

  it('caps the peers of one event and the contacts of the saved table', () => {
    const peers = Array.from({ length: 1001 }, (_, i) => ({ host: '10.0.0.1', port: 1 + i }));
    assert.throws(() => parseUdpHostEvent({ type: 'peers', torrentId: hash, peers }), isThreadMessage);
    assert.equal(
      parseUdpHostEvent({ type: 'peers', torrentId: hash, peers: peers.slice(0, 1000) }).type,
      'peers',
    );
    const nodes = Array.from({ length: 513 }, () => ({ id: hash, host: '10.0.0.1', port: 1 }));
    assert.throws(() => parseUdpHostEvent({ type: 'closed', nodeId: hash, nodes }), isThreadMessage);
    assert.throws(() => parseUdpHostEvent({ type: 'failed', error: { message: 'x' } }), isThreadMessage);
  });

  it('checks workerData: IPv4 contacts, at most 32 bootstrap addresses, bounded settings', () => {
    const data = {
      host: '127.0.0.1',
      port: 0,
      peerPort: 6881,
      nodeId: hash,
      nodes: [],
      bootstrap: [],
      settings: {},
    };
    assert.equal(parseUdpHostWorkerData(data).peerPort, 6881);
    const bootstrap = Array.from({ length: 33 }, () => ({ host: 'router.example', port: 6881 }));
    assert.throws(() => parseUdpHostWorkerData({ ...data, bootstrap }), isThreadMessage);
    assert.throws(
      () => parseUdpHostWorkerData({ ...data, nodes: [{ id: hash, host: '::1', port: 1 }] }),
      isThreadMessage,
    );
    assert.throws(
      () => parseUdpHostWorkerData({ ...data, settings: { maxValuesPerReply: 0 } }),
      isThreadMessage,
    );
  });
});
