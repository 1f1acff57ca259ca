/**
 * Magnet URIs (BEP 9 `xt=urn:btih:`, BEP 53 `so`, `x.pe` peers, `ws` web seeds). Parsing is strict
 * about what identifies the torrent (the info-hash) and about malformed syntax, and bounded in
 * everything it collects.
 */
import { isIP, isIPv6 } from 'node:net';
import { TorkError, TorkErrorCode } from '../errors.js';
import { decodeBase32 } from './base32.js';
import { MAX_MAGNET_LENGTH, MAX_MAGNET_PEERS, MAX_MAGNET_TRACKERS, MAX_SELECT_ONLY_INDEX } from './limits.js';

/** A peer address from `x.pe`; an IPv6 host is stored without brackets. */
export interface MagnetPeer {
  readonly host: string;
  readonly port: number;
}

export interface Magnet {
  /**
   * The v1 info-hash (20 bytes); for a v2-only link (`urn:btmh` alone), the v2 info-hash truncated
   * to 20 bytes, the swarm id BEP 52 peers use (then `v2Only` is true).
   */
  readonly infoHash: Uint8Array;
  /** `infoHash` as 40 lowercase hex digits. */
  readonly infoHashHex: string;
  /** The v2 info-hash (32-byte SHA-256) from `xt=urn:btmh:` (multihash 0x12 0x20). */
  readonly infoHashV2?: Uint8Array;
  /** True for a link with `urn:btmh` and no `urn:btih`: a v2-only torrent. */
  readonly v2Only?: boolean;
  /** `dn`, the display name; a hint only, the metadata's name is authoritative. */
  readonly name?: string;
  /** `tr` URLs in order of appearance, duplicates and empty ones dropped. */
  readonly trackers: readonly string[];
  /** `ws` web seed URLs, likewise. */
  readonly webSeeds: readonly string[];
  /** `x.pe` peers, duplicates dropped. */
  readonly peers: readonly MagnetPeer[];
  /** BEP 53 `so`: the file indices to download, sorted and unique; absent (or an empty `so`) means all files. */
  readonly selectOnly?: readonly number[];
}

/** What `formatMagnet` needs: a Magnet, or the parts of one. */
export interface MagnetInput {
  readonly infoHash: Uint8Array;
  readonly infoHashV2?: Uint8Array;
  /** Write only `urn:btmh` (a v2-only torrent; `infoHashV2` required). Default: false. */
  readonly v2Only?: boolean;
  readonly name?: string;
  readonly trackers?: readonly string[];
  readonly webSeeds?: readonly string[];
  readonly peers?: readonly MagnetPeer[];
  readonly selectOnly?: readonly number[];
}

function fail(message: string, details: Record<string, string | number> = {}): never {
  throw new TorkError(TorkErrorCode.MAGNET, message, details);
}

/** Shown in messages: quoted, escaped, cut short. */
function shown(text: string): string {
  return JSON.stringify(text.length > 80 ? `${text.slice(0, 80)}…` : text);
}

function percentDecode(text: string, key: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return fail(`malformed percent-encoding in magnet parameter ${shown(key)}`, { parameter: key });
  }
}

function parseInfoHash(value: string): Uint8Array {
  if (/^[0-9a-fA-F]{40}$/.test(value)) return new Uint8Array(Buffer.from(value, 'hex'));
  if (/^[A-Za-z2-7]{32}$/.test(value)) return decodeBase32(value)!;
  return fail(`urn:btih info-hash ${shown(value)} must be 40 hex or 32 base32 characters`);
}

function parseInfoHashV2(value: string): Uint8Array {
  // A multihash: 0x12 (SHA-256), 0x20 (32 bytes), then the digest.
  if (!/^1220[0-9a-fA-F]{64}$/.test(value)) {
    fail(`urn:btmh info-hash ${shown(value)} must be a SHA-256 multihash (1220 and 64 hex digits)`);
  }
  return new Uint8Array(Buffer.from(value.slice(4), 'hex'));
}

const HOSTNAME =
  /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

