/**
 * The limits of the thread messages that runtime code needs as numbers. They live apart from the
 * zod schemas that enforce them so that a thread can read them without loading zod (the schemas
 * are checked by generated validators: see validator-codegen.ts). docs/limits.md lists each.
 */

/**
 * Verified pieces of torrents whose piece length is at most this leave a host packed together (the
 * `pieces` event) rather than one transferred buffer each; at most MAX_PIECES_PER_EVENT pieces and
 * MAX_PIECE_BATCH_BYTES bytes per event (a host turn with more sends several).
 */
export const SMALL_PIECE_EVENT_BYTES = 32 * 1024;
export const MAX_PIECES_PER_EVENT = 256;
export const MAX_PIECE_BATCH_BYTES = 1024 * 1024;

/** Most events one host batch may carry: a host's batch is one event-loop turn's events. */
export const MAX_EVENTS_PER_BATCH = 100_000;

/** Most files a torrent may list in `add-torrent` (the metainfo parser caps files lower). */
export const MAX_HOST_FILES = 1_000_000;

/** Most peers a `torrent-peers` command lists (`--max-peers` allows 10,000 connections). */
export const MAX_TORRENT_PEERS = 10_000;

/** Unacknowledged bytes after which a relay side stops sending (reads paused, writes held). */
export const RELAY_WINDOW_BYTES = 4 * 1024 * 1024;

/** Most pieces one hash job carries (the pool batches far fewer: see `HashPoolOptions.piecesPerJob`). */
export const MAX_HASH_JOB_PIECES = 4_096;
