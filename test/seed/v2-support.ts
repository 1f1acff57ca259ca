/**
 * BEP 52 test data: a small file set with awkward sizes and libtorrent-made v2-only and hybrid
 * torrents of it (libtorrent writes the pad files and piece layers as it would for users).
 */
import '../support/hermetic.js';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Piece length of the torrents made here: 64 KiB (four 16 KiB merkle leaves a piece). */
export const V2_PIECE = 65_536;

/** Several pieces with a short tail, less than one block, one piece and a byte, exactly two pieces. */
export const V2_FILES: [string, number][] = [
  ['a.bin', 5 * V2_PIECE + 12_345],
  ['b.txt', 5_000],
  ['c.bin', V2_PIECE + 1],
  ['d.bin', 2 * V2_PIECE],
];

/** Writes `V2_FILES` with random bytes under `dataDir/set` (the torrent's top directory). */
export function writeV2Set(dataDir: string): void {
  mkdirSync(join(dataDir, 'set'), { recursive: true });
  for (const [name, length] of V2_FILES) writeFileSync(join(dataDir, 'set', name), randomBytes(length));
}

/**
 * libtorrent's create_torrent over `dataDir/set` with `flags` (`0`: hybrid,
 * `lt.create_torrent.v2_only`), 64 KiB pieces, an announce URL when given; written to `out`.
 */
export function libtorrentTorrent(
  python: string,
  dataDir: string,
  flags: string,
  out: string,
  tracker?: string,
): Promise<void> {
  const script = [
    'import sys, libtorrent as lt',
    'fs = lt.file_storage()',
    `lt.add_files(fs, sys.argv[1] + '/set')`,
    `ct = lt.create_torrent(fs, ${V2_PIECE}, flags=${flags})`,
    ...(tracker ? [`ct.add_tracker(${JSON.stringify(tracker)})`] : []),
    'lt.set_piece_hashes(ct, sys.argv[1])',
    `open(sys.argv[2], 'wb').write(lt.bencode(ct.generate()))`,
  ].join('\n');
  return new Promise<void>((resolve, reject) =>
    execFile(python, ['-c', script, dataDir, out], { timeout: 30_000 }, (error, _stdout, stderr) =>
      error ? reject(new Error(`${error.message}: ${stderr}`)) : resolve(),
    ),
  );
}
