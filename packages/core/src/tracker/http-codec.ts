/**
 * BEP 3 / BEP 23 / BEP 7 / BEP 48 HTTP tracker requests and replies: pure URL builders and body
 * parsers. Parsers throw only TorkError (TRACKER_FAILURE, TRACKER_PROTOCOL).
 */
import { isIP } from 'node:net';
import * as z from 'zod';
import { decodeBencode } from '../bencode/index.js';
import { TorkError, TorkErrorCode } from '../errors.js';
import { WarmingParser } from '../messages/warming-parser.js';
import { byteCountToBigInt } from './announce-request.js';
import { decodeCompactPeers, formatIPv6, parseIPv6 } from './compact-peers.js';
import { printableText } from './printable.js';
import type { AnnounceRequest, AnnounceResponse, PeerAddress, ScrapeResponse, ScrapeStats } from './types.js';

/** Largest tracker reply read, in bytes (also the bencode size cap of the parsers). Default of the HTTP client. */
export const DEFAULT_HTTP_MAX_BODY_BYTES = 2 * 1024 * 1024;
/** A tracker reply nests 3 levels (dict → peer list → peer dict); 8 leaves room for extensions. */
export const HTTP_BODY_MAX_DEPTH = 8;
/** Characters of a non-bencode body (an HTML error page) quoted in the error. */
export const BODY_EXCERPT_CHARS = 120;

export interface HttpBodyLimits {
  /** Largest body accepted, in bytes. Default: {@link DEFAULT_HTTP_MAX_BODY_BYTES} (2 MiB). */
  readonly maxBytes?: number;
}

const UNRESERVED = new Uint8Array(256);
for (const ch of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.-_~') {
  UNRESERVED[ch.charCodeAt(0)] = 1;
}
const HEX = '0123456789ABCDEF';

/** RFC 3986 percent-encoding of raw bytes: unreserved characters literal, every other byte `%XX` (uppercase). */
export function percentEncodeBytes(bytes: Uint8Array): string {
  let out = '';
  for (const byte of bytes) {
    out += UNRESERVED[byte] ? String.fromCharCode(byte) : `%${HEX[byte >> 4]}${HEX[byte & 15]}`;
  }
  return out;
}

const utf8Encoder = new TextEncoder();

function latin1Bytes(text: string): Uint8Array {
  return Uint8Array.from(text, (ch) => ch.charCodeAt(0) & 0xff);
}

/** Checks the URL is http(s) and returns it without its fragment (a fragment never reaches the server). */
function baseUrl(announceUrl: string): string {
  let parsed: URL;
  try {
    parsed = new URL(announceUrl);
  } catch {
    throw new TorkError(TorkErrorCode.TRACKER_URL, `not a URL: ${announceUrl}`, { url: announceUrl });
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new TorkError(TorkErrorCode.TRACKER_URL, `not an http(s) tracker URL: ${announceUrl}`, {
      url: announceUrl,
    });
  }
  const hash = announceUrl.indexOf('#');
  return hash === -1 ? announceUrl : announceUrl.slice(0, hash);
}

/**
 * Appends `params` (already encoded) to a URL that may already carry a query (private trackers put
 * a passkey there): the existing query is kept byte for byte, never re-encoded.
 */
function appendQuery(url: string, params: readonly string[]): string {
  const separator = !url.includes('?') ? '?' : url.endsWith('?') || url.endsWith('&') ? '' : '&';
  return `${url}${separator}${params.join('&')}`;
}

/**
 * Builds the announce URL (BEP 3, `compact=1` per BEP 23). `event` is omitted for `'none'`;
 * `numwant`, `key` (8 uppercase hex digits, as libtorrent sends it), `ip` and `trackerid` only when
 * set. `request` must have passed `validateAnnounceRequest`.
 */
export function buildAnnounceUrl(announceUrl: string, request: AnnounceRequest): string {
  const params = [
    `info_hash=${percentEncodeBytes(request.infoHash)}`,
    `peer_id=${percentEncodeBytes(request.peerId)}`,
    `port=${request.port}`,
    `uploaded=${byteCountToBigInt(request.uploaded, 'uploaded')}`,
    `downloaded=${byteCountToBigInt(request.downloaded, 'downloaded')}`,
    `left=${byteCountToBigInt(request.left, 'left')}`,
    'compact=1',
  ];
  if (request.event !== 'none') params.push(`event=${request.event}`);
  if (request.numwant !== undefined) params.push(`numwant=${request.numwant}`);
  if (request.key !== undefined)
    params.push(`key=${request.key.toString(16).toUpperCase().padStart(8, '0')}`);
  if (request.ip !== undefined) params.push(`ip=${percentEncodeBytes(utf8Encoder.encode(request.ip))}`);
  if (request.trackerId !== undefined)
    params.push(`trackerid=${percentEncodeBytes(latin1Bytes(request.trackerId))}`);
  return appendQuery(baseUrl(announceUrl), params);
}

