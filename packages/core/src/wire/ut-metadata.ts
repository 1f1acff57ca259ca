/**
 * BEP 9, the metadata extension (`ut_metadata` over BEP 10): the info dictionary of a torrent in
 * 16 KiB pieces, so a magnet link (an info-hash) becomes a torrent. A message is a bencoded
 * dictionary `{msg_type, piece[, total_size]}`; a `data` message carries the piece's bytes right
 * after it. Pure: no sockets; decoding checks every cap before allocating.
 */
import { decodeBencodePrefix, encodeBencode } from '../bencode/bencode.js';
import { TorkError, TorkErrorCode } from '../errors.js';

/** Bytes of every metadata piece but the last (BEP 9). */
export const METADATA_PIECE_BYTES = 16 * 1024;
/**
 * Largest metadata (info dictionary) tork fetches or accepts from a peer's `metadata_size`. The
 * .torrent parser refuses a file over 16 MiB, so a larger info dictionary could never be used;
 * libtorrent's default is 30 MiB.
 */
export const MAX_METADATA_BYTES = 16 * 1024 * 1024;
/** Largest bencoded header of a metadata message (three small integers fit in far less). */
const MAX_HEADER_BYTES = 256;

export const MetadataMessageType = { request: 0, data: 1, reject: 2 } as const;

export type MetadataMessage =
  | { readonly type: 'request'; readonly piece: number }
  | { readonly type: 'reject'; readonly piece: number }
  /** `data` is a view into the payload: copy it out before the payload's buffer is reused. */
  | { readonly type: 'data'; readonly piece: number; readonly totalSize: number; readonly data: Uint8Array };

/** Pieces a metadata of `size` bytes is sent in. */
export function metadataPieceCount(size: number): number {
  return Math.ceil(size / METADATA_PIECE_BYTES);
}

/** Bytes of metadata piece `piece` for a metadata of `size` bytes. */
export function metadataPieceSize(size: number, piece: number): number {
  return Math.min(METADATA_PIECE_BYTES, size - piece * METADATA_PIECE_BYTES);
}

export function encodeMetadataRequest(piece: number): Uint8Array {
  return encodeBencode({ msg_type: MetadataMessageType.request, piece });
}

export function encodeMetadataReject(piece: number): Uint8Array {
  return encodeBencode({ msg_type: MetadataMessageType.reject, piece });
}

/** A `data` message: the header, then the piece's bytes. */
export function encodeMetadataData(piece: number, totalSize: number, data: Uint8Array): Uint8Array {
  const header = encodeBencode({ msg_type: MetadataMessageType.data, piece, total_size: totalSize });
  const out = new Uint8Array(header.length + data.length);
  out.set(header, 0);
  out.set(data, header.length);
  return out;
}

function fault(message: string): TorkError {
  return new TorkError(TorkErrorCode.WIRE_PROTOCOL, `metadata message: ${message}`);
}

/**
 * Decodes one `ut_metadata` payload. `totalSize` (of a data message) must be at most
 * `maxSize`, its piece inside it and its bytes exactly the piece's size. Throws
 * TORK_ERR_WIRE_PROTOCOL for anything else; an unknown `msg_type` is a fault too (BEP 9 defines
 * three).
 */
export function decodeMetadataMessage(payload: Uint8Array, maxSize = MAX_METADATA_BYTES): MetadataMessage {
  let header: unknown;
  let end: number;
  try {
    // The header is tiny: bound the scan to it, and its depth to 1.
    ({ value: header, end } = decodeBencodePrefix(payload.subarray(0, MAX_HEADER_BYTES), { maxDepth: 1 }));
  } catch (error) {
    throw fault(`not a bencoded dictionary (${(error as Error).message})`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header) || header instanceof Uint8Array)
    throw fault('not a dictionary');
  const dict = header as Record<string, unknown>;
  const type = dict.msg_type;
  const piece = dict.piece;
  if (
    !Number.isSafeInteger(piece) ||
    (piece as number) < 0 ||
    (piece as number) >= metadataPieceCount(maxSize)
  )
    throw fault(`piece ${String(piece)} out of range`);
  const index = piece as number;
  switch (type) {
    case MetadataMessageType.request:
      if (end !== payload.length) throw fault('bytes after a request');
      return { type: 'request', piece: index };
    case MetadataMessageType.reject:
      if (end !== payload.length) throw fault('bytes after a reject');
      return { type: 'reject', piece: index };
    case MetadataMessageType.data: {
      const totalSize = dict.total_size;
      if (!Number.isSafeInteger(totalSize) || (totalSize as number) <= 0 || (totalSize as number) > maxSize)
        throw fault(`total_size ${String(totalSize)} outside 1..${maxSize}`);
      const size = totalSize as number;
      if (index >= metadataPieceCount(size)) throw fault(`piece ${index} beyond ${size} bytes`);
      const data = payload.subarray(end);
      if (data.length !== metadataPieceSize(size, index))
        throw fault(`piece ${index} of ${data.length} bytes, expected ${metadataPieceSize(size, index)}`);
      return { type: 'data', piece: index, totalSize: size, data };
    }
    default:
      throw fault(`unknown msg_type ${String(type)}`);
  }
}
