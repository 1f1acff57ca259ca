/**
 * Magnet links against real clients on 127.0.0.1 (BEP 9 metadata over BEP 10): tork fetches the
 * metadata from a libtorrent seeder and from an aria2c seeder given only by the magnet's `x.pe`,
 * then downloads byte-identical; libtorrent downloads a magnet from a tork seeder (tork serves
 * its metadata); `--save-torrent` writes a .torrent whose info-hash libtorrent reports as the
 * magnet's; `tork info <magnet>` prints the torrent.
 */
import '../support/hermetic.js';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { type Dataset, startAria2Seeder } from '@tork/cli';
import { parseMetainfo } from '@tork/core';
import { compareTrees, linkTree } from '../clients/support.js';
import {
  interopDataset,
  libtorrentPython,
  root,
  runTork,
  startLibtorrentSeeder,
  torkMain,
} from '../download/support.js';
import { startTork } from '../seed/support.js';
import { requireProgram, startProgram } from '../support/programs.js';

let work: string;
let dataset: Dataset;
let infoHash: string;

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'tork-magnet-'));
  dataset = await interopDataset('magnet');
  infoHash = parseMetainfo(await readFile(dataset.torrentPath)).infoHashHex;
});
after(() => rm(work, { recursive: true, force: true }));

async function python(t: TestContext): Promise<string | undefined> {
  const found = await libtorrentPython();
  if (found) return found;
  const reason = 'no python3 with libtorrent: apt-get install python3-libtorrent';
  if (process.env.CI === 'true') throw new Error(`${reason} (required when CI=true)`);
  t.skip(reason);
  return undefined;
}

const source = () => join(dataset.dataDir, dataset.name);

describe('magnet links', { timeout: 300_000 }, () => {
  it('tork fetches the metadata from a libtorrent seeder named only by x.pe, downloads, and saves a .torrent libtorrent agrees with', async (t) => {
    const py = await python(t);
    if (!py) return;
    const seeder = await startLibtorrentSeeder(py, dataset.torrentPath, dataset.dataDir);
    t.after(() => seeder.stop());
    const out = join(work, 'from-libtorrent');
    const saved = join(work, 'saved.torrent');
    const magnet = `magnet:?xt=urn:btih:${infoHash}&x.pe=127.0.0.1:${seeder.port}`;
    const run = await runTork([
      magnet,
      '--out',
      out,
      '--port',
      '0',
      '--listen-host',
      '127.0.0.1',
      '--save-torrent',
      saved,
    ]);
    assert.equal(run.status, 0, run.stderr);
    const received = run.events.find((event) => event.event === 'metadata-received');
    assert.ok(received, 'metadata-received event');
    assert.deepEqual(await compareTrees(source(), join(out, dataset.name)), []);
    const check = spawnSync(
      py,
      ['-c', `import libtorrent as lt; print(lt.torrent_info(${JSON.stringify(saved)}).info_hash())`],
      {
        encoding: 'utf8',
      },
    );
    assert.equal(check.stdout.trim(), infoHash, check.stderr);

    // The second run reads the metadata saved in the resume directory: no fetch.
    const again = await runTork([magnet, '--out', out, '--port', '0', '--listen-host', '127.0.0.1']);
    assert.equal(again.status, 0, again.stderr);
    assert.equal(
      again.events.filter((event) => event.event.startsWith('metadata-')).length,
      0,
      'no metadata phase',
    );
  });

  it('tork fetches the metadata from an aria2c seeder and downloads byte-identical', async (t) => {
    const aria2c = requireProgram(t, 'aria2c', 'aria2');
    if (!aria2c) return;
    const seedData = join(work, 'aria2-data');
    await linkTree(dataset.dataDir, seedData);
    const seeder = await startAria2Seeder(aria2c, dataset.torrentPath, seedData);
    t.after(() => seeder.stop());
    const out = join(work, 'from-aria2c');
    const run = await runTork([
      `magnet:?xt=urn:btih:${infoHash}&x.pe=127.0.0.1:${seeder.port}`,
      '--out',
      out,
      '--port',
      '0',
      '--listen-host',
      '127.0.0.1',
    ]);
    assert.equal(run.status, 0, run.stderr);
    assert.deepEqual(await compareTrees(source(), join(out, dataset.name)), []);
  });

  it('libtorrent downloads a magnet from a tork seeder, which serves its metadata', async (t) => {
    const py = await python(t);
    if (!py) return;
    const seedData = join(work, 'tork-seed');
    await linkTree(dataset.dataDir, seedData);
    const seeder = await startTork('seed', [dataset.torrentPath, '--data', seedData, '--no-trackers']);
    t.after(() => seeder.stop());
    await seeder.waitFor('done', 60_000);
    const out = join(work, 'libtorrent-out');
    // Port 0: it only dials out, and a kernel-chosen port cannot be taken between pick and bind.
    const leecher = await startProgram(py, [
      join(root, 'test/magnet/libtorrent-magnet.py'),
      `magnet:?xt=urn:btih:${infoHash}`,
      out,
      '0',
      `127.0.0.1:${seeder.port}`,
      '120',
    ]);
    t.after(() => leecher.stop());
    await new Promise<void>((resolve) => leecher.child.once('exit', () => resolve()));
    const lines = leecher
      .output()
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { event: string; infoHash?: string });
    assert.equal(leecher.child.exitCode, 0, leecher.output());
    assert.ok(
      lines.some((line) => line.event === 'metadata'),
      'libtorrent got the metadata from tork',
    );
    assert.equal(lines.at(-1)?.infoHash, infoHash);
    assert.deepEqual(await compareTrees(source(), join(out, dataset.name)), []);
  });

  it('tork info prints a magnet once it has the metadata', async (t) => {
    const py = await python(t);
    if (!py) return;
    const seeder = await startLibtorrentSeeder(py, dataset.torrentPath, dataset.dataDir);
    t.after(() => seeder.stop());
    const result = spawnSync(
      process.execPath,
      [torkMain, 'info', `magnet:?xt=urn:btih:${infoHash}&x.pe=127.0.0.1:${seeder.port}`, '--json'],
      { encoding: 'utf8', timeout: 60_000 },
    );
    assert.equal(result.status, 0, result.stderr);
    const info = JSON.parse(result.stdout) as { infoHash: string; name: string; files: unknown[] };
    assert.equal(info.infoHash, infoHash);
    assert.equal(info.name, dataset.name);
    assert.equal(info.files.length, 12);
  });
});
