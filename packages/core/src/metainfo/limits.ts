/**
 * Hard caps on what a .torrent or a magnet URI may describe. A hostile file is bounded first by the
 * bencode size cap (16 MiB, see DEFAULT_BENCODE_MAX_BYTES); these caps bound what survives it, so
 * that no later stage (layout, disk, scheduler) has to be defensive about sheer size.
 */

/**
 * Largest accepted `piece length`: 512 MiB. Real torrents stay at or below 16–64 MiB, but libtorrent
 * loads pieces up to 1 GiB and its test corpus has one just under 512 MiB. A piece is assembled
 * and hashed in memory, so a download holds up to two such pieces per torrent (the scheduler's
 * budget is at least one piece, plus one endgame copy): larger ones are refused rather than
 * allocated. See docs/limits.md.
 */
export const MAX_PIECE_LENGTH = 512 * 1024 * 1024;

/**
 * Most bytes accepted after the root dictionary of a .torrent file: 64 KiB, ignored with a warning.
 * libtorrent and transmission ignore any amount (the info-hash does not depend on them); real files
 * carry a newline or some NUL padding. More than this is not a torrent with a stray tail.
 */
export const MAX_METAINFO_TRAILING_BYTES = 64 * 1024;

/**
 * Most files renamed because their path is taken (duplicates, names that meet once sanitised): 100,
 * libtorrent's threshold for "too many duplicate filenames"; more is a broken or hostile torrent.
 */
export const MAX_PATH_RENAMES = 100;

/** Most warnings kept for one torrent: 100; the rest are counted in one last warning. */
export const MAX_METAINFO_WARNINGS = 100;

/**
 * Most files in one torrent: 1,000,000. In practice the 16 MiB bencode cap binds first (a file entry
 * costs at least ~25 bytes, so at most ~670,000 files fit); this makes the bound explicit.
 */
export const MAX_FILES = 1_000_000;

/**
 * Most pieces of a BitTorrent v2 layout: 2,097,152 (libtorrent's default `max_pieces`). A v1
 * torrent is bounded by its `pieces` string; a v2 one declares file lengths, so a hostile torrent
 * could claim exabytes in a few bytes: this is checked before anything per piece is allocated.
 */
export const MAX_PIECE_COUNT = 2 * 1024 * 1024;

/** Most components in one file's `path` (the torrent's `name` not counted): 64. */
export const MAX_PATH_DEPTH = 64;

/** Longest single path component, in UTF-8 bytes: 255, the NAME_MAX of ext4, XFS, APFS and NTFS. */
export const MAX_PATH_COMPONENT_BYTES = 255;

/**
 * Longest relative path of one file (`name/path...` joined with `/`), in UTF-8 bytes: 4,000, so that
 * with a modest output directory it stays under Linux's PATH_MAX of 4,096.
 */
export const MAX_RELATIVE_PATH_BYTES = 4000;

/** Most tracker URLs kept from `announce` + `announce-list` together: 1,000; later ones are dropped. */
export const MAX_ANNOUNCE_URLS = 1000;

/** Most web seeds kept from `url-list`: 1,000; later ones are dropped. */
export const MAX_WEB_SEEDS = 1000;

/** Longest magnet URI accepted, in characters: 64 KiB. */
export const MAX_MAGNET_LENGTH = 64 * 1024;

/** Most `tr` (and, separately, `ws`) URLs kept from a magnet URI: 200; later ones are dropped. */
export const MAX_MAGNET_TRACKERS = 200;

/** Most `x.pe` peer addresses kept from a magnet URI: 200; later ones are dropped. */
export const MAX_MAGNET_PEERS = 200;

/**
 * Largest file index a BEP 53 `so` selection may name: MAX_FILES - 1. This also bounds a range such
 * as `0-999999` to at most MAX_FILES entries.
 */
export const MAX_SELECT_ONLY_INDEX = MAX_FILES - 1;
