import type { TorkError } from '@tork/core';
import type { ApiContext } from '../api-server.js';
import type { IdsSelector } from './rpc-schemas.js';
import { newSessionId } from './session-id.js';
import type { TorrentSource } from './torrent-fields.js';
import { TransmissionIds } from './torrent-ids.js';

/** Transmission's default speed cap (KB/s), shown while a direction is not capped. */
export const DEFAULT_SPEED_LIMIT_KBPS = 100;

/** A method's failure: answered as `{ result: message }` with HTTP 200, as Transmission does. */
export class RpcFailure extends Error {}

/** What the Transmission methods share over the daemon's run. */
export class RpcState {
  readonly context: ApiContext;
  readonly ids = new TransmissionIds();
  readonly sessionId = newSessionId();
  readonly startedAt = Date.now();
  /** Where `torrent-add` puts torrents without a `download-dir` (`session-set` changes it). */
  downloadDir: string;
  /** The session caps (KB/s) remembered while disabled, as Transmission keeps them. */
  speedDown: number;
  speedUp: number;
  /** Per-file verified bytes last seen while each torrent ran; a paused torrent shows these. */
  readonly #fileBytes = new Map<string, readonly number[]>();

  constructor(context: ApiContext) {
    this.context = context;
    this.downloadDir = context.downloadDir;
    const limits = context.registry.sessionLimits;
    this.speedDown = limits.download ? Math.round(limits.download / 1000) : DEFAULT_SPEED_LIMIT_KBPS;
    this.speedUp = limits.upload ? Math.round(limits.upload / 1000) : DEFAULT_SPEED_LIMIT_KBPS;
  }

  /** Gives ids to torrents added since the last request, and retires those removed. */
  sync(): void {
    const hashes = this.context.registry.ids;
    this.ids.sync(hashes);
    if (this.#fileBytes.size > 0) {
      const present = new Set(hashes);
      for (const hash of this.#fileBytes.keys()) if (!present.has(hash)) this.#fileBytes.delete(hash);
    }
  }

  /**
   * The torrents a changing method (start, stop, set, remove) acts on. `recently-active` is the
   * torrents at work now (running and moving bytes, or starting, fetching metadata, downloading):
   * `torrent-get` answers it with every torrent, a harmless superset for reading, but a superset
   * here would stop or remove torrents the client did not mean.
   */
  selectForChange(ids: IdsSelector): string[] {
    const hashes = this.ids.select(ids);
    if (ids !== 'recently-active') return hashes;
    return hashes.filter((hash) => {
      const summary = this.context.registry.summary(hash);
      if (summary.paused || summary.error) return false;
      return (
        summary.downloadRate > 0 ||
        summary.uploadRate > 0 ||
        ['starting', 'metadata', 'downloading'].includes(summary.state)
      );
    });
  }

  /** What the field mapping reads about one torrent. */
  source(hash: string): TorrentSource {
    const { registry } = this.context;
    const torrent = registry.torrent(hash);
    const meta = registry.meta(hash);
    return {
      id: this.ids.idOf(hash),
      summary: registry.summary(hash),
      record: registry.record(hash),
      meta,
      torrent,
      fileBytes: () => {
        if (torrent) {
          const bytes = torrent.fileCompletedBytes();
          this.#fileBytes.set(hash, bytes);
          return bytes;
        }
        return this.#fileBytes.get(hash) ?? (meta?.files ?? []).map(() => 0);
      },
    };
  }

  /** The `{ id, name, hashString }` Transmission answers an add with. */
  brief(hash: string): { id: number; name: string; hashString: string } {
    return { id: this.ids.idOf(hash), name: this.context.registry.summary(hash).name, hashString: hash };
  }
}

/** A TorkError's answer: its code and message (the daemon's one error taxonomy). */
export function failureText(error: TorkError): string {
  return `${error.code}: ${error.message}`;
}