/**
 * The scrape URL by the BEP 48 convention: the last path component must begin with `announce`,
 * which becomes `scrape` (`/x/announce.php?pk=1` → `/x/scrape.php?pk=1`). Any other URL has no
 * scrape: TorkError TRACKER_URL.
 */
export function scrapeUrlFor(announceUrl: string): string {
  const base = baseUrl(announceUrl);
  const queryAt = base.indexOf('?');
  const path = queryAt === -1 ? base : base.slice(0, queryAt);
  const query = queryAt === -1 ? '' : base.slice(queryAt);
  const authorityEnd = path.indexOf('/', path.indexOf('//') + 2);
  const slash = path.lastIndexOf('/');
  if (authorityEnd === -1 || slash < authorityEnd || !path.startsWith('announce', slash + 1)) {
    throw new TorkError(
      TorkErrorCode.TRACKER_URL,
      `tracker ${announceUrl} does not support scrape (its last path component is not 'announce')`,
      { url: announceUrl },
    );
  }
  return `${path.slice(0, slash + 1)}scrape${path.slice(slash + 1 + 'announce'.length)}${query}`;
}

/** Builds the scrape URL with one `info_hash` parameter per hash. */
export function buildScrapeUrl(announceUrl: string, infoHashes: readonly Uint8Array[]): string {
  for (const hash of infoHashes) {
    if (hash.length !== 20) throw new TorkError(TorkErrorCode.USAGE, 'an info-hash must be 20 bytes');
  }
  return appendQuery(
    scrapeUrlFor(announceUrl),
    infoHashes.map((hash) => `info_hash=${percentEncodeBytes(hash)}`),
  );
}

const Bytes = z.instanceof(Uint8Array, { message: 'expected a byte string' });
const Count = z.number({ message: 'expected an integer' }).int().min(0);
const Port = z.number({ message: 'expected an integer' }).int().min(0).max(65535);

const DictPeer = z.object({ ip: Bytes, port: Port, 'peer id': Bytes.optional() });

const AnnounceBody = z.object({
  interval: Count,
  'min interval': Count.optional(),
  'warning message': Bytes.optional(),
  'tracker id': Bytes.optional(),
  complete: Count.optional(),
  incomplete: Count.optional(),
  // Checked by shape below: a union would hide which entry of a peer list is wrong.
  peers: z.unknown().optional(),
  peers6: Bytes.optional(),
});

const ScrapeBody = z.object({
  files: z.record(
    z.string(),
    z.object({
      complete: Count,
      // Some trackers leave out the all-time count; it is informational only.
      downloaded: Count.default(0),
      incomplete: Count,
    }),
  ),
});

const PeerList = z.array(DictPeer, { message: 'expected a compact string or a list of peers' });

// A tracker answers once per announce interval: zod's own parser does (a compile would cost more
// than it saves, and the first answer is on the way to the first peer); see WarmingParser.
const parsers = {
  announce: new WarmingParser(AnnounceBody),
  peerList: new WarmingParser(PeerList),
  scrape: new WarmingParser(ScrapeBody),
};

function protocolError(message: string, details: Record<string, string | number> = {}): never {
  throw new TorkError(TorkErrorCode.TRACKER_PROTOCOL, message, details);
}

/** A short, printable excerpt of a body that is not bencode; tags stripped when it looks like HTML. */
export function bodyExcerpt(bytes: Uint8Array, maxChars = BODY_EXCERPT_CHARS): string {
  const head = new TextDecoder().decode(bytes.subarray(0, 4096));
  const text = /^\s*</.test(head)
    ? head.replace(/<(script|style)\b[\s\S]*?<\/\1\s*>/gi, ' ').replace(/<[^>]*>?/g, ' ')
    : head;
  const excerpt = printableText(text, maxChars);
  return excerpt === '' ? '(empty)' : excerpt;
}

