import { TorkError, TorkErrorCode } from '@tork/core';
import type { IdsSelector } from './rpc-schemas.js';

/** How long a removed torrent's id is reported in `removed` to `recently-active` requests. */
export const RECENTLY_ACTIVE_MS = 60_000;

/** Most removed ids remembered for `recently-active` (the oldest go first). */
export const MAX_REMOVED_IDS = 1_000;

/**
 * Transmission names torrents by small integers; the daemon by info-hash. Each torrent gets the next
 * integer when this map first sees it (in the registry's order: when it was added), and keeps it for
 * the daemon's run; an id is never given to another torrent, even after a removal.
 */
export class TransmissionIds {
  readonly #byHash = new Map<string, number>();
  readonly #byId = new Map<number, string>();
  readonly #removed: Array<{ id: number; at: number }> = [];
  #next = 1;

  /** Gives new hashes their ids (in the order given) and forgets those no longer listed. */
  sync(hashes: readonly string[], now = Date.now()): void {
    const present = new Set(hashes);
    for (const [hash, id] of this.#byHash)
      if (!present.has(hash)) {
        this.#byHash.delete(hash);
        this.#byId.delete(id);
        this.#removed.push({ id, at: now });
        if (this.#removed.length > MAX_REMOVED_IDS) this.#removed.shift();
      }
    for (const hash of hashes)
      if (!this.#byHash.has(hash)) {
        const id = this.#next++;
        this.#byHash.set(hash, id);
        this.#byId.set(id, hash);
      }
  }

  idOf(hash: string): number {
    const id = this.#byHash.get(hash);
    if (id === undefined) throw new TorkError(TorkErrorCode.INTERNAL, `no Transmission id for ${hash}`);
    return id;
  }

  hashOf(id: number): string | undefined {
    return this.#byId.get(id);
  }

  /** Ids removed within `RECENTLY_ACTIVE_MS`. */
  recentlyRemoved(now = Date.now()): number[] {
    while (this.#removed.length > 0 && this.#removed[0]!.at < now - RECENTLY_ACTIVE_MS) this.#removed.shift();
    return this.#removed.map((entry) => entry.id);
  }

  get removedCount(): number {
    return this.#removed.length;
  }

  /**
   * The hashes a selector names, in id order, each once. `recently-active` is every torrent: the
   * daemon keeps no activity dates, and clients ask for it to refresh what changed, which a superset
   * covers. Hashes match case-insensitively; ids and hashes that name no torrent are skipped.
   */
  select(ids: IdsSelector): string[] {
    if (ids === undefined || ids === 'recently-active') return [...this.#byId.values()];
    const wanted = new Set<string>();
    for (const one of Array.isArray(ids) ? ids : [ids]) {
      const hash = typeof one === 'number' ? this.#byId.get(one) : one.toLowerCase();
      if (hash !== undefined && this.#byHash.has(hash)) wanted.add(hash);
    }
    return [...wanted].sort((a, b) => this.idOf(a) - this.idOf(b));
  }
}
