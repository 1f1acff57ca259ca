import { join } from 'node:path';
import { TorkError, TorkErrorCode } from '../errors.js';
import {
  checkPathConflicts,
  checkRelativePath,
  outputComponents,
  resolveInside,
} from '../metainfo/safe-path.js';
import type { DiskFs } from './disk-fs.js';
import { openFlags } from './disk-fs.js';
import type { DiskLayout } from './disk-layout.js';
import { ioError, systemCode } from './io-error.js';
import { runBounded } from './run-bounded.js';
import type { SafeTree } from './safe-tree.js';

/** A torrent file as it stands on disk after `prepareFiles`. */
export interface PreparedFile {
  readonly fileIndex: number;
  /** Real absolute path (no symlink left in it). */
  readonly path: string;
  readonly length: number;
  /** Size the file had before, or null when tork created it now (resume uses this). */
  readonly previousSize: number | null;
  /** Identity of the file, checked again on every later open. */
  readonly dev: number;
  readonly ino: number;
  /**
   * Where byte 0 of the torrent file lies in `path`: 0 for a file of its own; its offset in the
   * torrent when it is held in the part file (an unselected file: see part-file.ts).
   */
  readonly base: number;
  /** The file is not on disk by itself: its bytes (of shared pieces only) are in the part file. */
  readonly inPart: boolean;
}

/**
 * Creates every non-pad file (zero-length ones too) at its final size, sparse: a new file is
 * extended with ftruncate, which allocates no blocks. An existing file keeps its bytes (resume):
 * a shorter one is extended, a longer one is truncated to its final size — bytes past the end can
 * never be part of this torrent, and a file left longer would make the finished download wrong.
 * Pad files (BEP 47) are never created, nor the files in `leaveOut` (unselected files that are
 * not on disk: the part file holds their shared bytes). Returns one entry per file (null for pad
 * files and those left out).
 */
export async function prepareFiles(
  fs: DiskFs,
  tree: SafeTree,
  layout: DiskLayout,
  concurrency: number,
  leaveOut: ReadonlySet<number> = new Set(),
): Promise<Array<PreparedFile | null>> {
  const prepared: Array<PreparedFile | null> = layout.files.map(() => null);
  // Metainfo has checked all this when parsing; it is checked again here, before anything is
  // created, because a layout may come from elsewhere and a bad one must touch nothing.
  checkPathConflicts(layout.files.map((file) => ({ path: file.path, skip: file.pad })));
  const todo: number[] = [];
  layout.files.forEach((file, fileIndex) => {
    if (file.pad) return;
    if (layout.isMultiFile) checkRelativePath(file.path, { fileIndex });
    resolveInside(tree.root, outputComponents(layout, fileIndex));
    if (!leaveOut.has(fileIndex)) todo.push(fileIndex);
  });

  await runBounded(todo, concurrency, async (fileIndex) => {
    prepared[fileIndex] = await prepareFile(fs, tree, layout, fileIndex);
  });

  // Two torrent paths may still name one file (case-insensitive file system, hard links).
  const identities = new Map<string, PreparedFile>();
  for (const file of prepared) {
    if (file === null) continue;
    const identity = `${file.dev}:${file.ino}`;
    const other = identities.get(identity);
    if (other !== undefined) {
      throw new TorkError(
        TorkErrorCode.UNSAFE_PATH,
        `${other.path} and ${file.path} are the same file on disk`,
        { path: file.path, other: other.path },
      );
    }
    identities.set(identity, file);
  }
  return prepared;
}

/** Creates (or checks, if it exists) one file of the torrent: see `prepareFiles`. */
export async function prepareFile(
  fs: DiskFs,
  tree: SafeTree,
  layout: DiskLayout,
  fileIndex: number,
): Promise<PreparedFile> {
  const components = outputComponents(layout, fileIndex);
  const length = layout.files[fileIndex]!.length;
  const dir = await tree.directory(components.slice(0, -1));
  let path = join(dir, components[components.length - 1]!);
  let created = false;
  let handle: Awaited<ReturnType<DiskFs['open']>>;
  try {
    handle = await fs.open(path, openFlags.create, 0o666);
    created = true;
  } catch (error) {
    if (systemCode(error) !== 'EEXIST') throw ioError(error, 'create', path, { fileIndex });
    const existing = await tree.resolveExisting(path);
    if (!existing.stats.isFile()) {
      throw new TorkError(TorkErrorCode.IO, `${existing.path} exists and is not a regular file`, {
        path: existing.path,
        fileIndex,
        cause: existing.stats.isDirectory() ? 'EISDIR' : 'EINVAL',
      });
    }
    path = existing.path;
    try {
      handle = await fs.open(path, openFlags.existing);
    } catch (openError) {
      throw ioError(openError, 'open', path, { fileIndex });
    }
  }
  try {
    const stats = await handle.stat();
    if (!stats.isFile()) {
      throw new TorkError(TorkErrorCode.IO, `${path} is not a regular file`, { path, fileIndex });
    }
    if (stats.size !== length) await handle.truncate(length);
    await handle.close();
    return {
      fileIndex,
      path,
      length,
      previousSize: created ? null : stats.size,
      dev: stats.dev,
      ino: stats.ino,
      base: 0,
      inPart: false,
    };
  } catch (error) {
    await handle.close().catch(() => {});
    throw ioError(error, created ? 'size' : 'resize', path, { fileIndex });
  }
}
