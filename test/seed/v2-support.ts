/**
 * BEP 52 test data: a small file set with awkward sizes and libtorrent-made v2-only and hybrid
 * torrents of it (libtorrent writes the pad files and piece layers as it would for users).
 */
import '../support/hermetic.js';
import { libtorrentCreate, writeRandomSet } from '../support/libtorrent-create.js';

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
  writeRandomSet(dataDir, V2_FILES);
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
  return libtorrentCreate(python, {
    dataDir,
    flags,
    pieceLength: V2_PIECE,
    out,
    ...(tracker ? { tracker } : {}),
  });
}
