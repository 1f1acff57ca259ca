import { isIPv4, isIPv6 } from 'node:net';
import { TorkError, TorkErrorCode } from '../errors.js';
import type { PeerAddress } from './types.js';

/** Address family of a compact peer list: 6-byte IPv4 entries (BEP 23) or 18-byte IPv6 entries (BEP 7). */
export type CompactFamily = 4 | 6;

/** Bytes per compact entry: address then big-endian port. */
export function compactEntrySize(family: CompactFamily): number {
  return family === 4 ? 6 : 18;
}

/**
 * Decodes a compact peer list of any number of entries. Entries with port 0 are dropped (no
 * peer listens there; some trackers pad with them).
 *
 * A length that is not a whole number of entries is refused with TorkError TRACKER_PROTOCOL rather
 * than trimmed: a tracker that cuts an entry in half has mis-framed its reply, and the remaining
 * entries cannot be trusted to be aligned either (libtorrent refuses such UDP replies too).
 */
export function decodeCompactPeers(bytes: Uint8Array, family: CompactFamily): PeerAddress[] {
  const size = compactEntrySize(family);
  if (bytes.length % size !== 0) {
    throw new TorkError(
      TorkErrorCode.TRACKER_PROTOCOL,
      `compact IPv${family} peer list of ${bytes.length} bytes is not a multiple of ${size}`,
      { length: bytes.length, entrySize: size },
    );
  }
  const peers: PeerAddress[] = [];
  for (let offset = 0; offset < bytes.length; offset += size) {
    const port = (bytes[offset + size - 2]! << 8) | bytes[offset + size - 1]!;
    if (port === 0) continue;
    const host = family === 4 ? formatIPv4(bytes, offset) : formatIPv6(bytes, offset);
    peers.push({ host, port });
  }
  return peers;
}

/**
 * Encodes peers as a compact list (used by test trackers and round-trip tests). Every host must
 * be an IP literal of `family`; throws TorkError USAGE otherwise.
 */
export function encodeCompactPeers(peers: readonly PeerAddress[], family: CompactFamily): Uint8Array {
  const size = compactEntrySize(family);
  const out = new Uint8Array(peers.length * size);
  peers.forEach((peer, index) => {
    const offset = index * size;
    if (!Number.isInteger(peer.port) || peer.port < 0 || peer.port > 0xffff) {
      throw new TorkError(TorkErrorCode.USAGE, `invalid peer port ${peer.port}`);
    }
    out.set(family === 4 ? parseIPv4(peer.host) : parseIPv6(peer.host), offset);
    out[offset + size - 2] = peer.port >> 8;
    out[offset + size - 1] = peer.port & 0xff;
  });
  return out;
}

export function formatIPv4(bytes: Uint8Array, offset = 0): string {
  return `${bytes[offset]}.${bytes[offset + 1]}.${bytes[offset + 2]}.${bytes[offset + 3]}`;
}

/** RFC 5952 text form: lowercase, longest run (≥ 2) of zero groups as `::`, IPv4-mapped as `::ffff:a.b.c.d`. */
export function formatIPv6(bytes: Uint8Array, offset = 0): string {
  const groups: number[] = [];
  for (let i = 0; i < 8; i++) groups.push((bytes[offset + 2 * i]! << 8) | bytes[offset + 2 * i + 1]!);
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return `::ffff:${formatIPv4(bytes, offset + 12)}`;
  }
  let bestStart = -1;
  let bestLength = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestLength < 2) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}

export function parseIPv4(host: string): Uint8Array {
  if (!isIPv4(host)) throw new TorkError(TorkErrorCode.USAGE, `not an IPv4 address: ${host}`);
  return Uint8Array.from(host.split('.').map(Number));
}

export function parseIPv6(host: string): Uint8Array {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  if (!isIPv6(bare) || bare.includes('%')) {
    throw new TorkError(TorkErrorCode.USAGE, `not an IPv6 address: ${host}`);
  }
  const out = new Uint8Array(16);
  let text = bare;
  const lastColon = text.lastIndexOf(':');
  const tail = text.slice(lastColon + 1);
  let tailBytes: Uint8Array | undefined;
  if (tail.includes('.')) {
    // Embedded IPv4 in the last 32 bits: replace it by two hex groups.
    tailBytes = parseIPv4(tail);
    text = `${text.slice(0, lastColon + 1)}0:0`;
  }
  const [head = '', rest] = text.split('::');
  const headGroups = head === '' ? [] : head.split(':');
  const restGroups = rest === undefined || rest === '' ? [] : rest.split(':');
  const groups =
    rest === undefined
      ? headGroups
      : [
          ...headGroups,
          ...new Array<string>(8 - headGroups.length - restGroups.length).fill('0'),
          ...restGroups,
        ];
  groups.forEach((group, i) => {
    const value = Number.parseInt(group, 16);
    out[2 * i] = value >> 8;
    out[2 * i + 1] = value & 0xff;
  });
  if (tailBytes) out.set(tailBytes, 12);
  return out;
}
