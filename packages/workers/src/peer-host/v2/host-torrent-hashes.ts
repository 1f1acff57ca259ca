import { TorkError, TorkErrorCode } from '@tork/core/internal/errors.js';
import type { HostCommand } from '@tork/core/internal/messages/host-command.js';
import type { HashServer } from '@tork/core/internal/wire/hash-serving.js';
import type { TorrentInfoHashes } from '@tork/core/internal/wire/wire-info-hash.js';
import { buildHashServer } from './torrent-hash-server.js';

type AddTorrent = Extract<HostCommand, { type: 'add-torrent' }>;

/**
 * The BEP 52 part of a host's torrent from its `add-torrent`: the info-hashes a handshake may name
 * and a hash server built on the first hash request (a torrent nobody asks costs nothing). A
 * command that cannot build one (roots not fitting the files, a layer not hashing to its root)
 * leaves the torrent serving nothing: every request is rejected. Nothing for a v1 torrent.
 */
export function hostTorrentHashes(command: AddTorrent): {
  infoHashes?: TorrentInfoHashes;
  hashServer?: () => HashServer | null;
} {
  const { infoHashV2, v2PieceChecks, v2PiecesRoots } = command;
  if (infoHashV2 === undefined || v2PieceChecks === undefined) return {};
  if (v2PiecesRoots !== undefined && v2PiecesRoots.length !== command.files.length * 32) {
    throw new TorkError(
      TorkErrorCode.THREAD_MESSAGE,
      `add-torrent: ${v2PiecesRoots.length} bytes of pieces roots for ${command.files.length} files`,
      { torrentId: command.torrentId },
    );
  }
  const v1 = command.pieceHashes.length > 0 ? command.infoHash : undefined;
  let server: HashServer | null | undefined;
  return {
    infoHashes: v1 === undefined ? { v2: infoHashV2 } : { v1, v2: infoHashV2 },
    hashServer: () => {
      if (server === undefined) {
        try {
          server =
            v2PiecesRoots === undefined || command.files.length === 0
              ? null
              : buildHashServer({
                  files: command.files,
                  pieceLength: command.pieceLength,
                  v2PieceChecks,
                  v2PiecesRoots,
                });
        } catch {
          server = null;
        }
      }
      return server;
    },
  };
}
