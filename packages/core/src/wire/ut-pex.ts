/**
 * BEP 11, peer exchange (`ut_pex` over BEP 10): a peer tells another which peers it is connected
 * to (`added`, with one flags byte each in `added.f`) and which it dropped since its last message,
 * as compact addresses — 6 bytes per IPv4 peer (`added`, `dropped`), 18 per IPv6 peer (`added6`,
 * `dropped6`). Pure: no sockets; decoding checks every cap before it allocates an address.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { decodeBencode, encodeBencode } from '../bencode/bencode.js';
import { TorkError, TorkErrorCode } from '../errors.js';
import { formatIPv4, formatIPv6, parseIPv4, parseIPv6 } from '../tracker/compact-peers.js';
import type { PeerAddress } from '../tracker/types.js';

/** BEP 11's flags byte of an added peer. */
export const PexFlag = {
  /** Prefers encrypted connections (MSE). */
  encryption: 0x01,
  /** A seed (or upload-only). */
  seed: 0x02,
  /** Supports uTP. */
  utp: 0x04,
  /** Supports ut_holepunch. */
  holepunch: 0x08,
  /** The sender connected to it: it accepts incoming connections. */
  reachable: 0x10,
} as const;

/** BEP 11: a message should carry at most 50 added peers: what we send at most. */
export const PEX_MAX_ADDED = 50;
/** BEP 11: and at most 50 dropped ones. */
export const PEX_MAX_DROPPED = 50;
/**
 * Most peers taken from one incoming message (added first, then dropped); the rest of a
 * well-formed message is left out (counted in `omitted`), never decoded. Lenient beyond BEP 11's
 * 50 + 50 because real clients send more: libtorrent sends up to 100 added peers and every peer
 * dropped since its last message.
 */
export const MAX_PEX_PEERS_PER_MESSAGE = 200;
/**
 * Largest payload decoded: the wire decoder's cap on extended messages (128 KiB), so the codec is
 * safe on its own too. About 21,800 IPv4 peers fit in it; at most 200 are ever decoded.
 */
export const MAX_PEX_PAYLOAD_BYTES = 128 * 1024;

/** An added peer: where it listens, and its BEP 11 flags. */
export interface PexPeer extends PeerAddress {
  readonly flags: number;
}

export interface PexMessage {
  readonly added: readonly PexPeer[];
  readonly dropped: readonly PeerAddress[];
  /** Entries of the message left out beyond the cap (not decoded). */
  readonly omitted: number;
}

const IPV4_ENTRY = 6;
const IPV6_ENTRY = 18;

/**
 * True when `host` can be sent in a PEX message: an IPv4 literal, or an IPv6 one without a zone
 * (`fe80::1%eth0` means nothing to another machine).
 */
export function isPexAddress(host: string): boolean {
  return isIPv4(host) || (isIPv6(host) && !host.includes('%'));
}

/**
 * One `ut_pex` payload. IPv4 peers go in `added`/`dropped` (an IPv4-mapped IPv6 address, as a
 * dual-stack socket reports an IPv4 peer, counts as IPv4), IPv6 ones in `added6`/`dropped6`.
 * `added.f` is always there with `added` (libtorrent ignores `added` without it); the IPv6 keys
 * only when they have entries. Throws TorkError USAGE for a host that is not an IP literal or a
 * port outside 1–65535; it sends what it is given (the caller keeps to the BEP's 50 + 50).
 */
export function encodePexMessage(added: readonly PexPeer[], dropped: readonly PeerAddress[]): Uint8Array {
  const added4 = added.filter((peer) => ipv4Of(peer.host) !== undefined);
  const added6 = added.filter((peer) => ipv4Of(peer.host) === undefined);
  const dropped4 = dropped.filter((peer) => ipv4Of(peer.host) !== undefined);
  const dropped6 = dropped.filter((peer) => ipv4Of(peer.host) === undefined);
  const dict: Record<string, Uint8Array> = {
    added: compact(added4, 4),
    'added.f': Uint8Array.from(added4, (peer) => peer.flags & 0xff),
    dropped: compact(dropped4, 4),
  };
  if (added6.length > 0) {
    dict.added6 = compact(added6, 6);
    dict['added6.f'] = Uint8Array.from(added6, (peer) => peer.flags & 0xff);
  }
  if (dropped6.length > 0) dict.dropped6 = compact(dropped6, 6);
  return encodeBencode(dict);
}

/** The IPv4 literal a host stands for (itself, or the IPv4 inside an IPv4-mapped IPv6), if any. */
function ipv4Of(host: string): string | undefined {
  if (isIPv4(host)) return host;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(host);
  return mapped && isIPv4(mapped[1]!) ? mapped[1] : undefined;
}

function compact(peers: readonly PeerAddress[], family: 4 | 6): Uint8Array {
  const size = family === 4 ? IPV4_ENTRY : IPV6_ENTRY;
  const out = new Uint8Array(peers.length * size);
  peers.forEach((peer, index) => {
    if (!Number.isInteger(peer.port) || peer.port < 1 || peer.port > 0xffff) {
      throw new TorkError(TorkErrorCode.USAGE, `invalid PEX peer port ${peer.port}`);
    }
    if (family === 6 && !isPexAddress(peer.host)) {
      throw new TorkError(TorkErrorCode.USAGE, `not an IP address for PEX: ${peer.host}`);
    }
    const offset = index * size;
    out.set(family === 4 ? parseIPv4(ipv4Of(peer.host)!) : parseIPv6(peer.host), offset);
    out[offset + size - 2] = peer.port >> 8;
    out[offset + size - 1] = peer.port & 0xff;
  });
  return out;
}

