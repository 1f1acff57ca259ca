import { decodeBencode, encodeBencode } from '../bencode/bencode.js';
import { TorkError, TorkErrorCode } from '../errors.js';
import { formatIPv4 } from '../tracker/compact-peers.js';
import {
  KRPC_MAX_DEPTH,
  MAX_KRPC_DATAGRAM_BYTES,
  MAX_KRPC_ERROR_TEXT_BYTES,
  MAX_KRPC_TOKEN_BYTES,
  MAX_KRPC_TRANSACTION_ID_BYTES,
  MAX_NODES_PER_REPLY,
  MAX_VALUES_PER_REPLY,
} from './dht-limits.js';

/** The BEP 5 queries a node answers; anything else (BEP 44 get/put, vendor queries) is dropped. */
export const KRPC_QUERIES = ['ping', 'find_node', 'get_peers', 'announce_peer'] as const;
export type KrpcQueryName = (typeof KRPC_QUERIES)[number];

/** Bytes of one compact node (BEP 5): 20-byte id, IPv4 address, port. */
export const COMPACT_NODE_BYTES = 26;
/** Bytes of one compact peer: IPv4 address, port. */
export const COMPACT_PEER_BYTES = 6;

export interface KrpcSanitizeOptions {
  /** Largest datagram accepted. Default {@link MAX_KRPC_DATAGRAM_BYTES}. */
  readonly maxBytes?: number;
  /** Peers kept from one answer. Default {@link MAX_VALUES_PER_REPLY}. */
  readonly maxValues?: number;
  /** Nodes kept from one answer. Default {@link MAX_NODES_PER_REPLY}. */
  readonly maxNodes?: number;
  /** True for our own peer address (a get_peers answer listing us): dropped. */
  readonly isOwnPeer?: (host: string, port: number) => boolean;
  /** True for our own DHT address (a `nodes` entry pointing back at us): dropped. */
  readonly isOwnNode?: (host: string, port: number) => boolean;
}

/** A KRPC message that passed the checks, rebuilt from known fields only. */
export type SanitizedKrpc =
  | {
      readonly kind: 'query';
      readonly t: Uint8Array;
      readonly q: KrpcQueryName;
      /** The rebuilt message, bencoded: what the DHT node is given. */
      readonly bytes: Uint8Array;
    }
  | {
      readonly kind: 'response';
      readonly t: Uint8Array;
      readonly bytes: Uint8Array;
      /** Peers kept / dropped (over the cap, malformed, port 0, or our own address). */
      readonly values: number;
      readonly droppedValues: number;
      /** BEP 42 `ip`: the address the answering node sees us at, when it says. */
      readonly reportedIp: string | undefined;
    }
  | { readonly kind: 'error'; readonly t: Uint8Array; readonly bytes: Uint8Array };

function refuse(reason: string, details: Record<string, string | number> = {}): never {
  throw new TorkError(TorkErrorCode.DHT, `KRPC message refused: ${reason}`, { reason, ...details });
}

const text = new TextDecoder('utf-8', { fatal: false });

function isDict(value: unknown): value is Record<string, unknown> {
  return (
    value !== null && typeof value === 'object' && !Array.isArray(value) && !(value instanceof Uint8Array)
  );
}

function bytesField(dict: Record<string, unknown>, key: string, min: number, max: number): Uint8Array {
  const value = dict[key];
  if (!(value instanceof Uint8Array)) refuse(`'${key}' is not a byte string`);
  if (value.length < min || value.length > max) refuse(`'${key}' has ${value.length} bytes`);
  return value;
}

function optionalBytes(dict: Record<string, unknown>, key: string, max: number): Uint8Array | undefined {
  return dict[key] === undefined ? undefined : bytesField(dict, key, 1, max);
}

function port(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= 65535
    ? value
    : undefined;
}

/**
 * Checks one KRPC datagram and rebuilds it from the fields BEP 5 defines, so the DHT node behind
 * it only ever sees canonical bencode of the expected shape: the datagram size cap, the validating
 * bencode scanner (truncation, trailing data, nesting, `__proto__`), 20-byte ids and hashes,
 * bounded transaction ids and tokens, known query names only. In answers, `values` keeps only
 * well-formed 6-byte peers that are not us, at most `maxValues`; `nodes` keeps whole 26-byte
 * entries that are not us, at most `maxNodes`. Throws TorkError TORK_ERR_DHT for anything else.
 */
export function sanitizeKrpc(bytes: Uint8Array, options: KrpcSanitizeOptions = {}): SanitizedKrpc {
  const maxBytes = options.maxBytes ?? MAX_KRPC_DATAGRAM_BYTES;
  if (bytes.length > maxBytes) refuse('oversized', { length: bytes.length, maxBytes });
  if (bytes[0] !== 0x64) refuse('not a dictionary');
  let message: unknown;
  try {
    message = decodeBencode(bytes, { maxBytes, maxDepth: KRPC_MAX_DEPTH });
  } catch (error) {
    refuse(`bad bencode (${(error as Error).message})`);
  }
  if (!isDict(message)) refuse('not a dictionary');
  const t = bytesField(message, 't', 1, MAX_KRPC_TRANSACTION_ID_BYTES);
  const y = text.decode(bytesField(message, 'y', 1, 1));
  if (y === 'q') return sanitizeQuery(message, t);
  if (y === 'r') return sanitizeResponse(message, t, options);
  if (y === 'e') return sanitizeError(message, t);
  return refuse('unknown message type');
}

