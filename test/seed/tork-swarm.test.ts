/**
 * A tork-only swarm on 127.0.0.1: one `tork seed` and four `tork download --seed` found through
 * opentracker. Every downloader completes byte-identical, and the downloaders trade pieces among
 * themselves: the seeder uploads less than four copies, and the downloaders upload something.
 * Every process is stopped by PID (SIGINT, then SIGKILL).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { waitForSeeders } from '../download/support.js';
import { startOpentracker } from '../support/opentracker.js';
import { requireProgram } from '../support/programs.js';
import { compareSet, SET_LENGTH, startTork, type TorkProcess, torkCreate, writeSeedSet } from './support.js';

/** This file's own torrent name, so its own info-hash (writeSeedSet). */
const NAME = 'seedset-swarm';

const DOWNLOADERS = 4;
/** Longest wait for every downloader to finish the 24 MiB set. */
const SWARM_TIMEOUT_MS = 150_000;

let work: string;
let dataDir: string;
let sourceTop: string;
let infoHash: string;

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'tork-swarm-'));
  dataDir = join(work, 'data');
  sourceTop = await writeSeedSet(dataDir, NAME);
  infoHash = torkCreate(sourceTop, 'http://127.0.0.1:1/announce', join(work, 'probe.torrent')).infoHash;
});
after(() => (process.env.TORK_KEEP_WORK ? undefined : rm(work, { recursive: true, force: true })));

function stoppedUploads(processes: readonly TorkProcess[]): number[] {
  return processes.map((process) => {
    const stopped = process.events.find((event) => event.event === 'stopped');
    assert.ok(stopped, `a stopped event\n${process.transcript()}`);
    return stopped.uploadedBytes as number;
  });
}

describe('a tork-only swarm via opentracker', () => {
  it('one seeder and four downloaders: all complete, and the downloaders trade', async (t) => {
    const opentracker = requireProgram(t, 'opentracker', 'opentracker');
    if (!opentracker) return;
    const tracker = await startOpentracker(opentracker, [infoHash]);
    const all: TorkProcess[] = [];
    t.after(async () => {
      await Promise.all(all.map((process) => process.stop()));
      await tracker.stop();
    });
    const torrent = join(work, 'swarm.torrent');
    assert.equal(torkCreate(sourceTop, tracker.httpUrl, torrent).infoHash, infoHash);

    const seeder = await startTork('seed', [torrent, '--data', dataDir]);
    all.push(seeder);
    await seeder.waitFor('done', 30_000);
    await waitForSeeders(tracker.httpUrl, infoHash, 1);

    const started = Date.now();
    const downloaders: TorkProcess[] = [];
    for (let i = 0; i < DOWNLOADERS; i++) {
      // --seed without a limit: each keeps serving the others until stopped below.
      const downloader = await startTork('download', [torrent, '--out', join(work, `out-${i}`), '--seed']);
      all.push(downloader);
      downloaders.push(downloader);
    }
    const dones = await Promise.all(
      downloaders.map((downloader) => downloader.waitFor('done', SWARM_TIMEOUT_MS)),
    );
    const seconds = (Date.now() - started) / 1000;

    // Stop the downloaders first (their upload totals are final then), then the seeder.
    await Promise.all(downloaders.map((downloader) => downloader.stop()));
    await seeder.stop();
    for (const process of all) {
      const exit = await process.exited;
      assert.equal(exit.status, 0, `exit after SIGINT (${exit.signal})\n${process.transcript()}`);
    }
    for (const [i, done] of dones.entries()) {
      assert.equal(done.verifiedPieces, done.pieceCount, `downloader ${i} verified every piece`);
      assert.deepEqual(
        await compareSet(sourceTop, join(work, `out-${i}`, NAME)),
        [],
        `downloader ${i}: every file byte-identical`,
      );
    }
    const [seederUploaded] = stoppedUploads([seeder]);
    const downloaderUploads = stoppedUploads(downloaders);
    const traded = downloaderUploads.reduce((sum, bytes) => sum + bytes, 0);
    const downloaded = dones.map((done) => done.downloadedBytes as number);
    t.diagnostic(
      `${DOWNLOADERS} downloaders done in ${seconds.toFixed(1)} s; seeder uploaded ${seederUploaded} ` +
        `(${(seederUploaded! / SET_LENGTH).toFixed(2)} copies); downloaders uploaded ${downloaderUploads.join(', ')}; ` +
        `downloaded ${downloaded.join(', ')}`,
    );
    assert.ok(traded > 0, `the downloaders uploaded ${traded} bytes to each other`);
    assert.ok(
      seederUploaded! < DOWNLOADERS * SET_LENGTH,
      `seeder uploaded ${seederUploaded} ≥ ${DOWNLOADERS} × ${SET_LENGTH}: the downloaders did not trade`,
    );
    // Every byte a downloader received came from the seeder or another downloader.
    const received = downloaded.reduce((sum, bytes) => sum + bytes, 0);
    assert.ok(
      seederUploaded! + traded >= received,
      `uploads ${seederUploaded} + ${traded} cover downloads ${received}`,
    );
  });
});
