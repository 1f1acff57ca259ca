/**
 * End to end: a torrent whose only tracker is a hostile HTTP server (an HTML error page served
 * with 200) plus one good peer given with --peer (a `tork seed` process). The download must go on
 * with the peer, report the tracker's fault as a `tracker-error` event with a clear message, and
 * exit 0 with byte-identical files. Every process is stopped by PID.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { startTork, type TorkProcess, torkCreate } from '../seed/support.js';

const work = await mkdtemp(join(tmpdir(), 'tork-hostile-tracker-'));
after(() => (process.env.TORK_KEEP_WORK ? undefined : rm(work, { recursive: true, force: true })));

const FILES = [
  { path: 'a.bin', size: 700_000 },
  { path: 'sub/b.bin', size: 300_001 },
  { path: 'c.txt', size: 5 },
];

function bytes(size: number, seed: number): Buffer {
  const out = Buffer.alloc(size);
  let state = seed;
  for (let i = 0; i < size; i++) {
    state = (state * 1103515245 + 12345) >>> 0;
    out[i] = state >>> 24;
  }
  return out;
}

const sha1 = (data: Uint8Array): string => createHash('sha1').update(data).digest('hex');

describe('download with a hostile tracker and a good peer', () => {
  it('the tracker serves an HTML page: tracker-error with a clear message, the download completes from the peer', async (t) => {
    const requests: string[] = [];
    const server = http.createServer((req, res) => {
      requests.push(req.url ?? '');
      res.writeHead(200, { 'Content-Type': 'text/html' });
      res.end('<html><head><title>Tracker Maintenance</title></head><body><p>Back soon</p></body></html>');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const announce = `http://127.0.0.1:${(server.address() as AddressInfo).port}/announce`;
    const processes: TorkProcess[] = [];
    t.after(async () => {
      await Promise.all(processes.map((p) => p.stop()));
      server.closeAllConnections();
      server.close();
    });

    const dataDir = join(work, 'data');
    const top = join(dataDir, 'hostile-set');
    const contents = new Map<string, Buffer>();
    for (const [i, file] of FILES.entries()) {
      const data = bytes(file.size, i + 1);
      contents.set(file.path, data);
      await mkdir(join(top, file.path, '..'), { recursive: true });
      await writeFile(join(top, file.path), data);
    }
    const torrent = join(work, 'hostile.torrent');
    torkCreate(top, announce, torrent);

    const seed = await startTork('seed', [torrent, '--data', dataDir, '--no-trackers']);
    processes.push(seed);
    const out = join(work, 'out');
    const download = await startTork('download', [torrent, '--out', out, '--peer', `127.0.0.1:${seed.port}`]);
    processes.push(download);

    const exit = await Promise.race([
      download.exited,
      new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), 60_000).unref()),
    ]);
    assert.notEqual(exit, 'timeout', `the download did not finish in 60 s\n${download.transcript()}`);
    assert.deepEqual(exit, { status: 0, signal: null }, download.transcript());

    const trackerError = download.events.find((event) => event.event === 'tracker-error');
    assert.ok(trackerError, `a tracker-error event\n${download.transcript()}`);
    const error = trackerError.error as { code: string; message: string; details: { failures?: string } };
    // Its only tracker failed, so the announcer reports TRACKER_ALL_FAILED with each tracker's fault.
    assert.equal(error.code, 'TORK_ERR_TRACKER_ALL_FAILED', JSON.stringify(error));
    assert.match(error.details.failures ?? '', /TORK_ERR_TRACKER_PROTOCOL/, JSON.stringify(error));
    assert.match(error.message, /retrying in \d+ s/, 'says it will retry');
    assert.match(error.message, /127\.0\.0\.1:\d+\/announce/, 'names the tracker');
    assert.match(
      error.message,
      /not bencode.*Tracker Maintenance Back soon/,
      'quotes the page, without markup',
    );
    assert.doesNotMatch(error.message, /[<>\n]/);
    assert.ok(requests.length >= 1, 'the tracker was asked');
    assert.ok(
      download.events.some((event) => event.event === 'done'),
      `a done event\n${download.transcript()}`,
    );

    for (const file of FILES) {
      const got = await readFile(join(out, 'hostile-set', file.path));
      assert.equal(sha1(got), sha1(contents.get(file.path)!), file.path);
    }
  });
});
