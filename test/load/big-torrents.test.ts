/**
 * Load: big torrents. A torrent of 10,000 files (mostly 1 B–4 KiB, five of 1 MiB): create, parse
 * (time and memory), and a download from a tork seeder that completes byte-identical. A torrent of
 * 200,000 pieces (16 KiB × 200,000 = 3.05 GiB, random piece hashes: no data needed): parse time and
 * memory, in-process and through `tork info --json`; and a 16,384-piece torrent (16 KiB pieces)
 * downloaded to completion. Figures are printed as diagnostics (see docs/performance.md "Load").
 */
import '../support/hermetic.js';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { ensureDataset, verifyDownload } from '@tork/cli';
import { parseMetainfo } from '@tork/core';
import { encodeBencodeOrdered } from '@tork/testkit';
import { root, runTork, torkMain } from '../download/support.js';
import { loopbackDownloadArgs, procStatusKiB, startTorkSeeder } from '../faults/support.js';

let work: string;

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'tork-bigtorrents-'));
});
after(() => rm(work, { recursive: true, force: true }));

interface ParseFigures {
  readMs: number;
  parseMs: number;
  rssBeforeMiB: number;
  rssAfterMiB: number;
  heapUsedMiB: number;
  files: number;
  pieceCount: number;
}

/** Parses the torrent in a fresh node process (best of 3 timings) and reports time and memory. */
function measureParse(torrentPath: string): Promise<ParseFigures> {
  const core = join(root, 'packages/core/dist/index.js');
  const script = `
    import { readFileSync } from 'node:fs';
    const { parseMetainfo } = await import(${JSON.stringify(core)});
    const mib = (n) => Math.round((n / 1048576) * 10) / 10;
    const rssBefore = process.memoryUsage().rss;
    let t0 = performance.now();
    const bytes = readFileSync(process.argv[1]);
    const readMs = performance.now() - t0;
    let best = Infinity;
    let meta;
    const kept = [];
    for (let i = 0; i < 3; i++) {
      t0 = performance.now();
      meta = parseMetainfo(bytes);
      best = Math.min(best, performance.now() - t0);
      kept.push(meta);
    }
    const usage = process.memoryUsage();
    console.log(JSON.stringify({ readMs, parseMs: best, rssBeforeMiB: mib(rssBefore), rssAfterMiB: mib(usage.rss),
      heapUsedMiB: mib(usage.heapUsed), files: meta.files.length, pieceCount: meta.pieceCount }));
  `;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script, torrentPath], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.once('exit', (code) => {
      if (code === 0) resolve(JSON.parse(out) as ParseFigures);
      else reject(new Error(`parse child exited ${code}: ${err}`));
    });
  });
}

/** `tork info --json` wall time and peak RSS (via rusage.py when /usr/bin/python3 exists). */
function measureInfo(
  torrentPath: string,
): Promise<{ wallMs: number; maxRssMiB?: number; json: { pieceCount: number; files: unknown[] } }> {
  const python = '/usr/bin/python3';
  const wrap = existsSync(python);
  const command = wrap ? python : process.execPath;
  const args = wrap
    ? [
        join(root, 'packages/cli/python/rusage.py'),
        '--',
        process.execPath,
        torkMain,
        'info',
        torrentPath,
        '--json',
      ]
    : [torkMain, 'info', torrentPath, '--json'];
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe', 'pipe'] });
    const chunks: Buffer[] = [];
    let report = '';
    let err = '';
    child.stdout!.on('data', (chunk: Buffer) => chunks.push(chunk));
    child.stderr!.on('data', (chunk: Buffer) => (err += chunk.toString()));
    (child.stdio[3] as NodeJS.ReadableStream).on('data', (chunk: Buffer) => (report += chunk.toString()));
    child.once('exit', (code) => {
      const wallMs = performance.now() - started;
      if (code !== 0) return reject(new Error(`tork info exited ${code}: ${err}`));
      const exit = report
        .split('\n')
        .filter((line) => line.includes('maxrssKiB'))
        .map((line) => JSON.parse(line) as { maxrssKiB: number; wall: number })[0];
      resolve({
        wallMs: exit ? exit.wall * 1000 : wallMs,
        maxRssMiB: exit ? exit.maxrssKiB / 1024 : undefined,
        json: JSON.parse(Buffer.concat(chunks).toString()),
      });
    });
  });
}

