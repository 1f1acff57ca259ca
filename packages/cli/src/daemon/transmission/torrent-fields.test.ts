import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PeerView } from '@tork/core';
import {
  flagString,
  priorityNumber,
  splitAddress,
  TransmissionStatus,
  transmissionStatus,
} from './torrent-fields.js';

const peer = (over: Partial<PeerView>): PeerView => ({
  actorId: 1,
  address: '127.0.0.1:6881',
  client: 'libtorrent 2.0',
  seed: false,
  downloaded: 0,
  downloadRate: 0,
  queueDepth: 0,
  targetQueueDepth: 0,
  peerChoking: true,
  snubbed: false,
  assigned: 0,
  agent: null,
  uploaded: 0,
  uploadRate: 0,
  amChoking: true,
  requestsQueued: 0,
  requestsRefused: 0,
  stalled: null,
  encryption: 'none',
  transport: 'tcp',
  source: 'manual',
  ...over,
});

describe('Transmission field mapping', () => {
  it('maps tork states to Transmission status numbers', () => {
    assert.equal(transmissionStatus('paused'), TransmissionStatus.STOPPED);
    assert.equal(transmissionStatus('failed'), TransmissionStatus.STOPPED);
    assert.equal(transmissionStatus('stopped'), TransmissionStatus.STOPPED);
    assert.equal(transmissionStatus('starting'), TransmissionStatus.CHECK);
    assert.equal(transmissionStatus('metadata'), TransmissionStatus.DOWNLOAD);
    assert.equal(transmissionStatus('downloading'), TransmissionStatus.DOWNLOAD);
    assert.equal(transmissionStatus('seeding'), TransmissionStatus.SEED);
    assert.equal(transmissionStatus('done'), TransmissionStatus.SEED);
    assert.equal(transmissionStatus('something new'), TransmissionStatus.STOPPED);
  });

  it('maps priorities', () => {
    assert.deepEqual((['low', 'normal', 'high', 'skip'] as const).map(priorityNumber), [-1, 0, 1, 0]);
  });

  it('splits addresses, IPv6 in brackets', () => {
    assert.deepEqual(splitAddress('127.0.0.1:6881'), { address: '127.0.0.1', port: 6881 });
    assert.deepEqual(splitAddress('[::1]:51413'), { address: '::1', port: 51413 });
    assert.deepEqual(splitAddress('weird'), { address: 'weird', port: 0 });
  });

  it('writes peer flags as Transmission does', () => {
    assert.equal(flagString(peer({}), true), 'd');
    assert.equal(flagString(peer({}), false), '', 'choked, but we want nothing');
    assert.equal(flagString(peer({ peerChoking: false, downloadRate: 10 }), true), 'D');
    const busy = peer({
      peerChoking: false,
      downloadRate: 10,
      amChoking: false,
      uploadRate: 5,
      encryption: 'rc4',
    });
    assert.equal(flagString(busy, true), 'DUE');
    assert.equal(flagString(peer({ requestsQueued: 2, transport: 'utp', source: 'incoming' }), true), 'duTI');
    assert.equal(flagString(peer({ source: 'dht' }), false), 'H');
    assert.equal(flagString(peer({ source: 'pex' }), false), 'X');
  });
});
