import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { encodeBencode } from '../bencode/index.js';
import type { TorkError } from '../errors.js';
import type { PeerAddress } from '../tracker/types.js';
import { Announcer } from './announcer.js';

interface Seen {
  event: string | null;
  left: string | null;
}

describe('Announcer', () => {
  let server: Server;
  let url: string;
  const seen: Seen[] = [];
  let failNext = 0;

  before(async () => {
    server = createServer((req, res) => {
      const query = new URL(req.url ?? '/', 'http://x').searchParams;
      seen.push({ event: query.get('event'), left: query.get('left') });
      if (failNext > 0) {
        failNext--;
        res.writeHead(500).end('down');
        return;
      }
      // One peer, re-announce after 1 s.
      const peers = Buffer.from([127, 0, 0, 1, 0x1a, 0xe1]);
      res.end(Buffer.from(encodeBencode({ interval: 1, peers })));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/announce`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('announces started, re-announces at the interval, then completed and stopped', async () => {
    seen.length = 0;
    const peers: PeerAddress[][] = [];
    let left = 1000;
    const announcer = new Announcer({
      tiers: [[url]],
      infoHash: new Uint8Array(20).fill(1),
      peerId: new Uint8Array(20).fill(2),
      port: 6881,
      totals: () => ({ uploaded: 0, downloaded: 1000 - left, left }),
      onPeers: (list) => peers.push([...list]),
      onError: (error) => assert.fail(error.message),
      minIntervalSeconds: 0,
    });
    announcer.start();
    const deadline = Date.now() + 10_000;
    while (seen.length < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    left = 0;
    announcer.completed();
    while (!seen.some((s) => s.event === 'completed') && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await announcer.stop();
    assert.equal(seen[0]?.event, 'started');
    assert.equal(seen[0]?.left, '1000');
    assert.equal(seen[1]?.event, null, 'the regular re-announce carries no event');
    assert.ok(seen.some((s) => s.event === 'completed' && s.left === '0'));
    assert.equal(seen.at(-1)?.event, 'stopped');
    assert.deepEqual(peers[0], [{ host: '127.0.0.1', port: 6881 }]);
  });

  it('reports a failing tracker and retries with backoff', async () => {
    seen.length = 0;
    failNext = 1;
    const errors: TorkError[] = [];
    const announcer = new Announcer({
      tiers: [[url]],
      infoHash: new Uint8Array(20).fill(1),
      peerId: new Uint8Array(20).fill(2),
      port: 6881,
      totals: () => ({ uploaded: 0, downloaded: 0, left: 10 }),
      onPeers: () => {},
      onError: (error) => errors.push(error),
      retryMs: 50,
      minIntervalSeconds: 60,
    });
    announcer.start();
    const deadline = Date.now() + 10_000;
    while (seen.length < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    await announcer.stop();
    assert.equal(errors.length, 1);
    assert.match(errors[0]!.message, /retrying in/);
    assert.equal(errors[0]!.code, 'TORK_ERR_TRACKER_ALL_FAILED');
    assert.equal(seen[0]?.event, 'started');
    assert.equal(seen[1]?.event, 'started', 'started is sent again until a tracker has heard it');
  });

  it('doubles its retry delay after each failure, up to maxRetryMs', async () => {
    seen.length = 0;
    failNext = 5;
    const errors: TorkError[] = [];
    const announcer = new Announcer({
      tiers: [[url]],
      infoHash: new Uint8Array(20).fill(1),
      peerId: new Uint8Array(20).fill(2),
      port: 6881,
      totals: () => ({ uploaded: 0, downloaded: 0, left: 10 }),
      onPeers: () => {},
      onError: (error) => errors.push(error),
      retryMs: 20,
      maxRetryMs: 80,
      minIntervalSeconds: 60,
    });
    announcer.start();
    const deadline = Date.now() + 10_000;
    while (errors.length < 5 && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 10));
    await announcer.stop();
    assert.deepEqual(
      errors.map((error) => error.details.retryMs),
      [20, 40, 80, 80, 80],
    );
  });
});

describe('Announcer: a hybrid (BEP 52)', () => {
  /** The raw `info_hash` of an announce URL, percent-decoded to bytes, as hex. */
  function infoHashOf(url: string): string {
    const raw = /[?&]info_hash=([^&]*)/.exec(url)?.[1] ?? '';
    const bytes: number[] = [];
    for (let i = 0; i < raw.length; i++) {
      if (raw[i] === '%') {
        bytes.push(Number.parseInt(raw.slice(i + 1, i + 3), 16));
        i += 2;
      } else bytes.push(raw.charCodeAt(i));
    }
    return Buffer.from(bytes).toString('hex');
  }

  it('announces every event under both hashes; peers from either answer go to onPeers', async () => {
    const seen: { hash: string; event: string | null }[] = [];
    const server = createServer((req, res) => {
      const hash = infoHashOf(req.url ?? '');
      seen.push({ hash, event: new URL(req.url ?? '/', 'http://x').searchParams.get('event') });
      // A different peer per hash, to see both answers arrive.
      const last = hash.startsWith('01') ? 1 : 2;
      res.end(
        Buffer.from(encodeBencode({ interval: 60, peers: Buffer.from([127, 0, 0, last, 0x1a, 0xe1]) })),
      );
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/announce`;
      const peers = new Set<string>();
      const announcer = new Announcer({
        tiers: [[url]],
        infoHash: new Uint8Array(20).fill(1),
        alsoInfoHash: new Uint8Array(20).fill(2),
        peerId: new Uint8Array(20).fill(3),
        port: 6881,
        totals: () => ({ uploaded: 0, downloaded: 0, left: 0 }),
        onPeers: (list) => {
          for (const peer of list) peers.add(peer.host);
        },
        onError: (error) => assert.fail(error.message),
      });
      announcer.start();
      const deadline = Date.now() + 10_000;
      while (peers.size < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
      assert.deepEqual([...peers].sort(), ['127.0.0.1', '127.0.0.2']);
      announcer.completed();
      while (seen.filter((s) => s.event === 'completed').length < 2 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      await announcer.stop();
      const one = '01'.repeat(20);
      const two = '02'.repeat(20);
      for (const event of ['started', 'completed', 'stopped']) {
        assert.deepEqual(
          seen
            .filter((s) => s.event === event)
            .map((s) => s.hash)
            .sort(),
          [one, two],
          `${event} under both hashes`,
        );
      }
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
