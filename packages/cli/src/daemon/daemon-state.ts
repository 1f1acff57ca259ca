import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { TorkError, TorkErrorCode } from '@tork/core';
import * as z from 'zod';

/** The state file's name inside `--state DIR`. */
export const STATE_FILE = 'torrents.json';
/** Format version written in the file; a file of another version is refused, not guessed at. */
export const STATE_VERSION = 1;
/** Largest state file read (bytes): 1,000 torrents' metainfo fit comfortably. */
export const MAX_STATE_FILE_BYTES = 256 * 1024 * 1024;

const rateLimitsSchema = z.strictObject({
  download: z.number().int().positive().optional(),
  upload: z.number().int().positive().optional(),
});

export const filePrioritySchema = z.enum(['skip', 'low', 'normal', 'high']);

/** One torrent the daemon keeps: enough to add it again after a restart. */
export const torrentRecordSchema = z.strictObject({
  infoHash: z.string().regex(/^[0-9a-f]{40}$/),
  /** The .torrent, base64; absent for a magnet whose metadata has not arrived yet. */
  metainfo: z.string().optional(),
  /** The magnet link it was added by, if it was. */
  magnet: z.string().optional(),
  outDir: z.string().min(1),
  /** Per file; absent: every file at `normal` (or the magnet's `so`). */
  filePriorities: z.array(filePrioritySchema).optional(),
  rateLimits: rateLimitsSchema,
  /** Most peer connections; absent: the engine's default (files before this field still load). */
  maxPeers: z.number().int().positive().optional(),
  /** Regular upload slots; absent: the engine's default. */
  uploadSlots: z.number().int().nonnegative().optional(),
  paused: z.boolean(),
  /** Peers to dial, `host:port`, given when it was added (trackers and the DHT find others). */
  peers: z.array(z.string().max(300)).max(200).optional(),
  /** When it was added (ms since the epoch): the list's order. */
  addedAt: z.number(),
});
export type TorrentRecord = z.infer<typeof torrentRecordSchema>;

export const stateFileSchema = z.strictObject({
  version: z.literal(STATE_VERSION),
  sessionLimits: rateLimitsSchema,
  /** Peer caps over all torrents set through the API; absent: the daemon's `--max-peers`/`--upload-slots`. */
  sessionPeerLimits: z
    .strictObject({
      maxPeers: z.number().int().positive().optional(),
      /** null: no cap over all torrents (set so through the API, overriding `--upload-slots`). */
      uploadSlots: z.number().int().positive().nullable().optional(),
    })
    .optional(),
  torrents: z.array(torrentRecordSchema),
});
export type StateFile = z.infer<typeof stateFileSchema>;

/** `--state` default: `$XDG_DATA_HOME/tork`, else `~/.local/share/tork`. */
export function defaultStateDir(env: NodeJS.ProcessEnv = process.env, home: string = homedir()): string {
  const data = env.XDG_DATA_HOME?.startsWith('/') ? env.XDG_DATA_HOME : join(home, '.local', 'share');
  return join(data, 'tork');
}

/**
 * The daemon's list of torrents on disk (`<dir>/torrents.json`). Every change is written whole to a
 * temporary file and renamed over the old one, so a kill at any moment leaves the old list or the
 * new one, never half of one. Writes run one at a time, in call order.
 */
export class DaemonState {
  readonly dir: string;
  readonly path: string;
  readonly #maxBytes: number;
  #queue: Promise<void> = Promise.resolve();

  /** `maxBytes`: largest file read; default `MAX_STATE_FILE_BYTES`. */
  constructor(dir: string, maxBytes = MAX_STATE_FILE_BYTES) {
    this.dir = dir;
    this.path = join(dir, STATE_FILE);
    this.#maxBytes = maxBytes;
  }

  /** The saved state; an empty one when there is no file yet. TORK_ERR_IO when it is unreadable or malformed. */
  async load(): Promise<StateFile> {
    let text: string;
    try {
      const size = (await stat(this.path)).size;
      // Checked before reading: a huge file is refused without being loaded.
      if (size > this.#maxBytes)
        throw new TorkError(TorkErrorCode.LIMIT_EXCEEDED, `${this.path} is over ${this.#maxBytes} bytes`);
      text = await readFile(this.path, 'utf8');
    } catch (error) {
      if (error instanceof TorkError) throw error;
      if ((error as NodeJS.ErrnoException).code === 'ENOENT')
        return { version: STATE_VERSION, sessionLimits: {}, torrents: [] };
      throw new TorkError(TorkErrorCode.IO, `cannot read ${this.path}: ${(error as Error).message}`);
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (error) {
      throw new TorkError(TorkErrorCode.IO, `${this.path} is not JSON: ${(error as Error).message}`);
    }
    const parsed = stateFileSchema.safeParse(json);
    if (!parsed.success)
      throw new TorkError(TorkErrorCode.IO, `${this.path} is malformed: ${parsed.error.issues[0]?.message}`);
    return parsed.data;
  }

  /** Writes the state (temp file + rename); resolves once it is on disk. */
  save(state: StateFile): Promise<void> {
    const text = `${JSON.stringify(stateFileSchema.parse(state), null, 1)}\n`;
    const write = async () => {
      await mkdir(this.dir, { recursive: true });
      const temp = `${this.path}.${process.pid}.tmp`;
      await writeFile(temp, text);
      await rename(temp, this.path);
    };
    const next = this.#queue.then(write, write);
    this.#queue = next.catch(() => {});
    return next;
  }
}
