/**
 * `tork remote` drives a running daemon: add a torrent (from a libtorrent seeder on loopback), see
 * it in the list, pause it (it stops and stays listed), resume it (it picks up from its resume
 * data), and remove it with its data. The event stream carries the torrent's `--json` events.
 */
import assert from 'node:assert/strict';
import { access, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  type Dataset,
  ensureDataset,
  sessionBody,
  stateFileSchema,
  torrentDetail,
  torrentList,
} from '@tork/cli';
import { parsePrometheusText, sampleSum, sampleValue } from '@tork/testkit';
import { requireLibtorrentPython, startLibtorrentSeeder } from '../download/support.js';
import { api, assertSameFiles, type RunningDaemon, runRemote, startDaemon, waitFor } from './support.js';

/**
 * Seeder cap: the 4 MiB download takes ~16 s, long enough to pause it half-way even when each
 * `tork remote` (a node process) takes seconds to start on a loaded machine.
 */
const UPLOAD_LIMIT = 256 * 1024;

let work: string;
let dataset: Dataset;

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'tork-daemon-remote-'));
  dataset = await ensureDataset(join(tmpdir(), 'tork-daemon-cache'), {
    size: 4 * 1024 * 1024 + 777,
    files: 4,
    pieceLength: 64 * 1024,
    seed: 41,
  });
});
after(() => rm(work, { recursive: true, force: true }));

