import { randomBytes } from 'node:crypto';
import { link, mkdir, open, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { TorkError, TorkErrorCode } from '../errors.js';

/** Held while one process keeps a torrent's resume state in a directory. */
export interface ResumeLock {
  readonly path: string;
  release(): Promise<void>;
}

/**
 * How long an empty lock file counts as held: a process that made it with `open(wx)` (file systems
 * without hard links) writes its pid a moment later. Older than this, its maker died in between.
 */
const EMPTY_LOCK_GRACE_MS = 10_000;

/** Attempts at the lock before giving up (each a few file operations; waits below in between). */
const LOCK_ATTEMPTS = 50;

/** Wait before the next attempt while another process takes over a stale lock (milliseconds). */
const TAKEOVER_WAIT_MS = 20;

/**
 * Takes `<dir>/<infohash>.lock` (holding our pid), or returns the pid of the live process that
 * holds it (null: a process is making it and has not written its pid yet). Two processes writing
 * one torrent's snapshot and journal would corrupt each other's claims, so the second one runs
 * without resume state. A lock left by a process that no longer exists is taken over.
 *
 * Why a hard link: the lock appears with its pid already in it. Created with `open(wx)` and then
 * written, it was empty for a moment; a second process starting then (CI: three `tork seed` of one
 * directory at once) read no pid, took the lock for stale, removed it and took it too.
 */
export async function lockResumeState(
  dir: string,
  infoHashHex: string,
): Promise<{ lock: ResumeLock } | { heldBy: number | null }> {
  const path = join(dir, `${infoHashHex.toLowerCase()}.lock`);
  await mkdir(dir, { recursive: true }).catch((error: NodeJS.ErrnoException) => {
    throw new TorkError(TorkErrorCode.IO, `cannot create ${dir}: ${error.code ?? error.message}`, {
      path: dir,
      cause: error.code ?? null,
    });
  });
  // Again after a stale lock was removed, a lock was released as we read it, or while another
  // process takes over a stale one.
  for (let attempt = 0; attempt < LOCK_ATTEMPTS; attempt++) {
    try {
      await create(path);
      await sweepTempFiles(dir, path);
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
    const holder = await readHolder(path);
    if (holder === 'gone') continue;
    if (holder === 'being made') return { heldBy: null };
    if (!staleHolder(holder)) return { heldBy: holder };
    if (!(await removeStale(path))) await sleep(TAKEOVER_WAIT_MS);
  }
  throw new TorkError(TorkErrorCode.IO, `cannot lock ${path}: taken and released repeatedly`, { path });
}

/**
 * Removes a stale lock (a dead holder's, garbage, or empty for longer than the grace), holding
 * `<lock>.takeover` while it does; false when another process holds that marker (wait, try again).
 * Why a marker: processes that find one stale lock at once each removed it and made their own,
 * and one removed the lock another had just made: both held it. Under the marker the lock is read
 * again, and only a lock still stale is removed; no one else removes a lock meanwhile (its dead
 * holder cannot release it, and other takers wait for the marker). A marker whose maker died
 * mid-takeover is removed by the next process to find it.
 */
async function removeStale(path: string): Promise<boolean> {
  const marker = `${path}.takeover`;
  try {
    await create(marker);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    const maker = await readHolder(marker);
    if (maker === null || (typeof maker === 'number' && maker !== process.pid && !processAlive(maker))) {
      await rm(marker, { force: true });
    }
    return false;
  }
  try {
    const holder = await readHolder(path);
    if (holder !== 'gone' && holder !== 'being made' && staleHolder(holder)) await rm(path, { force: true });
    return true;
  } finally {
    await rm(marker, { force: true });
  }
}

/**
 * Removes the lock's and marker's temp files (`<lock>.[takeover.]<pid>-<hex>.tmp`) whose process is
 * gone: `create` removes its own, unless its process died in between. Best effort.
 */
async function sweepTempFiles(dir: string, path: string): Promise<void> {
  const lockName = basename(path);
  const names = await readdir(dir).catch(() => [] as string[]);
  for (const name of names) {
    if (!name.startsWith(`${lockName}.`) || !name.endsWith('.tmp')) continue;
    const pid = /^(?:takeover\.)?(\d+)-[0-9a-f]+\.tmp$/.exec(name.slice(lockName.length + 1))?.[1];
    if (pid !== undefined && Number(pid) !== process.pid && !processAlive(Number(pid))) {
      await rm(join(dir, name), { force: true }).catch(() => {});
    }
  }
}

/**
 * A lock whose holder is garbage (null), gone, or this very pid (a pid reused after a restart, as a
 * container's pid 1 is) is stale; a live other process holds it.
 */
function staleHolder(holder: number | null): boolean {
  return holder === null || holder === process.pid || !processAlive(holder);
}

/** Makes `path` holding our pid, atomically where the file system has hard links; EEXIST if taken. */
async function create(path: string): Promise<void> {
  const temp = `${path}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(temp, `${process.pid}\n`, { flag: 'wx' });
  try {
    await link(temp, path);
    return;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    // FAT, exFAT and some network file systems have no hard links: the old way, with its moment.
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') throw error;
  } finally {
    await rm(temp, { force: true });
  }
  const handle = await open(path, 'wx');
  try {
    await handle.writeFile(`${process.pid}\n`);
  } finally {
    await handle.close();
  }
}

/** The pid in the lock; null for garbage or an empty file older than the grace. */
async function readHolder(path: string): Promise<number | null | 'gone' | 'being made'> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'gone' : null;
  }
  if (text === '') {
    const made = await stat(path).catch(() => null);
    if (made === null) return 'gone';
    return Date.now() - made.mtimeMs < EMPTY_LOCK_GRACE_MS ? 'being made' : null;
  }
  const pid = Number.parseInt(text, 10);
  return Number.isSafeInteger(pid) && pid > 0 ? pid : null;
}

/** Is `pid` a live process? (EPERM: it exists but is not ours to signal; still alive.) */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
