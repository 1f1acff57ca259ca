import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, join as joinPath } from 'node:path';
import { after, describe, it } from 'node:test';
import { type ActorSystem, Engine, encodeBencode } from '@tork/core';

/** A fresh directory, removed after the file's tests (the CLI package does not depend on the test kit). */
async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(joinPath(tmpdir(), prefix));
  after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

import { errorBody, okBody, sessionBody, torrentDetail, torrentList, torrentSummary } from './api-schemas.js';
import { type ApiContext, createApiApp, type RouteModule } from './api-server.js';
import { DaemonState } from './daemon-state.js';
import { DownloadRoot } from './download-root.js';
import { EventHub } from './event-hub.js';
import { TorrentRegistry } from './torrent-registry.js';

/** No threads: these tests add only paused torrents, which never reach the actors. */
const idleActors: ActorSystem = { send() {}, onEvents() {}, close: async () => {} };

async function context(): Promise<ApiContext> {
  const dir = await tempDir('tork-api-');
  const engine = new Engine({ actors: idleActors });
  const registry = new TorrentRegistry(engine, new DaemonState(join(dir, 'state')));
  await registry.restore();
  return {
    registry,
    engine,
    hub: new EventHub(),
    root: new DownloadRoot(dir),
    downloadDir: join(dir, 'dl'),
    peerPort: 6881,
  };
}

const host = { host: '127.0.0.1:9091' };
const magnet = `magnet:?xt=urn:btih:${'ef'.repeat(20)}&dn=probe`;

