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
export type { EncodeTorrentV2Options, HybridLayoutEntry, V2FileHashes } from './create-torrent-v2.js';
export { encodeTorrentV2, hybridLayout } from './create-torrent-v2.js';
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
  MAX_PIECE_COUNT,
  MAX_PIECE_LENGTH,
  MAX_RELATIVE_PATH_BYTES,
  MAX_SELECT_ONLY_INDEX,
  MAX_WEB_SEEDS,
} from './limits.js';
export type { Magnet, MagnetInput, MagnetPeer } from './magnet.js';
export { formatMagnet, parseMagnet } from './magnet.js';
export type { FileMerkle } from './merkle-tree.js';
export {
  blockHashes,
  FileMerkleBuilder,
  fileMerkle,
  fileMerkleFromBlocks,
  hashPair,
  hashRun,
  MERKLE_BLOCK_SIZE,
  MERKLE_HASH_SIZE,
  merkleProof,
  merkleRoot,
  nextPowerOfTwo,
  padHash,
  pieceRootFromData,
  rootFromPieceLayer,
  verifyHashRun,
  verifyMerkleProof,
  verifyPieceLayer,
} from './merkle-tree.js';
export { magnetInfoHashes, metadataMatches } from './metadata-hashes.js';
export type { Metainfo, MetainfoFile, ParseMetainfoOptions } from './metainfo.js';
export { metainfoWithV2, parseMetainfo } from './metainfo.js';
export type { MetainfoVersion, V2TreeFile } from './metainfo-v2.js';
export type { MetainfoV2, MetainfoV2Fields } from './metainfo-v2-model.js';
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
export type { V2PieceCheckSource } from './v2-piece-checks.js';
export { V2_PIECE_CHECK_SIZE, v2PieceChecks, v2PieceFileBytes, verifyV2Piece } from './v2-piece-checks.js';
