import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import zlib from 'node:zlib';
import { encodeBencode } from '../bencode/index.js';
import { TorkError, TorkErrorCode } from '../errors.js';
import { encodeCompactPeers } from './compact-peers.js';
import { HttpTrackerClient, type HttpTrackerClientOptions } from './http-client.js';
import type { AnnounceRequest } from './types.js';

const text = (s: string): Uint8Array => new TextEncoder().encode(s);

/** Splits a raw query and percent-decodes each value to bytes, as a tracker does. */
function decodeQuery(rawUrl: string): Map<string, Uint8Array[]> {
  const query = rawUrl.includes('?') ? rawUrl.slice(rawUrl.indexOf('?') + 1) : '';
  const params = new Map<string, Uint8Array[]>();
  for (const pair of query.split('&')) {
    if (pair === '') continue;
    const [name = '', value = ''] = pair.split('=');
    const bytes: number[] = [];
    for (let i = 0; i < value.length; i++) {
      if (value[i] === '%') {
        bytes.push(Number.parseInt(value.slice(i + 1, i + 3), 16));
        i += 2;
      } else bytes.push(value.charCodeAt(i));
    }
    params.set(name, [...(params.get(name) ?? []), Uint8Array.from(bytes)]);
  }
  return params;
}

function param(params: Map<string, Uint8Array[]>, name: string): string | undefined {
  const value = params.get(name)?.[0];
  return value === undefined ? undefined : Buffer.from(value).toString('latin1');
}

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

const servers = new Set<http.Server>();
const clients = new Set<HttpTrackerClient>();
after(() => {
  for (const client of clients) client.close();
  for (const server of servers) {
    server.closeAllConnections();
    server.close();
  }
});

