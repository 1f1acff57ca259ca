import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { type ActorSystem, Engine, encodeTorrent, parseMetainfo } from '@tork/core';
import type { Hono } from 'hono';
import { errorBody } from '../api-schemas.js';
import { type ApiContext, createApiApp } from '../api-server.js';
import { DaemonState } from '../daemon-state.js';
import { DownloadRoot } from '../download-root.js';
import { EventHub } from '../event-hub.js';
import { TorrentRegistry } from '../torrent-registry.js';
import {
  MAX_RPC_IDS,
  rpcResponse,
  rpcTorrent,
  sessionGetResult,
  sessionStatsResult,
  torrentAddResult,
  torrentGetResult,
} from './rpc-schemas.js';
import { SESSION_ID_HEADER } from './session-id.js';
import { MAX_RPC_TORRENT_FILE_BYTES } from './torrent-add.js';
import { transmissionRoute } from './transmission-route.js';

/** A fresh directory, removed after the file's tests (the CLI package does not depend on the test kit). */
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'tork-trpc-'));
  after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** No threads: these tests add only paused torrents, which never reach the actors. */
const idleActors: ActorSystem = { send() {}, onEvents() {}, close: async () => {} };

/** A three-file torrent (one piece each, 16 KiB pieces), made in memory. */
const TORRENT = encodeTorrent({
  name: 'trio',
  files: [
    { path: ['a.bin'], length: 16_384 },
    { path: ['sub', 'b.bin'], length: 16_384 },
    { path: ['c.bin'], length: 100 },
  ],
  pieceLength: 16_384,
  pieceHashes: new Uint8Array(3 * 20),
  comment: 'made for a test',
});
const TORRENT_HASH = parseMetainfo(TORRENT).infoHashHex;
const MAGNET_HASH = 'ab'.repeat(20);
const MAGNET = `magnet:?xt=urn:btih:${MAGNET_HASH}&dn=probe`;

/** An answer as the tests read it (the arguments' shapes are checked with their schemas where it matters). */
interface Answer {
  readonly result: string;
  // biome-ignore lint/suspicious/noExplicitAny: tests index into answers freely
  readonly arguments: any;
  readonly tag?: number;
}

interface Rig {
  readonly app: Hono;
  readonly context: ApiContext;
  readonly dir: string;
  rpc(body: unknown): Promise<Response>;
  call(method: string, args?: object, tag?: number): Promise<Answer>;
}

