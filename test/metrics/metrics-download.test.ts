/**
 * `tork download --metrics-listen` from libtorrent seeders on 127.0.0.1: `/metrics` scraped while
 * the download runs and after it parses strictly (HELP/TYPE, no duplicate series), and its figures
 * move as the download does (bytes down grow, peers connected, every piece verified at the end).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type Dataset, verifyDownload } from '@tork/cli';
import { parseMetainfo } from '@tork/core';
import { type PrometheusFamily, parsePrometheusText, sampleSum, sampleValue } from '@tork/testkit';
import {
  interopDataset,
  requireLibtorrentPython,
  runTork,
  startLibtorrentSeeder,
} from '../download/support.js';

/** Per seeder, bytes a second: two of them make the 64 MiB download last ~5 s, long enough to scrape. */
const UPLOAD_LIMIT = 6 * 1024 * 1024;
/** Between scrapes during the download, ms. */
const SCRAPE_EVERY_MS = 400;

let dataset: Dataset;
let work: string;

before(async () => {
  dataset = await interopDataset('metrics-download');
  work = await mkdtemp(join(tmpdir(), 'tork-metrics-'));
});
after(() => rm(work, { recursive: true, force: true }));

function scrape(port: number): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const request = get({ host: '127.0.0.1', port, path: '/metrics', timeout: 5_000 }, (response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
      response.on('end', () =>
        resolve({ status: response.statusCode ?? 0, type: String(response.headers['content-type']), body }),
      );
    });
    request.on('timeout', () => request.destroy(new Error('scrape timed out')));
    request.on('error', reject);
  });
}

describe('tork download --metrics-listen', { timeout: 180_000 }, () => {
  it('serves /metrics whose figures follow a download from libtorrent seeders', async (t) => {
    const python = await requireLibtorrentPython(t);
    if (!python) return;
    const meta = parseMetainfo(readFileSync(dataset.torrentPath));
    const seeders = await Promise.all(
      [0, 1].map(() =>
        startLibtorrentSeeder(python, dataset.torrentPath, dataset.dataDir, { uploadLimit: UPLOAD_LIMIT }),
      ),
    );
    t.after(() => Promise.all(seeders.map((seeder) => seeder.stop())));
    const out = join(work, 'out');
    const during: Array<Map<string, PrometheusFamily>> = [];
    let afterDone: Map<string, PrometheusFamily> | undefined;
    let port: number | undefined;
    let done = false;
    const problems: string[] = [];
    const scrapes: Array<Promise<void>> = [];
    const take = async (when: 'during' | 'after') => {
      if (port === undefined) return;
      try {
        const answer = await scrape(port);
        assert.equal(answer.status, 200);
        assert.match(answer.type, /^text\/plain; version=0\.0\.4/);
        const parsed = parsePrometheusText(answer.body);
        if (when === 'after') afterDone = parsed;
        else if (!done) during.push(parsed);
      } catch (error) {
        problems.push(`${when}: ${(error as Error).message}`);
      }
    };
    let timer: NodeJS.Timeout | undefined;
    const run = await runTork(
      [
        dataset.torrentPath,
        '--out',
        out,
        ...seeders.flatMap((seeder) => ['--peer', `127.0.0.1:${seeder.port}`]),
        '--no-trackers',
        '--port',
        '0',
        '--metrics-listen',
        '127.0.0.1:0',
        // Seeding a little keeps the process (and /metrics) up after the download for the last scrape.
        '--seed',
        '--seed-time',
        '3',
      ],
      {
        timeoutMs: 120_000,
        onEvent: (event) => {
          if (event.event === 'metrics-listening') {
            assert.equal(event.host, '127.0.0.1', 'loopback unless told');
            port = event.port as number;
            timer = setInterval(() => scrapes.push(take('during')), SCRAPE_EVERY_MS);
          } else if (event.event === 'done') {
            done = true;
            clearInterval(timer);
            // After the watchdog's next sample (once a second): the hosts' figures are that old.
            scrapes.push(new Promise((resolve) => setTimeout(resolve, 1_300)).then(() => take('after')));
          }
        },
      },
    );
    clearInterval(timer);
    await Promise.all(scrapes);
    assert.equal(run.status, 0, `tork exited ${run.status} (${run.signal}): ${run.stderr}`);
    assert.deepEqual(problems, [], 'every scrape answered with valid text');
    assert.deepEqual(await verifyDownload(dataset, out), [], 'the download is byte-identical');

    const torrent = { torrent: meta.infoHashHex };
    const down = (parsed: Map<string, PrometheusFamily>) =>
      sampleValue(parsed, 'tork_torrent_downloaded_bytes_total', torrent) ?? 0;
    t.diagnostic(
      `${during.length} scrapes during the download: bytes down ${during.map(down).join(' → ')}; ` +
        `peers ${during.map((parsed) => sampleSum(parsed, 'tork_torrent_peers', torrent)).join(', ')}`,
    );
    assert.ok(during.length >= 2, `at least two scrapes during the download, got ${during.length}`);
    const downs = during.map(down);
    for (let i = 1; i < downs.length; i++) assert.ok(downs[i]! >= downs[i - 1]!, 'a counter never goes down');
    assert.ok(downs.at(-1)! > downs[0]!, `bytes down grew during the download: ${downs.join(', ')}`);
    assert.ok(
      during.some((parsed) => sampleSum(parsed, 'tork_torrent_peers', torrent) > 0),
      'peers connected during the download',
    );
    assert.ok(
      during.some(
        (parsed) => (sampleValue(parsed, 'tork_torrent_verified_pieces', torrent) ?? 0) < meta.pieceCount,
      ),
      'a scrape saw the download unfinished',
    );
    const peers = during.flatMap((parsed) => parsed.get('tork_torrent_peers')?.samples ?? []);
    assert.ok(
      peers.every((sample) => Object.keys(sample.labels).sort().join() === 'name,source,torrent,transport'),
      'peers are counted by source and transport, never one series per peer',
    );

    assert.ok(afterDone, 'a scrape after the done event');
    assert.equal(sampleValue(afterDone, 'tork_torrent_verified_pieces', torrent), meta.pieceCount);
    assert.equal(sampleValue(afterDone, 'tork_torrent_pieces', torrent), meta.pieceCount);
    assert.equal(sampleValue(afterDone, 'tork_torrent_verified_bytes', torrent), meta.length);
    assert.ok(down(afterDone) >= meta.length, 'every byte came down');
    assert.equal(sampleValue(afterDone, 'tork_torrent_hash_failures_total', torrent), 0);
    assert.equal(sampleValue(afterDone, 'tork_torrents'), 1);
    // The peer-host threads: messages counted both ways, event-loop lag sampled.
    assert.ok(sampleSum(afterDone, 'tork_thread_events_total') > 0, 'events from the peer hosts');
    assert.ok(sampleSum(afterDone, 'tork_thread_command_batches_total') > 0, 'batches to the peer hosts');
    assert.ok(
      sampleSum(afterDone, 'tork_thread_received_bytes_total') >= meta.length,
      'socket bytes per thread',
    );
    assert.ok(
      (afterDone.get('tork_thread_event_loop_lag_seconds')?.samples.length ?? 0) >= 1,
      'lag per thread',
    );
  });
});
