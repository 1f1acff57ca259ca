/**
 * File-system faults: an output directory tork cannot write to, a file where a directory must go,
 * and data changed under a running seeder (a changed piece must never be served).
 */
import assert from 'node:assert/strict';
import { cp, mkdir, mkdtemp, open, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { type Dataset, ensureDataset, verifyDownload } from '@tork/cli';
import { parseMetainfo } from '@tork/core';
import { runTork, type TorkEvent } from '../download/support.js';
import { loopbackDownloadArgs, pieceValid, sh, startTorkSeeder, unmount } from './support.js';

const PIECE = 256 * 1024;

let dataset: Dataset;
let work: string;

before(async () => {
  dataset = await ensureDataset(join(tmpdir(), 'tork-faults-cache'), {
    size: 8 * 1024 * 1024 + 777,
    files: 8,
    pieceLength: PIECE,
    seed: 22,
  });
  work = await mkdtemp(join(tmpdir(), 'tork-fsfaults-'));
});
after(() => rm(work, { recursive: true, force: true }));

function baseArgs(out: string, peers: readonly number[]): string[] {
  return loopbackDownloadArgs(dataset.torrentPath, out, peers);
}

function errorText(run: { stderr: string; events: TorkEvent[] }): string {
  return `${run.stderr}\n${JSON.stringify(run.events.filter((event) => event.event === 'error'))}`;
}

/** Every path under `dir` (relative), sorted. */
async function tree(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true });
  return entries.map(String).sort();
}

/**
 * A directory tork cannot write to: as root, chmod does not stop writes, so a read-only bind mount of
 * an empty directory; as another user, chmod 555. Returns undefined (test skipped) when neither works.
 */
async function unwritableDir(t: TestContext): Promise<string | undefined> {
  const dir = join(work, 'readonly');
  await mkdir(dir, { recursive: true });
  if (process.getuid?.() !== 0) {
    sh('chmod', ['555', dir]);
    t.after(() => sh('chmod', ['755', dir]));
    return dir;
  }
  const bind = sh('mount', ['--bind', dir, dir]);
  if (bind.status !== 0) {
    const reason = `as root, cannot make a read-only bind mount: ${bind.output}`;
    console.log(`# skip: ${reason}`);
    t.skip(reason);
    return undefined;
  }
  t.after(() => unmount(dir));
  const ro = sh('mount', ['-o', 'remount,bind,ro', dir]);
  if (ro.status !== 0) {
    const reason = `as root, cannot remount the bind mount read-only: ${ro.output}`;
    console.log(`# skip: ${reason}`);
    t.skip(reason);
    return undefined;
  }
  return dir;
}