/** An HTTP tracker on 127.0.0.1 whose behaviour each test scripts; records raw request URLs. */
async function startServer(
  handler: Handler,
): Promise<{ base: string; urls: string[]; close: () => Promise<void> }> {
  const urls: string[] = [];
  const server = http.createServer((req, res) => {
    urls.push(req.url ?? '');
    handler(req, res);
  });
  servers.add(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    base: `http://127.0.0.1:${port}`,
    urls,
    close: () =>
      new Promise<void>((resolve) => {
        servers.delete(server);
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function client(url: string, options: HttpTrackerClientOptions = {}): HttpTrackerClient {
  const created = new HttpTrackerClient(url, { timeoutMs: 5000, ...options });
  clients.add(created);
  return created;
}

function bencoded(value: unknown): Handler {
  return (_req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    res.end(encodeBencode(value));
  };
}

const request: AnnounceRequest = {
  infoHash: new Uint8Array(20).fill(0xab),
  peerId: text('-TK0001-000000000000'),
  port: 6881,
  uploaded: 10,
  downloaded: 20,
  left: 30,
  event: 'started',
};

function assertTorkError(code: TorkErrorCode, pattern?: RegExp): (error: unknown) => boolean {
  return (error) => {
    assert.ok(error instanceof TorkError, `expected TorkError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    if (pattern) assert.match(error.message, pattern);
    return true;
  };
}

describe('HttpTrackerClient', () => {
  it('announces with every parameter and reads compact peers', async () => {
    const server = await startServer(
      bencoded({
        interval: 1800,
        complete: 1,
        incomplete: 2,
        peers: encodeCompactPeers([{ host: '127.0.0.1', port: 7000 }], 4),
      }),
    );
    const response = await client(`${server.base}/announce`).announce({ ...request, numwant: 30, key: 7 });
    assert.deepEqual(response, {
      interval: 1800,
      complete: 1,
      incomplete: 2,
      peers: [{ host: '127.0.0.1', port: 7000 }],
    });
    const params = decodeQuery(server.urls[0]!);
    assert.ok(server.urls[0]!.startsWith('/announce?'));
    assert.deepEqual(params.get('info_hash'), [request.infoHash]);
    assert.deepEqual(params.get('peer_id'), [request.peerId]);
    for (const [name, value] of [
      ['port', '6881'],
      ['uploaded', '10'],
      ['downloaded', '20'],
      ['left', '30'],
      ['compact', '1'],
      ['event', 'started'],
      ['numwant', '30'],
      ['key', '00000007'],
    ]) {
      assert.equal(param(params, name!), value, name);
    }
    await server.close();
  });

  it('reads dictionary peers and peers6', async () => {
    const server = await startServer(
      bencoded({
        interval: 60,
        peers: [{ ip: text('10.1.1.1'), port: 1, 'peer id': new Uint8Array(20) }],
        peers6: encodeCompactPeers([{ host: '::1', port: 2 }], 6),
      }),
    );
    const response = await client(`${server.base}/announce`).announce(request);
    assert.deepEqual(response.peers, [
      { host: '10.1.1.1', port: 1 },
      { host: '::1', port: 2 },
    ]);
    await server.close();
  });

  it('keeps the announce URL query (passkey) and omits event=none', async () => {
    const server = await startServer(bencoded({ interval: 60 }));
    await client(`${server.base}/announce?passkey=s3cr%2Ft`).announce({ ...request, event: 'none' });
    assert.match(server.urls[0]!, /^\/announce\?passkey=s3cr%2Ft&info_hash=/);
    assert.equal(decodeQuery(server.urls[0]!).has('event'), false);
    await server.close();
  });

  it('surfaces failure reason as TRACKER_FAILURE and returns the warning', async () => {
    let reply: unknown = { 'failure reason': text('unregistered torrent') };
    const server = await startServer((req, res) => bencoded(reply)(req, res));
    const tracker = client(`${server.base}/announce?passkey=0123456789abcdef0123`);
    await assert.rejects(tracker.announce(request), (error: unknown) => {
      assertTorkError(TorkErrorCode.TRACKER_FAILURE, /unregistered torrent/)(error);
      assert.doesNotMatch(
        (error as Error).message,
        /passkey|0123456789abcdef/,
        'the passkey never reaches messages',
      );
      return true;
    });
    reply = { interval: 60, 'warning message': text('you are announcing too often') };
    assert.equal((await tracker.announce(request)).warning, 'you are announcing too often');
    await server.close();
  });

  it('remembers the tracker id and sends it on the next announce', async () => {
    let count = 0;
    const server = await startServer((req, res) => {
      count++;
      bencoded(
        count === 1 ? { interval: 60, 'tracker id': Uint8Array.from([0x54, 0x00, 0xff]) } : { interval: 60 },
      )(req, res);
    });
    const tracker = client(`${server.base}/announce`);
    const first = await tracker.announce(request);
    assert.equal(first.trackerId, 'T\u0000\u00ff');
    await tracker.announce(request);
    await tracker.announce(request);
    assert.equal(decodeQuery(server.urls[0]!).has('trackerid'), false);
    assert.deepEqual(decodeQuery(server.urls[1]!).get('trackerid'), [Uint8Array.from([0x54, 0x00, 0xff])]);
    assert.deepEqual(
      decodeQuery(server.urls[2]!).get('trackerid'),
      [Uint8Array.from([0x54, 0x00, 0xff])],
      'still remembered',
    );
    await tracker.announce({ ...request, trackerId: 'explicit' });
    assert.equal(param(decodeQuery(server.urls[3]!), 'trackerid'), 'explicit');
    await server.close();
  });

  it('percent-encodes all 256 byte values so that the server decodes the same bytes', async () => {
    const server = await startServer(bencoded({ interval: 60 }));
    const tracker = client(`${server.base}/announce`);
    const all = Uint8Array.from({ length: 280 }, (_, i) => i % 256);
    const sent: Uint8Array[] = [];
    for (let offset = 0; offset < 256; offset += 40) {
      const infoHash = all.slice(offset, offset + 20);
      const peerId = all.slice(offset + 20, offset + 40);
      sent.push(infoHash, peerId);
      await tracker.announce({ ...request, infoHash, peerId });
    }
    const received = server.urls.flatMap((url) => {
      const params = decodeQuery(url);
      return [params.get('info_hash')![0]!, params.get('peer_id')![0]!];
    });
    assert.deepEqual(received, sent);
    const covered = new Set(received.flatMap((bytes) => [...bytes]));
    assert.equal(covered.size, 256);
    await server.close();
  });

  it('quotes an HTML error page served with 200 as TRACKER_PROTOCOL', async () => {
    const server = await startServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/html' });
      res.end('<html><head><title>Maintenance</title></head><body><p>Back soon</p></body></html>');
    });
    await assert.rejects(
      client(`${server.base}/announce`).announce(request),
      assertTorkError(TorkErrorCode.TRACKER_PROTOCOL, /not bencode.*: Maintenance Back soon$/),
    );
    await server.close();
  });

  it('reports a non-200 status as TRACKER_UNREACHABLE with the status', async () => {
    const server = await startServer((_req, res) => {
      res.writeHead(500);
      res.end(`Internal Server Error${'!'.repeat(100_000)}`);
    });
    await assert.rejects(client(`${server.base}/announce`).announce(request), (error: unknown) => {
      assertTorkError(TorkErrorCode.TRACKER_UNREACHABLE, /HTTP 500: Internal Server Error!+…$/)(error);
      assert.equal((error as TorkError).details.status, 500);
      return true;
    });
    await server.close();
  });

  it('aborts a body over the cap with LIMIT_EXCEEDED (declared or streamed)', async () => {
    const huge = encodeBencode({ interval: 60, peers: new Uint8Array(6 * 1000) });
    let declare = true;
    const server = await startServer((_req, res) => {
      res.writeHead(200, declare ? { 'Content-Length': huge.length } : {});
      res.end(huge);
    });
    const tracker = client(`${server.base}/announce`, { maxBodyBytes: 4096 });
    await assert.rejects(
      tracker.announce(request),
      assertTorkError(TorkErrorCode.LIMIT_EXCEEDED, /exceeds 4096 bytes/),
    );
    declare = false;
    await assert.rejects(
      tracker.announce(request),
      assertTorkError(TorkErrorCode.LIMIT_EXCEEDED, /exceeds 4096 bytes/),
    );
    // The same body fits the default cap.
    assert.equal((await client(`${server.base}/announce`).announce(request)).peers.length, 0);
    await server.close();
  });

  it('fires the total timeout on a server that trickles bytes', async () => {
    const timers = new Set<NodeJS.Timeout>();
    const server = await startServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      const body = encodeBencode({ interval: 60, peers: new Uint8Array(600) });
      let sent = 0;
      const timer = setInterval(() => {
        if (sent >= body.length || res.destroyed) {
          clearInterval(timer);
          return;
        }
        res.write(body.subarray(sent, ++sent));
      }, 20);
      timers.add(timer);
    });
    const started = performance.now();
    await assert.rejects(
      client(`${server.base}/announce`, { timeoutMs: 300 }).announce(request),
      assertTorkError(TorkErrorCode.TRACKER_TIMEOUT, /within 300 ms/),
    );
    const elapsed = performance.now() - started;
    assert.ok(elapsed >= 290 && elapsed < 2000, `timed out after ${elapsed} ms`);
    for (const timer of timers) clearInterval(timer);
    await server.close();
  });

  it('follows up to 3 redirects', async () => {
    const server = await startServer((req, res) => {
      const hop = Number(/^\/r(\d+)\//.exec(req.url ?? '')?.[1] ?? 0);
      if (req.url?.startsWith('/final/')) return bencoded({ interval: 7 })(req, res);
      const target = hop >= 2 ? '/final/announce' : `/r${hop + 1}/announce`;
      res.writeHead(hop === 1 ? 301 : 302, {
        Location: `${target}${(req.url ?? '').slice(req.url!.indexOf('?'))}`,
      });
      res.end();
    });
    assert.equal((await client(`${server.base}/r0/announce`).announce(request)).interval, 7);
    assert.deepEqual(
      server.urls.map((url) => url.slice(0, url.indexOf('?'))),
      ['/r0/announce', '/r1/announce', '/r2/announce', '/final/announce'],
    );
    await assert.rejects(
      client(`${server.base}/r0/announce`, { maxRedirects: 2 }).announce(request),
      assertTorkError(TorkErrorCode.TRACKER_UNREACHABLE, /redirected more than 2 times/),
    );
    await server.close();
  });

  it('refuses a redirect to another scheme or a malformed location', async () => {
    let location = 'udp://127.0.0.1:1/announce';
    const server = await startServer((_req, res) => {
      res.writeHead(302, { Location: location });
      res.end();
    });
    const tracker = client(`${server.base}/announce`);
    await assert.rejects(tracker.announce(request), assertTorkError(TorkErrorCode.TRACKER_URL, /a udp: URL/));
    location = 'http://[::1';
    await assert.rejects(
      tracker.announce(request),
      assertTorkError(TorkErrorCode.TRACKER_URL, /a malformed URL/),
    );
    await server.close();
  });

  it('gives up on a redirect loop after the default 3 redirects', async () => {
    const server = await startServer((_req, res) => {
      res.writeHead(302, { Location: '/loop/announce' });
      res.end('moved'.repeat(10_000));
    });
    await assert.rejects(
      client(`${server.base}/loop/announce`).announce(request),
      assertTorkError(TorkErrorCode.TRACKER_UNREACHABLE, /redirected more than 3 times/),
    );
    assert.equal(server.urls.length, 4);
    await server.close();
  });

  it('undoes gzip it did not ask for, within the cap', async () => {
    let body = encodeBencode({ interval: 99 });
    const server = await startServer((req, res) => {
      assert.equal(req.headers['accept-encoding'], 'identity');
      res.writeHead(200, { 'Content-Encoding': 'gzip' });
      res.end(zlib.gzipSync(body));
    });
    const tracker = client(`${server.base}/announce`, { maxBodyBytes: 64 * 1024 });
    assert.equal((await tracker.announce(request)).interval, 99);
    body = encodeBencode({ interval: 1, peers: new Uint8Array(1024 * 1024) }); // ~1 KiB gzipped
    await assert.rejects(tracker.announce(request), assertTorkError(TorkErrorCode.LIMIT_EXCEEDED));
    await server.close();
  });

  it('scrapes via the scrape URL and refuses trackers without one', async () => {
    const hash = new Uint8Array(20).fill(0xcd);
    const server = await startServer((req, res) => {
      assert.ok(req.url?.startsWith('/scrape?'));
      res.end(
        Buffer.concat([
          Buffer.from('d5:filesd20:'),
          Buffer.from(hash),
          Buffer.from(encodeBencode({ complete: 3, downloaded: 4, incomplete: 5 })),
          Buffer.from('ee'),
        ]),
      );
    });
    const result = await client(`${server.base}/announce`).scrape([hash]);
    assert.deepEqual([...result], [['cd'.repeat(20), { complete: 3, downloaded: 4, incomplete: 5 }]]);
    assert.deepEqual(decodeQuery(server.urls[0]!).get('info_hash'), [hash]);
    await assert.rejects(
      client(`${server.base}/tracker`).scrape([hash]),
      assertTorkError(TorkErrorCode.TRACKER_URL, /scrape/),
    );
    await server.close();
  });

  it('scrapes at most 64 info-hashes per request', async () => {
    const server = await startServer(bencoded({ files: {} }));
    const hashes = Array.from({ length: 70 }, (_, i) => new Uint8Array(20).fill(i));
    const result = await client(`${server.base}/announce`).scrape(hashes);
    assert.equal(result.size, 0, 'hashes the tracker does not report are absent');
    assert.deepEqual(
      server.urls.map((url) => decodeQuery(url).get('info_hash')?.length),
      [64, 6],
    );
    await server.close();
  });

  it('reports refused connections and connections closed mid-reply as TRACKER_UNREACHABLE', async () => {
    const server = await startServer((_req, res) => {
      res.writeHead(200, { 'Content-Length': 100 });
      res.write('d8:interval');
      setTimeout(() => res.socket?.destroy(), 20);
    });
    await assert.rejects(
      client(`${server.base}/announce`).announce(request),
      assertTorkError(TorkErrorCode.TRACKER_UNREACHABLE, /closed the connection|aborted|socket hang up/),
    );
    const base = server.base;
    await server.close();
    await assert.rejects(
      client(`${base}/announce`).announce(request),
      assertTorkError(TorkErrorCode.TRACKER_UNREACHABLE, /ECONNREFUSED/),
    );
  });

  it('stops on abort and on close', async () => {
    const server = await startServer(() => {}); // never answers
    const tracker = client(`${server.base}/announce`);
    const controller = new AbortController();
    const pending = tracker.announce(request, controller.signal);
    setTimeout(() => controller.abort(), 30);
    await assert.rejects(pending, assertTorkError(TorkErrorCode.ABORTED));
    const closing = tracker.announce(request);
    setTimeout(() => tracker.close(), 30);
    await assert.rejects(closing, assertTorkError(TorkErrorCode.ABORTED, /closed/));
    await assert.rejects(tracker.announce(request), assertTorkError(TorkErrorCode.ABORTED, /closed/));
    await server.close();
  });

  it('refuses non-http URLs', () => {
    assert.throws(
      () => new HttpTrackerClient('udp://127.0.0.1:1/announce'),
      assertTorkError(TorkErrorCode.TRACKER_URL),
    );
  });
});
