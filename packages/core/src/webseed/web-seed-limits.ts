/**
 * Limits of web seeds (BEP 19), in one place (docs/limits.md lists them). A web seed is an HTTP(S)
 * server that holds the torrent's files; tork fetches whole pieces from it with `Range` requests.
 */

/** Longest web seed URL accepted (from `url-list`, `--web-seed` or a magnet's `ws=`). */
export const MAX_WEB_SEED_URL_LENGTH = 4_096;
/** Pieces one web seed fetches at once (one HTTP request each, one span after another). */
export const WEB_SEED_MAX_IN_FLIGHT = 4;
/** No TCP (and TLS) connection to the server within this: a transient failure. */
export const WEB_SEED_CONNECT_TIMEOUT_MS = 10_000;
/** Connected, and no response headers within this: a transient failure. */
export const WEB_SEED_FIRST_BYTE_TIMEOUT_MS = 15_000;
/** A response body that delivers no byte for this long: a transient failure (a slow server). */
export const WEB_SEED_STALL_TIMEOUT_MS = 15_000;
/**
 * A slow server (bytes trickle in, never stalling for `WEB_SEED_STALL_TIMEOUT_MS`): a piece not
 * fetched within `WEB_SEED_PIECE_BASE_MS` + its size at `WEB_SEED_MIN_BYTES_PER_SECOND` is a
 * transient failure (its pieces go to peers; repeated, the web seed is dropped). Not applied
 * while the torrent's download is capped (the cap, not the server, sets the pace then).
 */
export const WEB_SEED_PIECE_BASE_MS = 30_000;
export const WEB_SEED_MIN_BYTES_PER_SECOND = 16 * 1024;
/** Redirects followed for one request (to http: and https: only); one more drops the web seed. */
export const WEB_SEED_MAX_REDIRECTS = 5;
/**
 * A server that ignores `Range` (200 with the whole file): bytes of the file before the span that
 * may be read and thrown away. A span that starts further in drops the web seed (reading it would
 * cost more than it brings).
 */
export const WEB_SEED_MAX_SKIP_BYTES = 64 * 1024 * 1024;
/** Transient failures in a row (5xx, 408, 429, connection errors, timeouts, short bodies) before the web seed is dropped. */
export const WEB_SEED_MAX_RETRIES = 5;
/** First wait after a transient failure; doubled for each one in a row. */
export const WEB_SEED_BASE_BACKOFF_MS = 1_000;
/** Longest wait between two attempts. */
export const WEB_SEED_MAX_BACKOFF_MS = 30_000;

/**
 * The wait before the next attempt after `failures` transient failures in a row (1 → the base),
 * doubling, capped; `undefined` once `WEB_SEED_MAX_RETRIES` is reached: the web seed is dropped.
 */
export function webSeedBackoffMs(
  failures: number,
  limits: { baseMs?: number; maxMs?: number; maxRetries?: number } = {},
): number | undefined {
  const maxRetries = limits.maxRetries ?? WEB_SEED_MAX_RETRIES;
  if (failures < 1) return 0;
  if (failures > maxRetries) return undefined;
  const base = limits.baseMs ?? WEB_SEED_BASE_BACKOFF_MS;
  return Math.min(limits.maxMs ?? WEB_SEED_MAX_BACKOFF_MS, base * 2 ** (failures - 1));
}
