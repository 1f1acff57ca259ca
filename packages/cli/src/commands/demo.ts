import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ensureDataset, verifyDownload } from '../demo/dataset.js';
import { findProgram, type Seeder, startAria2Seeder } from '../demo/seeders.js';
import { formatBytes, parseSize } from '../format.js';
import { type CliIo, ExitCode } from '../io.js';
import { runDownload } from './download.js';

export const demoUsage =
  'usage: tork demo [--size 256MiB] [--files 20] [--piece-size 1MiB] [--seeders 4] [--workers N] [--cache DIR] [--keep] [--json] [--quiet]';

const options = {
  size: { type: 'string', default: '256MiB' },
  files: { type: 'string', default: '20' },
  'piece-size': { type: 'string', default: '1MiB' },
  seeders: { type: 'string', default: '4' },
  workers: { type: 'string' },
  cache: { type: 'string' },
  keep: { type: 'boolean', default: false },
  json: { type: 'boolean', default: false },
  quiet: { type: 'boolean', short: 'q', default: false },
} as const;

/**
 * The main job, end to end on one machine: a deterministic multi-file data set (cached between
 * runs), a loopback swarm of real seeders, a download with the normal progress display, and a
 * byte-for-byte check. Until tork can seed, the seeders are aria2c.
 */
export async function runDemo(args: readonly string[], io: CliIo): Promise<ExitCode> {
  let values: ReturnType<typeof parseArgs<{ args: string[]; options: typeof options }>>['values'];
  try {
    values = parseArgs({ args: [...args], options, strict: true }).values;
  } catch (error) {
    io.stderr(`tork demo: ${(error as Error).message}\n${demoUsage}\n`);
    return ExitCode.BAD_INPUT;
  }
  const size = parseSize(values.size);
  const pieceLength = parseSize(values['piece-size']);
  const files = Number(values.files);
  const seederCount = Number(values.seeders);
  if (!size || size < 1 << 20 || !pieceLength || pieceLength < 16_384 || pieceLength > 64 << 20) {
    io.stderr(`tork demo: --size must be at least 1MiB and --piece-size 16KiB..64MiB\n${demoUsage}\n`);
    return ExitCode.BAD_INPUT;
  }
  if (
    !Number.isInteger(files) ||
    files < 1 ||
    files > 10_000 ||
    !Number.isInteger(seederCount) ||
    seederCount < 1 ||
    seederCount > 64
  ) {
    io.stderr(`tork demo: --files must be 1..10000 and --seeders 1..64\n${demoUsage}\n`);
    return ExitCode.BAD_INPUT;
  }
  const aria2c = findProgram('aria2c');
  if (!aria2c) {
    io.stderr(
      'tork demo: needs a real BitTorrent client to seed the local swarm until tork can seed: install aria2 (Debian/Ubuntu: apt-get install aria2)\n',
    );
    return ExitCode.FAILURE;
  }
  const say = (text: string) => {
    if (!values.json && !values.quiet) io.stdout(`${text}\n`);
  };
  const cacheDir = values.cache ?? join(tmpdir(), 'tork-demo-cache');
  say(`demo: data set of ${formatBytes(size)} in ${files} files (cached in ${cacheDir})…`);
  const dataset = await ensureDataset(cacheDir, { size, files, pieceLength });
  const seeders: Seeder[] = [];
  const outDir = await mkdtemp(join(tmpdir(), 'tork-demo-out-'));
  try {
    for (let i = 0; i < seederCount; i++)
      seeders.push(await startAria2Seeder(aria2c, dataset.torrentPath, dataset.dataDir));
    say(`demo: ${seederCount} aria2c seeders on 127.0.0.1 ports ${seeders.map((s) => s.port).join(', ')}`);
    const downloadArgs = [dataset.torrentPath, '--out', outDir, '--no-trackers'];
    for (const seeder of seeders) downloadArgs.push('--peer', `127.0.0.1:${seeder.port}`);
    downloadArgs.push('--workers', values.workers ?? String(availableParallelism()));
    if (values.json) downloadArgs.push('--json');
    if (values.quiet) downloadArgs.push('--quiet');
    const status = await runDownload(downloadArgs, io);
    if (status !== ExitCode.OK) return status;
    const bad = await verifyDownload(dataset, outDir);
    if (bad.length > 0) {
      io.stderr(`tork demo: ${bad.length} files differ from the data set: ${bad.slice(0, 5).join(', ')}\n`);
      return ExitCode.FAILURE;
    }
    say(`demo: verified: all ${dataset.files.length} files byte-identical to the data set`);
    if (values.json)
      io.stdout(`${JSON.stringify({ event: 'verified', files: dataset.files.length, identical: true })}\n`);
    return ExitCode.OK;
  } finally {
    await Promise.all(seeders.map((seeder) => seeder.stop()));
    if (!values.keep) await rm(outDir, { recursive: true, force: true });
    else say(`demo: download kept in ${outDir}`);
  }
}
