/**
 * Hostile UDP trackers on real sockets (127.0.0.1), beyond udp-client.test.ts: a tracker that only
 * ever answers with the wrong transaction id, every truncation of a reply, a peer list of odd
 * length and nothing else, error actions with hostile or empty text. Each ends in a reply or one
 * TorkError with a clear message, never a hang or another exception.
 */
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
  type UdpRequest,
} from './udp-codec.js';

type Send = (bytes: Uint8Array) => void;
type Handler = (request: UdpRequest, send: Send, sends: number) => void;

const sockets = new Set<dgram.Socket>();
const clients = new Set<UdpTrackerClient>();
after(() => {
  for (const socket of sockets) socket.close();
  for (const client of clients) client.close();
});

/** A UDP tracker on 127.0.0.1 run by `handler`; `sends` counts requests of that action so far. */
async function tracker(handler: Handler): Promise<{ url: string; requests: UdpRequest[] }> {
  const socket = dgram.createSocket('udp4');
  sockets.add(socket);
  const requests: UdpRequest[] = [];
  socket.on('message', (message, from) => {
    const request = decodeUdpRequest(new Uint8Array(message));
    requests.push(request);
    const sends = requests.filter((r) => r.action === request.action).length;
    handler(request, (bytes) => socket.send(bytes, from.port, from.address), sends);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return { url: `udp://127.0.0.1:${socket.address().port}/announce`, requests };
}

function client(url: string, options: UdpTrackerClientOptions = {}): UdpTrackerClient {
  const created = new UdpTrackerClient(url, { baseTimeoutMs: 40, maxRetransmissions: 2, ...options });
  clients.add(created);
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

function announceReply(transactionId: number): Uint8Array {
  return encodeAnnounceResponse(transactionId, { interval: 900, leechers: 1, seeders: 2, peers: PEERS }, 4);
}

function rejectsWith(code: TorkErrorCode, pattern?: RegExp): (error: unknown) => boolean {
  return (error) => {
    assert.ok(error instanceof TorkError, `expected a TorkError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    if (pattern) assert.match(error.message, pattern);
    assert.doesNotMatch(error.message, /[\u0000-\u001f\u007f]/, 'one clean line');
    return true;
  };
}

describe('UdpTrackerClient against hostile trackers', () => {
  it('only wrong transaction ids: every reply ignored, retransmitted, then TRACKER_TIMEOUT naming why', async () => {
    const server = await tracker((req, send) => {
      if (req.action === 'connect') send(encodeConnectResponse((req.transactionId + 1) >>> 0, 7n));
    });
    const ignored: string[] = [];
    const started = performance.now();
    await assert.rejects(
      client(server.url, { onIgnoredPacket: (reason) => ignored.push(reason) }).announce(request),
      rejectsWith(TorkErrorCode.TRACKER_TIMEOUT, /did not answer after 3 sends/),
    );
    // 40 + 80 + 160 ms of waiting.
    const elapsed = performance.now() - started;
    assert.ok(elapsed >= 250 && elapsed < 3000, `gave up after ${elapsed} ms`);
    assert.equal(server.requests.length, 3, 'three connect sends, no announce with a forged id');
    assert.equal(ignored.length, 3);
    for (const reason of ignored) assert.match(reason, /unknown transaction/);
  });

  it('wrong transaction id on the announce, then the right one after a retransmission', async () => {
    const server = await tracker((req, send, sends) => {
      if (req.action === 'connect') send(encodeConnectResponse(req.transactionId, 9n));
      else if (req.action === 'announce') {
        send(announceReply((req.transactionId ^ 0x8000_0000) >>> 0));
        if (sends === 2) send(announceReply(req.transactionId));
      }
    });
    const response = await client(server.url).announce(request);
    assert.deepEqual(response.peers, PEERS);
    assert.equal(server.requests.filter((r) => r.action === 'announce').length, 2);
  });

  it('every truncation of a connect and an announce reply is ignored; the full reply then counts', async () => {
    const ignored: string[] = [];
    const server = await tracker((req, send) => {
      if (req.action === 'connect') {
        const full = encodeConnectResponse(req.transactionId, 5n);
        for (let cut = 0; cut < full.length; cut++) send(full.subarray(0, cut));
        setTimeout(() => send(full), 20);
      } else if (req.action === 'announce') {
        const full = announceReply(req.transactionId);
        for (let cut = 0; cut < full.length; cut++)
          if (cut < 20 || (cut - 20) % 6 !== 0) send(full.subarray(0, cut));
        setTimeout(() => send(full), 20);
      }
    });
    const response = await client(server.url, {
      baseTimeoutMs: 2000,
      onIgnoredPacket: (reason) => ignored.push(reason),
    }).announce(request);
    assert.deepEqual(response.peers, PEERS);
    assert.ok(ignored.length >= 16 + 20, `${ignored.length} ignored`);
    assert.match(ignored.join('\n'), /truncated/);
    assert.match(ignored.join('\n'), /not a multiple of 6/);
  });

  it('a peer list of odd length and nothing else: TRACKER_TIMEOUT quoting the bad reply', async () => {
    const server = await tracker((req, send) => {
      if (req.action === 'connect') send(encodeConnectResponse(req.transactionId, 5n));
      else if (req.action === 'announce') {
        const full = announceReply(req.transactionId);
        send(new Uint8Array([...full, 1, 2, 3])); // two whole peers and half of a third
      }
    });
    await assert.rejects(
      client(server.url).announce(request),
      rejectsWith(TorkErrorCode.TRACKER_TIMEOUT, /last ignored reply: .*15 bytes is not a multiple of 6/),
    );
  });

  it('an error action with hostile text: TRACKER_FAILURE, printable, bounded, one line', async () => {
    const hostile = `\u001b[31mowned\u001b[0m\r\nline two\u0000\u202e${'x'.repeat(10_000)}`;
    const server = await tracker((req, send) => {
      if (req.action === 'connect') send(encodeConnectResponse(req.transactionId, 5n));
      else send(encodeErrorResponse(req.transactionId, hostile));
    });
    await assert.rejects(client(server.url).announce(request), (error: unknown) => {
      rejectsWith(TorkErrorCode.TRACKER_FAILURE, /owned/)(error);
      const message = (error as TorkError).message;
      assert.ok(message.length < 1000, `message of ${message.length} characters`);
      assert.doesNotMatch(message, /\u202e/);
      return true;
    });
  });

  it('an error action with no text: TRACKER_FAILURE saying so', async () => {
    const server = await tracker((req, send) => send(encodeErrorResponse(req.transactionId, '')));
    await assert.rejects(
      client(server.url).announce(request),
      rejectsWith(TorkErrorCode.TRACKER_FAILURE, /\(no message\)/),
    );
  });

  it('a flood of garbage datagrams (random bytes, every action, any length) never throws past the client', async () => {
    let seed = 12345;
    const random = (n: number): number => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return seed % n;
    };
    const server = await tracker((req, send) => {
      for (let i = 0; i < 200; i++) {
        const packet = new Uint8Array(random(120));
        for (let j = 0; j < packet.length; j++) packet[j] = random(256);
        if (packet.length >= 8) {
          new DataView(packet.buffer).setUint32(0, random(5));
          if (random(2)) new DataView(packet.buffer).setUint32(4, req.transactionId);
        }
        send(packet);
      }
    });
    // A forged reply that happens to parse may be accepted (UDP has no authenticity); what must
    // not happen is any outcome but a response or a TorkError with a tracker code.
    try {
      const response = await client(server.url).announce(request);
      for (const peer of response.peers) assert.ok(peer.port >= 1 && peer.port <= 65535);
    } catch (error) {
      assert.ok(error instanceof TorkError, String(error));
      assert.ok(
        [
          TorkErrorCode.TRACKER_TIMEOUT,
          TorkErrorCode.TRACKER_FAILURE,
          TorkErrorCode.TRACKER_PROTOCOL,
        ].includes(error.code as never),
        `${error.code}: ${error.message}`,
      );
    }
  });
});