function sanitizeQuery(message: Record<string, unknown>, t: Uint8Array): SanitizedKrpc {
  const q = text.decode(bytesField(message, 'q', 1, 32)) as KrpcQueryName;
  if (!KRPC_QUERIES.includes(q)) refuse('unknown query');
  const a = message.a;
  if (!isDict(a)) refuse("query without an 'a' dictionary");
  const args: Record<string, unknown> = { id: bytesField(a, 'id', 20, 20) };
  if (q === 'find_node') args.target = bytesField(a, 'target', 20, 20);
  if (q === 'get_peers' || q === 'announce_peer') args.info_hash = bytesField(a, 'info_hash', 20, 20);
  if (q === 'announce_peer') {
    args.token = bytesField(a, 'token', 1, MAX_KRPC_TOKEN_BYTES);
    const implied = a.implied_port === 1;
    const announced = port(a.port);
    if (!implied && announced === undefined) refuse('announce_peer without a valid port');
    args.port = announced ?? 0;
    if (implied) args.implied_port = 1;
  }
  return { kind: 'query', t, q, bytes: encodeBencode({ t, y: 'q', q, a: args }) };
}

function sanitizeResponse(
  message: Record<string, unknown>,
  t: Uint8Array,
  options: KrpcSanitizeOptions,
): SanitizedKrpc {
  const r = message.r;
  if (!isDict(r)) refuse("answer without an 'r' dictionary");
  const out: Record<string, unknown> = { id: bytesField(r, 'id', 20, 20) };
  const token = optionalBytes(r, 'token', MAX_KRPC_TOKEN_BYTES);
  if (token) out.token = token;
  let dropped = 0;
  let kept = 0;

  // `nodes`: whole 26-byte entries only; a misaligned list cannot be trusted at all.
  const nodes = r.nodes;
  if (nodes instanceof Uint8Array && nodes.length % COMPACT_NODE_BYTES === 0) {
    const maxNodes = options.maxNodes ?? MAX_NODES_PER_REPLY;
    const keep: Uint8Array[] = [];
    for (let at = 0; at < nodes.length && keep.length < maxNodes; at += COMPACT_NODE_BYTES) {
      const entry = nodes.subarray(at, at + COMPACT_NODE_BYTES);
      const nodePort = (entry[24]! << 8) | entry[25]!;
      if (nodePort === 0 || options.isOwnNode?.(formatIPv4(entry, 20), nodePort)) continue;
      keep.push(entry);
    }
    if (keep.length > 0) out.nodes = Buffer.concat(keep);
  }

  // `values`: 6-byte IPv4 peers (18-byte IPv6 ones are BEP 32's, which tork does not speak).
  const values = r.values;
  if (Array.isArray(values)) {
    const maxValues = options.maxValues ?? MAX_VALUES_PER_REPLY;
    const keep: Uint8Array[] = [];
    const seen = new Set<string>();
    for (const value of values) {
      if (keep.length >= maxValues || !(value instanceof Uint8Array) || value.length !== COMPACT_PEER_BYTES) {
        dropped++;
        continue;
      }
      const peerPort = (value[4]! << 8) | value[5]!;
      const host = formatIPv4(value, 0);
      const key = `${host}:${peerPort}`;
      if (peerPort === 0 || seen.has(key) || options.isOwnPeer?.(host, peerPort)) {
        dropped++;
        continue;
      }
      seen.add(key);
      keep.push(value);
    }
    kept = keep.length;
    if (keep.length > 0) out.values = keep;
  }

  const ip = message.ip;
  const reportedIp =
    ip instanceof Uint8Array && (ip.length === 6 || ip.length === 4) ? formatIPv4(ip, 0) : undefined;
  return {
    kind: 'response',
    t,
    bytes: encodeBencode({ t, y: 'r', r: out }),
    values: kept,
    droppedValues: dropped,
    reportedIp,
  };
}

function sanitizeError(message: Record<string, unknown>, t: Uint8Array): SanitizedKrpc {
  const e = message.e;
  if (!Array.isArray(e)) refuse("error without an 'e' list");
  const code = typeof e[0] === 'number' && Number.isSafeInteger(e[0]) ? e[0] : 0;
  const said = e[1] instanceof Uint8Array ? e[1].subarray(0, MAX_KRPC_ERROR_TEXT_BYTES) : new Uint8Array(0);
  return { kind: 'error', t, bytes: encodeBencode({ t, y: 'e', e: [code, said] }) };
}
