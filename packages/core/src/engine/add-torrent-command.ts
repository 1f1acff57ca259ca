import type { DiskWriter } from '../disk/disk-writer.js';
import type { HostCommand } from '../messages/host-command.js';
import { v2PieceChecks } from '../metainfo/v2-piece-checks.js';
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
  const v2 = torrentV2Checks(meta);
  return {
    type: 'add-torrent',
    torrentId: meta.infoHashHex,
    infoHash: meta.infoHash,
    peerId: ctx.peerId,
    pieceLength: meta.pieceLength,
    length: meta.length,
    pieceHashes: meta.pieceHashes,
    ...(v2 ? { v2PieceChecks: v2 } : {}),
    ...(v2 && meta.infoHashV2 ? { infoHashV2: meta.infoHashV2 } : {}),
    ...(v2 && meta.v2 ? { v2PiecesRoots: piecesRootsOf(meta) } : {}),
    have,
    // `have` was checked or resumed in this thread's lifetime: after its time origin.
    haveSinceMs: Math.floor(performance.timeOrigin),
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

/** One table per torrent, built the first time a host is told of it (it copies every layer entry). */
const v2ChecksByMeta = new WeakMap<TorrentMeta, Uint8Array | null>();

/** The BEP 52 check table of a v2 or hybrid torrent (memoised per meta), undefined for v1. */
export function torrentV2Checks(meta: TorrentMeta): Uint8Array | undefined {
  let table = v2ChecksByMeta.get(meta);
  if (table === undefined) {
    table = meta.version === 1 || meta.version === undefined ? null : (v2PieceChecks(meta) ?? null);
    v2ChecksByMeta.set(meta, table);
  }
  return table ?? undefined;
}

/**
 * Each file's pieces root, 32 bytes per file in `meta.files` order (zeros for pads and empty
 * files): with the piece-layer hashes the check table already carries, what a host needs to
 * answer BEP 52 hash requests. Memoised like the table (32 bytes per file).
 */
const rootsByMeta = new WeakMap<TorrentMeta, Uint8Array>();

function piecesRootsOf(meta: TorrentMeta): Uint8Array {
  let roots = rootsByMeta.get(meta);
  if (roots === undefined) {
    roots = new Uint8Array(meta.files.length * 32);
    for (const [index, root] of (meta.v2?.piecesRoots ?? []).entries()) {
      if (root !== undefined && root.length === 32) roots.set(root, index * 32);
    }
    rootsByMeta.set(meta, roots);
  }
  return roots;
}
