/** Small pure helpers of the peer session: byte comparison and what it prints. */

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function seconds(ms: number): string {
  return String(Math.round(ms / 100) / 10);
}

/** A peer's `v` as text: UTF-8, control characters dropped, at most 64 characters; null if empty. */
export function printableName(bytes: Uint8Array): string | null {
  const text = new TextDecoder('utf-8', { fatal: false })
    .decode(bytes.subarray(0, 256))
    .replace(/[\u0000-\u001f\u007f-\u009f\ufffd]/g, '')
    .trim()
    .slice(0, 64);
  return text === '' ? null : text;
}
