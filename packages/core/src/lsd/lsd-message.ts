/**
 * BEP 14 (Local Service Discovery) announces: a pure encoder and decoder. An announce is an
 * HTTP-like request sent to a multicast group over UDP:
 *
 * ```
 * BT-SEARCH * HTTP/1.1\r\n
 * Host: 239.192.152.143:6771\r\n
 * Port: <port we accept peers on>\r\n
 * Infohash: <40 hex characters>\r\n      (one or more, consecutive)
 * cookie: <opaque; lets a sender drop its own announces>\r\n
 * \r\n
 * \r\n
 * ```
 *
 * The decoder checks its caps before any work (datagram size) or as it goes (header lines,
 * info-hashes per message) and throws only TorkError LSD_PROTOCOL (malformed) or LIMIT_EXCEEDED
 * (a cap broken).
 */
import { TorkError, TorkErrorCode } from '../errors.js';
import { printableText } from '../tracker/printable.js';

/** BEP 14's IPv4 multicast group (org-local scope) and port. tork speaks IPv4 LSD only. */
export const LSD_IPV4_GROUP = '239.192.152.143';
export const LSD_PORT = 6771;

/**
 * Largest announce, in bytes: BEP 14 asks senders of several info-hashes to stay under 1,400
 * bytes (MTU, no fragmentation). A larger datagram is refused before it is read.
 */
export const MAX_LSD_MESSAGE_BYTES = 1400;
/** Header lines (after the request line) read in one announce; more is refused. */
export const MAX_LSD_HEADERS = 32;
/**
 * Info-hashes (torrents) in one announce; more is refused. 20 of them, a 64-character cookie and
 * the other headers still fit in {@link MAX_LSD_MESSAGE_BYTES}, so what we encode we accept.
 */
export const MAX_LSD_INFOHASHES = 20;
/** Longest cookie (and Host value) the encoder writes: printable ASCII, no spaces. */
export const MAX_LSD_COOKIE_CHARS = 64;

const REQUEST_LINE = 'BT-SEARCH * HTTP/1.1';
const HEADER = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+):[ \t]*(.*?)[ \t]*$/s;
const INFOHASH = /^[0-9a-fA-F]{40}$/;
const PORT = /^[0-9]{1,5}$/;
const TOKEN = /^[\x21-\x7e]+$/;

/** A decoded announce. Info-hashes are lowercase hex, without duplicates, in message order. */
export interface LsdAnnounce {
  /** The Host header (the group it was sent to), if any, made printable. */
  readonly host?: string;
  /** The port the sender accepts peers on, 1 to 65535. */
  readonly port: number;
  readonly infoHashes: readonly string[];
  readonly cookie?: string;
}

/** What an announce says. */
export interface LsdAnnounceFields {
  readonly port: number;
  /** 1 to {@link MAX_LSD_INFOHASHES} info-hashes, 40 hex characters each. */
  readonly infoHashes: readonly string[];
  /** Printable ASCII without spaces, at most {@link MAX_LSD_COOKIE_CHARS} characters. */
  readonly cookie?: string;
  /** Default: `239.192.152.143:6771`. */
  readonly host?: string;
}

function protocolError(message: string): never {
  throw new TorkError(TorkErrorCode.LSD_PROTOCOL, `LSD announce: ${message}`);
}

function usage(message: string): never {
  throw new TorkError(TorkErrorCode.USAGE, `LSD announce: ${message}`);
}

/** One BEP 14 announce for `fields.infoHashes`, as the bytes of one datagram. */
export function encodeLsdAnnounce(fields: LsdAnnounceFields): Uint8Array {
  const { port, infoHashes, cookie } = fields;
  const host = fields.host ?? `${LSD_IPV4_GROUP}:${LSD_PORT}`;
  if (!Number.isInteger(port) || port < 1 || port > 65535) usage(`port must be 1 to 65535, got ${port}`);
  if (infoHashes.length === 0 || infoHashes.length > MAX_LSD_INFOHASHES) {
    usage(`1 to ${MAX_LSD_INFOHASHES} info-hashes per announce, got ${infoHashes.length}`);
  }
  for (const hash of infoHashes) {
    if (!INFOHASH.test(hash)) usage('an info-hash must be 40 hex characters');
  }
  for (const [name, value] of [
    ['cookie', cookie],
    ['host', host],
  ] as const) {
    if (value !== undefined && (value.length > MAX_LSD_COOKIE_CHARS || !TOKEN.test(value))) {
      usage(`${name} must be 1 to ${MAX_LSD_COOKIE_CHARS} printable ASCII characters without spaces`);
    }
  }
  const lines = [REQUEST_LINE, `Host: ${host}`, `Port: ${port}`];
  for (const hash of infoHashes) lines.push(`Infohash: ${hash.toLowerCase()}`);
  if (cookie !== undefined) lines.push(`cookie: ${cookie}`);
  return new TextEncoder().encode(`${lines.join('\r\n')}\r\n\r\n\r\n`);
}

