import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { after, describe, it } from 'node:test';
import { TorkError, TorkErrorCode } from '../errors.js';
import type { AnnounceRequest } from './types.js';
import { UdpTrackerClient, type UdpTrackerClientOptions } from './udp-client.js';
import {
  decodeUdpRequest,
  encodeAnnounceResponse,
  encodeConnectResponse,
  encodeErrorResponse,
  encodeScrapeResponse,
  type UdpRequest,
} from './udp-codec.js';

type Reply = (bytes: Uint8Array) => void;
type Handler = (request: UdpRequest, reply: Reply, tracker: FakeUdpTracker, from: dgram.RemoteInfo) => void;

/** A scriptable BEP 15 tracker on loopback. Records every request it receives. */
class FakeUdpTracker {
  readonly requests: UdpRequest[] = [];
  private constructor(
    readonly socket: dgram.Socket,
    readonly host: string,
  ) {}

  static async start(handler: Handler, host = '127.0.0.1'): Promise<FakeUdpTracker> {
    const socket = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
    const tracker = new FakeUdpTracker(socket, host);
    socket.on('message', (message, rinfo) => {
      const request = decodeUdpRequest(new Uint8Array(message));
      tracker.requests.push(request);
      handler(request, (bytes) => socket.send(bytes, rinfo.port, rinfo.address), tracker, rinfo);
    });
    await new Promise<void>((resolve) => socket.bind(0, host, resolve));
    openTrackers.add(tracker);
    return tracker;
  }

  get port(): number {
    return this.socket.address().port;
  }

  get url(): string {
    return `udp://${this.host.includes(':') ? `[${this.host}]` : this.host}:${this.port}/announce`;
  }

  count(action: UdpRequest['action']): number {
    return this.requests.filter((request) => request.action === action).length;
  }

  close(): void {
    if (openTrackers.delete(this)) this.socket.close();
  }
}

const openTrackers = new Set<FakeUdpTracker>();
const openClients = new Set<UdpTrackerClient>();
after(() => {
  for (const tracker of openTrackers) tracker.close();
  for (const client of openClients) client.close();
});

function client(url: string, options: UdpTrackerClientOptions = {}): UdpTrackerClient {
  const created = new UdpTrackerClient(url, { baseTimeoutMs: 50, maxRetransmissions: 2, ...options });
  openClients.add(created);
  return created;
}

const request: AnnounceRequest = {
  infoHash: new Uint8Array(20).fill(1),
  peerId: new Uint8Array(20).fill(2),
  port: 6881,
  uploaded: 0,
  downloaded: 0,
  left: 100,
  event: 'started',
};

const PEERS = [
  { host: '10.0.0.1', port: 6881 },
  { host: '10.0.0.2', port: 51413 },
];

/** Answers connects with id 42 and announces with PEERS, as a well-behaved tracker would. */
const wellBehaved: Handler = (req, reply) => {
  if (req.action === 'connect') reply(encodeConnectResponse(req.transactionId, 42n));
  else if (req.action === 'announce') {
    reply(
      encodeAnnounceResponse(req.transactionId, { interval: 900, leechers: 7, seeders: 3, peers: PEERS }, 4),
    );
  } else {
    reply(
      encodeScrapeResponse(
        req.transactionId,
        req.infoHashes.map((hash) => ({ complete: hash[0]!, downloaded: 0, incomplete: 1 })),
      ),
    );
  }
};

