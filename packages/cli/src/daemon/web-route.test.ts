import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { HostStats } from '@tork/workers';
import { errorBody, threadsBody, torrentDetail, torrentSummary } from './api-schemas.js';
import { type ApiContext, createApiApp } from './api-server.js';
import type { DownloadRoot } from './download-root.js';
import { EventHub } from './event-hub.js';
import { type DaemonThreads, sharedThreadStats } from './thread-sampler.js';
import type { TorrentRegistry } from './torrent-registry.js';
import { WEB_ASSETS, webRoute } from './web-route.js';

const host = { host: '127.0.0.1:9091' };
const ID = 'ab'.repeat(20);

const summary = torrentSummary.parse({
  id: ID,
  name: 'probe',
  state: 'downloading',
  outDir: '/tmp/out',
  paused: false,
  length: 100,
  wantedBytes: 100,
  verifiedBytes: 50,
  progress: 0.5,
  downloadRate: 10,
  uploadRate: 0,
  downloadedBytes: 50,
  uploadedBytes: 0,
  resumedBytes: 0,
  peers: 2,
  rateLimits: {},
  maxPeers: 80,
  uploadSlots: 4,
  addedAt: 1,
  error: null,
});

/** Two peers on actors 7 and 8; the threads below host actor 7 on thread 1 and have lost 8. */
const peer = (actorId: number, address: string) => ({
  actorId,
  address,
  client: 'libtorrent 2.0.8',
  transport: 'tcp',
  encryption: 'none',
  source: 'magnet',
  seed: true,
  downloadRate: 1,
  uploadRate: 0,
  downloaded: 1,
  uploaded: 0,
  queueDepth: 4,
});

/** Only what the routes read of the registry: one torrent with two peers. */
const registry = {
  list: () => [summary],
  summary: () => summary,
  meta: () => undefined,
  torrent: () => ({
    files: { priorities: [] },
    peerViews: () => [peer(7, '127.0.0.1:1'), peer(8, '127.0.0.1:2')],
  }),
  record: () => ({}),
  sessionLimits: {},
} as unknown as TorrentRegistry;

const hostStats = (lag: number): HostStats => ({
  actors: 3,
  torrents: 1,
  bytesReceived: 1000,
  bytesSent: 10,
  eventLoopLagMs: lag,
  eventLoopLagMaxMs: lag * 2,
  rejectedBatches: 0,
  lastRejection: null,
  bufferPoolBytes: 0,
  buffersReused: 0,
  buffersAllocated: 0,
});

function fakeThreads(): DaemonThreads & { calls: number } {
  const threads = {
    calls: 0,
    async stats() {
      threads.calls++;
      return [hostStats(1), hostStats(2)];
    },
    traffic: () => [
      { commandBatches: 1, commands: 5, eventBatches: 2, events: 9 },
      { commandBatches: 3, commands: 6, eventBatches: 4, events: 11 },
    ],
    hostOf: (actorId: number) => (actorId === 7 ? 1 : undefined),
  };
  return threads;
}

function context(threads?: DaemonThreads): ApiContext {
  return {
    registry,
    engine: { torrents: [] } as unknown as ApiContext['engine'],
    ...(threads ? { threads } : {}),
    hub: new EventHub(),
    root: {} as DownloadRoot,
    downloadDir: '/tmp/out',
    peerPort: 6881,
  };
}

const app = (token?: string, threads?: DaemonThreads) =>
  createApiApp(context(threads), { host: '127.0.0.1', token, routes: [webRoute] });

