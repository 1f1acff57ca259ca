import type { DiskWriter } from '../disk/disk-writer.js';
import type { HostCommand } from '../messages/host-command.js';
import type { TorrentContext, TorrentMeta } from './torrent-options.js';

/**
 * What every peer host is told of a torrent before its first connection: geometry, hashes, what we
 * have, our identity, and where its files are on disk (for serving).
 */
export function addTorrentCommand(
  meta: TorrentMeta,
  ctx: TorrentContext,
  have: Uint8Array,
  pex: boolean,
  disk: DiskWriter,
): Extract<HostCommand, { type: 'add-torrent' }> {
  return {
    type: 'add-torrent',
    torrentId: meta.infoHashHex,
    infoHash: meta.infoHash,
    peerId: ctx.peerId,
    pieceLength: meta.pieceLength,
    length: meta.length,
    pieceHashes: meta.pieceHashes,
    have,
    listenPort: ctx.port,
    private: meta.private ?? false,
    ...(meta.infoBytes && !meta.private ? { info: meta.infoBytes } : {}),
    pex,
    // Hosts read pieces back for upload from the real paths the writer created (pads: null).
    files: meta.files.map((file, index) => {
      const onDisk = disk.file(index);
      return {
        path: onDisk?.path ?? null,
        length: file.length,
        ...(onDisk?.offset ? { offset: onDisk.offset } : {}),
      };
    }),
  };
}