function assertTorkError(code: TorkErrorCode, pattern?: RegExp): (error: unknown) => boolean {
  return (error) => {
    assert.ok(error instanceof TorkError, `expected TorkError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    if (pattern) assert.match(error.message, pattern);
    return true;
  };
}

describe('UdpTrackerClient', () => {
  it('connects, announces and maps the reply', async () => {
    const tracker = await FakeUdpTracker.start(wellBehaved);
    const response = await client(tracker.url).announce(request);
    assert.deepEqual(response, { interval: 900, peers: PEERS, complete: 3, incomplete: 7 });
    const [connect, announce] = tracker.requests;
    assert.equal(connect?.action, 'connect');
    assert.ok(announce?.action === 'announce');
    assert.equal(announce.connectionId, 42n);
    assert.equal(announce.event, 'started');
    assert.equal(announce.left, 100n);
    assert.deepEqual(announce.infoHash, request.infoHash);
    tracker.close();
  });

  it('ignores a reply with the wrong transaction id and keeps waiting for the right one', async () => {
    const ignored: string[] = [];
    const tracker = await FakeUdpTracker.start((req, reply, self, from) => {
      if (req.action === 'connect') {
        reply(encodeConnectResponse(req.transactionId ^ 1, 666n)); // wrong transaction: must not be used
        setTimeout(() => wellBehaved(req, reply, self, from), 10);
      } else wellBehaved(req, reply, self, from);
    });
    const udp = client(tracker.url, { onIgnoredPacket: (reason) => ignored.push(reason) });
    await udp.announce(request);
    const announce = tracker.requests.find((r) => r.action === 'announce');
    assert.ok(announce?.action === 'announce');
    assert.equal(announce.connectionId, 42n);
    assert.equal(tracker.count('connect'), 1, 'answered within the first wait: no retransmission');
    assert.match(ignored.join('\n'), /unknown transaction/);
    tracker.close();
  });

  it('ignores truncated and mismatched replies for its transaction', async () => {
    const ignored: string[] = [];
    const tracker = await FakeUdpTracker.start((req, reply, self, from) => {
      if (req.action === 'announce') {
        const full = encodeAnnounceResponse(
          req.transactionId,
          { interval: 1, leechers: 0, seeders: 0, peers: PEERS },
          4,
        );
        reply(full.subarray(0, 8)); // what opentracker sends for an info-hash it does not track
        reply(full.subarray(0, 23)); // cut inside a peer entry
        reply(encodeConnectResponse(req.transactionId, 1n)); // right transaction, wrong action
        reply(new Uint8Array(3)); // shorter than a header
        setTimeout(() => wellBehaved(req, reply, self, from), 10);
      } else wellBehaved(req, reply, self, from);
    });
    const response = await client(tracker.url, {
      onIgnoredPacket: (reason) => ignored.push(reason),
    }).announce(request);
    assert.deepEqual(response.peers, PEERS);
    assert.equal(ignored.length, 4, ignored.join('\n'));
    assert.match(ignored[0]!, /announce response of 8 bytes is truncated/);
    assert.match(ignored[1]!, /not a multiple of 6/);
    assert.match(ignored[2]!, /connect reply to a announce request/);
    assert.match(ignored[3]!, /truncated datagram of 3 bytes/);
    tracker.close();
  });

  it('surfaces an error action as TRACKER_FAILURE with the tracker text, then reconnects', async () => {
    const tracker = await FakeUdpTracker.start((req, reply, self, from) => {
      if (req.action === 'announce')
        reply(encodeErrorResponse(req.transactionId, 'info_hash not whitelisted'));
      else wellBehaved(req, reply, self, from);
    });
    const udp = client(tracker.url);
    await assert.rejects(
      udp.announce(request),
      assertTorkError(TorkErrorCode.TRACKER_FAILURE, /info_hash not whitelisted/),
    );
    await assert.rejects(udp.announce(request), assertTorkError(TorkErrorCode.TRACKER_FAILURE));
    assert.equal(tracker.count('connect'), 2, 'an error drops the cached connection id');
    tracker.close();
  });

  it('surfaces an error reply to connect', async () => {
    const tracker = await FakeUdpTracker.start((req, reply) =>
      reply(encodeErrorResponse(req.transactionId, 'go away')),
    );
    await assert.rejects(
      client(tracker.url).announce(request),
      assertTorkError(TorkErrorCode.TRACKER_FAILURE, /go away/),
    );
    tracker.close();
  });

  it('retransmits after base·2^n and times out after maxRetransmissions + 1 sends', async () => {
    const tracker = await FakeUdpTracker.start(() => {});
    const started = performance.now();
    await assert.rejects(
      client(tracker.url, { baseTimeoutMs: 40, maxRetransmissions: 2 }).announce(request),
      assertTorkError(TorkErrorCode.TRACKER_TIMEOUT, /did not answer after 3 sends/),
    );
    const elapsed = performance.now() - started;
    assert.equal(tracker.count('connect'), 3);
    assert.ok(elapsed >= 40 + 80 + 160 - 5, `waited ${elapsed} ms, expected 280`);
    assert.ok(elapsed < 2000, `waited ${elapsed} ms`);
    tracker.close();
  });

  it('counts connects and announces in one retransmission schedule', async () => {
    const sendTimes: number[] = [];
    let announces = 0;
    const tracker = await FakeUdpTracker.start((req, reply, self, from) => {
      sendTimes.push(performance.now());
      if (req.action === 'connect' && tracker.count('connect') < 2) return; // lose the first connect
      if (req.action === 'announce' && ++announces < 2) return; // lose the first announce
      wellBehaved(req, reply, self, from);
    });
    const response = await client(tracker.url, { baseTimeoutMs: 30, maxRetransmissions: 3 }).announce(
      request,
    );
    assert.deepEqual(response.peers, PEERS);
    assert.deepEqual(
      tracker.requests.map((r) => r.action),
      ['connect', 'connect', 'announce', 'announce'],
    );
    // Waits: 30 ms (n=0) before the 2nd connect, 60 ms (n=1) on the 1st announce. The times are
    // taken where the packets arrive, so a loaded machine delaying one delivery shortens a gap:
    // the bounds leave 10 and 20 ms for that, and 40 still tells n=1 (60 ms) from n=0 (30 ms).
    assert.ok(
      sendTimes[1]! - sendTimes[0]! >= 20,
      `connect retransmitted after ${sendTimes[1]! - sendTimes[0]!} ms`,
    );
    assert.ok(
      sendTimes[3]! - sendTimes[2]! >= 40,
      `announce retransmitted after ${sendTimes[3]! - sendTimes[2]!} ms`,
    );
    const [, , first, second] = tracker.requests;
    assert.ok(first?.action === 'announce' && second?.action === 'announce');
    assert.equal(first.transactionId, second.transactionId, 'a retransmission keeps its transaction id');
    tracker.close();
  });

  it('reuses the connection id for 60 s and refreshes it after', async () => {
    let clock = 1_000_000;
    let nextId = 100n;
    const tracker = await FakeUdpTracker.start((req, reply, self, from) => {
      if (req.action === 'connect') reply(encodeConnectResponse(req.transactionId, nextId++));
      else wellBehaved(req, reply, self, from);
    });
    const udp = client(tracker.url, { now: () => clock });
    await udp.announce(request);
    clock += 59_999;
    await udp.announce(request);
    await udp.scrape([request.infoHash]);
    assert.equal(tracker.count('connect'), 1);
    clock += 1;
    await udp.announce(request);
    assert.equal(tracker.count('connect'), 2);
    const ids = tracker.requests.flatMap((r) => (r.action === 'connect' ? [] : [r.connectionId]));
    assert.deepEqual(ids, [100n, 100n, 100n, 101n]);
    tracker.close();
  });

  it('reconnects when the connection id expires between retransmissions', async () => {
    let clock = 0;
    let nextId = 1n;
    let announces = 0;
    const tracker = await FakeUdpTracker.start((req, reply, self, from) => {
      if (req.action === 'connect') reply(encodeConnectResponse(req.transactionId, nextId++));
      else if (++announces === 1)
        clock += 60_000; // lost, and the id expires while we wait
      else wellBehaved(req, reply, self, from);
    });
    await client(tracker.url, { now: () => clock }).announce(request);
    assert.deepEqual(
      tracker.requests.map((r) => (r.action === 'connect' ? 'connect' : `${r.action}#${r.connectionId}`)),
      ['connect', 'announce#1', 'connect', 'announce#2'],
    );
    tracker.close();
  });

  it('ignores a forged reply from another address', async () => {
    const forger = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => forger.bind(0, '127.0.0.1', resolve));
    const ignored: string[] = [];
    const tracker = await FakeUdpTracker.start((req, reply, self, from) => {
      if (req.action === 'connect') {
        // Right transaction id, right destination, wrong source port.
        forger.send(encodeConnectResponse(req.transactionId, 666n), from.port, from.address);
        setTimeout(() => wellBehaved(req, reply, self, from), 20);
      } else wellBehaved(req, reply, self, from);
    });
    await client(tracker.url, { onIgnoredPacket: (reason) => ignored.push(reason) }).announce(request);
    const announce = tracker.requests.find((r) => r.action === 'announce');
    assert.ok(announce?.action === 'announce');
    assert.equal(announce.connectionId, 42n);
    assert.match(ignored.join(), /not the tracker/);
    forger.close();
    tracker.close();
  });

  it('scrapes in packets of at most 74 info-hashes', async () => {
    const tracker = await FakeUdpTracker.start(wellBehaved);
    const hashes = Array.from({ length: 80 }, (_, i) => new Uint8Array(20).fill(i));
    const result = await client(tracker.url).scrape(hashes);
    assert.equal(result.size, 80);
    assert.deepEqual(result.get('4f'.repeat(20)), { complete: 0x4f, downloaded: 0, incomplete: 1 });
    const scrapes = tracker.requests.filter((r) => r.action === 'scrape');
    assert.deepEqual(
      scrapes.map((r) => r.action === 'scrape' && r.infoHashes.length),
      [74, 6],
    );
    tracker.close();
  });

  it('ignores a scrape reply with the wrong number of entries', async () => {
    const tracker = await FakeUdpTracker.start((req, reply, self, from) => {
      if (req.action === 'scrape') reply(encodeScrapeResponse(req.transactionId, []));
      else wellBehaved(req, reply, self, from);
    });
    await assert.rejects(
      client(tracker.url, { baseTimeoutMs: 20, maxRetransmissions: 1 }).scrape([request.infoHash]),
      assertTorkError(TorkErrorCode.TRACKER_TIMEOUT, /last ignored reply: scrape reply with 0 entries for 1/),
    );
    tracker.close();
  });

  it('decodes 18-byte peers from an IPv6 tracker', async (t) => {
    let tracker: FakeUdpTracker;
    const peers6 = [
      { host: '2001:db8::1', port: 6881 },
      { host: '::1', port: 51413 },
    ];
    try {
      tracker = await FakeUdpTracker.start((req, reply, self, from) => {
        if (req.action === 'announce') {
          reply(
            encodeAnnounceResponse(
              req.transactionId,
              { interval: 60, leechers: 0, seeders: 2, peers: peers6 },
              6,
            ),
          );
        } else wellBehaved(req, reply, self, from);
      }, '::1');
    } catch (error) {
      t.skip(`no IPv6 loopback here: ${(error as Error).message}`);
      return;
    }
    const response = await client(tracker.url).announce(request);
    assert.deepEqual(response.peers, peers6);
    tracker.close();
  });

  it('resolves host names (localhost)', async () => {
    const tracker = await FakeUdpTracker.start(wellBehaved);
    const response = await client(`udp://localhost:${tracker.port}/announce`).announce(request);
    assert.deepEqual(response.peers, PEERS);
    tracker.close();
  });

  it('reports a name that does not resolve as TRACKER_UNREACHABLE', async () => {
    const udp = client('udp://tracker.invalid:6969/announce', {
      lookup: () => Promise.reject(new Error('getaddrinfo ENOTFOUND tracker.invalid')),
    });
    await assert.rejects(
      udp.announce(request),
      assertTorkError(TorkErrorCode.TRACKER_UNREACHABLE, /ENOTFOUND/),
    );
  });

  it('refuses URLs without a port or with another scheme', () => {
    for (const url of [
      'udp://tracker.example/announce',
      'http://tracker.example:80/announce',
      'udp//x',
      'udp://:80',
    ]) {
      assert.throws(() => new UdpTrackerClient(url), assertTorkError(TorkErrorCode.TRACKER_URL));
    }
  });

  it('refuses an invalid request before sending anything', async () => {
    const tracker = await FakeUdpTracker.start(wellBehaved);
    await assert.rejects(
      client(tracker.url).announce({ ...request, infoHash: new Uint8Array(19) }),
      assertTorkError(TorkErrorCode.USAGE, /infoHash/),
    );
    assert.equal(tracker.requests.length, 0);
    tracker.close();
  });

  it('closes cleanly while the host name is still resolving, and more than once', async () => {
    const tracker = await FakeUdpTracker.start(wellBehaved);
    const udp = client(`udp://slow.example:${tracker.port}/announce`, {
      lookup: () =>
        new Promise((resolve) => setTimeout(() => resolve({ address: '127.0.0.1', family: 4 }), 30)),
    });
    const pending = udp.announce(request);
    udp.close();
    udp.close();
    await assert.rejects(pending, assertTorkError(TorkErrorCode.ABORTED, /closed/));
    await new Promise((resolve) => setTimeout(resolve, 60)); // the socket opened late is closed, no error
    assert.equal(tracker.requests.length, 0);
    tracker.close();
  });

  it('stops waiting on abort and on close', async () => {
    const tracker = await FakeUdpTracker.start(() => {});
    const udp = client(tracker.url, { baseTimeoutMs: 10_000 });
    const controller = new AbortController();
    const started = performance.now();
    const pending = udp.announce(request, controller.signal);
    setTimeout(() => controller.abort(), 30);
    await assert.rejects(pending, assertTorkError(TorkErrorCode.ABORTED));
    assert.ok(performance.now() - started < 1000);
    await assert.rejects(udp.announce(request, controller.signal), assertTorkError(TorkErrorCode.ABORTED));

    const closing = udp.announce(request);
    setTimeout(() => udp.close(), 30);
    await assert.rejects(closing, assertTorkError(TorkErrorCode.ABORTED, /closed/));
    await assert.rejects(udp.announce(request), assertTorkError(TorkErrorCode.ABORTED, /closed/));
    tracker.close();
  });
});
