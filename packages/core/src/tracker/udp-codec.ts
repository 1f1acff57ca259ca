/**
 * BEP 15 (UDP tracker protocol) packets: pure encoders and decoders, both directions (the
 * request decoders and response encoders serve test trackers and round-trip tests).
 * Every decoder throws only TorkError TRACKER_PROTOCOL.
 */
import { isIPv4 } from 'node:net';
import { TorkError, TorkErrorCode } from '../errors.js';
import { byteCountToBigInt } from './announce-request.js';
import { type CompactFamily, decodeCompactPeers, encodeCompactPeers, parseIPv4 } from './compact-peers.js';
import { printableText } from './printable.js';
import type { AnnounceEvent, AnnounceRequest, PeerAddress, ScrapeStats } from './types.js';

/** The magic connection id of a connect request. */
export const UDP_PROTOCOL_ID = 0x41727101980n;

export const UdpAction = { CONNECT: 0, ANNOUNCE: 1, SCRAPE: 2, ERROR: 3 } as const;

/** BEP 15: a scrape fits ~74 info-hashes in one packet; longer lists are split by the client. */
export const MAX_UDP_SCRAPE_HASHES = 74;

const CONNECT_REQUEST_SIZE = 16;
const ANNOUNCE_REQUEST_SIZE = 98;
const CONNECT_RESPONSE_SIZE = 16;
const ANNOUNCE_RESPONSE_HEADER = 20;
const SCRAPE_ENTRY_SIZE = 12;
const HEADER_SIZE = 8;

const EVENT_CODES: Record<AnnounceEvent, number> = { none: 0, completed: 1, started: 2, stopped: 3 };
const EVENTS_BY_CODE: readonly AnnounceEvent[] = ['none', 'completed', 'started', 'stopped'];

export type UdpResponse =
  | { readonly action: 'connect'; readonly transactionId: number; readonly connectionId: bigint }
  | {
      readonly action: 'announce';
      readonly transactionId: number;
      readonly interval: number;
      readonly leechers: number;
      readonly seeders: number;
      readonly peers: PeerAddress[];
    }
  | { readonly action: 'scrape'; readonly transactionId: number; readonly stats: ScrapeStats[] }
  | { readonly action: 'error'; readonly transactionId: number; readonly message: string };

export type UdpRequest =
  | { readonly action: 'connect'; readonly transactionId: number }
  | {
      readonly action: 'announce';
      readonly connectionId: bigint;
      readonly transactionId: number;
      readonly infoHash: Uint8Array;
      readonly peerId: Uint8Array;
      readonly downloaded: bigint;
      readonly left: bigint;
      readonly uploaded: bigint;
      readonly event: AnnounceEvent;
      /** IPv4 as an unsigned 32-bit integer, 0 for "the sender's address". */
      readonly ip: number;
      readonly key: number;
      /** -1 for "the tracker's default". */
      readonly numwant: number;
      readonly port: number;
    }
  | {
      readonly action: 'scrape';
      readonly connectionId: bigint;
      readonly transactionId: number;
      readonly infoHashes: Uint8Array[];
    };

function protocolError(message: string, details: Record<string, number | string> = {}): never {
  throw new TorkError(TorkErrorCode.TRACKER_PROTOCOL, `UDP tracker: ${message}`, details);
}

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function header(size: number, connectionId: bigint, action: number, transactionId: number): Uint8Array {
  const out = new Uint8Array(size);
  const dv = view(out);
  dv.setBigUint64(0, connectionId);
  dv.setUint32(8, action);
  dv.setUint32(12, transactionId >>> 0);
  return out;
}

export function encodeConnectRequest(transactionId: number): Uint8Array {
  return header(CONNECT_REQUEST_SIZE, UDP_PROTOCOL_ID, UdpAction.CONNECT, transactionId);
}

