/**
 * Hostile HTTP trackers on real sockets (127.0.0.1), beyond http-client.test.ts: a 100 MB body
 * (streamed, declared, gzip-bombed) cut at the cap without buffering it, slow-loris servers that
 * trickle 1 byte/s in the headers or in the body, a silent server, endless headers, HTML error
 * pages with error statuses, and `failure reason`s that are hostile or arrive with an error
 * status. Each ends in one TorkError with a clear, printable message.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import zlib from 'node:zlib';
import { encodeBencode } from '../bencode/index.js';
import { TorkError, TorkErrorCode } from '../errors.js';
import { HttpTrackerClient, type HttpTrackerClientOptions } from './http-client.js';
import type { AnnounceRequest } from './types.js';

const MB = 1024 * 1024;
const closers = new Set<() => void>();
const clients = new Set<HttpTrackerClient>();
after(() => {
  for (const client of clients) client.close();
  for (const close of closers) close();
});

/** An HTTP server on 127.0.0.1; returns its announce URL. */
async function httpServer(handler: http.RequestListener): Promise<string> {
  const server = http.createServer(handler);
  closers.add(() => {
    server.closeAllConnections();
    server.close();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/announce`;
}

/** A raw TCP server on 127.0.0.1 (for replies node:http would not send); returns its announce URL. */
async function tcpServer(onSocket: (socket: net.Socket) => void): Promise<string> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
    onSocket(socket);
  });
  closers.add(() => {
    for (const socket of sockets) socket.destroy();
    server.close();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/announce`;
}

function client(url: string, options: HttpTrackerClientOptions = {}): HttpTrackerClient {
  const created = new HttpTrackerClient(url, { timeoutMs: 10_000, ...options });
  clients.add(created);
  return created;
}

const request: AnnounceRequest = {
  infoHash: new Uint8Array(20).fill(0xab),
  peerId: new Uint8Array(20).fill(0x2d),
  port: 6881,
  uploaded: 0,
  downloaded: 0,
  left: 30,
  event: 'started',
};

/** The rejection of `promise`, checked: a TorkError of `code` whose message matches and is one clean line. */
async function rejection(
  promise: Promise<unknown>,
  code: TorkErrorCode,
  pattern?: RegExp,
): Promise<TorkError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof TorkError, `expected a TorkError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    if (pattern) assert.match(error.message, pattern);
    assert.doesNotMatch(error.message, /[\u0000-\u001f\u007f]/, 'one clean line');
    assert.ok(error.message.length < 1200, `message of ${error.message.length} characters`);
    return error;
  }
  assert.fail('expected a rejection');
}

/** Streams `total` bytes of `fill` with back-pressure; resolves with the bytes the socket accepted. */
function stream(res: http.ServerResponse, total: number, fill: number): Promise<number> {
  const chunk = Buffer.alloc(64 * 1024, fill);
  let written = 0;
  return new Promise((resolve) => {
    const done = (): void => resolve(written);
    res.once('close', done);
    const pump = (): void => {
      while (written < total && !res.destroyed) {
        written += chunk.length;
        if (!res.write(chunk)) {
          res.once('drain', pump);
          return;
        }
      }
      if (written >= total) res.end();
    };
    pump();
  });
}

describe('HttpTrackerClient against hostile trackers', () => {
  it('a 100 MB streamed body is cut at the 2 MiB cap without buffering it all', async () => {
    let accepted: Promise<number> | undefined;
    const url = await httpServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/plain' }); // chunked, no length declared
      accepted = stream(res, 100 * MB, 0x61);
    });
    const rssBefore = process.memoryUsage().rss;
    const started = performance.now();
    await rejection(client(url).announce(request), TorkErrorCode.LIMIT_EXCEEDED, /exceeds 2097152 bytes/);
    const elapsed = performance.now() - started;
    const written = await accepted!;
    const rssGrowth = process.memoryUsage().rss - rssBefore;
    assert.ok(elapsed < 10_000, `took ${elapsed} ms`);
    assert.ok(written < 40 * MB, `the server got ${written} bytes out before the client hung up`);
    assert.ok(rssGrowth < 96 * MB, `rss grew by ${rssGrowth} bytes`);
  });

  it('a declared 100 MB Content-Length is refused before the body is read', async () => {
    let accepted: Promise<number> | undefined;
    const url = await httpServer((_req, res) => {
      res.writeHead(200, { 'Content-Length': 100 * MB });
      accepted = stream(res, 100 * MB, 0x62);
    });
    const started = performance.now();
    await rejection(client(url).announce(request), TorkErrorCode.LIMIT_EXCEEDED, /exceeds 2097152 bytes/);
    assert.ok(performance.now() - started < 5000);
    assert.ok((await accepted!) < 40 * MB);
  });

  it('a gzip bomb (100 MB of zeros in ~100 KB) is cut at the cap after decompression', async () => {
    const bomb = zlib.gzipSync(Buffer.alloc(100 * MB), { level: 9 });
    assert.ok(bomb.length < 200 * 1024);
    const url = await httpServer((_req, res) => {
      res.writeHead(200, { 'Content-Encoding': 'gzip' });
      res.end(bomb);
    });
    const rssBefore = process.memoryUsage().rss;
    await rejection(client(url).announce(request), TorkErrorCode.LIMIT_EXCEEDED, /exceeds 2097152 bytes/);
    const rssGrowth = process.memoryUsage().rss - rssBefore;
    assert.ok(rssGrowth < 96 * MB, `rss grew by ${rssGrowth} bytes`);
  });

  it('slow-loris in the headers (1 byte/s): gives up at the timeout', async () => {
    const url = await tcpServer((socket) => {
      socket.write('HTTP/1.1 200 OK\r\nX-Slow: ');
      const timer = setInterval(() => (socket.destroyed ? clearInterval(timer) : socket.write('a')), 1000);
      socket.on('close', () => clearInterval(timer));
    });
    const started = performance.now();
    await rejection(
      client(url, { timeoutMs: 2500 }).announce(request),
      TorkErrorCode.TRACKER_TIMEOUT,
      /did not answer within 2500 ms/,
    );
    const elapsed = performance.now() - started;
    assert.ok(elapsed >= 2400 && elapsed < 5000, `gave up after ${elapsed} ms`);
  });

  it('slow-loris in the body (1 byte/s of a valid reply): gives up at the timeout', async () => {
    const body = encodeBencode({ interval: 60, peers: new Uint8Array(60) });
    const url = await httpServer((_req, res) => {
      res.writeHead(200, { 'Content-Length': body.length });
      let sent = 0;
      const timer = setInterval(() => {
        if (res.destroyed || sent >= body.length) clearInterval(timer);
        else res.write(body.subarray(sent, ++sent));
      }, 1000);
      res.on('close', () => clearInterval(timer));
    });
    const started = performance.now();
    await rejection(
      client(url, { timeoutMs: 2500 }).announce(request),
      TorkErrorCode.TRACKER_TIMEOUT,
      /within 2500 ms/,
    );
    assert.ok(performance.now() - started < 5000);
  });

  it('a server that accepts and never answers: TRACKER_TIMEOUT', async () => {
    const url = await tcpServer(() => {});
    await rejection(
      client(url, { timeoutMs: 800 }).announce(request),
      TorkErrorCode.TRACKER_TIMEOUT,
      /800 ms/,
    );
  });

  it('endless headers: refused by the parser, not buffered', async () => {
    const url = await tcpServer((socket) => {
      socket.write('HTTP/1.1 200 OK\r\n');
      const line = `X-Junk: ${'j'.repeat(1000)}\r\n`;
      const pump = (): void => {
        while (!socket.destroyed && socket.write(line)) {}
        if (!socket.destroyed) socket.once('drain', pump);
      };
      pump();
    });
    await rejection(client(url).announce(request), TorkErrorCode.TRACKER_UNREACHABLE, /cannot reach tracker/);
  });

  it('an HTML error page with 503: TRACKER_UNREACHABLE with the status and the page text, no markup', async () => {
    const url = await httpServer((_req, res) => {
      res.writeHead(503, { 'Content-Type': 'text/html' });
      res.end(
        `<!DOCTYPE html><html><head><title>503 Service Unavailable</title><style>body{color:red}</style>` +
          `<script>alert(1)</script></head><body><h1>Service Unavailable</h1>${'<p>padding</p>'.repeat(50_000)}</body></html>`,
      );
    });
    const error = await rejection(
      client(url).announce(request),
      TorkErrorCode.TRACKER_UNREACHABLE,
      /HTTP 503: 503 Service Unavailable Service Unavailable/,
    );
    assert.doesNotMatch(error.message, /[<>]|alert|color:red/);
  });

  it('an HTML page with 200 and a misleading content type: TRACKER_PROTOCOL quoting the page', async () => {
    const url = await httpServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.end('<html><body><h1>Tracker offline</h1><p>see forum</p></body></html>');
    });
    await rejection(
      client(url).announce(request),
      TorkErrorCode.TRACKER_PROTOCOL,
      /not bencode.*Tracker offline see forum/,
    );
  });

  it('a hostile failure reason: TRACKER_FAILURE, escapes and overrides replaced, bounded', async () => {
    const reason = `\u001b[2J\u001b[31mbanned\u001b[0m\r\n\u202egnirts${'z'.repeat(100_000)}`;
    const url = await httpServer((_req, res) => {
      res.writeHead(200);
      res.end(encodeBencode({ 'failure reason': reason, interval: 60 }));
    });
    const error = await rejection(client(url).announce(request), TorkErrorCode.TRACKER_FAILURE, /banned/);
    assert.doesNotMatch(error.message, /\u202e/);
  });

  it('a failure reason sent with HTTP 400: the status and the reason are both in the message', async () => {
    const url = await httpServer((_req, res) => {
      res.writeHead(400);
      res.end(encodeBencode({ 'failure reason': 'unregistered torrent' }));
    });
    await rejection(
      client(url).announce(request),
      TorkErrorCode.TRACKER_UNREACHABLE,
      /HTTP 400: .*unregistered torrent/,
    );
  });

  it('a failure reason that is not text: TRACKER_FAILURE saying so', async () => {
    const url = await httpServer((_req, res) => {
      res.writeHead(200);
      res.end(encodeBencode({ 'failure reason': { nested: 1 } }));
    });
    await rejection(client(url).announce(request), TorkErrorCode.TRACKER_FAILURE, /non-text reason/);
  });
});
