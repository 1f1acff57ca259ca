import { constants } from 'node:fs';
import * as fsp from 'node:fs/promises';

/**
 * The file-system calls the resume store makes, as an interface so tests can inject faults. Node's
 * `FileHandle` satisfies `ResumeFileHandle` as it is; `nodeResumeFs` is node:fs/promises.
 */
export interface ResumeFileHandle {
  read(buffer: Uint8Array, offset: number, length: number, position: number): Promise<{ bytesRead: number }>;
  /** `position: null` writes at the current position (the end, for a file opened with O_APPEND). */
  write(
    buffer: Uint8Array,
    offset: number,
    length: number,
    position: number | null,
  ): Promise<{ bytesWritten: number }>;
  stat(): Promise<{ readonly size: number }>;
  truncate(length: number): Promise<void>;
  sync(): Promise<void>;
  close(): Promise<void>;
}

export interface ResumeFs {
  /** `flags` are numeric `O_*` flags. */
  open(path: string, flags: number, mode?: number): Promise<ResumeFileHandle>;
  rename(from: string, to: string): Promise<void>;
  unlink(path: string): Promise<void>;
  mkdir(path: string, options: { recursive: true }): Promise<unknown>;
  /**
   * Names in a directory. Optional: without it, temp files left by crashed saves are not swept
   * (they are never read, only take space).
   */
  readdir?(path: string): Promise<string[]>;
}

export const nodeResumeFs: ResumeFs = {
  open: (path, flags, mode) => fsp.open(path, flags, mode),
  rename: (from, to) => fsp.rename(from, to),
  unlink: (path) => fsp.unlink(path),
  mkdir: (path, options) => fsp.mkdir(path, options),
  readdir: (path) => fsp.readdir(path),
};

// O_NOFOLLOW does not exist on Windows; there a planted symlink is the user's own doing.
const NOFOLLOW = constants.O_NOFOLLOW ?? 0;

export const resumeFlags = {
  read: constants.O_RDONLY | NOFOLLOW,
  /** The journal: created when missing, every write lands at the end. */
  journal: constants.O_RDWR | constants.O_CREAT | constants.O_APPEND | NOFOLLOW,
  /** The snapshot's temp file, named per store (see `ResumeStore.tempPath`). */
  temp: constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | NOFOLLOW,
  directory: constants.O_RDONLY,
} as const;
