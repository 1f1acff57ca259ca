/**
 * UTF-8 decoding of byte strings from a torrent. BEP 3 says strings are UTF-8, but old torrents carry
 * names in legacy code pages; how much we tolerate depends on what the string is used for.
 */

// ignoreBOM keeps a leading U+FEFF: a file name must round-trip byte for byte.
const strictDecoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const lenientDecoder = new TextDecoder('utf-8', { ignoreBOM: true });

/** Decodes valid UTF-8; returns undefined for anything else. */
export function decodeUtf8Strict(bytes: Uint8Array): string | undefined {
  try {
    return strictDecoder.decode(bytes);
  } catch {
    return undefined;
  }
}

/** Decodes for display only: invalid sequences become U+FFFD. */
export function decodeUtf8Lenient(bytes: Uint8Array): string {
  return lenientDecoder.decode(bytes);
}

function inRange(byte: number | undefined, low: number, high: number): boolean {
  return byte !== undefined && byte >= low && byte <= high;
}

/** Length of the well-formed UTF-8 sequence starting at `i` (Unicode table 3-7), or 0 if there is none. */
export function utf8SequenceLength(bytes: Uint8Array, i: number): number {
  const b0 = bytes[i]!;
  const b1 = bytes[i + 1];
  if (b0 < 0x80) return 1;
  if (b0 >= 0xc2 && b0 <= 0xdf) return inRange(b1, 0x80, 0xbf) ? 2 : 0;
  if (b0 >= 0xe0 && b0 <= 0xef) {
    const low = b0 === 0xe0 ? 0xa0 : 0x80;
    const high = b0 === 0xed ? 0x9f : 0xbf;
    return inRange(b1, low, high) && inRange(bytes[i + 2], 0x80, 0xbf) ? 3 : 0;
  }
  if (b0 >= 0xf0 && b0 <= 0xf4) {
    const low = b0 === 0xf0 ? 0x90 : 0x80;
    const high = b0 === 0xf4 ? 0x8f : 0xbf;
    return inRange(b1, low, high) && inRange(bytes[i + 2], 0x80, 0xbf) && inRange(bytes[i + 3], 0x80, 0xbf)
      ? 4
      : 0;
  }
  return 0;
}

function hexByte(byte: number): string {
  return `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
}

/**
 * Decodes bytes without losing information (the hybrid check compares v1 paths with v2 tree keys
 * this way). Valid UTF-8 decodes as is. Otherwise every byte outside a well-formed sequence becomes
 * `%XX` and every literal `%` becomes `%25`, so distinct byte strings stay distinct.
 */
export function decodeUtf8Lossless(bytes: Uint8Array): string {
  const strict = decodeUtf8Strict(bytes);
  if (strict !== undefined) return strict;
  let out = '';
  let runStart = 0;
  let i = 0;
  const flush = (end: number): void => {
    if (end > runStart) out += strictDecoder.decode(bytes.subarray(runStart, end)).replaceAll('%', '%25');
  };
  while (i < bytes.length) {
    const length = utf8SequenceLength(bytes, i);
    if (length > 0) {
      i += length;
      continue;
    }
    flush(i);
    out += hexByte(bytes[i]!);
    i++;
    runStart = i;
  }
  flush(i);
  return out;
}