function parsePeer(value: string): MagnetPeer {
  const bad = (why: string): never => fail(`x.pe peer ${shown(value)} ${why}`);
  let host: string;
  let portText: string;
  if (value.startsWith('[')) {
    const close = value.indexOf(']');
    if (close < 0 || value[close + 1] !== ':') bad('must be [IPv6]:port');
    host = value.slice(1, close);
    portText = value.slice(close + 2);
    if (!isIPv6(host)) bad('has an invalid IPv6 address');
  } else {
    const colon = value.lastIndexOf(':');
    if (colon < 0) bad('must be host:port');
    host = value.slice(0, colon);
    portText = value.slice(colon + 1);
    if (host.includes(':')) bad('must put an IPv6 address in brackets');
    if (isIP(host) === 0 && !HOSTNAME.test(host)) bad('has an invalid host');
  }
  const port = /^\d{1,5}$/.test(portText) ? Number(portText) : 0;
  if (port < 1 || port > 65535) bad('must have a port from 1 to 65535');
  return { host: host.toLowerCase(), port };
}

/** `0,2,4-6` → 0, 2, 4, 5, 6 added to `into`. */
function parseSelectOnly(value: string, into: Set<number>): void {
  const index = (text: string): number => {
    if (!/^\d{1,7}$/.test(text)) fail(`so ${shown(value)}: ${shown(text)} is not a file index`);
    const number = Number(text);
    if (number > MAX_SELECT_ONLY_INDEX) {
      fail(`so ${shown(value)}: file index ${number} exceeds ${MAX_SELECT_ONLY_INDEX}`);
    }
    return number;
  };
  for (const item of value.split(',')) {
    if (item === '') continue;
    const dash = item.indexOf('-');
    if (dash < 0) {
      into.add(index(item));
      continue;
    }
    const first = index(item.slice(0, dash));
    const last = index(item.slice(dash + 1));
    if (first > last) fail(`so ${shown(value)}: range ${shown(item)} runs backwards`);
    for (let i = first; i <= last; i++) into.add(i);
  }
}

function pushUnique(list: string[], value: string, cap: number): void {
  if (value !== '' && list.length < cap && !list.includes(value)) list.push(value);
}

/**
 * Parses a magnet URI. Throws only TORK_ERR_MAGNET: not a magnet URI, malformed percent-encoding,
 * no `urn:btih` nor `urn:btmh` info-hash (or two different ones), or a malformed `x.pe`/`so`.
 * Unknown parameters and other `xt` URNs are ignored; `key.N` forms (`tr.1`) count as `key`.
 */
