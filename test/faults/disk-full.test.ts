/**
 * Disk full: a ~20 MiB download into a 12 MiB tmpfs. tork must stop with a clear error naming
 * ENOSPC (exit 1), leave resume state that loads and claims only pieces that are really on disk
 * and valid; after the tmpfs is grown to 64 MiB the same command finishes byte-identical without
 * fetching the claimed pieces again.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type Dataset, ensureDataset, verifyDownload } from '@tork/cli';
import { parseMetainfo, ResumeStore } from '@tork/core';
import { runTork } from '../download/support.js';
import { loopbackDownloadArgs, mountTmpfs, pieceValid, sh, startTorkSeeder, unmount } from './support.js';

const SIZE = 20 * 1024 * 1024 + 4_321;
const PIECE = 256 * 1024;

let dataset: Dataset;
let work: string;

before(async () => {
  dataset = await ensureDataset(join(tmpdir(), 'tork-faults-cache'), {
    size: SIZE,
    files: 6,
    pieceLength: PIECE,
    seed: 21,
  });
  work = await mkdtemp(join(tmpdir(), 'tork-diskfull-'));
});
after(() => rm(work, { recursive: true, force: true }));

describe('disk full', { timeout: 240_000 }, () => {
  it('stops with ENOSPC, keeps valid resume state, and resumes to byte-identical after space is freed', async (t) => {
    const out = join(work, 'out');
    sh('mkdir', ['-p', out]);
    if (!mountTmpfs(t, out, '12m')) return;
    t.after(() => unmount(out));

    const meta = parseMetainfo(await readFile(dataset.torrentPath));
    const seeder = await startTorkSeeder(dataset.torrentPath, dataset.dataDir);
    t.after(() => seeder.stop());
    const args = loopbackDownloadArgs(dataset.torrentPath, out, [seeder.port]);

    const full = await runTork(args, { timeoutMs: 90_000 });
    const lastProgress = full.events.findLast((event) => event.event === 'progress');
    const errors = full.events.filter((event) => event.event === 'error');
    const text = `${full.stderr}\n${JSON.stringify(errors)}`;
    t.diagnostic(
      `full disk run: status ${full.status} signal ${full.signal} in ${full.seconds.toFixed(1)} s`,
    );
    t.diagnostic(`stderr: ${full.stderr.trim().slice(0, 600)}`);
    t.diagnostic(`error events: ${JSON.stringify(errors).slice(0, 600)}`);
    assert.equal(full.signal, null, `tork hung on a full disk and was killed: ${text.slice(0, 1500)}`);
    assert.notEqual(full.status, 0, 'tork exited 0 with the disk full (cannot be complete)');
    assert.equal(full.status, 1, `exit status on ENOSPC: ${text.slice(0, 1500)}`);
    assert.match(text, /ENOSPC|no space left/i, 'the error names ENOSPC');
    assert.ok(!full.events.some((event) => event.event === 'done'), 'no done event on a full disk');

    // The resume state loads, and every piece it claims is on disk and valid.
    const store = ResumeStore.open({ dir: join(out, '.tork'), infoHashHex: meta.infoHashHex });
    const loaded = await store.load();
    await store.close();
    assert.ok(loaded, 'resume state exists after ENOSPC');
    assert.equal(loaded.warning, undefined, `resume state warning: ${loaded.warning}`);
    const invalid: number[] = [];
    for (const index of loaded.pieces) if (!(await pieceValid(meta, out, index))) invalid.push(index);
    t.diagnostic(
      `resume state: ${loaded.pieces.length} of ${meta.pieceCount} pieces claimed, clean=${loaded.clean}; ` +
        `last progress: verified ${lastProgress?.verifiedPieces} written ${lastProgress?.writtenBytes}`,
    );
    assert.deepEqual(invalid, [], 'claimed pieces that are not on disk or fail their hash');
    assert.ok(loaded.pieces.length > 0, 'some pieces fit in 12 MiB and are claimed');
    let claimedBytes = 0;
    for (const index of loaded.pieces) claimedBytes += Math.min(PIECE, meta.length - index * PIECE);

    // Free space: grow the tmpfs and run the same command.
    const remount = sh('mount', ['-o', 'remount,size=64m', out]);
    assert.equal(remount.status, 0, `remount: ${remount.output}`);
    const second = await runTork(args, { timeoutMs: 120_000 });
    assert.equal(
      second.status,
      0,
      `${second.stderr}\n${JSON.stringify(second.events.slice(-3)).slice(0, 1500)}`,
    );
    const resumed = second.events.find((event) => event.event === 'resumed');
    const done = second.events.find((event) => event.event === 'done');
    assert.ok(resumed, 'resumed event');
    assert.ok(done, 'done event');
    t.diagnostic(
      `second run: resumed ${JSON.stringify(resumed)}; downloaded ${done.downloadedBytes} B (wasted ${done.wastedBytes}) in ${second.seconds.toFixed(1)} s`,
    );
    assert.equal(resumed.verified, loaded.pieces.length, 'every claimed piece counted on resume');
    assert.ok(
      (done.downloadedBytes as number) <= meta.length - claimedBytes + (done.wastedBytes as number),
      `downloaded ${done.downloadedBytes} B, more than the ${meta.length - claimedBytes} B not claimed`,
    );
    assert.deepEqual(await verifyDownload(dataset, out), [], 'files differ from the data set');
  });
});
