/**
 * The part of a torrent's metainfo the disk needs. `Metainfo` (../metainfo) satisfies it as it
 * is; it is declared here so that tests and other callers can describe a layout without parsing
 * a .torrent.
 */
export interface DiskFile {
  /**
   * Path components below the torrent's directory (multi-file); `[name]` for a single-file
   * torrent, where it is not used (the file is `<root>/<name>`).
   */
  readonly path: readonly string[];
  /** Size in bytes. */
  readonly length: number;
  /** A BEP 47 pad file: its bytes are zeros, it is never created on disk. */
  readonly pad: boolean;
}

export interface DiskLayout {
  /** The torrent's name: the file name (single-file) or the top directory (multi-file). */
  readonly name: string;
  readonly isMultiFile: boolean;
  readonly pieceLength: number;
  /** Total size in bytes: the sum of every file's length, pad files included. */
  readonly length: number;
  readonly files: readonly DiskFile[];
}
