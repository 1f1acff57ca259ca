export { decodeBase32, encodeBase32 } from './base32.js';
export type { CreateTorrentFile, EncodeTorrentOptions } from './create-torrent.js';
export {
  checkCreatePieceLength,
  choosePieceLength,
  encodeTorrent,
  MAX_AUTO_PIECE_LENGTH,
  MIN_CREATE_PIECE_LENGTH,
  TARGET_MAX_PIECES,
} from './create-torrent.js';
export type { FileSpan, LayoutFile, PiecePosition, PieceRange } from './file-layout.js';
export { FileLayout } from './file-layout.js';
export {
  MAX_ANNOUNCE_URLS,
  MAX_FILES,
  MAX_MAGNET_LENGTH,
  MAX_MAGNET_PEERS,
  MAX_MAGNET_TRACKERS,
  MAX_METAINFO_TRAILING_BYTES,
  MAX_METAINFO_WARNINGS,
  MAX_PATH_COMPONENT_BYTES,
  MAX_PATH_DEPTH,
  MAX_PATH_RENAMES,
  MAX_PIECE_LENGTH,
  MAX_RELATIVE_PATH_BYTES,
  MAX_SELECT_ONLY_INDEX,
  MAX_WEB_SEEDS,
} from './limits.js';
export type { Magnet, MagnetInput, MagnetPeer } from './magnet.js';
export { formatMagnet, parseMagnet } from './magnet.js';
export type { Metainfo, MetainfoFile, ParseMetainfoOptions } from './metainfo.js';
export { parseMetainfo } from './metainfo.js';
export type { MetainfoWarning, MetainfoWarningKind } from './metainfo-warnings.js';
export type { OutputLayout, PathContext } from './safe-path.js';
export {
  checkPathComponent,
  checkPathConflicts,
  checkRelativePath,
  outputComponents,
  outputPath,
  resolveInside,
  unsafeComponentReason,
} from './safe-path.js';
export {
  renameDuplicates,
  SANITIZED_COMPONENT_BYTES,
  sanitizeComponent,
  sanitizePath,
} from './sanitize-path.js';
