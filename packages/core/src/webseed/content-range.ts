/** A `Content-Range: bytes START-END/TOTAL` header: inclusive `end`; `total` null for `*`. */
export interface ContentRange {
  readonly start: number;
  readonly end: number;
  readonly total: number | null;
}

/**
 * Parses a 206 response's `Content-Range` (RFC 9110 §14.4); undefined when it is missing,
 * malformed, not in bytes, or inconsistent (end before start, end at or past the total).
 */
export function parseContentRange(header: string | undefined): ContentRange | undefined {
  if (header === undefined) return undefined;
  const match = /^\s*bytes\s+(\d{1,16})-(\d{1,16})\/(\d{1,16}|\*)\s*$/i.exec(header);
  if (!match) return undefined;
  const start = Number(match[1]);
  const end = Number(match[2]);
  const total = match[3] === '*' ? null : Number(match[3]);
  if (end < start || (total !== null && end >= total)) return undefined;
  return { start, end, total };
}
