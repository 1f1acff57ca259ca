/**
 * Data sets for the web seed tests: a multi-file torrent whose names need percent-encoding (a
 * space, `#`, `%`, non-ASCII), with a zero-length file and tiny files one piece spans, and a
 * single-file torrent; each with its data laid out as `download --out` writes it (and as a web
 * seed serves it), plus a corrupted copy of the data for the bad-server case.
 */
import '../support/hermetic.js';
import { createCipheriv, createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Dataset } from '@tork/cli';
import { encodeTorrent } from '@tork/core';

/** Deterministic pseudo-random bytes (AES-CTR keystream of a seed). */
function bytesOf(seed: string, length: number): Buffer {
  const key = createHash('sha256').update(seed).digest().subarray(0, 16);
  return createCipheriv('aes-128-ctr', key, Buffer.alloc(16)).update(Buffer.alloc(length));
}

function pieceHashes(data: Buffer, pieceLength: number): Uint8Array {
  const hashes: Buffer[] = [];
  for (let at = 0; at < data.length; at += pieceLength)
    hashes.push(
      createHash('sha1')
        .update(data.subarray(at, at + pieceLength))
        .digest(),
    );
  return Buffer.concat(hashes);
}

export const WEB_PIECE = 64 * 1024;

/**
 * Writes the data set under `dir`: `data/<name>/…` (good), `bad/<name>/…` (every byte flipped)
 * and `<name>.torrent`. `multi`: the multi-file layout; else one file.
 */
export async function webSeedDataset(
  dir: string,
  multi: boolean,
  size: number,
): Promise<Dataset & { badDir: string }> {
  const name = multi ? 'web seed set #1' : 'single file %.bin';
  const files = multi
    ? [
        { path: ['a b#1.bin'], length: Math.floor(size / 2) + 777 },
        { path: ['sub dir', 'empty'], length: 0 },
        { path: ['sub dir', 'tiny?.bin'], length: 1_000 },
        { path: ['sub dir', 'small.bin'], length: 5_000 },
        { path: ['ümlaut', 'c%20.bin'], length: 20_000 },
        { path: ['z.bin'], length: 0 },
      ]
    : [{ path: [name], length: size }];
  if (multi) {
    const used = files.reduce((sum, file) => sum + file.length, 0);
    files.push({ path: ['last.bin'], length: size - used });
  }
  const data = bytesOf(`${name}-${size}`, size);
  const bad = Buffer.from(data.map((byte) => byte ^ 0x5a));
  const dataDir = join(dir, 'data');
  const badDir = join(dir, 'bad');
  let at = 0;
  for (const file of files) {
    for (const [root, bytes] of [
      [dataDir, data],
      [badDir, bad],
    ] as const) {
      const path = multi ? join(root, name, ...file.path) : join(root, name);
      await mkdir(join(path, '..'), { recursive: true });
      await writeFile(path, bytes.subarray(at, at + file.length));
    }
    at += file.length;
  }
  const torrent = encodeTorrent({
    name,
    ...(multi ? { files } : { length: size }),
    pieceLength: WEB_PIECE,
    pieceHashes: pieceHashes(data, WEB_PIECE),
  });
  const torrentPath = join(dir, `${multi ? 'multi' : 'single'}.torrent`);
  await writeFile(torrentPath, torrent);
  return {
    dataDir,
    badDir,
    name,
    torrentPath,
    files: multi ? files : [{ path: [], length: size }],
    length: size,
  };
}

/** The downloaded bytes equal the data set's (every file). */
export async function sameAsSource(dataset: Dataset, out: string, multi: boolean): Promise<string[]> {
  const bad: string[] = [];
  for (const file of dataset.files) {
    const rel = multi ? [dataset.name, ...file.path] : [dataset.name];
    const [a, b] = await Promise.all([
      readFile(join(dataset.dataDir, ...rel)),
      readFile(join(out, ...rel)).catch(() => undefined),
    ]);
    if (!b || !a.equals(b)) bad.push(rel.join('/'));
  }
  return bad;
}
