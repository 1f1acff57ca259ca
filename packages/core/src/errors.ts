/**
 * One error taxonomy for all of tork. Every parser, codec and client throws only `TorkError`,
 * identified by a stable `code`; callers branch on the code, never on the message.
 *
 * Errors lose their class when they cross a worker thread (structured clone keeps only
 * `message` and `stack` of an Error), so `toPlain`/`fromPlain` turn a TorkError into plain data
 * and back.
 */

/** Stable error codes. Never renumber or rename one: tools and users match on them. */
export const TorkErrorCode = {
  /** Bytes are not valid bencode (syntax, truncation, trailing data, nesting or size caps). */
  BENCODE: 'TORK_ERR_BENCODE',
  /** Bencode was valid but the .torrent content is not a valid metainfo. */
  METAINFO: 'TORK_ERR_METAINFO',
  /** A path from a torrent could escape the output directory or is not a legal file name. */
  UNSAFE_PATH: 'TORK_ERR_UNSAFE_PATH',
  /** A magnet URI is malformed. */
  MAGNET: 'TORK_ERR_MAGNET',
  /** A magnet's metadata (its info dictionary) could not be had: no peer gave it in time. */
  METADATA: 'TORK_ERR_METADATA',
  /** A piece/offset or file/offset does not lie inside the torrent. */
  OUT_OF_RANGE: 'TORK_ERR_OUT_OF_RANGE',
  /** The peer's handshake is malformed (pstr, length, info-hash). */
  WIRE_HANDSHAKE: 'TORK_ERR_WIRE_HANDSHAKE',
  /** A peer wire message is malformed or breaks a hard cap. */
  WIRE_PROTOCOL: 'TORK_ERR_WIRE_PROTOCOL',
  /** A peer wire length prefix exceeds the largest legal message: refused before allocating. */
  WIRE_TOO_LARGE: 'TORK_ERR_WIRE_TOO_LARGE',
  /** A tracker answered with an error (BEP 15 action 3 or BEP 3 `failure reason`). */
  TRACKER_FAILURE: 'TORK_ERR_TRACKER_FAILURE',
  /** A tracker's reply could not be understood (truncated, wrong transaction, not bencode, HTML). */
  TRACKER_PROTOCOL: 'TORK_ERR_TRACKER_PROTOCOL',
  /** A tracker did not answer in time (after all retransmissions). */
  TRACKER_TIMEOUT: 'TORK_ERR_TRACKER_TIMEOUT',
  /** A tracker could not be reached (DNS, connection refused, socket error, HTTP status). */
  TRACKER_UNREACHABLE: 'TORK_ERR_TRACKER_UNREACHABLE',
  /** Every tracker of every tier failed. */
  TRACKER_ALL_FAILED: 'TORK_ERR_TRACKER_ALL_FAILED',
  /** A tracker URL has a scheme or form tork cannot announce to. */
  TRACKER_URL: 'TORK_ERR_TRACKER_URL',
  /** A local service discovery (BEP 14) announce is malformed. */
  LSD_PROTOCOL: 'TORK_ERR_LSD_PROTOCOL',
  /** A DHT (KRPC) message is malformed or breaks a cap, or the DHT node could not run. */
  DHT: 'TORK_ERR_DHT',
  /** A uTP (BEP 29) packet is malformed or breaks a cap, or a uTP connection failed (reset, timeout). */
  UTP: 'TORK_ERR_UTP',
  /** A web seed (BEP 19) failed: an HTTP error, a bad or short range, a timeout; it is dropped with this reason. */
  WEB_SEED: 'TORK_ERR_WEB_SEED',
  /** A reply or body exceeded a documented size cap. */
  LIMIT_EXCEEDED: 'TORK_ERR_LIMIT_EXCEEDED',
  /** A message between threads failed its schema. */
  THREAD_MESSAGE: 'TORK_ERR_THREAD_MESSAGE',
  /** Invalid command-line usage or library options. */
  USAGE: 'TORK_ERR_USAGE',
  /** A file-system operation failed (read, write, open). */
  IO: 'TORK_ERR_IO',
  /** An operation was aborted by its caller. */
  ABORTED: 'TORK_ERR_ABORTED',
  /** The daemon's API: a request body or parameter failed its schema (HTTP 400). */
  API_BAD_REQUEST: 'TORK_ERR_API_BAD_REQUEST',
  /** The daemon's API: no such route or torrent (HTTP 404). */
  API_NOT_FOUND: 'TORK_ERR_API_NOT_FOUND',
  /** The daemon's API: the route exists but not with this method (HTTP 405). */
  API_METHOD: 'TORK_ERR_API_METHOD',
  /** The daemon's API: a missing or wrong token (HTTP 401). */
  API_UNAUTHORIZED: 'TORK_ERR_API_UNAUTHORIZED',
  /** The daemon's API: a foreign Host header, or a path outside `--download-root` (HTTP 403). */
  API_FORBIDDEN: 'TORK_ERR_API_FORBIDDEN',
  /** The daemon's API: the torrent is already added (HTTP 409). */
  API_CONFLICT: 'TORK_ERR_API_CONFLICT',
  /** A bug: an invariant of tork itself was broken. */
  INTERNAL: 'TORK_ERR_INTERNAL',
} as const;