/**
 * Reads one announce. Lines end in CRLF or LF; header names are case-insensitive; headers other
 * than Host, Port, Infohash and cookie are skipped (they count towards {@link MAX_LSD_HEADERS});
 * the headers end at the first empty line or at the end of the datagram.
 */
export function decodeLsdAnnounce(datagram: Uint8Array): LsdAnnounce {
  if (datagram.byteLength > MAX_LSD_MESSAGE_BYTES) {
    throw new TorkError(
      TorkErrorCode.LIMIT_EXCEEDED,
      `LSD announce of ${datagram.byteLength} bytes (at most ${MAX_LSD_MESSAGE_BYTES})`,
      { bytes: datagram.byteLength, limit: MAX_LSD_MESSAGE_BYTES },
    );
  }
  // One byte, one character: header values are ASCII, anything else fails their patterns.
  const text = Buffer.from(datagram.buffer, datagram.byteOffset, datagram.byteLength).toString('latin1');
  let host: string | undefined;
  let port: number | undefined;
  let cookie: string | undefined;
  const infoHashes: string[] = [];
  let lineNumber = 0;
  for (let start = 0; start < text.length; lineNumber++) {
    const newline = text.indexOf('\n', start);
    const end = newline === -1 ? text.length : newline;
    const line = text.slice(start, end > start && text.charCodeAt(end - 1) === 13 ? end - 1 : end);
    start = end + 1;
    if (lineNumber === 0) {
      if (line.trimEnd() !== REQUEST_LINE) {
        protocolError(`not a BT-SEARCH request: '${printableText(line, 40)}'`);
      }
      continue;
    }
    if (line === '') break;
    if (lineNumber > MAX_LSD_HEADERS) {
      throw new TorkError(TorkErrorCode.LIMIT_EXCEEDED, `LSD announce with over ${MAX_LSD_HEADERS} headers`, {
        limit: MAX_LSD_HEADERS,
      });
    }
    const header = HEADER.exec(line);
    if (!header) protocolError(`malformed header line '${printableText(line, 40)}'`);
    const value = header[2]!;
    switch (header[1]!.toLowerCase()) {
      case 'host':
        if (host !== undefined) protocolError('two Host headers');
        host = printableText(value, MAX_LSD_COOKIE_CHARS);
        break;
      case 'port': {
        if (port !== undefined) protocolError('two Port headers');
        const number = PORT.test(value) ? Number(value) : 0;
        if (number < 1 || number > 65535) protocolError(`bad port '${printableText(value, 12)}'`);
        port = number;
        break;
      }
      case 'infohash': {
        if (!INFOHASH.test(value)) protocolError(`bad info-hash '${printableText(value, 48)}'`);
        const hash = value.toLowerCase();
        if (infoHashes.includes(hash)) break;
        if (infoHashes.length === MAX_LSD_INFOHASHES) {
          throw new TorkError(
            TorkErrorCode.LIMIT_EXCEEDED,
            `LSD announce with over ${MAX_LSD_INFOHASHES} info-hashes`,
            { limit: MAX_LSD_INFOHASHES },
          );
        }
        infoHashes.push(hash);
        break;
      }
      case 'cookie':
        cookie ??= value;
        break;
      default:
        break;
    }
  }
  if (lineNumber === 0) protocolError('empty datagram');
  if (port === undefined) protocolError('no Port header');
  if (infoHashes.length === 0) protocolError('no Infohash header');
  return {
    port,
    infoHashes,
    ...(host !== undefined ? { host } : {}),
    ...(cookie !== undefined ? { cookie } : {}),
  };
}
