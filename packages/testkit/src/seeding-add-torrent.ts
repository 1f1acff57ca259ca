import { Bitfield, type HostCommand } from '@tork/core';
import type { BuiltTorrent } from './torrent-fixtures.js';

/**
 * The `add-torrent` command of a host that has every piece of `built` (a seeder), for tests that
 * drive a peer host directly: the info-hash as torrent id, our peer id all 0x2d, the files as given
 * (`offset`: where a file's bytes start in the file at `path`, as in a part file).
 */
export function seedingAddTorrent(
  built: BuiltTorrent,
  pieceLength: number,
  files: readonly { readonly path: string; readonly length: number; readonly offset?: number }[],
): HostCommand {
  const have = new Bitfield(Math.ceil(built.data.length / pieceLength));
  have.setAll();
  return {
    type: 'add-torrent',
    torrentId: built.infoHashHex,
    infoHash: built.infoHash,
    peerId: new Uint8Array(20).fill(0x2d),
    pieceLength,
    length: built.data.length,
    pieceHashes: built.pieceHashes,
    have: have.bytes,
    files: [...files],
  };
}
