/**
 * Hostile input to the daemon's API, each its own test: every answer is a 4xx with a JSON
 * `{ error: { code: 'TORK_ERR_…', message } }` body, and the daemon keeps serving.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { errorBody, MAX_API_BODY_BYTES, MAX_EVENT_CLIENTS, sessionBody, torrentList } from '@tork/cli';
import { encodeTorrentV2, fileMerkle } from '@tork/core';
import { torkMain } from '../download/support.js';
import { api, type RunningDaemon, startDaemon } from './support.js';

let work: string;
let daemon: RunningDaemon;
const TOKEN = 'a-test-token-of-enough-length';

function assertError(answer: { status: number; json: unknown }, status: number, code: string): void {
  assert.equal(answer.status, status, JSON.stringify(answer.json));
  const body = errorBody.parse(answer.json);
  assert.equal(body.error.code, code);
}

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'tork-daemon-hostile-'));
  await mkdir(join(work, 'root', 'dl'), { recursive: true });
  await symlink('/etc', join(work, 'root', 'escape'));
  daemon = await startDaemon([
    '--state',
    join(work, 'state'),
    '--download-root',
    join(work, 'root'),
    '--download-dir',
    join(work, 'root', 'dl'),
  ]);
});
after(async () => {
  await daemon?.program.stop();
  await rm(work, { recursive: true, force: true });
});

describe('daemon API: hostile input', { timeout: 120_000 }, () => {
  it('answers a valid request, checked against its schema', async () => {
    const list = await api(daemon.url, 'GET', '/api/v1/torrents');
    assert.equal(list.status, 200);
    assert.deepEqual(torrentList.parse(list.json).torrents, []);
    sessionBody.parse((await api(daemon.url, 'GET', '/api/v1/session')).json);
  });

  it('malformed JSON is a 400', async () => {
    assertError(
      await api(daemon.url, 'POST', '/api/v1/torrents', '{"magnet": '),
      400,
      'TORK_ERR_API_BAD_REQUEST',
    );
    assertError(await api(daemon.url, 'POST', '/api/v1/torrents', '[1,2]'), 400, 'TORK_ERR_API_BAD_REQUEST');
    assertError(
      await api(daemon.url, 'POST', '/api/v1/torrents', { magnet: 'magnet:?xt=urn:btih:zz', path: '/x' }),
      400,
      'TORK_ERR_API_BAD_REQUEST',
    );
    assertError(
      await api(daemon.url, 'POST', '/api/v1/torrents', { magnet: 'magnet:?xt=urn:btih:zz' }),
      400,
      'TORK_ERR_MAGNET',
    );
    assertError(
      await api(daemon.url, 'POST', '/api/v1/torrents', { metainfo: 'ZGllIQ==' }),
      400,
      'TORK_ERR_BENCODE',
    );
    assertError(
      await api(daemon.url, 'PUT', '/api/v1/session/limits', { download: -1 }),
      400,
      'TORK_ERR_API_BAD_REQUEST',
    );
  });

  it('a v2-only torrent without its piece layers is a 400, nothing listed; a v2 magnet is taken (its layers come from peers)', async () => {
    const merkle = fileMerkle(new Uint8Array(20_000).fill(7), 16384);
    const v2 = Buffer.from(
      encodeTorrentV2({
        version: 'v2',
        name: 'v2.bin',
        length: 20_000,
        pieceLength: 16384,
        fileHashes: [{ piecesRoot: merkle.root!, pieceLayer: merkle.pieceLayer! }],
      }),
    );
    // `piece layers` sorts last in the root dictionary: cut it off (as BEP 9 metadata would be).
    const at = v2.indexOf('12:piece layers');
    assert.ok(at > 0);
    const metainfo = Buffer.concat([v2.subarray(0, at), Buffer.from('e')]).toString('base64');
    assertError(await api(daemon.url, 'POST', '/api/v1/torrents', { metainfo }), 400, 'TORK_ERR_METAINFO');
    assert.deepEqual(torrentList.parse((await api(daemon.url, 'GET', '/api/v1/torrents')).json).torrents, []);
    // A v2 magnet is fetched like any other: listed under its truncated v2 hash (no peer here), then removed.
    const magnet = `magnet:?xt=urn:btmh:1220${'ab'.repeat(32)}&x.pe=127.0.0.1:9`;
    const added = await api(daemon.url, 'POST', '/api/v1/torrents', { magnet });
    assert.equal(added.status, 201, JSON.stringify(added.json));
    assert.equal((added.json as { id: string }).id, 'ab'.repeat(20));
    assert.equal((await api(daemon.url, 'DELETE', `/api/v1/torrents/${'ab'.repeat(20)}`)).status < 300, true);
    assert.deepEqual(torrentList.parse((await api(daemon.url, 'GET', '/api/v1/torrents')).json).torrents, []);
  });

  it(`a body over ${MAX_API_BODY_BYTES} bytes is a 413, whatever its declared length`, async () => {
    const huge = `{"magnet":"${'a'.repeat(MAX_API_BODY_BYTES)}"}`;
    assertError(await api(daemon.url, 'POST', '/api/v1/torrents', huge), 413, 'TORK_ERR_LIMIT_EXCEEDED');
    // Chunked (no Content-Length): counted as it streams in.
    const port = Number(new URL(daemon.url).port);
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(
        { host: '127.0.0.1', port, method: 'POST', path: '/api/v1/torrents', agent: false },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      const chunk = Buffer.alloc(1024 * 1024, 0x61);
      for (let i = 0; i < 10; i++) req.write(chunk);
      req.end();
    });
    assert.equal(status, 413);
  });

  it('an unknown method on a known path is a 405; an unknown path a 404', async () => {
    assertError(await api(daemon.url, 'PATCH', '/api/v1/torrents'), 405, 'TORK_ERR_API_METHOD');
    assertError(await api(daemon.url, 'DELETE', '/api/v1/session'), 405, 'TORK_ERR_API_METHOD');
    assertError(await api(daemon.url, 'GET', '/api/v2/anything'), 404, 'TORK_ERR_API_NOT_FOUND');
    assertError(
      await api(daemon.url, 'GET', `/api/v1/torrents/${'ab'.repeat(20)}`),
      404,
      'TORK_ERR_API_NOT_FOUND',
    );
  });

  it('a path outside --download-root is a 403 (.., absolute, through a symbolic link)', async () => {
    const magnet = `magnet:?xt=urn:btih:${'cd'.repeat(20)}`;
    for (const downloadDir of [
      '/tmp',
      join(work, 'root', '..', 'elsewhere'),
      join(work, 'root', 'escape', 'x'),
    ])
      assertError(
        await api(daemon.url, 'POST', '/api/v1/torrents', { magnet, downloadDir }),
        403,
        'TORK_ERR_API_FORBIDDEN',
      );
    assertError(
      await api(daemon.url, 'POST', '/api/v1/torrents', { path: '/etc/passwd' }),
      403,
      'TORK_ERR_API_FORBIDDEN',
    );
    // Nothing was added.
    assert.deepEqual(torrentList.parse((await api(daemon.url, 'GET', '/api/v1/torrents')).json).torrents, []);
  });

  it('a foreign Host header (DNS rebinding) is a 403', async () => {
    const port = Number(new URL(daemon.url).port);
    const status = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port,
          path: '/api/v1/torrents',
          agent: false,
          headers: { host: `attacker.example:${port}` },
        },
        (res) => {
          let body = '';
          res.on('data', (chunk) => {
            body += chunk;
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        },
      );
      req.on('error', reject);
      req.end();
    });
    assertError({ status: status.status, json: JSON.parse(status.body) }, 403, 'TORK_ERR_API_FORBIDDEN');
  });

  it(`at most ${MAX_EVENT_CLIENTS} event-stream clients; the next gets a 503`, async () => {
    const controllers: AbortController[] = [];
    // Held to the end: undici cancels the body of a Response that is garbage-collected, which closes
    // its connection and frees the daemon's place (a CI run once counted 8 clients of 16).
    const responses: Response[] = [];
    try {
      for (let i = 0; i < MAX_EVENT_CLIENTS; i++) {
        const controller = new AbortController();
        controllers.push(controller);
        const response = await fetch(`${daemon.url}/api/v1/events`, { signal: controller.signal });
        responses.push(response);
        assert.equal(response.status, 200);
        assert.match(response.headers.get('content-type') ?? '', /text\/event-stream/);
      }
      const session = sessionBody.parse((await api(daemon.url, 'GET', '/api/v1/session')).json);
      assert.equal(session.eventClients, MAX_EVENT_CLIENTS);
      // Headers only: were it (wrongly) a stream, reading its body would never end.
      const extra = new AbortController();
      controllers.push(extra);
      const refused = await fetch(`${daemon.url}/api/v1/events`, { signal: extra.signal });
      assert.equal(refused.status, 503, `content-type ${refused.headers.get('content-type')}`);
      assertError({ status: refused.status, json: await refused.json() }, 503, 'TORK_ERR_LIMIT_EXCEEDED');
    } finally {
      for (const controller of controllers) controller.abort();
      responses.length = 0; // released only now
    }
  });

  it('a non-loopback --rpc-listen without a token is refused at start (nothing bound)', async () => {
    const result = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        [
          torkMain,
          'daemon',
          // A TEST-NET address (RFC 5737), no interface of this machine: were the check ever
          // lost, the bind would fail rather than expose anything, and the test would still fail.
          '--rpc-listen',
          '192.0.2.1:0',
          '--state',
          join(work, 'state2'),
          '--port',
          '0',
          '--listen-host',
          '127.0.0.1',
          '--no-dht',
        ],
        { timeout: 20_000 },
        (error, _stdout, stderr) =>
          resolve({ code: error ? ((error as { code?: number }).code ?? null) : 0, stderr }),
      );
    });
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, /needs --rpc-token/);
  });

  it('with --rpc-token, a request without the token (or with another) is a 401', async () => {
    const guarded = await startDaemon([
      '--state',
      join(work, 'state3'),
      '--rpc-token',
      TOKEN,
      '--download-dir',
      join(work, 'dl3'),
    ]);
    try {
      assertError(await api(guarded.url, 'GET', '/api/v1/torrents'), 401, 'TORK_ERR_API_UNAUTHORIZED');
      assertError(
        await api(guarded.url, 'GET', '/api/v1/torrents', undefined, { authorization: `Bearer ${TOKEN}x` }),
        401,
        'TORK_ERR_API_UNAUTHORIZED',
      );
      const ok = await api(guarded.url, 'GET', '/api/v1/torrents', undefined, {
        authorization: `Bearer ${TOKEN}`,
      });
      assert.equal(ok.status, 200);
    } finally {
      await guarded.program.stop();
    }
  });

  it('still serves after all of the above', async () => {
    assert.equal((await api(daemon.url, 'GET', '/api/v1/session')).status, 200);
    assert.ok(daemon.program.running());
  });
});