/** Encodes an announce; `request` must have passed `validateAnnounceRequest`. */
export function encodeAnnounceRequest(
  connectionId: bigint,
  transactionId: number,
  request: AnnounceRequest,
): Uint8Array {
  const out = header(ANNOUNCE_REQUEST_SIZE, connectionId, UdpAction.ANNOUNCE, transactionId);
  const dv = view(out);
  out.set(request.infoHash, 16);
  out.set(request.peerId, 36);
  dv.setBigUint64(56, byteCountToBigInt(request.downloaded, 'downloaded'));
  dv.setBigUint64(64, byteCountToBigInt(request.left, 'left'));
  dv.setBigUint64(72, byteCountToBigInt(request.uploaded, 'uploaded'));
  dv.setUint32(80, EVENT_CODES[request.event]);
  // Only an IPv4 literal fits the field; anything else means "use the sender's address".
  if (request.ip !== undefined && isIPv4(request.ip)) out.set(parseIPv4(request.ip), 84);
  dv.setUint32(88, (request.key ?? 0) >>> 0);
  dv.setInt32(92, request.numwant ?? -1);
  dv.setUint16(96, request.port);
  return out;
}

export function encodeScrapeRequest(
  connectionId: bigint,
  transactionId: number,
  infoHashes: readonly Uint8Array[],
): Uint8Array {
  if (infoHashes.length === 0 || infoHashes.length > MAX_UDP_SCRAPE_HASHES) {
    throw new TorkError(
      TorkErrorCode.USAGE,
      `a UDP scrape carries 1 to ${MAX_UDP_SCRAPE_HASHES} info-hashes`,
    );
  }
  const out = header(16 + 20 * infoHashes.length, connectionId, UdpAction.SCRAPE, transactionId);
  infoHashes.forEach((hash, i) => {
    if (hash.length !== 20) throw new TorkError(TorkErrorCode.USAGE, 'an info-hash must be 20 bytes');
    out.set(hash, 16 + 20 * i);
  });
  return out;
}

/**
 * The transaction id of a response, or undefined when the packet is too short to hold one.
 * Lets the client route a packet to its waiter before decoding the rest.
 */
export function peekTransactionId(bytes: Uint8Array): number | undefined {
  return bytes.length < HEADER_SIZE ? undefined : view(bytes).getUint32(4);
}

/**
 * Decodes a tracker's response. `family` is the address family of the tracker's socket: BEP 15
 * announce replies carry 6-byte peers over IPv4 and 18-byte peers over IPv6.
 */
export function decodeUdpResponse(bytes: Uint8Array, family: CompactFamily): UdpResponse {
  if (bytes.length < HEADER_SIZE) protocolError(`response of ${bytes.length} bytes is truncated`);
  const dv = view(bytes);
  const action = dv.getUint32(0);
  const transactionId = dv.getUint32(4);
  switch (action) {
    case UdpAction.CONNECT:
      if (bytes.length < CONNECT_RESPONSE_SIZE) {
        protocolError(`connect response of ${bytes.length} bytes is truncated`, { transactionId });
      }
      return { action: 'connect', transactionId, connectionId: dv.getBigUint64(8) };
    case UdpAction.ANNOUNCE:
      if (bytes.length < ANNOUNCE_RESPONSE_HEADER) {
        protocolError(`announce response of ${bytes.length} bytes is truncated`, { transactionId });
      }
      return {
        action: 'announce',
        transactionId,
        interval: dv.getUint32(8),
        leechers: dv.getUint32(12),
        seeders: dv.getUint32(16),
        peers: decodeCompactPeers(bytes.subarray(ANNOUNCE_RESPONSE_HEADER), family),
      };
    case UdpAction.SCRAPE: {
      const body = bytes.length - HEADER_SIZE;
      if (body % SCRAPE_ENTRY_SIZE !== 0) {
        protocolError(`scrape response of ${bytes.length} bytes is not 8 + 12·n`, { transactionId });
      }
      const stats: ScrapeStats[] = [];
      for (let offset = HEADER_SIZE; offset < bytes.length; offset += SCRAPE_ENTRY_SIZE) {
        stats.push({
          complete: dv.getUint32(offset),
          downloaded: dv.getUint32(offset + 4),
          incomplete: dv.getUint32(offset + 8),
        });
      }
      return { action: 'scrape', transactionId, stats };
    }
    case UdpAction.ERROR: {
      const message = printableText(bytes.subarray(HEADER_SIZE));
      return { action: 'error', transactionId, message: message === '' ? '(no message)' : message };
    }
    default:
      return protocolError(`unknown action ${action}`, { action, transactionId });
  }
}

