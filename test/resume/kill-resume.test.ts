/**
 * Resume that loses nothing: a download from a real (libtorrent) seeder is killed with SIGKILL at
 * random moments, restarted with the same --out each time, and completes byte-identical. After
 * every kill the resume state on disk must claim at least every piece the killed run had
 * reported as written, and every claimed piece must verify on restart: what is refetched is at
 * most what was in flight (assigned, or verified and not yet on disk) at the kill.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Dataset } from '@tork/cli';
import { parseMetainfo, ResumeStore } from '@tork/core';
import {
  interopDataset,
  requireLibtorrentPython,
  runTork,
  startLibtorrentSeeder,
  type TorkEvent,
} from '../download/support.js';

const KILLS = 6;
/** Seeder upload cap: the 64 MiB download takes ~10 s, so kills land mid-download. */
const UPLOAD_LIMIT = 6 * 1024 * 1024;

let dataset: Dataset;
let work: string;

before(async () => {
  dataset = await interopDataset('kill-resume');
  work = await mkdtemp(join(tmpdir(), 'tork-kill-'));
});
after(() => rm(work, { recursive: true, force: true }));

async function sha1(path: string): Promise<string> {
  return createHash('sha1')
    .update(await readFile(path))
    .digest('hex');
}

describe('resume after SIGKILL', { timeout: 240_000 }, () => {
  it(`a download killed ${KILLS} times at random moments completes byte-identical, losing no written piece`, async (t) => {
    const python = await requireLibtorrentPython(t);
    if (!python) return;
    const meta = parseMetainfo(await readFile(dataset.torrentPath));
    const seeder = await startLibtorrentSeeder(python, dataset.torrentPath, dataset.dataDir, {
      uploadLimit: UPLOAD_LIMIT,
    });
    t.after(() => seeder.stop());
    const out = join(work, 'out');
    const args = [
      dataset.torrentPath,
      '--out',
      out,
      '--peer',
      `127.0.0.1:${seeder.port}`,
      '--no-trackers',
      '--port',
      '0',
    ];
    const pieceSize = (index: number) => Math.min(meta.pieceLength, meta.length - index * meta.pieceLength);

    let previousClaimed = 0;
    let lastClaimedBytes = 0;
    for (let kill = 1; kill <= KILLS; kill++) {
      // A random moment within the second after the run's first progress event: the event's
      // counters are a lower bound of what the run had at the kill.
      const delayMs = Math.floor(Math.random() * 900);
      let last: TorkEvent | undefined;
      let resumed: TorkEvent | undefined;
      let scheduled = false;
      const run = await runTork(args, {
        timeoutMs: 60_000,
        onEvent: (event, pid) => {
          if (event.event === 'resumed') resumed = event;
          if (event.event !== 'progress') return;
          last = event;
          if (scheduled) return;
          scheduled = true;
          setTimeout(() => {
            try {
              process.kill(pid, 'SIGKILL');
            } catch {
              // It ended first: the assertion below reports that.
            }
          }, delayMs);
        },
      });
      assert.equal(
        run.signal,
        'SIGKILL',
        `run ${kill} ended by itself (status ${run.status}): ${run.stderr} ${JSON.stringify(run.events.slice(-3)).slice(0, 1500)}`,
      );
      assert.ok(last, `run ${kill}: no progress event before the kill`);
      if (kill > 1) {
        // Everything the previous kill left claimed was re-verified, and all of it held.
        assert.ok(resumed, `run ${kill}: no resumed event`);
        assert.equal(resumed.verified, previousClaimed, `run ${kill}: claimed pieces failed their recheck`);
        assert.equal(resumed.trusted, 0, 'after a kill nothing is trusted without hashing');
      }

      const store = ResumeStore.open({ dir: join(out, '.tork'), infoHashHex: meta.infoHashHex });
      const loaded = await store.load();
      await store.close();
      assert.ok(loaded, `kill ${kill}: no resume state on disk`);
      assert.equal(loaded.warning, undefined, `kill ${kill}: ${loaded.warning}`);
      assert.equal(
        loaded.clean,
        false,
        `kill ${kill}: a killed run is never clean (${JSON.stringify(last).slice(0, 600)})`,
      );
      let claimedBytes = 0;
      for (const index of loaded.pieces) claimedBytes += pieceSize(index);
      const written = last.writtenBytes as number;
      const verified = last.verifiedBytes as number;
      const inFlight = last.bytesInFlight as number;
      t.diagnostic(
        `kill ${kill} at +${delayMs} ms after a progress event: claimed ${loaded.pieces.length} pieces ` +
          `(${claimedBytes} B); the event said written ${written} B, verified ${verified} B, in flight ${inFlight} B`,
      );
      // Nothing written is lost: every piece on disk before the kill is claimed.
      assert.ok(claimedBytes >= written, `kill ${kill}: claimed ${claimedBytes} B < written ${written} B`);
      // The claim never shrinks across kills.
      assert.ok(loaded.pieces.length >= previousClaimed, `kill ${kill}: the claim shrank`);
      previousClaimed = loaded.pieces.length;
      lastClaimedBytes = claimedBytes;
    }

    const final = await runTork(args, { timeoutMs: 120_000 });
    assert.equal(final.status, 0, final.stderr);
    const resumed = final.events.find((event) => event.event === 'resumed');
    assert.ok(resumed);
    assert.equal(resumed.verified, previousClaimed, 'the last kill lost no claimed piece');
    const done = final.events.find((event) => event.event === 'done');
    assert.ok(done);
    // The last run kept every claimed piece and fetched only the rest (one seeder: no endgame copies).
    assert.equal(done.resumedBytes, lastClaimedBytes);
    assert.ok(
      (done.downloadedBytes as number) <= meta.length - lastClaimedBytes + (done.wastedBytes as number),
      `final run downloaded ${done.downloadedBytes} B, more than the ${meta.length - lastClaimedBytes} B unclaimed`,
    );
    t.diagnostic(
      `final run: resumed ${resumed.verified} of ${meta.pieceCount} pieces, downloaded ${done.downloadedBytes} B`,
    );
    for (const file of dataset.files) {
      const relative = [dataset.name, ...file.path];
      assert.equal(
        await sha1(join(out, ...relative)),
        await sha1(join(dataset.dataDir, ...relative)),
        `${relative.join('/')} byte-identical`,
      );
    }
  });
});
