import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PeerView, TorrentProgress } from '@tork/core';
import { fit, linkLabel, peerTable, statusLine } from './render.js';

const MiB = 1024 * 1024;

function progress(over: Partial<TorrentProgress> = {}): TorrentProgress {
  return {
    infoHash: 'ab'.repeat(20),
    name: 'set',
    state: 'downloading',
    length: 256 * MiB,
    pieceCount: 1024,
    verifiedPieces: 512,
    verifiedBytes: 128 * MiB,
    writtenBytes: 128 * MiB,
    downloadedBytes: 128 * MiB,
    wastedBytes: 0,
    hashFailures: 0,
    duplicatePieces: 0,
    downloadRate: 10 * MiB,
    uploadedBytes: 0,
    uploadRate: 0,
    resumedBytes: 0,
    selectedBytes: 0,
    skippedBytes: 0,
    wantedBytes: 256 * MiB,
    etaSeconds: 12.8,
    peers: {
      connected: 3,
      seeds: 1,
      leechers: 2,
      connecting: 0,
      stalled: 0,
      downloadedBySource: {},
      sources: { tracker: 2, dht: 1 },
      known: 3,
      banned: 0,
    },
    bytesInFlight: 0,
    elapsedMs: 12_000,
    ...over,
  };
}

describe('statusLine', () => {
  it('while seeding shows the upload rate, the uploaded total, the ratio and the leechers', () => {
    const line = statusLine(
      progress({
        state: 'seeding',
        verifiedBytes: 256 * MiB,
        uploadedBytes: 384 * MiB,
        uploadRate: 20 * MiB,
        peers: {
          connected: 2,
          seeds: 0,
          leechers: 2,
          connecting: 0,
          stalled: 1,
          downloadedBySource: {},
          sources: { incoming: 2 },
          known: 2,
          banned: 0,
        },
      }),
    );
    assert.match(line, /↑ 20\.0 MiB\/s/);
    assert.match(line, /uploaded 384 MiB/);
    assert.match(line, /ratio 1\.50/);
    assert.match(line, /2 leechers/);
    assert.match(line, /1 stalled/, 'a stalled peer is visible');
    assert.doesNotMatch(line, /ETA/);
  });

  it('while downloading keeps percent, rate and ETA', () => {
    const line = statusLine(progress());
    assert.match(line, /50\.0%/);
    assert.match(line, /↓ 10\.0 MiB\/s/);
    assert.match(line, /ETA 0:13/);
    assert.match(line, /tracker 2, dht 1/, 'where peers come from');
    assert.doesNotMatch(line, /stalled/);
  });
});

describe('the per-peer view', () => {
  it('cuts a client name at a word, never mid-word', () => {
    assert.equal(fit('libtorrent (Rasterbar) 2.0.8', 26), 'libtorrent (Rasterbar)…');
    assert.equal(fit('short', 26), 'short');
    const peer: PeerView = {
      actorId: 1,
      address: '127.0.0.4:6881',
      client: 'libtorrent (Rasterbar) 2.0.8',
      seed: false,
      downloaded: 0,
      downloadRate: 0,
      queueDepth: 0,
      targetQueueDepth: 4,
      peerChoking: true,
      snubbed: false,
      assigned: 0,
      agent: null,
      uploaded: 5 * MiB,
      uploadRate: MiB,
      amChoking: false,
      requestsQueued: 1200,
      requestsRefused: 7,
      stalled: 'upload',
      source: 'pex',
      encryption: 'rc4',
      transport: 'tcp',
    };
    const [, row] = peerTable([peer]);
    assert.match(row!, /libtorrent \(Rasterbar\)…/);
    assert.match(row!, /1200/);
    assert.match(row!, /stalled \(upload\)/);
    assert.match(row!, /7 refused/);
    assert.match(row!, / pex /);
    assert.match(row!, / tcp\/rc4 /, 'transport and encryption');
    const [, webSeed] = peerTable([{ ...peer, address: 'https://mirror.example/pub/', source: 'webseed' }]);
    assert.match(webSeed!, /^mirror\.example\/pub\/ +webseed +https /);
    assert.equal(linkLabel({ transport: 'tcp', encryption: 'none' }), 'tcp');
    assert.equal(linkLabel({ transport: 'utp', encryption: 'plaintext' }), 'utp/mse');
  });
});
