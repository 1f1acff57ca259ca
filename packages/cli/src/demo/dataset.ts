import { createCipheriv, createHash } from 'node:crypto';
import { mkdir, open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { encodeBencode } from '@tork/core';

export interface DatasetOptions {
  /** Total payload bytes. */
  readonly size: number;
  /** Files the payload is split into (sizes vary; one is empty, one smaller than a block). */
  readonly files: number;
  readonly pieceLength: number;
  /** Different seeds give different content. Default: 1. */
  readonly seed?: number;
  /** Announce URLs written into the torrent. Default: none (peers are given directly). */
  readonly announce?: readonly string[];
}

export interface Dataset {
  /** Directory holding `<name>/…`: what a seeder serves and what a download must reproduce. */
  readonly dataDir: string;
  readonly name: string;
  readonly torrentPath: string;
  readonly files: ReadonlyArray<{ path: string[]; length: number }>;
  readonly length: number;
}

/** File sizes: uneven, deterministic, summing to `size`; includes an empty and a tiny file. */
export function datasetFileSizes(size: number, files: number, seed: number): number[] {
  if (files < 3) return files === 1 ? [size] : [size - Math.floor(size / 2), Math.floor(size / 2)];
  const weights: number[] = [];
  let state = seed * 2654435761 || 1;
  for (let i = 0; i < files - 2; i++) {
    state = (state * 1103515245 + 12345) >>> 0;
    weights.push(0.5 + (state % 1000) / 1000);
  }
  // An empty file, one smaller than a 16 KiB block, and (with room) a run of small files that
  // one piece spans: the shapes that break naive clients.
  const small = files >= 8 && size >= 4 << 20 ? [5_000, 9_000, 20_000, 3_000] : [];
  const big = weights.slice(small.length);
  const total = big.reduce((a, b) => a + b, 0);
  const rest = size - 1000 - small.reduce((a, b) => a + b, 0);
  const sizes = big.map((weight) => Math.floor((rest * weight) / total));
  sizes[0]! += rest - sizes.reduce((a, b) => a + b, 0);
  sizes.splice(1, 0, 0);
  sizes.splice(3, 0, 1000, ...small);
  return sizes;
}

/**
 * Creates (or reuses, when its marker says it is complete) a deterministic data set and its
 * .torrent under `cacheDir`. Content is an AES-CTR keystream: fast, and the same for the same
 * seed on every machine.
 */
export async function ensureDataset(cacheDir: string, options: DatasetOptions): Promise<Dataset> {
  const seed = options.seed ?? 1;
  const name = `tork-demo-v2-${options.size}-${options.files}-${options.pieceLength}-${seed}`;
  const root = join(cacheDir, name);
  const dataDir = join(root, 'data');
  const torrentPath = join(root, `${name}.torrent`);
  const marker = join(root, 'complete');
  const sizes = datasetFileSizes(options.size, options.files, seed);
  const files = sizes.map((length, i) => ({
    path: [`dir${i % 4}`, `file-${String(i).padStart(3, '0')}.bin`],
    length,
  }));
  const dataset = { dataDir, name, torrentPath, files, length: options.size };
  const ready = await stat(marker).then(
    () => true,
    () => false,
  );
  if (ready) return dataset;

  await rm(root, { recursive: true, force: true });
  const key = createHash('sha256').update(`tork-demo-${seed}`).digest().subarray(0, 16);
  const keystream = createCipheriv('aes-128-ctr', key, Buffer.alloc(16));
  const hashes: Buffer[] = [];
  let piece = createHash('sha1');
  let inPiece = 0;
  const chunkSize = 1 << 20;
  const zeros = Buffer.alloc(chunkSize);
  for (const file of files) {
    const path = join(dataDir, name, ...file.path);
    await mkdir(join(path, '..'), { recursive: true });
    const handle = await open(path, 'w');
    try {
      let left = file.length;
      while (left > 0) {
        const n = Math.min(chunkSize, left);
        const bytes = keystream.update(zeros.subarray(0, n));
        await handle.write(bytes);
        let at = 0;
        while (at < n) {
          const take = Math.min(n - at, options.pieceLength - inPiece);
          piece.update(bytes.subarray(at, at + take));
          inPiece += take;
          at += take;
          if (inPiece === options.pieceLength) {
            hashes.push(piece.digest());
            piece = createHash('sha1');
            inPiece = 0;
          }
        }
        left -= n;
      }
    } finally {
      await handle.close();
    }
  }
  if (inPiece > 0) hashes.push(piece.digest());
  const info = {
    name,
    'piece length': options.pieceLength,
    pieces: Buffer.concat(hashes),
    files: files.map((file) => ({ length: file.length, path: file.path })),
  };
  const torrent: Record<string, unknown> = { info, 'created by': 'tork demo' };
  if (options.announce && options.announce.length > 0) {
    torrent.announce = options.announce[0];
    torrent['announce-list'] = [options.announce];
  }
  await writeFile(`${torrentPath}.tmp`, encodeBencode(torrent));
  await rename(`${torrentPath}.tmp`, torrentPath);
  await writeFile(marker, '');
  return dataset;
}

/** Compares every file of the download with the data set; returns the paths that differ. */
export async function verifyDownload(dataset: Dataset, outDir: string): Promise<string[]> {
  const bad: string[] = [];
  for (const file of dataset.files) {
    const expected = join(dataset.dataDir, dataset.name, ...file.path);
    const actual = join(outDir, dataset.name, ...file.path);
    const [a, b] = await Promise.all([digestFile(expected), digestFile(actual).catch(() => 'missing')]);
    if (a !== b) bad.push(file.path.join('/'));
  }
  return bad;
}

async function digestFile(path: string): Promise<string> {
  // Small demo files fit in memory; large ones are hashed in chunks.
  const info = await stat(path);
  if (info.size < 64 << 20)
    return createHash('sha1')
      .update(await readFile(path))
      .digest('hex');
  const hash = createHash('sha1');
  const handle = await open(path, 'r');
  try {
    const buffer = Buffer.allocUnsafe(4 << 20);
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, null);
      if (bytesRead === 0) break;
      hash.update(buffer.subarray(0, bytesRead));
    }
  } finally {
    await handle.close();
  }
  return hash.digest('hex');
}
