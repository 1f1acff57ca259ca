/**
 * Test data made the way libtorrent makes it: a directory `set/` of random files, and a torrent
 * over it from libtorrent's own `create_torrent` (v1, v2-only or hybrid), so tork is checked
 * against another implementation's layout, pads and hashes rather than its own.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Writes `dataDir/set/<name>` with `length` random bytes for each file. */
export function writeRandomSet(dataDir: string, files: ReadonlyArray<readonly [string, number]>): void {
  mkdirSync(join(dataDir, 'set'), { recursive: true });
  for (const [name, length] of files) writeFileSync(join(dataDir, 'set', name), randomBytes(length));
}

export interface LibtorrentCreateOptions {
  /** The directory holding `set/`. */
  readonly dataDir: string;
  /** Python for `create_torrent`'s flags: `0` (v1 + v2 hybrid), `lt.create_torrent.v2_only`, ... */
  readonly flags: string;
  readonly pieceLength: number;
  /** Where the .torrent is written. */
  readonly out: string;
  /** An announce URL; none by default. */
  readonly tracker?: string;
}

/** libtorrent's create_torrent over `dataDir/set` (python3-libtorrent), bounded to 30 s. */
export function libtorrentCreate(python: string, options: LibtorrentCreateOptions): Promise<void> {
  const script = [
    'import sys, libtorrent as lt',
    'fs = lt.file_storage()',
    `lt.add_files(fs, sys.argv[1] + '/set')`,
    `ct = lt.create_torrent(fs, ${options.pieceLength}, flags=${options.flags})`,
    ...(options.tracker ? [`ct.add_tracker(${JSON.stringify(options.tracker)})`] : []),
    'lt.set_piece_hashes(ct, sys.argv[1])',
    `open(sys.argv[2], 'wb').write(lt.bencode(ct.generate()))`,
  ].join('\n');
  return new Promise<void>((resolve, reject) =>
    execFile(
      python,
      ['-c', script, options.dataDir, options.out],
      { timeout: 30_000 },
      (error, _stdout, stderr) => (error ? reject(new Error(`${error.message}: ${stderr}`)) : resolve()),
    ),
  );
}
