import { constants } from 'node:fs';
import * as fsp from 'node:fs/promises';

/**
 * The few file-system calls the disk layer makes, as an interface so tests can inject faults
 * (ENOSPC, EACCES, EIO…) that a test running as root cannot otherwise produce. `nodeDiskFs` is
 * the real thing (node:fs/promises); Node's `FileHandle` satisfies `DiskFileHandle` as it is.
 */
export interface DiskStats {
  readonly size: number;
  readonly dev: number;
  readonly ino: number;
  /** Last modification / status change, ms with a fraction (Node's Stats have them; fakes may not). */
  readonly mtimeMs?: number;
  readonly ctimeMs?: number;
  isFile(): boolean;
  isDirectory(): boolean;
  isSymbolicLink(): boolean;
}

export interface DiskFileHandle {
  /**
   * The descriptor, where there is one (Node's FileHandle has it): the disk writer writes short
   * segments through it synchronously (`DiskWriterOptions.syncWrites`).
   */
  readonly fd?: number;
  read(buffer: Uint8Array, offset: number, length: number, position: number): Promise<{ bytesRead: number }>;
  write(
    buffer: Uint8Array,
    offset: number,
    length: number,
    position: number,
  ): Promise<{ bytesWritten: number }>;
  /**
   * Writes `buffers` back to back from `position` in one call (pwritev). Optional: without it the
   * disk writer writes them one by one. Node's FileHandle has it.
   */
  writev?(buffers: readonly Uint8Array[], position: number): Promise<{ bytesWritten: number }>;
  stat(): Promise<DiskStats>;
  truncate(length: number): Promise<void>;
  sync(): Promise<void>;
  close(): Promise<void>;
}

export interface DiskFs {
  /** `flags` are numeric `O_*` flags (see `openFlags`). */
  open(path: string, flags: number, mode?: number): Promise<DiskFileHandle>;
  /** Non-recursive unless asked; rejects with EEXIST when the path exists (whatever it is). */
  mkdir(path: string, options?: { recursive?: boolean }): Promise<unknown>;
  lstat(path: string): Promise<DiskStats>;
  realpath(path: string): Promise<string>;
}

export const nodeDiskFs: DiskFs = {
  open: (path, flags, mode) => fsp.open(path, flags, mode),
  mkdir: (path, options) => fsp.mkdir(path, options),
  lstat: (path) => fsp.lstat(path),
  realpath: (path) => fsp.realpath(path),
};

// O_NOFOLLOW does not exist on Windows; there the symlink checks done before opening remain.
const NOFOLLOW = constants.O_NOFOLLOW ?? 0;

export const openFlags = {
  /**
   * Create a file that must not exist yet. With O_EXCL, open refuses a symlink at the final
   * component even when it dangles, so a planted link can never make us create a file elsewhere.
   */
  create: constants.O_RDWR | constants.O_CREAT | constants.O_EXCL | NOFOLLOW,
  /** Open an existing file, never creating it, never following a symlink at the last component. */
  existing: constants.O_RDWR | NOFOLLOW,
} as const;