function figures(
  t: TestContext,
  label: string,
  parse: ParseFigures,
  info: Awaited<ReturnType<typeof measureInfo>>,
): void {
  t.diagnostic(
    `${label}: parseMetainfo ${parse.parseMs.toFixed(1)} ms (read ${parse.readMs.toFixed(1)} ms), RSS ${parse.rssBeforeMiB} → ${parse.rssAfterMiB} MiB ` +
      `with 3 parsed copies held, heap ${parse.heapUsedMiB} MiB; tork info --json ${info.wallMs.toFixed(0)} ms wall, ` +
      `peak RSS ${info.maxRssMiB?.toFixed(0) ?? '?'} MiB`,
  );
}

/** Deterministic sizes: mostly 1 B–4 KiB, five of 1 MiB. */
function tinySizes(count: number): number[] {
  let state = 12345;
  const sizes: number[] = [];
  for (let i = 0; i < count; i++) {
    state = (state * 1103515245 + 12345) >>> 0;
    sizes.push(i % 2000 === 999 ? 1 << 20 : 1 + (state % 4096));
  }
  return sizes;
}

describe('big torrents', { timeout: 300_000 }, () => {
  it('10,000 files: create, parse, and a download that completes byte-identical', async (t) => {
    const name = 'tork-10k-files';
    const dataDir = join(work, 'data');
    const sizes = tinySizes(10_000);
    const paths: string[][] = [];
    for (let i = 0; i < sizes.length; i++) {
      const dir = `d${String(Math.floor(i / 100)).padStart(2, '0')}`;
      paths.push([dir, `f${String(i).padStart(5, '0')}.bin`]);
    }
    for (let d = 0; d < 100; d++)
      await mkdir(join(dataDir, name, `d${String(d).padStart(2, '0')}`), { recursive: true });
    const contents = sizes.map((size) => randomBytes(size));
    await Promise.all(paths.map((path, i) => writeFile(join(dataDir, name, ...path), contents[i]!)));
    const total = sizes.reduce((a, b) => a + b, 0);

    const torrentPath = join(work, `${name}.torrent`);
    let started = performance.now();
    await new Promise<void>((resolve, reject) => {
      const child = spawn(
        process.execPath,
        [
          torkMain,
          'create',
          join(dataDir, name),
          '--announce',
          'http://127.0.0.1:9/announce',
          '--piece-size',
          '65536',
          '-o',
          torrentPath,
        ],
        { stdio: ['ignore', 'ignore', 'pipe'] },
      );
      let err = '';
      child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
      child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`tork create: ${err}`))));
    });
    const createMs = performance.now() - started;
    const torrentBytes = (await readFile(torrentPath)).length;
    const parse = await measureParse(torrentPath);
    const info = await measureInfo(torrentPath);
    assert.equal(parse.files, 10_000);
    assert.equal(info.json.files.length, 10_000);
    t.diagnostic(
      `10,000 files, ${(total / 1048576).toFixed(1)} MiB, ${parse.pieceCount} pieces of 64 KiB; .torrent ${(torrentBytes / 1024).toFixed(0)} KiB; tork create ${createMs.toFixed(0)} ms`,
    );
    figures(t, '10,000 files', parse, info);

    started = performance.now();
    const seeder = await startTorkSeeder(torrentPath, dataDir, { readyTimeoutMs: 120_000 });
    const seederReadyMs = performance.now() - started;
    t.after(() => seeder.stop());
    const out = join(work, 'out-10k');
    const run = await runTork(loopbackDownloadArgs(torrentPath, out, [seeder.port]), { timeoutMs: 150_000 });
    const done = run.events.find((event) => event.event === 'done');
    t.diagnostic(
      `10,000 files: seeder checked and ready in ${seederReadyMs.toFixed(0)} ms; download exit ${run.status} in ${run.seconds.toFixed(1)} s ` +
        `(engine ${done ? ((done.elapsedMs as number) / 1000).toFixed(1) : '?'} s)`,
    );
    assert.equal(run.status, 0, `${run.stderr}\n${JSON.stringify(run.events.slice(-3)).slice(0, 1500)}`);
    const differ: string[] = [];
    for (let i = 0; i < paths.length; i++) {
      const got = await readFile(join(out, name, ...paths[i]!)).catch(() => undefined);
      if (!got?.equals(contents[i]!)) differ.push(paths[i]!.join('/'));
    }
    assert.deepEqual(differ.slice(0, 20), [], `${differ.length} files differ`);
  });

  it('200,000 pieces: parse time and memory (no data needed)', async (t) => {
    const pieceCount = 200_000;
    const torrent = encodeBencodeOrdered({
      announce: 'http://127.0.0.1:9/announce',
      info: {
        length: pieceCount * 16_384,
        name: 'tork-200k-pieces',
        'piece length': 16_384,
        pieces: randomBytes(pieceCount * 20),
      },
    });
    const torrentPath = join(work, '200k.torrent');
    await writeFile(torrentPath, torrent);
    const meta = parseMetainfo(torrent);
    assert.equal(meta.pieceCount, pieceCount);
    const parse = await measureParse(torrentPath);
    const info = await measureInfo(torrentPath);
    assert.equal(info.json.pieceCount, pieceCount);
    t.diagnostic(
      `200,000 pieces (3.05 GiB in 16 KiB pieces): .torrent ${(torrent.length / 1048576).toFixed(1)} MiB`,
    );
    figures(t, '200,000 pieces', parse, info);
    assert.ok(parse.parseMs < 5_000, `parse took ${parse.parseMs} ms`);
  });

  it('16,384 pieces of 16 KiB (256 MiB): a download that completes byte-identical', async (t) => {
    const dataset = await ensureDataset(join(tmpdir(), 'tork-faults-cache'), {
      size: 256 * 1024 * 1024,
      files: 4,
      pieceLength: 16_384,
      seed: 24,
    });
    const parse = await measureParse(dataset.torrentPath);
    const info = await measureInfo(dataset.torrentPath);
    figures(t, '16,384 pieces', parse, info);
    let started = performance.now();
    const seeder = await startTorkSeeder(dataset.torrentPath, dataset.dataDir, { readyTimeoutMs: 120_000 });
    const seederReadyMs = performance.now() - started;
    t.after(() => seeder.stop());
    const out = join(work, 'out-16k');
    started = performance.now();
    let hwm = 0;
    const run = await runTork(loopbackDownloadArgs(dataset.torrentPath, out, [seeder.port]), {
      timeoutMs: 150_000,
      onEvent: (event, pid) => {
        if (event.event === 'done' || event.event === 'progress') {
          hwm = Math.max(hwm, procStatusKiB(pid, 'VmHWM') ?? 0);
        }
      },
    });
    const done = run.events.find((event) => event.event === 'done');
    t.diagnostic(
      `16,384 pieces: seeder ready in ${seederReadyMs.toFixed(0)} ms; download exit ${run.status} in ${run.seconds.toFixed(1)} s ` +
        `(engine ${done ? ((done.elapsedMs as number) / 1000).toFixed(1) : '?'} s), peak RSS ${(hwm / 1024).toFixed(0)} MiB`,
    );
    assert.equal(run.status, 0, `${run.stderr}\n${JSON.stringify(run.events.slice(-3)).slice(0, 1500)}`);
    assert.deepEqual(await verifyDownload(dataset, out), [], 'files differ from the data set');
  });
});
