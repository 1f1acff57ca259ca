#!/usr/bin/env node
// How long `tork stream` takes to answer a seek: three libtorrent seeders capped at --rate MiB/s
// each, 48 MiB in two files (256 KiB pieces), `tork stream` downloading in order; after --warmup
// seconds, 64 KiB ranges of file 1 at pieces not yet had are asked for one at a time, and the time
// to each answer's first byte is printed.
//
//   pnpm build && node scripts/stream-seek.mjs [--rate 1.5] [--warmup 3] [--pieces 150,120,170]
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ensureDataset } from '../packages/cli/dist/index.js';
import { startLibtorrentSeeder } from '../test/dist/download/support.js';
import { startTork } from '../test/dist/seed/support.js';

const { values } = parseArgs({
  options: {
    rate: { type: 'string', default: '1.5' },
    warmup: { type: 'string', default: '3' },
    pieces: { type: 'string', default: '150,120,170' },
  },
});
const MiB = 1024 * 1024;
const PIECE = 256 * 1024;
const dataset = await ensureDataset(join(tmpdir(), 'tork-stream-cache'), {
  size: 48 * MiB,
  files: 2,
  pieceLength: PIECE,
  seed: 21,
});
const seeders = [];
const out = join(tmpdir(), `tork-stream-seek-${process.pid}`);
try {
  for (let i = 0; i < 3; i++)
    seeders.push(
      await startLibtorrentSeeder('/usr/bin/python3', dataset.torrentPath, dataset.dataDir, {
        uploadLimit: Number(values.rate) * MiB,
      }),
    );
  const tork = await startTork('stream', [
    dataset.torrentPath,
    '--out',
    out,
    '--no-trackers',
    '--no-dht',
    ...seeders.flatMap((seeder) => ['--peer', `127.0.0.1:${seeder.port}`]),
  ]);
  try {
    const listening = await tork.waitFor('stream-listening', 30_000);
    const file = listening.files[1];
    const fileStart = dataset.files[0].length;
    await tork.waitFor('peer-connected', 30_000);
    await new Promise((resolve) => setTimeout(resolve, Number(values.warmup) * 1000));
    for (const piece of values.pieces.split(',').map(Number)) {
      const position = piece * PIECE - fileStart;
      const asked = Date.now();
      const response = await fetch(file.url, {
        headers: { range: `bytes=${position}-${position + 65_535}` },
      });
      const reader = response.body.getReader();
      await reader.read();
      console.log(`seek to piece ${piece}: first byte after ${((Date.now() - asked) / 1000).toFixed(2)} s`);
      await reader.cancel();
      await new Promise((resolve) => setTimeout(resolve, 1_500));
    }
  } finally {
    await tork.stop();
  }
} finally {
  for (const seeder of seeders) await seeder.stop();
  rmSync(out, { recursive: true, force: true });
}
