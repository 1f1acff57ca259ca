/**
 * One `Range: bytes=…` header against a resource of `size` bytes (RFC 9110 §14). Forms:
 * `bytes=a-b`, `bytes=a-` and `bytes=-n` (the last n bytes). A list of ranges is answered with its
 * first range only (a 206 for it; clients that ask for several accept that, and multipart answers
 * buy a player nothing). Anything that does not parse is ignored, as the RFC allows: the whole
 * resource (200).
 */
export type RangeAnswer =
  | { kind: 'whole' }
  | { kind: 'partial'; start: number; end: number }
  | { kind: 'unsatisfiable' };

const RANGE = /^\s*(\d*)\s*-\s*(\d*)\s*$/;

export function parseRange(header: string | undefined, size: number): RangeAnswer {
  if (header === undefined) return { kind: 'whole' };
  const match = /^\s*bytes\s*=(.*)$/i.exec(header);
  if (!match) return { kind: 'whole' };
  const first = match[1]!.split(',')[0]!;
  const parts = RANGE.exec(first);
  if (!parts) return { kind: 'whole' };
  const [, from, to] = parts;
  if (from === '' && to === '') return { kind: 'whole' };
  // Numbers beyond 2^53 parse inexactly: as positions they are past any file anyway.
  if (from === '') {
    const suffix = Number(to);
    if (suffix === 0 || size === 0) return { kind: 'unsatisfiable' };
    return { kind: 'partial', start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(from);
  const end = to === '' ? size - 1 : Number(to);
  if (to !== '' && end < start) return { kind: 'whole' };
  if (start >= size) return { kind: 'unsatisfiable' };
  return { kind: 'partial', start, end: Math.min(end, size - 1) };
}
