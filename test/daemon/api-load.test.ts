/**
 * 1,000 concurrent API requests while the daemon downloads from 4 libtorrent seeders on loopback:
 * lists, details, session, `/metrics`, and hostile ones (malformed JSON, unknown routes). Every
 * one gets a well-formed answer (2xx with a body its zod schema accepts, or the right 4xx with its
 * TORK_ERR_ code), the daemon stays up, and the download completes byte-identical. (What the load
 * costs the download's throughput is measured by scripts/api-load-bench.mjs, docs/performance.md.)
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type Dataset, ensureDataset, errorBody, sessionBody, torrentDetail, torrentList } from '@tork/cli';
import { parsePrometheusText } from '@tork/testkit';
import { requireLibtorrentPython, startLibtorrentSeeder } from '../download/support.js';
import type { StartedProgram } from '../support/programs.js';
import { api, assertSameFiles, startDaemon, waitFor } from './support.js';

const REQUESTS = 1_000;
const SEEDERS = 4;
/** Each seeder's cap: the 12 MiB take ~6 s, so the burst lands mid-download. */
const UPLOAD_LIMIT = 512 * 1024;

let work: string;
let dataset: Dataset;

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'tork-daemon-load-'));
  dataset = await ensureDataset(join(tmpdir(), 'tork-daemon-cache'), {
    size: 12 * 1024 * 1024 + 99,
    files: 3,
    pieceLength: 64 * 1024,
    seed: 88,
  });
});
after(() => rm(work, { recursive: true, force: true }));

interface Kind {
  readonly name: string;
  readonly share: number;
  readonly request: (url: string, id: string) => Promise<Response>;
  /** Throws unless the answer is the well-formed one for this kind. */
  readonly check: (status: number, text: string) => void;
}

function json<T>(schema: { parse(value: unknown): T }, text: string): T {
  return schema.parse(JSON.parse(text));
}

function expectError(status: number, text: string, wantStatus: number, code: string): void {
  assert.equal(status, wantStatus, text);
  assert.equal(json(errorBody, text).error.code, code);
}

const timeout = () => AbortSignal.timeout(30_000);

const KINDS: readonly Kind[] = [
  {
    name: 'GET list',
    share: 300,
    request: (url) => fetch(`${url}/api/v1/torrents`, { signal: timeout() }),
    check: (status, text) => {
      assert.equal(status, 200, text);
      assert.equal(json(torrentList, text).torrents.length, 1);
    },
  },
  {
    name: 'GET detail',
    share: 250,
    request: (url, id) => fetch(`${url}/api/v1/torrents/${id}`, { signal: timeout() }),
    check: (status, text) => {
      assert.equal(status, 200, text);
      json(torrentDetail, text);
    },
  },
  {
    name: 'GET session',
    share: 200,
    request: (url) => fetch(`${url}/api/v1/session`, { signal: timeout() }),
    check: (status, text) => {
      assert.equal(status, 200, text);
      assert.equal(json(sessionBody, text).torrents, 1);
    },
  },
  {
    name: 'GET /metrics',
    share: 100,
    request: (url) => fetch(`${url}/metrics`, { signal: timeout() }),
    check: (status, text) => {
      assert.equal(status, 200, text.slice(0, 200));
      const families = parsePrometheusText(text);
      assert.ok(families.size > 0, 'metric families');
    },
  },
  {
    name: 'malformed JSON',
    share: 75,
    request: (url) =>
      fetch(`${url}/api/v1/torrents`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"magnet": ',
        signal: timeout(),
      }),
    check: (status, text) => expectError(status, text, 400, 'TORK_ERR_API_BAD_REQUEST'),
  },
  {
    name: 'unknown route',
    share: 75,
    request: (url) => fetch(`${url}/api/v1/nothing/here`, { signal: timeout() }),
    check: (status, text) => expectError(status, text, 404, 'TORK_ERR_API_NOT_FOUND'),
  },
];

describe('daemon API under load', { timeout: 120_000 }, () => {
  it(`answers ${REQUESTS} concurrent requests during a download, which completes byte-identical`, async (t) => {
    const python = await requireLibtorrentPython(t);
    if (!python) return;
    assert.equal(
      KINDS.reduce((sum, kind) => sum + kind.share, 0),
      REQUESTS,
    );
    const seeders: StartedProgram[] = [];
    t.after(() => Promise.all(seeders.map((seeder) => seeder.stop())));
    const peers: string[] = [];
    for (let i = 0; i < SEEDERS; i++) {
      const seeder = await startLibtorrentSeeder(python, dataset.torrentPath, dataset.dataDir, {
        uploadLimit: UPLOAD_LIMIT,
      });
      seeders.push(seeder);
      peers.push(`127.0.0.1:${seeder.port}`);
    }
    const out = join(work, 'out');
    const daemon = await startDaemon(['--state', join(work, 'state'), '--download-dir', out]);
    t.after(() => daemon.program.stop());
    const added = await api(daemon.url, 'POST', '/api/v1/torrents', { path: dataset.torrentPath, peers });
    assert.equal(added.status, 201, JSON.stringify(added.json));
    const id = (added.json as { id: string }).id;
    const progress = async () =>
      torrentDetail.parse((await api(daemon.url, 'GET', `/api/v1/torrents/${id}`)).json);
    await waitFor('the download under way', 30_000, async () => {
      const shown = await progress();
      return shown.verifiedBytes > 0 ? true : undefined;
    });
    const startedAt = await progress();
    assert.equal(startedAt.state, 'downloading');

    // Interleaved kinds, all in flight at once.
    const plan = KINDS.flatMap((kind) => Array.from({ length: kind.share }, () => kind));
    plan.sort((a, b) => a.name.localeCompare(b.name));
    const order = plan.map((kind, i) => ({ kind, key: (i * 7919) % REQUESTS })).sort((a, b) => a.key - b.key);
    const began = performance.now();
    const answers = await Promise.all(
      order.map(async ({ kind }) => {
        try {
          const response = await kind.request(daemon.url, id);
          return { kind, status: response.status, text: await response.text() };
        } catch (error) {
          return { kind, status: 0, text: String(error) };
        }
      }),
    );
    const ms = performance.now() - began;
    const failures: string[] = [];
    const counts = new Map<string, number>();
    for (const { kind, status, text } of answers) {
      try {
        kind.check(status, text);
        counts.set(kind.name, (counts.get(kind.name) ?? 0) + 1);
      } catch (error) {
        failures.push(`${kind.name}: ${(error as Error).message.slice(0, 300)}`);
      }
    }
    t.diagnostic(`${REQUESTS} requests answered in ${ms.toFixed(0)} ms: ${JSON.stringify([...counts])}`);
    assert.deepEqual(failures.slice(0, 5), [], `${failures.length} malformed answers`);
    assert.equal(answers.length, REQUESTS);

    // Still up, and the download goes on to the end.
    assert.equal(daemon.program.child.exitCode, null, 'the daemon is still running');
    const done = await waitFor('the download to complete', 60_000, async () => {
      const shown = await progress();
      return shown.progress === 1 ? shown : undefined;
    });
    assert.equal(done.verifiedBytes, dataset.length);
    await assertSameFiles(dataset, out);
  });
});