describe('the API app (in process)', () => {
  it('adds, shows and removes a paused magnet; every body matches its schema', async () => {
    const app = createApiApp(await context(), { host: '127.0.0.1', token: undefined });
    const added = await app.request('/api/v1/torrents', {
      method: 'POST',
      headers: host,
      body: JSON.stringify({ magnet, paused: true }),
    });
    assert.equal(added.status, 201);
    const summary = torrentSummary.parse(await added.json());
    assert.equal(summary.state, 'paused');
    assert.equal(summary.name, 'probe');
    const again = await app.request('/api/v1/torrents', {
      method: 'POST',
      headers: host,
      body: JSON.stringify({ magnet }),
    });
    assert.equal(again.status, 409);
    assert.equal(errorBody.parse(await again.json()).error.code, 'TORK_ERR_API_CONFLICT');
    const detail = torrentDetail.parse(
      await (await app.request(`/api/v1/torrents/${'ef'.repeat(3)}`, { headers: host })).json(),
    );
    assert.deepEqual(detail.files, []);
    const removed = await app.request(`/api/v1/torrents/${summary.id}?deleteData=false`, {
      method: 'DELETE',
      headers: host,
    });
    okBody.parse(await removed.json());
    assert.deepEqual(
      torrentList.parse(await (await app.request('/api/v1/torrents', { headers: host })).json()).torrents,
      [],
    );
    const badQuery = await app.request(`/api/v1/torrents/${summary.id}?deleteData=yes`, {
      method: 'DELETE',
      headers: host,
    });
    assert.equal(badQuery.status, 400);
  });

  it('mounts extra route modules: their paths answer, and 405 for other methods', async () => {
    const metrics: RouteModule = {
      paths: ['/metrics'],
      mount(app) {
        app.get('/metrics', (c) => c.text('tork_torrents 0\n'));
      },
    };
    const app = createApiApp(await context(), { host: '127.0.0.1', token: undefined, routes: [metrics] });
    const scraped = await app.request('/metrics', { headers: host });
    assert.equal(await scraped.text(), 'tork_torrents 0\n');
    const posted = await app.request('/metrics', { method: 'POST', headers: host });
    assert.equal(posted.status, 405);
    assert.equal(errorBody.parse(await posted.json()).error.code, 'TORK_ERR_API_METHOD');
    // The guard covers them too.
    const foreign = await app.request('/metrics', { headers: { host: 'rebound.example' } });
    assert.equal(foreign.status, 403);
  });

  it('accepts IP, localhost and the bound name as Host; a token guards every route', async () => {
    const app = createApiApp(await context(), { host: 'nas.lan', token: 'sixteen-chars-token' });
    const bearer = { authorization: 'Bearer sixteen-chars-token' };
    for (const name of ['127.0.0.1:1', 'localhost', '[::1]:9091', 'nas.lan:9091', '192.168.1.5'])
      assert.equal(
        (await app.request('/api/v1/session', { headers: { host: name, ...bearer } })).status,
        200,
        name,
      );
    for (const name of ['evil.example', 'nas.lan.evil.example', '', 'a b'])
      assert.equal(
        (await app.request('/api/v1/session', { headers: { host: name, ...bearer } })).status,
        403,
        name,
      );
    assert.equal((await app.request('/api/v1/session', { headers: host })).status, 401);
    assert.equal(
      (await app.request('/nowhere', { headers: host })).status,
      401,
      'the token is checked before routing',
    );
  });

  it('lists a torrent whose saved metainfo no longer parses as failed, and starts the others', async () => {
    const dir = await tempDir('tork-api-');
    const state = new DaemonState(join(dir, 'state'));
    const good = `magnet:?xt=urn:btih:${'12'.repeat(20)}`;
    await state.save({
      version: 1,
      sessionLimits: {},
      torrents: [
        {
          infoHash: '34'.repeat(20),
          metainfo: 'ZGllIQ==',
          outDir: dir,
          rateLimits: {},
          paused: false,
          addedAt: 1,
        },
        { infoHash: '12'.repeat(20), magnet: good, outDir: dir, rateLimits: {}, paused: true, addedAt: 2 },
      ],
    });
    const registry = new TorrentRegistry(new Engine({ actors: idleActors }), state);
    await registry.restore();
    const [bad, paused] = registry.list();
    assert.equal(bad?.state, 'failed');
    assert.equal(bad?.error?.code, 'TORK_ERR_BENCODE');
    assert.equal(paused?.state, 'paused');
  });
  it('adds a torrent whose names it sanitised, and lists the warnings in its detail', async () => {
    const ctx = await context();
    const app = createApiApp(ctx, { host: '127.0.0.1', token: undefined });
    const torrent = encodeBencode({
      info: {
        name: 'x',
        'piece length': 16_384,
        pieces: new Uint8Array(20),
        files: [{ length: 10, path: ['..', '..', 'a'] }],
      },
    });
    const added = await app.request('/api/v1/torrents', {
      method: 'POST',
      headers: host,
      body: JSON.stringify({ metainfo: Buffer.from(torrent).toString('base64'), paused: true }),
    });
    assert.equal(added.status, 201, await added.clone().text());
    const id = torrentSummary.parse(await added.json()).id;
    const detail = torrentDetail.parse(
      await (await app.request(`/api/v1/torrents/${id}`, { headers: host })).json(),
    );
    assert.deepEqual(
      detail.files.map((file) => file.path),
      ['a'],
    );
    assert.deepEqual(
      detail.warnings.map((warning) => [warning.kind, warning.fileIndex]),
      [['path-sanitized', 0]],
    );
  });

  it('pausing a magnet that is fetching its metadata gives the fetch up; resume starts a new one', async (t) => {
    const ctx = await context();
    // Closed whatever happens: a fetch left running would hold the test file open until its timeout.
    t.after(async () => {
      await ctx.registry.close();
      await ctx.engine.close();
    });
    const app = createApiApp(ctx, { host: '127.0.0.1', token: undefined });
    const fetching = `magnet:?xt=urn:btih:${'ab'.repeat(20)}&dn=fetching&x.pe=127.0.0.1:1`;
    const added = await app.request('/api/v1/torrents', {
      method: 'POST',
      headers: host,
      body: JSON.stringify({ magnet: fetching }),
    });
    assert.equal(added.status, 201);
    const id = torrentSummary.parse(await added.json()).id;
    const state = async () =>
      torrentDetail.parse(await (await app.request(`/api/v1/torrents/${id}`, { headers: host })).json());
    assert.equal((await state()).state, 'metadata');
    assert.equal(
      (await app.request(`/api/v1/torrents/${id}/pause`, { method: 'POST', headers: host })).status,
      200,
    );
    assert.equal((await state()).state, 'paused');
    assert.equal(
      (await app.request(`/api/v1/torrents/${id}/resume`, { method: 'POST', headers: host })).status,
      200,
    );
    // Had the first fetch lived on, the engine would refuse the second ("already added"): failed.
    await new Promise((resolve) => setTimeout(resolve, 50));
    const resumed = await state();
    assert.equal(resumed.state, 'metadata', JSON.stringify(resumed.error));
    assert.equal(
      (await app.request(`/api/v1/torrents/${id}`, { method: 'DELETE', headers: host })).status,
      200,
    );
  });

  it('sets peer limits with the rates, per torrent and for the session; they persist (old files without them load)', async () => {
    const dir = await tempDir('tork-api-');
    const statePath = join(dir, 'state');
    const open = async (defaults = {}) => {
      const engine = new Engine({ actors: idleActors });
      const registry = new TorrentRegistry(engine, new DaemonState(statePath), defaults);
      await registry.restore();
      const app = createApiApp(
        {
          registry,
          engine,
          hub: new EventHub(),
          root: new DownloadRoot(dir),
          downloadDir: join(dir, 'dl'),
          peerPort: 6881,
        },
        { host: '127.0.0.1', token: undefined },
      );
      const call = async (method: string, path: string, body?: unknown) => {
        const response = await app.request(path, {
          method,
          headers: host,
          ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        });
        return { status: response.status, json: (await response.json()) as unknown };
      };
      return { engine, registry, call };
    };
    const first = await open({ maxPeers: 300, uploadSlots: 12 });
    const session0 = sessionBody.parse((await first.call('GET', '/api/v1/session')).json);
    assert.deepEqual([session0.maxPeers, session0.uploadSlots, session0.connections], [300, 12, 0]);
    const id = torrentSummary.parse(
      (await first.call('POST', '/api/v1/torrents', { magnet, paused: true })).json,
    ).id;
    const fresh = torrentDetail.parse((await first.call('GET', `/api/v1/torrents/${id}`)).json);
    assert.deepEqual([fresh.maxPeers, fresh.uploadSlots], [80, 4], 'the engine defaults');
    const path = `/api/v1/torrents/${id}/limits`;
    okBody.parse((await first.call('PUT', path, { maxPeers: 2, uploadSlots: 1, download: 65_536 })).json);
    // A peer limit left out is unchanged; a rate left out is uncapped (as before peer limits).
    okBody.parse((await first.call('PUT', path, { upload: 32_768 })).json);
    const limited = torrentDetail.parse((await first.call('GET', `/api/v1/torrents/${id}`)).json);
    assert.deepEqual([limited.maxPeers, limited.uploadSlots, limited.rateLimits], [2, 1, { upload: 32_768 }]);
    for (const bad of [
      { maxPeers: 0 },
      { maxPeers: 10_001 },
      { uploadSlots: -1 },
      { maxPeers: 2.5 },
      { peers: 3 },
    ]) {
      const answer = await first.call('PUT', path, bad);
      assert.equal(answer.status, 400, JSON.stringify(bad));
      assert.equal(errorBody.parse(answer.json).error.code, 'TORK_ERR_API_BAD_REQUEST');
    }
    okBody.parse((await first.call('PUT', '/api/v1/session/limits', { maxPeers: 40, uploadSlots: 6 })).json);
    assert.deepEqual(first.engine.peerLimits, { maxPeers: 40, uploadSlots: 6 });
    await first.registry.close();

    // Restarted with other command-line defaults: what the API set wins, and is shown.
    const second = await open({ maxPeers: 500 });
    const again = torrentDetail.parse((await second.call('GET', `/api/v1/torrents/${id}`)).json);
    assert.deepEqual([again.maxPeers, again.uploadSlots, again.rateLimits], [2, 1, { upload: 32_768 }]);
    const session = sessionBody.parse((await second.call('GET', '/api/v1/session')).json);
    assert.deepEqual([session.maxPeers, session.uploadSlots], [40, 6]);
    // null: back to the defaults (here: no --upload-slots, so no cap over all torrents).
    okBody.parse((await second.call('PUT', path, { maxPeers: null, uploadSlots: null })).json);
    okBody.parse(
      (await second.call('PUT', '/api/v1/session/limits', { maxPeers: null, uploadSlots: null })).json,
    );
    const reset = torrentDetail.parse((await second.call('GET', `/api/v1/torrents/${id}`)).json);
    assert.deepEqual([reset.maxPeers, reset.uploadSlots], [80, 4]);
    assert.deepEqual(second.engine.peerLimits, { maxPeers: 500, uploadSlots: undefined });
    // 0: no cap over all torrents, even against --upload-slots at the next start.
    okBody.parse((await second.call('PUT', '/api/v1/session/limits', { uploadSlots: 0 })).json);
    await second.registry.close();
    const third = await open({ uploadSlots: 12 });
    assert.equal(third.engine.peerLimits.uploadSlots, undefined);
    assert.equal(sessionBody.parse((await third.call('GET', '/api/v1/session')).json).uploadSlots, null);
    await third.registry.close();

    // A state file written before peer limits existed still loads.
    const legacy = await tempDir('tork-api-');
    const old = new DaemonState(legacy);
    await old.save({
      version: 1,
      sessionLimits: { upload: 4096 },
      torrents: [
        { infoHash: 'ef'.repeat(20), magnet, outDir: legacy, rateLimits: {}, paused: true, addedAt: 1 },
      ],
    });
    const registry = new TorrentRegistry(new Engine({ actors: idleActors }), old);
    await registry.restore();
    assert.deepEqual(
      registry.list().map((torrent) => [torrent.maxPeers, torrent.uploadSlots]),
      [[80, 4]],
    );
  });
});
