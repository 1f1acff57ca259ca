import type { HostCommand } from '@tork/core';
import type { BuiltTorrent } from './torrent-fixtures.js';

/**
 * The `add-torrent` command of a host that has every piece of `built` (a seeder), for tests that
 * drive a peer host directly: the info-hash as torrent id, our peer id all 0x2d, the files as given.
 */
export function seedingAddTorrent(
  built: BuiltTorrent,
  pieceLength: number,
  files: readonly { readonly path: string; readonly length: number }[],
): HostCommand {
  const pieceCount = Math.ceil(built.data.length / pieceLength);
  const have = new Uint8Array(Math.ceil(pieceCount / 8));
  for (let i = 0; i < pieceCount; i++) have[i >> 3]! |= 0x80 >> (i & 7);
  return {
    type: 'add-torrent',
    torrentId: built.infoHashHex,
    infoHash: built.infoHash,
    peerId: new Uint8Array(20).fill(0x2d),
    pieceLength,
    length: built.data.length,
    pieceHashes: built.pieceHashes,
    have,
    files: [...files],
  };
}