export type TorkErrorCode = (typeof TorkErrorCode)[keyof typeof TorkErrorCode];

const KNOWN_CODES: ReadonlySet<string> = new Set(Object.values(TorkErrorCode));

/** Details are plain JSON-like data so that an error survives structured clone and JSON. */
export type TorkErrorDetails = Readonly<Record<string, string | number | boolean | null | undefined>>;

/**
 * The plain-data form of a TorkError, as it crosses a thread (in events, hash job results and host
 * error reports: checked on arrival against `PlainTorkErrorSchema`, messages/plain-error.ts, which
 * must infer exactly this type) or is printed by `--json`. The one plain error shape of tork. Kept
 * apart from its schema so that every module can import errors without loading zod.
 */
export interface PlainTorkError {
  code: TorkErrorCode;
  message: string;
  details: Record<string, string | number | boolean | null>;
}

export class TorkError extends Error {
  override readonly name = 'TorkError';
  readonly code: TorkErrorCode;
  readonly details: TorkErrorDetails;

  constructor(code: TorkErrorCode, message: string, details: TorkErrorDetails = {}, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
    this.details = details;
  }

  /** Plain data; `undefined` details are dropped (they do not survive JSON and fail the thread schemas). */
  toPlain(): PlainTorkError {
    const details: Record<string, string | number | boolean | null> = {};
    for (const [key, value] of Object.entries(this.details)) if (value !== undefined) details[key] = value;
    return { code: this.code, message: this.message, details };
  }

  /** Rebuilds a TorkError from its plain form; an unknown code becomes TORK_ERR_INTERNAL. */
  static fromPlain(plain: { code?: unknown; message?: unknown; details?: unknown }): TorkError {
    const code =
      typeof plain.code === 'string' && KNOWN_CODES.has(plain.code)
        ? (plain.code as TorkErrorCode)
        : TorkErrorCode.INTERNAL;
    const message = typeof plain.message === 'string' ? plain.message : 'unknown error';
    const details: Record<string, string | number | boolean | null> = {};
    if (plain.details !== null && typeof plain.details === 'object') {
      for (const [key, value] of Object.entries(plain.details)) {
        if (
          typeof value === 'string' ||
          typeof value === 'number' ||
          typeof value === 'boolean' ||
          value === null
        ) {
          details[key] = value;
        }
      }
    }
    return new TorkError(code, message, details);
  }
}

export function isTorkError(value: unknown, code?: TorkErrorCode): value is TorkError {
  return value instanceof TorkError && (code === undefined || value.code === code);
}

/**
 * Wraps anything thrown into a TorkError: TorkErrors pass through, other errors keep their
 * message and become `fallbackCode`. Use at boundaries where foreign code (node, a library) runs.
 */
export function toTorkError(
  error: unknown,
  fallbackCode: TorkErrorCode = TorkErrorCode.INTERNAL,
  context?: string,
): TorkError {
  if (error instanceof TorkError) return error;
  const base = error instanceof Error ? error.message : String(error);
  const sysCode =
    error !== null && typeof error === 'object' && 'code' in error && typeof error.code === 'string'
      ? error.code
      : undefined;
  return new TorkError(
    fallbackCode,
    context ? `${context}: ${base}` : base,
    sysCode ? { cause: sysCode } : {},
    {
      cause: error,
    },
  );
}
