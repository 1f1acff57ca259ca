import { mkdir, open, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { TorkError, TorkErrorCode } from '../errors.js';

/** Held while one process keeps a torrent's resume state in a directory. */
export interface ResumeLock {
  readonly path: string;
  release(): Promise<void>;
}

/**
 * Takes `<dir>/<infohash>.lock` (holding our pid), or returns the pid of the live process that
 * holds it. Two processes writing one torrent's snapshot and journal would corrupt each other's
 * claims (and race on the temp file), so the second one runs without resume state. A lock left
 * by a process that no longer exists is taken over.
 */
export async function lockResumeState(
  dir: string,
  infoHashHex: string,
): Promise<{ lock: ResumeLock } | { heldBy: number }> {
  const path = join(dir, `${infoHashHex.toLowerCase()}.lock`);
  await mkdir(dir, { recursive: true }).catch((error: NodeJS.ErrnoException) => {
    throw new TorkError(TorkErrorCode.IO, `cannot create ${dir}: ${error.code ?? error.message}`, {
      path: dir,
      cause: error.code ?? null,
    });
  });
  // Two attempts: the second after removing a stale lock.
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(path, 'wx');
      await handle.writeFile(`${process.pid}\n`);
      await handle.close();
      return {
        lock: {
          path,
          release: async () => {
            await rm(path, { force: true });
          },
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new TorkError(TorkErrorCode.IO, `cannot lock ${path}: ${(error as Error).message}`, {
          path,
          cause: (error as NodeJS.ErrnoException).code ?? null,
        });
      }
    }
    const text = await readFile(path, 'utf8').catch(() => '');
    const pid = Number.parseInt(text, 10);
    if (Number.isSafeInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) return { heldBy: pid };
    await rm(path, { force: true });
  }
  throw new TorkError(TorkErrorCode.IO, `cannot lock ${path}: taken and released repeatedly`, { path });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but is not ours to signal; still alive.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