describe('tork remote', { timeout: 180_000 }, () => {
  it('adds, lists, pauses, resumes and removes a torrent in a running daemon', async (t) => {
    const python = await requireLibtorrentPython(t);
    if (!python) return;
    const seeder = await startLibtorrentSeeder(python, dataset.torrentPath, dataset.dataDir, {
      uploadLimit: UPLOAD_LIMIT,
    });
    t.after(() => seeder.stop());
    const out = join(work, 'out');
    const state = join(work, 'state');
    const daemon: RunningDaemon = await startDaemon(['--state', state, '--download-dir', out]);
    t.after(() => daemon.program.stop());

    // The event stream, read from the start.
    const events: Array<{ event: string; torrentId?: string }> = [];
    const stream = new AbortController();
    t.after(() => stream.abort());
    const response = await fetch(`${daemon.url}/api/v1/events`, { signal: stream.signal });
    void (async () => {
      let text = '';
      const decoder = new TextDecoder();
      try {
        for await (const chunk of response.body!) {
          text += decoder.decode(chunk as Uint8Array, { stream: true });
          const blocks = text.split('\n\n');
          text = blocks.pop() ?? '';
          for (const block of blocks) {
            const event = /^event: (.*)$/m.exec(block)?.[1];
            const data = /^data: (.*)$/m.exec(block)?.[1];
            if (event && data) events.push({ event, ...JSON.parse(data) });
          }
        }
      } catch {
        // Aborted at the end of the test.
      }
    })();

    const added = await runRemote(daemon.url, [
      'add',
      dataset.torrentPath,
      '--peer',
      `127.0.0.1:${seeder.port}`,
    ]);
    assert.equal(added.status, 0, added.stderr);
    const id = /^added ([0-9a-f]{40}) /.exec(added.stdout)?.[1];
    assert.ok(id, added.stdout);
    const short = id.slice(0, 8);

    const list = async () => {
      const run = await runRemote(daemon.url, ['list', '--json']);
      assert.equal(run.status, 0, run.stderr);
      return torrentList.parse(JSON.parse(run.stdout)).torrents;
    };
    // Polled through the API (a fetch), not `tork remote list` (a node process that takes seconds
    // to start on a loaded machine): the pause below must land before the end.
    const progress = async () =>
      torrentDetail.parse((await api(daemon.url, 'GET', `/api/v1/torrents/${id}`)).json).progress;
    // Mid-download, the detail shows the seeder among the peers: read in the same poll as the
    // progress (a CI run under load saw an empty list when it was read after `tork remote list`,
    // a node process that took seconds to start, by which time the download could have ended).
    let seen: string[] = [];
    await waitFor('the first bytes, with the seeder among the peers', 60_000, async () => {
      const detail = torrentDetail.parse((await api(daemon.url, 'GET', `/api/v1/torrents/${id}`)).json);
      seen = detail.peerList.map((peer) => peer.address);
      return detail.progress > 0 && seen.includes(`127.0.0.1:${seeder.port}`) ? true : undefined;
    }).catch((error) => {
      throw new Error(`${(error as Error).message}; peers last seen: ${JSON.stringify(seen)}`);
    });
    assert.equal((await list()).length, 1, 'tork remote list shows the torrent');

    // /metrics on the API listener: valid Prometheus text whose byte count moves with the download.
    const scrape = async () => {
      const response = await fetch(`${daemon.url}/metrics`);
      assert.equal(response.status, 200);
      assert.match(response.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
      return parsePrometheusText(await response.text());
    };
    const first = await scrape();
    assert.equal(sampleValue(first, 'tork_torrents'), 1);
    const downBefore = sampleSum(first, 'tork_torrent_downloaded_bytes_total', { torrent: id });
    assert.ok(downBefore > 0, 'bytes down counted');
    const second = await waitFor('the byte count to move', 30_000, async () => {
      const families = await scrape();
      return sampleSum(families, 'tork_torrent_downloaded_bytes_total', { torrent: id }) > downBefore
        ? families
        : undefined;
    });
    assert.ok(sampleSum(second, 'tork_torrent_peers') >= 1, 'the seeder counted among the peers');

    await waitFor('a quarter downloaded', 60_000, async () =>
      (await progress()) >= 0.25 ? true : undefined,
    );

    const paused = await runRemote(daemon.url, ['pause', short]);
    assert.equal(paused.status, 0, paused.stderr);
    const [atPause] = await list();
    assert.equal(atPause?.state, 'paused');
    assert.equal(atPause?.peers, 0);
    assert.ok(atPause!.progress < 1, 'paused before the end');
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const [stillPaused] = await list();
    assert.equal(stillPaused?.verifiedBytes, atPause?.verifiedBytes, 'nothing is fetched while paused');
    const saved = stateFileSchema.parse(JSON.parse(await readFile(join(state, 'torrents.json'), 'utf8')));
    assert.equal(saved.torrents[0]?.paused, true);

    const resumed = await runRemote(daemon.url, ['resume', short]);
    assert.equal(resumed.status, 0, resumed.stderr);
    const done = await waitFor('the download to complete', 90_000, async () => {
      const [torrent] = await list();
      return torrent?.progress === 1 && torrent.state === 'seeding' ? torrent : undefined;
    });
    // Resumed from its resume data: what was verified at the pause came from disk.
    assert.ok(
      done.resumedBytes >= atPause!.verifiedBytes,
      `${done.resumedBytes} < ${atPause!.verifiedBytes}`,
    );
    await assertSameFiles(dataset, out);

    const detail = torrentDetail.parse((await api(daemon.url, 'GET', `/api/v1/torrents/${id}`)).json);
    assert.equal(detail.files.length, dataset.files.length);
    // Limits and file priorities through the API, kept in the state file.
    assert.equal(
      (await api(daemon.url, 'PUT', `/api/v1/torrents/${id}/limits`, { upload: 65_536 })).status,
      200,
    );
    assert.equal(
      (await api(daemon.url, 'PUT', '/api/v1/session/limits', { download: 1_048_576 })).status,
      200,
    );
    const session = sessionBody.parse((await api(daemon.url, 'GET', '/api/v1/session')).json);
    assert.deepEqual(session.rateLimits, { download: 1_048_576 });
    assert.equal(session.torrents, 1);
    const wrongCount = await api(daemon.url, 'PUT', `/api/v1/torrents/${id}/files`, { priorities: ['high'] });
    assert.equal(wrongCount.status, 400);
    const priorities = dataset.files.map((_, index) => (index === 0 ? 'high' : 'normal'));
    assert.equal((await api(daemon.url, 'PUT', `/api/v1/torrents/${id}/files`, { priorities })).status, 200);
    const changed = torrentDetail.parse((await api(daemon.url, 'GET', `/api/v1/torrents/${id}`)).json);
    assert.deepEqual(
      changed.files.map((file) => file.priority),
      priorities,
    );
    assert.deepEqual(changed.rateLimits, { upload: 65_536 });
    const kept = stateFileSchema.parse(JSON.parse(await readFile(join(state, 'torrents.json'), 'utf8')));
    assert.deepEqual(kept.sessionLimits, { download: 1_048_576 });
    assert.deepEqual(kept.torrents[0]?.filePriorities, priorities);
    assert.deepEqual(kept.torrents[0]?.rateLimits, { upload: 65_536 });

    const table = await runRemote(daemon.url, ['list']);
    assert.match(table.stdout, new RegExp(`${short}\\s+100\\.0%`));

    assert.ok(
      events.some((event) => event.event === 'progress' && event.torrentId === id),
      'progress events',
    );
    assert.ok(
      events.some((event) => event.event === 'done' && event.torrentId === id),
      'a done event',
    );

    const removed = await runRemote(daemon.url, ['remove', short, '--delete-data']);
    assert.equal(removed.status, 0, removed.stderr);
    assert.deepEqual(await list(), []);
    await assert.rejects(access(join(out, dataset.name)), 'the data is deleted');
    const after = stateFileSchema.parse(JSON.parse(await readFile(join(state, 'torrents.json'), 'utf8')));
    assert.deepEqual(after.torrents, []);
    const unknown = await runRemote(daemon.url, ['pause', short]);
    assert.equal(unknown.status, 1);
    assert.match(unknown.stderr, /TORK_ERR_API_NOT_FOUND/);
    // SIGTERM: a clean stop.
    await daemon.program.stop();
    assert.match(daemon.program.output(), /tork daemon: stopped/);
  });
});