describe('file-system faults', { timeout: 300_000 }, () => {
  it('an output directory that cannot be written: exit 1/2 with a clear message, nothing written elsewhere', async (t) => {
    const dir = await unwritableDir(t);
    if (!dir) return;
    const seeder = await startTorkSeeder(dataset.torrentPath, dataset.dataDir);
    t.after(() => seeder.stop());
    const cwd = await mkdtemp(join(work, 'cwd-'));
    const before = await tree(work);
    const run = await runTork(baseArgs(dir, [seeder.port]), { timeoutMs: 60_000 });
    const text = errorText(run);
    t.diagnostic(`status ${run.status}, ${run.seconds.toFixed(1)} s: ${run.stderr.trim().slice(0, 400)}`);
    assert.equal(run.signal, null, `tork hung on a read-only output directory: ${text.slice(0, 1000)}`);
    assert.ok(run.status === 1 || run.status === 2, `exit status ${run.status}: ${text.slice(0, 1000)}`);
    assert.match(text, /EROFS|EACCES|read-only|permission|not writable/i, 'the message says why');
    assert.match(
      text,
      new RegExp(dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')),
      'the message names the directory',
    );
    assert.deepEqual(await tree(dir), [], 'nothing in the read-only directory');
    assert.deepEqual(await tree(work), before, 'nothing written next to it');
    assert.deepEqual(await tree(cwd), [], 'nothing written in the working directory');
    assert.ok(!run.events.some((event) => event.event === 'done'));
  });

  it('--out names a regular file: exit 1/2 with a clear message, the file untouched', async (t) => {
    const file = join(work, 'out-is-a-file');
    await writeFile(file, 'not a directory\n');
    const seeder = await startTorkSeeder(dataset.torrentPath, dataset.dataDir);
    t.after(() => seeder.stop());
    const run = await runTork(baseArgs(file, [seeder.port]), { timeoutMs: 60_000 });
    const text = errorText(run);
    t.diagnostic(`status ${run.status}: ${run.stderr.trim().slice(0, 400)}`);
    assert.equal(run.signal, null, `tork hung: ${text.slice(0, 1000)}`);
    assert.ok(run.status === 1 || run.status === 2, `exit status ${run.status}: ${text.slice(0, 1000)}`);
    assert.match(text, /ENOTDIR|EEXIST|not a directory|exists/i, 'the message says why');
    assert.equal(await readFile(file, 'utf8'), 'not a directory\n');
  });

  it("a file in the way of the torrent's directory: exit 1 with a clear message, the file untouched", async (t) => {
    const out = join(work, 'in-the-way');
    await mkdir(out, { recursive: true });
    const blocker = join(out, dataset.name);
    await writeFile(blocker, 'in the way\n');
    const seeder = await startTorkSeeder(dataset.torrentPath, dataset.dataDir);
    t.after(() => seeder.stop());
    const run = await runTork(baseArgs(out, [seeder.port]), { timeoutMs: 60_000 });
    const text = errorText(run);
    t.diagnostic(`status ${run.status}: ${run.stderr.trim().slice(0, 400)}`);
    assert.equal(run.signal, null, `tork hung: ${text.slice(0, 1000)}`);
    assert.ok(run.status === 1 || run.status === 2, `exit status ${run.status}: ${text.slice(0, 1000)}`);
    assert.match(text, /ENOTDIR|EEXIST|not a directory|exists/i, 'the message says why');
    assert.match(text, new RegExp(dataset.name), 'the message names the path');
    assert.equal(await readFile(blocker, 'utf8'), 'in the way\n');
    assert.ok(!run.events.some((event) => event.event === 'done'));
  });

  it('files changed while seeding: a changed piece is never served', async (t) => {
    const meta = parseMetainfo(await readFile(dataset.torrentPath));
    // The seeder to be damaged gets a real copy of the data (the good one serves the cache).
    const badData = join(work, 'bad-seeder');
    await cp(join(dataset.dataDir, dataset.name), join(badData, dataset.name), { recursive: true });
    // Older than the seeder's racy margin (2 s) when it starts: it trusts what its start-up check
    // verified and serves those pieces without hashing them again, until their files change.
    await new Promise((resolve) => setTimeout(resolve, 2_100));
    const bad = await startTorkSeeder(dataset.torrentPath, badData);
    t.after(() => bad.stop());

    // Overwrite a few pieces in place while it seeds (same size: only the bytes change).
    const changed = [3, 12, 20, meta.pieceCount - 2];
    for (const index of changed) {
      const start = index * PIECE;
      const file = meta.files.find((f) => f.length > 0 && f.offset <= start && start < f.offset + f.length)!;
      const handle = await open(join(badData, dataset.name, ...file.path), 'r+');
      try {
        await handle.write(Buffer.alloc(4096, 0x5a), 0, 4096, start - file.offset);
      } finally {
        await handle.close();
      }
      assert.equal(await pieceValid(meta, badData, index), false, `piece ${index} really changed`);
    }

    // 1. From the damaged seeder alone: everything but the changed pieces arrives, and not one
    //    piece fails its hash (the seeder must not send the changed bytes).
    const aloneOut = join(work, 'alone');
    // It can never finish: it is stopped once the last unchanged piece is verified and the seeder
    // has refused every changed piece (asked again meanwhile), at most 20 s after that piece, or
    // after 60 s. A fixed 20 s cut off a loaded machine's run one piece short; a fixed 2 s after
    // the last piece, the seeder's report of one changed piece (CI90, loaded machine).
    const target = meta.pieceCount - changed.length;
    const refusedAll = () => {
      const refused = new Set(bad.events.filter((e) => e.event === 'piece-unreadable').map((e) => e.index));
      return changed.every((index) => refused.has(index));
    };
    let stopping = false;
    const alone = await runTork(baseArgs(aloneOut, [bad.port]), {
      timeoutMs: 60_000,
      onEvent: (event, pid) => {
        if (stopping || event.event !== 'progress' || (event.verifiedPieces as number) < target) return;
        stopping = true;
        const since = Date.now();
        const poll = setInterval(() => {
          if (!refusedAll() && Date.now() - since < 20_000) return;
          clearInterval(poll);
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // Already gone.
          }
        }, 200);
      },
    });
    const aloneLast = alone.events.findLast((event) => event.event === 'progress');
    const aloneBans = alone.events.filter((event) => event.event === 'peer-disconnected' && event.banned);
    const unreadable = bad.events.filter((event) => event.event === 'piece-unreadable');
    t.diagnostic(
      `alone: status ${alone.status} signal ${alone.signal}; verified ${aloneLast?.verifiedPieces}/${meta.pieceCount}, ` +
        `hash failures ${aloneLast?.hashFailures}, bans ${aloneBans.length}; seeder piece-unreadable: ${JSON.stringify(unreadable.map((event) => event.index))}`,
    );
    assert.notEqual(alone.status, 0, 'a download missing pieces exited 0');
    assert.ok(aloneLast, 'progress events');
    assert.equal(
      aloneLast.hashFailures,
      0,
      'the seeder served changed bytes (hash failures at the downloader)',
    );
    assert.deepEqual(aloneBans, [], 'the damaged seeder was banned: it served bad pieces');
    assert.equal(aloneLast.verifiedPieces, target, 'every unchanged piece arrived');
    assert.deepEqual(
      [...new Set(unreadable.map((event) => event.index as number))].sort((a, b) => a - b),
      changed,
      'the seeder reports each changed piece as unreadable',
    );

    // 2. With a good seeder as well: completes byte-identical, no hash failure, nobody banned.
    const good = await startTorkSeeder(dataset.torrentPath, dataset.dataDir);
    t.after(() => good.stop());
    const out = join(work, 'both');
    const run = await runTork(baseArgs(out, [bad.port, good.port]), { timeoutMs: 90_000 });
    const done = run.events.find((event) => event.event === 'done');
    const bans = run.events.filter((event) => event.event === 'peer-disconnected' && event.banned);
    t.diagnostic(
      `both: status ${run.status}; hash failures ${done?.hashFailures}; bans ${bans.length}; ` +
        `disconnects ${JSON.stringify(run.events.filter((event) => event.event === 'peer-disconnected')).slice(0, 600)}`,
    );
    assert.equal(run.status, 0, `${run.stderr}\n${JSON.stringify(run.events.slice(-3)).slice(0, 1500)}`);
    assert.ok(done);
    assert.equal(done.hashFailures, 0, 'a changed piece was served');
    assert.deepEqual(bans, []);
    assert.deepEqual(await verifyDownload(dataset, out), [], 'files differ from the data set');
  });
});