export function parseMagnet(uri: string): Magnet {
  if (typeof uri !== 'string') fail('magnet URI must be a string');
  if (uri.length > MAX_MAGNET_LENGTH) {
    fail(`magnet URI of ${uri.length} characters exceeds ${MAX_MAGNET_LENGTH}`, { length: uri.length });
  }
  const text = uri.trim();
  if (!/^magnet:\?/i.test(text)) fail(`${shown(text)} is not a magnet URI (magnet:?…)`);
  const hashEnd = text.indexOf('#');
  const query = text.slice(8, hashEnd < 0 ? undefined : hashEnd);

  let infoHash: Uint8Array | undefined;
  let infoHashV2: Uint8Array | undefined;
  let name: string | undefined;
  const trackers: string[] = [];
  const webSeeds: string[] = [];
  const peers = new Map<string, MagnetPeer>();
  let selectOnly: Set<number> | undefined;

  for (const parameter of query.split('&')) {
    if (parameter === '') continue;
    const equals = parameter.indexOf('=');
    const rawKey = equals < 0 ? parameter : parameter.slice(0, equals);
    const rawValue = equals < 0 ? '' : parameter.slice(equals + 1);
    const key = percentDecode(rawKey, rawKey)
      .toLowerCase()
      .replace(/\.\d+$/, '');
    switch (key) {
      case 'xt': {
        const value = percentDecode(rawValue, key);
        const lower = value.toLowerCase();
        if (lower.startsWith('urn:btih:')) {
          const hash = parseInfoHash(value.slice(9));
          if (infoHash !== undefined && !Buffer.from(infoHash).equals(hash)) {
            fail('magnet URI names two different urn:btih info-hashes');
          }
          infoHash = hash;
        } else if (lower.startsWith('urn:btmh:')) {
          const hash = parseInfoHashV2(value.slice(9));
          if (infoHashV2 !== undefined && !Buffer.from(infoHashV2).equals(hash)) {
            fail('magnet URI names two different urn:btmh info-hashes');
          }
          infoHashV2 = hash;
        }
        break;
      }
      case 'dn':
        // Form encoding: many clients write spaces in dn as '+'.
        name ??= percentDecode(rawValue.replaceAll('+', ' '), key) || undefined;
        break;
      case 'tr':
        pushUnique(trackers, percentDecode(rawValue, key), MAX_MAGNET_TRACKERS);
        break;
      case 'ws':
        pushUnique(webSeeds, percentDecode(rawValue, key), MAX_MAGNET_TRACKERS);
        break;
      case 'x.pe': {
        const peer = parsePeer(percentDecode(rawValue, key));
        const id = `${peer.host}|${peer.port}`;
        if (peers.size < MAX_MAGNET_PEERS && !peers.has(id)) peers.set(id, peer);
        break;
      }
      case 'so':
        selectOnly ??= new Set();
        parseSelectOnly(percentDecode(rawValue, key), selectOnly);
        break;
    }
  }
  const v2Only = infoHash === undefined && infoHashV2 !== undefined;
  if (infoHash === undefined) {
    if (infoHashV2 === undefined) fail('magnet URI has no xt=urn:btih: or xt=urn:btmh: info-hash');
    infoHash = new Uint8Array(infoHashV2.subarray(0, 20));
  }
  const magnet: Magnet = {
    infoHash,
    infoHashHex: Buffer.from(infoHash).toString('hex'),
    ...(infoHashV2 && { infoHashV2 }),
    ...(v2Only && { v2Only }),
    ...(name !== undefined && { name }),
    trackers: Object.freeze(trackers),
    webSeeds: Object.freeze(webSeeds),
    peers: Object.freeze([...peers.values()].map((peer) => Object.freeze(peer))),
    ...(selectOnly !== undefined &&
      selectOnly.size > 0 && { selectOnly: Object.freeze([...selectOnly].sort((a, b) => a - b)) }),
  };
  return Object.freeze(magnet);
}

function encode(text: string, what: string): string {
  try {
    return encodeURIComponent(text);
  } catch {
    // encodeURIComponent throws on lone surrogates.
    return fail(`${what} ${shown(text)} is not well-formed Unicode`);
  }
}

/** `[0, 2, 4, 5, 6]` → `0,2,4-6`. */
function formatSelectOnly(indices: readonly number[]): string {
  const sorted = [...new Set(indices)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    parts.push(j > i ? `${sorted[i]}-${sorted[j]}` : `${sorted[i]}`);
    i = j + 1;
  }
  return parts.join(',');
}

/** Formats a magnet URI that `parseMagnet` reads back to the same Magnet. Throws TORK_ERR_MAGNET. */
export function formatMagnet(magnet: MagnetInput): string {
  if (!(magnet.infoHash instanceof Uint8Array) || magnet.infoHash.length !== 20) {
    fail('infoHash must be 20 bytes');
  }
  if (magnet.v2Only && magnet.infoHashV2 === undefined) fail('a v2-only magnet needs infoHashV2');
  const parts = magnet.v2Only ? [] : [`xt=urn:btih:${Buffer.from(magnet.infoHash).toString('hex')}`];
  if (magnet.infoHashV2 !== undefined) {
    if (magnet.infoHashV2.length !== 32) fail('infoHashV2 must be 32 bytes');
    parts.push(`xt=urn:btmh:1220${Buffer.from(magnet.infoHashV2).toString('hex')}`);
  }
  if (magnet.name) parts.push(`dn=${encode(magnet.name, 'name')}`);
  for (const url of magnet.trackers ?? []) parts.push(`tr=${encode(url, 'tracker')}`);
  for (const url of magnet.webSeeds ?? []) parts.push(`ws=${encode(url, 'web seed')}`);
  for (const peer of magnet.peers ?? []) {
    const host = peer.host.includes(':') ? `[${peer.host}]` : peer.host;
    parts.push(`x.pe=${encode(`${host}:${peer.port}`, 'peer')}`);
  }
  if (magnet.selectOnly !== undefined && magnet.selectOnly.length > 0) {
    parts.push(`so=${formatSelectOnly(magnet.selectOnly)}`);
  }
  return `magnet:?${parts.join('&')}`;
}