/** Decodes a client's request (for test trackers). */
export function decodeUdpRequest(bytes: Uint8Array): UdpRequest {
  if (bytes.length < 16) protocolError(`request of ${bytes.length} bytes is truncated`);
  const dv = view(bytes);
  const connectionId = dv.getBigUint64(0);
  const action = dv.getUint32(8);
  const transactionId = dv.getUint32(12);
  switch (action) {
    case UdpAction.CONNECT:
      if (connectionId !== UDP_PROTOCOL_ID) protocolError('connect request without the protocol id');
      return { action: 'connect', transactionId };
    case UdpAction.ANNOUNCE: {
      if (bytes.length < ANNOUNCE_REQUEST_SIZE) protocolError(`announce request of ${bytes.length} bytes`);
      const event = EVENTS_BY_CODE[dv.getUint32(80)];
      if (event === undefined) protocolError(`unknown event ${dv.getUint32(80)}`);
      return {
        action: 'announce',
        connectionId,
        transactionId,
        infoHash: bytes.slice(16, 36),
        peerId: bytes.slice(36, 56),
        downloaded: dv.getBigUint64(56),
        left: dv.getBigUint64(64),
        uploaded: dv.getBigUint64(72),
        event,
        ip: dv.getUint32(84),
        key: dv.getUint32(88),
        numwant: dv.getInt32(92),
        port: dv.getUint16(96),
      };
    }
    case UdpAction.SCRAPE: {
      if ((bytes.length - 16) % 20 !== 0) protocolError(`scrape request of ${bytes.length} bytes`);
      const infoHashes: Uint8Array[] = [];
      for (let offset = 16; offset < bytes.length; offset += 20)
        infoHashes.push(bytes.slice(offset, offset + 20));
      return { action: 'scrape', connectionId, transactionId, infoHashes };
    }
    default:
      return protocolError(`unknown action ${action}`, { action });
  }
}

export function encodeConnectResponse(transactionId: number, connectionId: bigint): Uint8Array {
  const out = new Uint8Array(CONNECT_RESPONSE_SIZE);
  const dv = view(out);
  dv.setUint32(0, UdpAction.CONNECT);
  dv.setUint32(4, transactionId >>> 0);
  dv.setBigUint64(8, connectionId);
  return out;
}

export function encodeAnnounceResponse(
  transactionId: number,
  response: { interval: number; leechers: number; seeders: number; peers: readonly PeerAddress[] },
  family: CompactFamily,
): Uint8Array {
  const peers = encodeCompactPeers(response.peers, family);
  const out = new Uint8Array(ANNOUNCE_RESPONSE_HEADER + peers.length);
  const dv = view(out);
  dv.setUint32(0, UdpAction.ANNOUNCE);
  dv.setUint32(4, transactionId >>> 0);
  dv.setUint32(8, response.interval);
  dv.setUint32(12, response.leechers);
  dv.setUint32(16, response.seeders);
  out.set(peers, ANNOUNCE_RESPONSE_HEADER);
  return out;
}

export function encodeScrapeResponse(transactionId: number, stats: readonly ScrapeStats[]): Uint8Array {
  const out = new Uint8Array(HEADER_SIZE + SCRAPE_ENTRY_SIZE * stats.length);
  const dv = view(out);
  dv.setUint32(0, UdpAction.SCRAPE);
  dv.setUint32(4, transactionId >>> 0);
  stats.forEach((entry, i) => {
    const offset = HEADER_SIZE + SCRAPE_ENTRY_SIZE * i;
    dv.setUint32(offset, entry.complete);
    dv.setUint32(offset + 4, entry.downloaded);
    dv.setUint32(offset + 8, entry.incomplete);
  });
  return out;
}

export function encodeErrorResponse(transactionId: number, message: string): Uint8Array {
  const text = new TextEncoder().encode(message);
  const out = new Uint8Array(HEADER_SIZE + text.length);
  const dv = view(out);
  dv.setUint32(0, UdpAction.ERROR);
  dv.setUint32(4, transactionId >>> 0);
  out.set(text, HEADER_SIZE);
  return out;
}
