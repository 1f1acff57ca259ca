import { join } from 'node:path';
import { TorkError, TorkErrorCode } from '../errors.js';
import type { FileLayout } from '../metainfo/file-layout.js';
import { checkRelativePath, outputComponents, resolveInside } from '../metainfo/safe-path.js';
import type { DiskFileHandle, DiskFs } from './disk-fs.js';
import { openFlags } from './disk-fs.js';
import type { DiskLayout } from './disk-layout.js';
import { ioError, systemCode } from './io-error.js';
import { readFully } from './piece-span.js';
import type { PreparedFile } from './prepare-files.js';
import type { SafeTree } from './safe-tree.js';

/** The directory below the output directory that holds part files (and, by default, resume state). */
export const PART_DIR_NAME = '.tork';
/** Bytes copied at a time when a newly selected file takes its bytes from the part file. */
export const PART_COPY_CHUNK_BYTES = 1024 * 1024;

/**
 * The part file: `<out>/.tork/<info-hash>.parts`, a sparse file as long as the whole torrent that
 * holds the bytes of unselected files which share a piece with a selected one. A byte at torrent
 * offset X is at offset X of the part file, so it needs no index: which of its bytes are good is
 * exactly what the resume bitfield says (a verified piece's bytes are all on disk, in files or
 * here). Only the blocks written are allocated (the boundary pieces), like every file tork
 * creates. See docs/architecture.md "File selection".
 */
export interface PartFile {
  readonly path: string;
  /** Its size before this run, or null when it was created now. */
  readonly previousSize: number | null;
  readonly dev: number;
  readonly ino: number;
}

/**
 * Unselected, non-pad files that are not on disk: they are not created, and their bytes go to the
 * part file. An unselected file that exists (an earlier run selected it) stays in use as it is:
 * its verified pieces are not lost.
 */
export async function absentFiles(
  fs: DiskFs,
  tree: SafeTree,
  layout: DiskLayout,
  selected: readonly boolean[],
): Promise<Set<number>> {
  const absent = new Set<number>();
  for (let index = 0; index < layout.files.length; index++) {
    if (layout.files[index]!.pad || selected[index] !== false) continue;
    // Checked as prepareFiles checks it, before the path is even looked at.
    if (layout.isMultiFile) checkRelativePath(layout.files[index]!.path, { fileIndex: index });
    resolveInside(tree.root, outputComponents(layout, index));
    try {
      await fs.lstat(join(tree.root, ...outputComponents(layout, index)));
    } catch (error) {
      const code = systemCode(error);
      if (code === 'ENOENT' || code === 'ENOTDIR') {
        absent.add(index);
        continue;
      }
      throw ioError(error, 'inspect', join(tree.root, ...outputComponents(layout, index)), {
        fileIndex: index,
      });
    }
  }
  return absent;
}

/**
 * Opens the part file named `name` in `<root>/.tork/`: created (sparse, at the torrent's length)
 * when `create`, else only if it exists (it may hold bytes for files selected now). Null when
 * there is none and none is needed.
 */
export async function openPartFile(
  fs: DiskFs,
  tree: SafeTree,
  name: string,
  length: number,
  create: boolean,
): Promise<PartFile | null> {
  if (!create) {
    try {
      await fs.lstat(join(tree.root, PART_DIR_NAME, name));
    } catch (error) {
      if (systemCode(error) === 'ENOENT' || systemCode(error) === 'ENOTDIR') return null;
      throw ioError(error, 'inspect', join(tree.root, PART_DIR_NAME, name));
    }
  }
  const dir = await tree.directory([PART_DIR_NAME]);
  const path = join(dir, name);
  let handle: DiskFileHandle;
  let created = false;
  try {
    handle = await fs.open(path, openFlags.create, 0o666);
    created = true;
  } catch (error) {
    if (systemCode(error) !== 'EEXIST') throw ioError(error, 'create', path);
    handle = await fs.open(path, openFlags.existing).catch((openError: unknown) => {
      throw ioError(openError, 'open', path);
    });
  }
  try {
    const stats = await handle.stat();
    if (!stats.isFile()) throw new TorkError(TorkErrorCode.IO, `${path} is not a regular file`, { path });
    if (stats.size !== length) await handle.truncate(length);
    await handle.close();
    return { path, previousSize: created ? null : stats.size, dev: stats.dev, ino: stats.ino };
  } catch (error) {
    await handle.close().catch(() => {});
    throw ioError(error, 'size', path);
  }
}

/** The entry of an unselected file held in the part file. */
export function partEntry(part: PartFile, layout: FileLayout, fileIndex: number): PreparedFile {
  return {
    fileIndex,
    path: part.path,
    length: layout.fileLength(fileIndex),
    previousSize: part.previousSize,
    dev: part.dev,
    ino: part.ino,
    base: layout.fileStart(fileIndex),
    inPart: true,
  };
}

/**
 * Copies the bytes of file `fileIndex` that lie in `pieces` (verified pieces whose bytes for this
 * file are in the part file) from the part file into the file, so a newly selected file keeps
 * what a boundary piece already brought. Returns the bytes copied.
 */
export async function copyFromPart(
  fs: DiskFs,
  part: PartFile,
  file: PreparedFile,
  layout: FileLayout,
  pieces: Iterable<number>,
): Promise<number> {
  const start = layout.fileStart(file.fileIndex);
  const end = start + file.length;
  const source = await fs.open(part.path, openFlags.existing);
  let copied = 0;
  try {
    const target = await fs.open(file.path, openFlags.existing);
    try {
      const chunk = new Uint8Array(Math.min(PART_COPY_CHUNK_BYTES, Math.max(1, file.length)));
      for (const piece of pieces) {
        const from = Math.max(start, layout.pieceStart(piece));
        const to = Math.min(end, layout.pieceStart(piece) + layout.pieceSize(piece));
        for (let at = from; at < to; at += chunk.length) {
          const length = Math.min(chunk.length, to - at);
          const read = await readFully(source, chunk, 0, length, at);
          if (read < length)
            throw new TorkError(TorkErrorCode.IO, `${part.path} is shorter than the torrent`);
          let done = 0;
          while (done < length) {
            const { bytesWritten } = await target.write(chunk, done, length - done, at - start + done);
            if (bytesWritten <= 0)
              throw new TorkError(TorkErrorCode.IO, `write to ${file.path} made no progress`);
            done += bytesWritten;
          }
          copied += length;
        }
      }
    } finally {
      await target.close();
    }
  } catch (error) {
    throw ioError(error, 'copy from part file', file.path, { fileIndex: file.fileIndex });
  } finally {
    await source.close().catch(() => {});
  }
  return copied;
}