describe('the web page route', () => {
  it('serves the page and its assets with their content types, a self-only CSP and nosniff', async () => {
    const expected: Record<string, RegExp> = {
      '/': /^text\/html; charset=utf-8$/,
      '/assets/app.js': /^text\/javascript; charset=utf-8$/,
      '/assets/uplot.js': /^text\/javascript; charset=utf-8$/,
      '/assets/style.css': /^text\/css; charset=utf-8$/,
      '/assets/uplot.css': /^text\/css; charset=utf-8$/,
      '/assets/icon.svg': /^image\/svg\+xml$/,
    };
    assert.deepEqual(Object.keys(WEB_ASSETS).sort(), Object.keys(expected).sort());
    const web = app();
    for (const [path, type] of Object.entries(expected)) {
      const response = await web.request(path, { headers: host });
      assert.equal(response.status, 200, path);
      assert.match(response.headers.get('content-type') ?? '', type, path);
      const csp = response.headers.get('content-security-policy') ?? '';
      assert.match(csp, /default-src 'self'/, path);
      assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|\*|https?:/, path);
      assert.equal(response.headers.get('x-content-type-options'), 'nosniff');
      assert.ok((await response.arrayBuffer()).byteLength > 100, `${path} has a body`);
    }
    const page = await (await web.request('/', { headers: host })).text();
    // Everything the page loads is one of the served assets; no inline script or style.
    const refs = [...page.matchAll(/(?:src|href)="([^"]+)"/g)].map((match) => match[1]);
    for (const ref of refs) assert.ok(Object.hasOwn(WEB_ASSETS, ref ?? ''), `${ref} is not served`);
    assert.doesNotMatch(page, /<script>|<style|style="/);
  });

  it('answers 404 for unknown assets and path traversal, 405 for other methods', async () => {
    const web = app();
    for (const path of [
      '/assets/nope.js',
      '/assets/',
      '/assets/../../etc/passwd',
      '/assets/..%2f..%2f..%2fetc%2fpasswd',
      '/assets/%2e%2e/%2e%2e/%2e%2e/etc/passwd',
      '/assets/app.js/../../package.json',
      '/index.html',
      '/web/app.js',
    ]) {
      const response = await web.request(path, { headers: host });
      assert.equal(response.status, 404, path);
      const text = await response.text();
      assert.equal(errorBody.parse(JSON.parse(text)).error.code, 'TORK_ERR_API_NOT_FOUND', path);
      assert.doesNotMatch(text, /root:|"dependencies"/, path);
    }
    const posted = await web.request('/', { method: 'POST', headers: host });
    assert.equal(posted.status, 405);
  });

  it('with a token: the page loads without it, the API and other methods still need it', async () => {
    const web = app('sixteen-chars-token');
    for (const path of ['/', '/assets/app.js'])
      assert.equal((await web.request(path, { headers: host })).status, 200, path);
    assert.equal((await web.request('/', { method: 'POST', headers: host })).status, 401);
    assert.equal((await web.request('/api/v1/threads', { headers: host })).status, 401);
    assert.equal((await web.request('/assets/nope.js', { headers: host })).status, 401);
    assert.equal((await web.request('/', { headers: { host: 'evil.example' } })).status, 403, 'Host check');
    const bearer = { ...host, authorization: 'Bearer sixteen-chars-token' };
    assert.equal((await web.request('/api/v1/threads', { headers: bearer })).status, 200);
  });
});

describe('GET /api/v1/threads', () => {
  it('gives each peer host thread its counters and the main thread its lag, to the schema', async () => {
    const body = threadsBody.parse(
      await (await app(undefined, fakeThreads()).request('/api/v1/threads', { headers: host })).json(),
    );
    assert.deepEqual(
      body.threads.map((thread) => [
        thread.index,
        thread.name,
        thread.eventLoopLagMs,
        thread.commands,
        thread.events,
      ]),
      [
        [0, 'peer-host-0', 1, 5, 9],
        [1, 'peer-host-1', 2, 6, 11],
      ],
    );
    assert.equal(body.threads[1]?.eventLoopLagMaxMs, 4);
    assert.ok(body.main.eventLoopLagMs >= 0 && body.main.eventLoopLagMaxMs >= 0);
    assert.ok(Math.abs(body.time - Date.now()) < 60_000);
    const bare = threadsBody.parse(await (await app().request('/api/v1/threads', { headers: host })).json());
    assert.deepEqual(bare.threads, [], 'no threads: an empty list');
  });

  it('shares one stats() sample a second between readers (the hosts reset their maxima on each call)', async () => {
    const threads = fakeThreads();
    const shared = sharedThreadStats(threads, 60_000);
    await Promise.all([shared.stats(), shared.stats()]);
    await shared.stats();
    assert.equal(threads.calls, 1);
    const fresh = sharedThreadStats(threads, 0);
    await fresh.stats();
    await new Promise((resolve) => setTimeout(resolve, 5));
    await fresh.stats();
    assert.equal(threads.calls, 3);
    assert.equal(shared.hostOf(7), 1);
  });
});

describe('the peer list', () => {
  it("names each peer's thread (null when its actor has none or there are no threads)", async () => {
    const withThreads = torrentDetail.parse(
      await (await app(undefined, fakeThreads()).request(`/api/v1/torrents/${ID}`, { headers: host })).json(),
    );
    assert.deepEqual(
      withThreads.peerList.map((p) => [p.address, p.thread]),
      [
        ['127.0.0.1:1', 1],
        ['127.0.0.1:2', null],
      ],
    );
    const without = torrentDetail.parse(
      await (await app().request(`/api/v1/torrents/${ID}`, { headers: host })).json(),
    );
    assert.deepEqual(
      without.peerList.map((p) => p.thread),
      [null, null],
    );
  });
});