/** Decodes a reply to a dictionary; `failure reason` becomes TRACKER_FAILURE. */
function decodeReply(bytes: Uint8Array, what: string, limits: HttpBodyLimits): Record<string, unknown> {
  let value: unknown;
  try {
    value = decodeBencode(bytes, {
      maxBytes: limits.maxBytes ?? DEFAULT_HTTP_MAX_BODY_BYTES,
      maxDepth: HTTP_BODY_MAX_DEPTH,
    });
  } catch (error) {
    protocolError(`${what} reply is not bencode (${(error as Error).message}): ${bodyExcerpt(bytes)}`, {
      length: bytes.length,
    });
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value) || value instanceof Uint8Array) {
    protocolError(`${what} reply is not a bencoded dictionary: ${bodyExcerpt(bytes)}`);
  }
  const dict = value as Record<string, unknown>;
  const failure = dict['failure reason'];
  if (failure !== undefined) {
    const reason =
      failure instanceof Uint8Array ? printableText(failure) : `(non-text reason: ${typeof failure})`;
    throw new TorkError(TorkErrorCode.TRACKER_FAILURE, `tracker refused: ${reason || '(empty reason)'}`, {
      trackerMessage: reason,
    });
  }
  return dict;
}

function check<T>(
  schema: { safeParse(value: unknown): z.ZodSafeParseResult<T> },
  value: unknown,
  what: string,
  prefix: readonly string[] = [],
): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const path = [...prefix, ...(issue?.path ?? []).map(String)];
  const field = path.length ? path.join('.') : '(root)';
  return protocolError(`malformed ${what} reply: field '${field}': ${issue?.message ?? 'invalid'}`, {
    field,
  });
}

const HOST_NAME =
  /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*$/;

/** A dict peer's `ip`: an IPv4/IPv6 literal (IPv6 normalised) or a DNS name (BEP 3 allows both). */
function dictPeerHost(ip: Uint8Array, index: number): string {
  const text = new TextDecoder().decode(ip);
  const family = isIP(text);
  if (family === 4) return text;
  if (family === 6 && !text.includes('%')) return formatIPv6(parseIPv6(text));
  if (HOST_NAME.test(text)) return text.toLowerCase();
  return protocolError(
    `malformed announce reply: field 'peers.${index}.ip': not an address: ${printableText(ip, 60)}`,
    {
      field: `peers.${index}.ip`,
    },
  );
}

function latin1(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
}

/** Parses an announce reply body (BEP 3, compact BEP 23, `peers6` BEP 7). */
export function parseAnnounceBody(bytes: Uint8Array, limits: HttpBodyLimits = {}): AnnounceResponse {
  const body = check(parsers.announce, decodeReply(bytes, 'announce', limits), 'announce');
  const peers: PeerAddress[] = [];
  if (body.peers instanceof Uint8Array) {
    peers.push(...decodeCompactPeers(body.peers, 4));
  } else if (body.peers !== undefined) {
    check(parsers.peerList, body.peers, 'announce', ['peers']).forEach((peer, index) => {
      const host = dictPeerHost(peer.ip, index);
      if (peer.port !== 0) peers.push({ host, port: peer.port });
    });
  }
  if (body.peers6) peers.push(...decodeCompactPeers(body.peers6, 6));
  return {
    interval: body.interval,
    peers,
    ...(body['min interval'] !== undefined && { minInterval: body['min interval'] }),
    ...(body.complete !== undefined && { complete: body.complete }),
    ...(body.incomplete !== undefined && { incomplete: body.incomplete }),
    ...(body['tracker id'] !== undefined && { trackerId: latin1(body['tracker id']) }),
    ...(body['warning message'] !== undefined && { warning: printableText(body['warning message']) }),
  };
}

const keyDecoder = new TextDecoder('utf-8');

/** The name the bencode decoder gives a dictionary key of these bytes (invalid UTF-8 becomes hex). */
function bencodeKeyName(bytes: Uint8Array): string {
  const text = keyDecoder.decode(bytes);
  return text.includes('\uFFFD') ? latin1Hex(bytes) : text;
}

function latin1Hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

/**
 * Parses a scrape reply (BEP 48) for the hashes asked about; keys of other torrents are ignored
 * and a hash the tracker left out is absent from the result.
 */
export function parseScrapeBody(
  bytes: Uint8Array,
  infoHashes: readonly Uint8Array[],
  limits: HttpBodyLimits = {},
): ScrapeResponse {
  const body = check(parsers.scrape, decodeReply(bytes, 'scrape', limits), 'scrape');
  const result = new Map<string, ScrapeStats>();
  for (const hash of infoHashes) {
    const name = bencodeKeyName(hash);
    const stats = Object.hasOwn(body.files, name) ? body.files[name] : undefined;
    if (stats) result.set(latin1Hex(hash), stats);
  }
  return result;
}
