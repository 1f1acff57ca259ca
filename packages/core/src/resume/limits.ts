/**
 * Caps on what resume state tork writes and agrees to read. A snapshot or journal is our own file,
 * but it lives in the user's output directory and survives crashes and disk faults, so it is read
 * as untrusted input: every size is checked before anything is allocated for it.
 */

/** Snapshot format version written by this code; any other version is ignored with a warning. */
export const RESUME_FORMAT_VERSION = 1;

/**
 * Largest snapshot read or written: 64 MiB. A torrent is at most 16 MiB of bencode, and the snapshot
 * repeats only its paths plus ~60 bytes per file and one bit per piece, so real snapshots stay far
 * below; a save that would exceed it fails with TORK_ERR_LIMIT_EXCEEDED rather than writing a file
 * that load would refuse.
 */
export const MAX_RESUME_SNAPSHOT_BYTES = 64 * 1024 * 1024;

/**
 * Most pieces a snapshot may describe: 2^23 (bitfield ≤ 1 MiB). A 16 MiB .torrent holds at most
 * ~840,000 SHA-1 piece hashes, so this never binds on a real torrent.
 */
export const MAX_RESUME_PIECE_COUNT = 2 ** 23;

/**
 * Most journal bytes read past the snapshot's offset: 16 MiB (4 Mi entries, five times the pieces of
 * the largest .torrent). The coordinator appends one entry per written piece and saves now and then,
 * so only many unclean runs without a save get near it; entries beyond the cap are ignored with a
 * warning (they could only have caused a recheck, never trust). Read into a typed array: 4 bytes an entry.
 */
export const MAX_RESUME_JOURNAL_BYTES = 16 * 1024 * 1024;

/** Most pieces one `appendPieces` call may carry: 65,536 (256 KiB written at once). */
export const MAX_RESUME_APPEND_PIECES = 65_536;

/** Bytes per journal entry: a piece index as uint32 big-endian. */
export const JOURNAL_ENTRY_BYTES = 4;