function fault(message: string, details: Record<string, number> = {}): TorkError {
  return new TorkError(TorkErrorCode.WIRE_PROTOCOL, `PEX message: ${message}`, details);
}

/** A compact list's byte string, or an empty one when the key is absent. */
function field(dict: Readonly<Record<string, unknown>>, key: string, entrySize: number): Uint8Array {
  const value = dict[key];
  if (value === undefined) return new Uint8Array(0);
  if (!(value instanceof Uint8Array)) throw fault(`${key} is not a byte string`);
  if (value.length % entrySize !== 0) {
    throw fault(`${key} of ${value.length} bytes is not a multiple of ${entrySize}`, {
      length: value.length,
      entrySize,
    });
  }
  return value;
}

/** The flags of `count` added peers: absent means none known (BEP 11 makes them optional). */
function flagsField(dict: Readonly<Record<string, unknown>>, key: string, count: number): Uint8Array | null {
  const value = dict[key];
  if (value === undefined) return null;
  if (!(value instanceof Uint8Array)) throw fault(`${key} is not a byte string`);
  if (value.length !== count) {
    throw fault(`${key} has ${value.length} flags for ${count} peers`, { flags: value.length, peers: count });
  }
  return value;
}

/**
 * Decodes one `ut_pex` payload. At most `maxPeers` entries are taken — IPv4 added, IPv6 added,
 * IPv4 dropped, IPv6 dropped, in that order — counted from the strings' lengths before any
 * address is built; the rest is `omitted`. Entries with port 0 are skipped (no peer listens
 * there). Unknown keys are ignored. Throws TORK_ERR_WIRE_PROTOCOL when the payload is over
 * {@link MAX_PEX_PAYLOAD_BYTES}, not a bencoded dictionary, a list is not a byte string of whole
 * entries, or a flags string does not have one byte per added peer: a mis-framed list cannot be
 * trusted to be aligned (as the tracker codec refuses a cut compact list).
 */
export function decodePexMessage(payload: Uint8Array, maxPeers = MAX_PEX_PEERS_PER_MESSAGE): PexMessage {
  if (payload.length > MAX_PEX_PAYLOAD_BYTES) {
    throw fault(`${payload.length} bytes, over ${MAX_PEX_PAYLOAD_BYTES}`, { length: payload.length });
  }
  let decoded: unknown;
  try {
    decoded = decodeBencode(payload, { maxBytes: MAX_PEX_PAYLOAD_BYTES, maxDepth: 4 });
  } catch (error) {
    throw fault(`not bencode (${(error as Error).message})`);
  }
  if (
    decoded === null ||
    typeof decoded !== 'object' ||
    Array.isArray(decoded) ||
    decoded instanceof Uint8Array
  ) {
    throw fault('not a dictionary');
  }
  const dict = decoded as Readonly<Record<string, unknown>>;
  const added4 = field(dict, 'added', IPV4_ENTRY);
  const added6 = field(dict, 'added6', IPV6_ENTRY);
  const dropped4 = field(dict, 'dropped', IPV4_ENTRY);
  const dropped6 = field(dict, 'dropped6', IPV6_ENTRY);
  const flags4 = flagsField(dict, 'added.f', added4.length / IPV4_ENTRY);
  const flags6 = flagsField(dict, 'added6.f', added6.length / IPV6_ENTRY);

  let room = Math.max(0, maxPeers);
  let total = 0;
  const added: PexPeer[] = [];
  const dropped: PeerAddress[] = [];
  const take = (bytes: Uint8Array, size: number, visit: (offset: number, index: number) => void) => {
    const count = bytes.length / size;
    total += count;
    const taken = Math.min(count, room);
    room -= taken;
    for (let index = 0; index < taken; index++) visit(index * size, index);
  };
  const portAt = (bytes: Uint8Array, end: number) => (bytes[end - 2]! << 8) | bytes[end - 1]!;
  take(added4, IPV4_ENTRY, (offset, index) => {
    const port = portAt(added4, offset + IPV4_ENTRY);
    if (port !== 0) added.push({ host: formatIPv4(added4, offset), port, flags: flags4?.[index] ?? 0 });
  });
  take(added6, IPV6_ENTRY, (offset, index) => {
    const port = portAt(added6, offset + IPV6_ENTRY);
    if (port !== 0) added.push({ host: formatIPv6(added6, offset), port, flags: flags6?.[index] ?? 0 });
  });
  take(dropped4, IPV4_ENTRY, (offset) => {
    const port = portAt(dropped4, offset + IPV4_ENTRY);
    if (port !== 0) dropped.push({ host: formatIPv4(dropped4, offset), port });
  });
  take(dropped6, IPV6_ENTRY, (offset) => {
    const port = portAt(dropped6, offset + IPV6_ENTRY);
    if (port !== 0) dropped.push({ host: formatIPv6(dropped6, offset), port });
  });
  return { added, dropped, omitted: total - (Math.max(0, maxPeers) - room) };
}