async function rig(token?: string): Promise<Rig> {
  const dir = await tempDir();
  const engine = new Engine({ actors: idleActors });
  const registry = new TorrentRegistry(engine, new DaemonState(join(dir, 'state')));
  await registry.restore();
  const context: ApiContext = {
    registry,
    engine,
    hub: new EventHub(),
    root: new DownloadRoot(dir),
    downloadDir: join(dir, 'dl'),
    peerPort: 6881,
  };
  const app = createApiApp(context, { host: '127.0.0.1', token, routes: [transmissionRoute] });
  const auth: Record<string, string> = token
    ? { authorization: `Basic ${Buffer.from(`me:${token}`).toString('base64')}` }
    : {};
  const first = await app.request('/transmission/rpc', {
    method: 'POST',
    headers: { host: 'localhost', ...auth },
  });
  const id = first.headers.get(SESSION_ID_HEADER) ?? '';
  const rpc = async (body: unknown) =>
    await app.request('/transmission/rpc/', {
      method: 'POST',
      headers: { host: '127.0.0.1:9091', [SESSION_ID_HEADER]: id, ...auth },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
  const call = async (method: string, args?: object, tag?: number) => {
    const response = await rpc({
      method,
      ...(args ? { arguments: args } : {}),
      ...(tag !== undefined ? { tag } : {}),
    });
    assert.equal(response.status, 200);
    return rpcResponse.parse(await response.json()) as Answer;
  };
  return { app, context, dir, rpc, call };
}

/** Adds the three-file torrent (paused, base64 wrapped as libb64 does) and the magnet (paused). */
async function addBoth(r: Rig): Promise<void> {
  const wrapped = Buffer.from(TORRENT)
    .toString('base64')
    .replace(/(.{72})/g, '$1\n');
  const added = await r.call('torrent-add', { metainfo: wrapped, paused: true });
  assert.equal(added.result, 'success');
  assert.deepEqual(torrentAddResult.parse(added.arguments), {
    'torrent-added': { id: 1, name: 'trio', hashString: TORRENT_HASH },
  });
  const magnet = await r.call('torrent-add', { filename: MAGNET, paused: true });
  assert.deepEqual(magnet.arguments, { 'torrent-added': { id: 2, name: 'probe', hashString: MAGNET_HASH } });
}

describe('Transmission RPC (in process)', () => {
  it('answers 409 with the session id until the client sends it', async () => {
    const { app } = await rig();
    const host = { host: '127.0.0.1:9091' };
    const first = await app.request('/transmission/rpc', { method: 'POST', headers: host, body: '{}' });
    assert.equal(first.status, 409);
    const id = first.headers.get(SESSION_ID_HEADER);
    assert.ok(id && id.length === 48, String(id));
    assert.equal(
      (await app.request('/transmission/rpc', { headers: host })).status,
      409,
      'a GET learns it too',
    );
    const wrong = await app.request('/transmission/rpc', {
      method: 'POST',
      headers: { ...host, [SESSION_ID_HEADER]: `${id.slice(1)}x` },
      body: '{"method":"session-stats"}',
    });
    assert.equal(wrong.status, 409);
    const right = await app.request('/transmission/rpc', {
      method: 'POST',
      headers: { ...host, [SESSION_ID_HEADER]: id },
      body: '{"method":"session-stats"}',
    });
    assert.equal(right.status, 200);
    sessionStatsResult.parse(rpcResponse.parse(await right.json()).arguments);
    // Another daemon (another app) has another id.
    const other = await rig();
    const otherFirst = await other.app.request('/transmission/rpc', { method: 'POST', headers: host });
    assert.notEqual(otherFirst.headers.get(SESSION_ID_HEADER), id);
  });

  it('refuses malformed JSON and bodies that are no request with 400; unknown methods as Transmission does', async () => {
    const r = await rig();
    for (const body of [
      '{"method":',
      'not json',
      '[]',
      '{"method":5}',
      '{"arguments":{}}',
      '"session-get"',
    ]) {
      const response = await r.rpc(body);
      assert.equal(response.status, 400, body);
      assert.equal(errorBody.parse(await response.json()).error.code, 'TORK_ERR_API_BAD_REQUEST');
    }
    const unknown = await r.call('torrent-reannounce-everything', {}, 42);
    assert.deepEqual(unknown, { result: 'method name not recognized', arguments: {}, tag: 42 });
    const proto = await r.call('__proto__');
    assert.equal(proto.result, 'method name not recognized');
  });

  it('checks each method’s arguments: bad ones and bad ids are a result string, unknown ids are skipped', async () => {
    const r = await rig();
    await addBoth(r);
    const bad: Array<[string, object]> = [
      ['torrent-get', {}],
      ['torrent-get', { fields: 'name' }],
      ['torrent-get', { fields: ['id'], ids: -1 }],
      ['torrent-get', { fields: ['id'], ids: 1.5 }],
      ['torrent-get', { fields: ['id'], ids: { id: 1 } }],
      ['torrent-get', { fields: ['id'], ids: [true] }],
      ['torrent-get', { fields: ['id'], format: 'xml' }],
      ['torrent-add', {}],
      ['torrent-add', { filename: MAGNET, metainfo: 'ZGll' }],
      ['torrent-add', { metainfo: '!!!' }],
      ['torrent-add', { filename: MAGNET, paused: 'yes' }],
      ['torrent-set', { ids: [1], 'files-wanted': [-1] }],
      ['torrent-set', { ids: [1], downloadLimit: 1.5 }],
      ['torrent-remove', { ids: [1], 'delete-local-data': 'true' }],
      ['session-set', { 'speed-limit-down': -5 }],
    ];
    for (const [method, args] of bad) {
      const answer = await r.call(method, args);
      assert.match(
        answer.result,
        /^TORK_ERR_API_BAD_REQUEST: invalid arguments: /,
        `${method} ${JSON.stringify(args)}`,
      );
    }
    // MAX_RPC_IDS: a longer list is refused whole.
    const tooMany = await r.call('torrent-get', { ids: new Array(MAX_RPC_IDS + 1).fill(1), fields: ['id'] });
    assert.match(tooMany.result, /^TORK_ERR_API_BAD_REQUEST: invalid arguments: ids: /);
    const atCap = await r.call('torrent-get', { ids: new Array(MAX_RPC_IDS).fill(1), fields: ['id'] });
    assert.deepEqual(atCap.arguments.torrents, [{ id: 1 }]);
    const nobody = await r.call('torrent-get', { ids: [99, 'ff'.repeat(20)], fields: ['id'] });
    assert.deepEqual(nobody.arguments, { torrents: [] });
    // Numbers and hashes (any case) name the same torrents, each once, in id order.
    const mixed = await r.call('torrent-get', { ids: [2, TORRENT_HASH.toUpperCase(), 1], fields: ['id'] });
    assert.deepEqual(mixed.arguments.torrents, [{ id: 1 }, { id: 2 }]);
    const single = await r.call('torrent-get', { ids: 2, fields: ['hashString'] });
    assert.deepEqual(single.arguments.torrents, [{ hashString: MAGNET_HASH }]);
  });

  it('maps a paused torrent’s fields; table format; unknown fields left out', async () => {
    const r = await rig();
    await addBoth(r);
    const fields = Object.keys(rpcTorrent.shape);
    const got = await r.call('torrent-get', { ids: [1], fields: [...fields, 'noSuchField'] });
    const [torrent] = torrentGetResult.parse(got.arguments).torrents as Array<Record<string, unknown>>;
    const parsed = rpcTorrent.parse(torrent);
    assert.deepEqual(Object.keys(parsed).sort(), [...fields].sort(), 'every known field, nothing else');
    assert.equal(parsed.id, 1);
    assert.equal(parsed.hashString, TORRENT_HASH);
    assert.equal(parsed.name, 'trio');
    assert.equal(parsed.status, 0, 'paused is stopped');
    assert.equal(parsed.totalSize, 32_868);
    assert.equal(parsed.sizeWhenDone, 32_868);
    assert.equal(parsed.leftUntilDone, 32_868);
    assert.equal(parsed.percentDone, 0);
    assert.equal(parsed.eta, -1);
    assert.equal(parsed.uploadRatio, -1);
    assert.equal(parsed.error, 0);
    assert.equal(parsed.pieceCount, 3);
    assert.equal(parsed.pieceSize, 16_384);
    assert.equal(parsed.comment, 'made for a test');
    assert.equal(parsed.downloadDir, join(r.dir, 'dl'));
    assert.deepEqual(
      parsed.files?.map((file) => [file.name, file.length, file.bytesCompleted]),
      [
        ['trio/a.bin', 16_384, 0],
        ['trio/sub/b.bin', 16_384, 0],
        ['trio/c.bin', 100, 0],
      ],
    );
    assert.deepEqual(parsed.priorities, [0, 0, 0]);
    assert.deepEqual(parsed.wanted, [true, true, true]);
    assert.deepEqual(parsed.peers, []);
    assert.match(parsed.magnetLink ?? '', new RegExp(`^magnet:\\?xt=urn:btih:${TORRENT_HASH}&dn=trio$`));
    assert.ok(Number.isInteger(parsed.addedDate) && parsed.addedDate! > 1_600_000_000);
    // The magnet before its metadata: nothing known of its size or files.
    const magnet = await r.call('torrent-get', {
      ids: [2],
      fields: ['name', 'totalSize', 'files', 'metadataPercentComplete'],
    });
    assert.deepEqual(magnet.arguments.torrents, [
      { name: 'probe', totalSize: 0, files: [], metadataPercentComplete: 0 },
    ]);
    const table = await r.call('torrent-get', { fields: ['id', 'name', 'name', 'bogus'], format: 'table' });
    assert.deepEqual(table.arguments.torrents, [
      ['id', 'name', 'bogus'],
      [1, 'trio', null],
      [2, 'probe', null],
    ]);
  });

  it('adds: duplicates, no URLs, paths and directories inside --download-root only', async () => {
    const r = await rig();
    await addBoth(r);
    const again = await r.call('torrent-add', { filename: MAGNET });
    assert.equal(again.result, 'success');
    assert.deepEqual(again.arguments, {
      'torrent-duplicate': { id: 2, name: 'probe', hashString: MAGNET_HASH },
    });
    for (const url of ['http://example.com/x.torrent', 'HTTPS://example.com/x', 'ftp://h/x.torrent']) {
      const refused = await r.call('torrent-add', { filename: url });
      assert.match(refused.result, /does not download \.torrent files from URLs/, url);
    }
    const outside = await r.call('torrent-add', { filename: '/etc/passwd' });
    assert.match(
      outside.result,
      /^TORK_ERR_API_FORBIDDEN: filename \/etc\/passwd is outside --download-root/,
    );
    const path = join(r.dir, 'x.torrent');
    await writeFile(path, 'not bencode');
    const corrupt = await r.call('torrent-add', { filename: path });
    assert.match(corrupt.result, /^invalid or corrupt torrent file: /);
    const missing = await r.call('torrent-add', { filename: join(r.dir, 'none.torrent') });
    assert.match(missing.result, /^TORK_ERR_API_BAD_REQUEST: cannot read /);
    const dir = await r.call('torrent-add', {
      filename: `magnet:?xt=urn:btih:${'cd'.repeat(20)}`,
      'download-dir': '/tmp',
    });
    assert.match(dir.result, /^TORK_ERR_API_FORBIDDEN: download-dir \/tmp is outside/);
    const badMagnet = await r.call('torrent-add', { filename: 'magnet:?xt=urn:btih:zz' });
    assert.match(badMagnet.result, /^invalid or corrupt torrent file: /);
    // MAX_RPC_TORRENT_FILE_BYTES: a larger file is refused before it is read.
    const huge = join(r.dir, 'huge.torrent');
    await writeFile(huge, Buffer.alloc(MAX_RPC_TORRENT_FILE_BYTES + 1));
    const tooBig = await r.call('torrent-add', { filename: huge });
    assert.match(tooBig.result, /^TORK_ERR_LIMIT_EXCEEDED: .* is over 8388608 bytes/);
    assert.equal(r.context.registry.ids.length, 2, 'nothing else was added');
  });

  it('sets files, priorities and rate caps; refuses what tork cannot do', async () => {
    const r = await rig();
    await addBoth(r);
    const { registry } = r.context;
    assert.equal(
      (await r.call('torrent-set', { ids: [1], 'files-unwanted': [0, 2], 'priority-high': [1, 2] })).result,
      'success',
    );
    assert.deepEqual(registry.record(TORRENT_HASH).filePriorities, ['skip', 'high', 'skip']);
    await r.call('torrent-set', { ids: [1], 'files-wanted': [2], 'priority-low': [2] });
    assert.deepEqual(registry.record(TORRENT_HASH).filePriorities, ['skip', 'high', 'low']);
    const view = await r.call('torrent-get', { ids: [1], fields: ['priorities', 'wanted', 'fileStats'] });
    assert.deepEqual(view.arguments.torrents[0].priorities, [0, 1, -1]);
    assert.deepEqual(view.arguments.torrents[0].wanted, [false, true, true]);
    assert.deepEqual(view.arguments.torrents[0].fileStats[1], {
      bytesCompleted: 0,
      wanted: true,
      priority: 1,
    });
    const outOfRange = await r.call('torrent-set', { ids: [1], 'files-wanted': [3] });
    assert.match(outOfRange.result, /files-wanted: file 3 does not exist/);
    const noMeta = await r.call('torrent-set', { ids: [2], 'files-wanted': [0] });
    assert.match(noMeta.result, /no metadata yet/);

    await r.call('torrent-set', {
      ids: [1],
      downloadLimit: 250,
      downloadLimited: true,
      uploadLimit: 40,
      uploadLimited: true,
    });
    assert.deepEqual(registry.record(TORRENT_HASH).rateLimits, { download: 250_000, upload: 40_000 });
    await r.call('torrent-set', { ids: [1], uploadLimited: false, downloadLimit: 300 });
    assert.deepEqual(registry.record(TORRENT_HASH).rateLimits, { download: 300_000 });
    const limits = await r.call('torrent-get', {
      ids: [1],
      fields: ['downloadLimit', 'downloadLimited', 'uploadLimited'],
    });
    assert.deepEqual(limits.arguments.torrents, [
      { downloadLimit: 300, downloadLimited: true, uploadLimited: false },
    ]);
    const zero = await r.call('torrent-set', { ids: [1], downloadLimit: 0 });
    assert.match(zero.result, /not supported/);
    const noPeers = await r.call('torrent-set', { ids: [1], 'peer-limit': 0, downloadLimited: false });
    assert.match(noPeers.result, /peer-limit must be 1 to 10000/);
    assert.deepEqual(registry.record(TORRENT_HASH).rateLimits, { download: 300_000 }, 'nothing applied');
    const peers = await r.call('torrent-set', { ids: [1], 'peer-limit': 10 });
    assert.equal(peers.result, 'success');
    assert.equal(registry.summary(TORRENT_HASH).maxPeers, 10);
    const shown = await r.call('torrent-get', { ids: [1], fields: ['peer-limit'] });
    assert.deepEqual(shown.arguments.torrents, [{ 'peer-limit': 10 }]);
    const verify = await r.call('torrent-verify', { ids: [1] });
    assert.match(verify.result, /torrent-verify is not supported/);
  });

  it('session-get/set map speed caps (KB/s = 1000 bytes) and the download directory', async () => {
    const r = await rig();
    const { registry } = r.context;
    const got = sessionGetResult.parse((await r.call('session-get')).arguments);
    assert.match(got.version ?? '', /^3\.00 \(tork /);
    assert.equal(got['rpc-version'], 16);
    assert.equal(got['peer-port'], 6881);
    assert.equal(got['speed-limit-down-enabled'], false);
    assert.equal(
      (await r.call('session-set', { 'speed-limit-down': 500, 'speed-limit-down-enabled': true })).result,
      'success',
    );
    assert.deepEqual(registry.sessionLimits, { download: 500_000 });
    await r.call('session-set', {
      'speed-limit-up': 20,
      'speed-limit-up-enabled': true,
      'speed-limit-down-enabled': false,
    });
    assert.deepEqual(registry.sessionLimits, { upload: 20_000 });
    const some = await r.call('session-get', {
      fields: ['speed-limit-down', 'speed-limit-down-enabled', 'speed-limit-up'],
    });
    assert.deepEqual(some.arguments, {
      'speed-limit-down': 500,
      'speed-limit-down-enabled': false,
      'speed-limit-up': 20,
    });
    assert.equal(got['peer-limit-global'], registry.sessionPeerLimits.maxPeers);
    await r.call('session-set', { 'peer-limit-global': 42 });
    assert.equal(registry.sessionPeerLimits.maxPeers, 42);
    const peerLimits = await r.call('session-get', {
      fields: ['peer-limit-global', 'peer-limit-per-torrent'],
    });
    assert.deepEqual(peerLimits.arguments, { 'peer-limit-global': 42, 'peer-limit-per-torrent': 80 });
    const port = await r.call('session-set', { 'peer-port': 7000 });
    assert.match(port.result, /peer-port cannot change/);
    assert.equal(
      (await r.call('session-set', { 'peer-port': 6881, 'alt-speed-enabled': false })).result,
      'success',
    );
    const outside = await r.call('session-set', { 'download-dir': '/etc' });
    assert.match(outside.result, /^TORK_ERR_API_FORBIDDEN: /);
    const inside = join(r.dir, 'elsewhere');
    await r.call('session-set', { 'download-dir': inside });
    assert.equal(
      (await r.call('session-get', { fields: ['download-dir'] })).arguments['download-dir'],
      inside,
    );
    await r.call('torrent-add', { filename: MAGNET, paused: true });
    assert.equal(registry.record(MAGNET_HASH).outDir, inside, 'torrent-add uses the new default');
  });

  it('follows what Sonarr and Radarr send: a .torrent path, extra keys ignored, hashes as ids', async () => {
    const r = await rig();
    const path = join(r.dir, 'trio.torrent');
    await writeFile(path, TORRENT);
    const added = await r.call('torrent-add', {
      filename: path,
      'download-dir': join(r.dir, 'tv'),
      paused: true,
      labels: ['tv-sonarr'],
      bandwidthPriority: 1,
      cookies: '',
    });
    assert.deepEqual(added.arguments, { 'torrent-added': { id: 1, name: 'trio', hashString: TORRENT_HASH } });
    assert.equal(r.context.registry.record(TORRENT_HASH).outDir, join(r.dir, 'tv'));
    const set = await r.call('torrent-set', { ids: [TORRENT_HASH], seedRatioLimit: 1.5, seedRatioMode: 1 });
    assert.equal(set.result, 'success', 'seed limits are accepted and ignored: tork seeds until stopped');
    const sonarrFields = [
      'id',
      'hashString',
      'name',
      'downloadDir',
      'totalSize',
      'leftUntilDone',
      'isFinished',
      'eta',
      'status',
      'errorString',
      'uploadedEver',
      'downloadedEver',
      'seedRatioLimit',
      'seedRatioMode',
      'seedIdleLimit',
      'seedIdleMode',
      'file-count',
      'labels',
    ];
    const got = await r.call('torrent-get', { fields: sonarrFields });
    assert.deepEqual(Object.keys(got.arguments.torrents[0]).sort(), [...sonarrFields].sort());
    const session = await r.call('session-get');
    assert.match(session.arguments.version, /^\d+\.\d+ /, 'Sonarr parses MAJOR.MINOR');
    assert.equal(session.arguments['download-dir'], join(r.dir, 'dl'));
    const removed = await r.call('torrent-remove', { ids: [TORRENT_HASH], 'delete-local-data': true });
    assert.equal(removed.result, 'success');
    assert.deepEqual(r.context.registry.ids, []);
  });

  it('stops and removes; ids stay with their torrents and are never reused; removed ids show in recently-active', async () => {
    const r = await rig();
    await addBoth(r);
    // recently-active names no paused torrent for a change: nothing is removed.
    assert.equal((await r.call('torrent-remove', { ids: 'recently-active' })).result, 'success');
    assert.equal(r.context.registry.ids.length, 2);
    assert.equal((await r.call('torrent-stop', { ids: [1, 2] })).result, 'success');
    assert.equal((await r.call('torrent-remove', { ids: [1], 'delete-local-data': true })).result, 'success');
    assert.deepEqual(r.context.registry.ids, [MAGNET_HASH]);
    const recent = await r.call('torrent-get', { ids: 'recently-active', fields: ['id'] });
    assert.deepEqual(recent.arguments, { torrents: [{ id: 2 }], removed: [1] });
    await r.call('torrent-add', { metainfo: Buffer.from(TORRENT).toString('base64'), paused: true });
    const all = await r.call('torrent-get', { fields: ['id', 'hashString'] });
    assert.deepEqual(all.arguments.torrents, [
      { id: 2, hashString: MAGNET_HASH },
      { id: 3, hashString: TORRENT_HASH },
    ]);
    const stats = sessionStatsResult.parse((await r.call('session-stats')).arguments);
    assert.equal(stats.torrentCount, 2);
    assert.equal(stats.pausedTorrentCount, 2);
  });

  it('with a token: Basic auth whose password is the token, or Bearer; anything else is 401', async () => {
    const token = 'sixteen-chars-token!';
    const r = await rig(token);
    assert.equal((await r.call('session-get')).result, 'success', 'Basic me:TOKEN');
    const host = { host: '127.0.0.1' };
    const basic = (credentials: string) => `Basic ${Buffer.from(credentials).toString('base64')}`;
    for (const authorization of [
      basic(`me:${token}x`),
      basic(token),
      basic(`${token}:`),
      'Basic !!!',
      `Bearer ${token}x`,
      '',
    ]) {
      const response = await r.app.request('/transmission/rpc', {
        method: 'POST',
        headers: { ...host, authorization },
      });
      assert.equal(response.status, 401, authorization);
      assert.equal(response.headers.get('www-authenticate'), 'Basic realm="tork daemon"');
    }
    const bearer = await r.app.request('/api/v1/session', {
      headers: { ...host, authorization: `Bearer ${token}` },
    });
    assert.equal(bearer.status, 200);
    const basicApi = await r.app.request('/api/v1/session', {
      headers: { ...host, authorization: basic(`:${token}`) },
    });
    assert.equal(basicApi.status, 200, 'Basic works on the JSON API too (one guard)');
    const refusedApi = await r.app.request('/api/v1/session', { headers: host });
    assert.equal(refusedApi.status, 401);
    assert.equal(
      refusedApi.headers.get('www-authenticate'),
      null,
      'no Basic challenge outside /transmission/: a browser would show its own login dialog',
    );
  });
});
