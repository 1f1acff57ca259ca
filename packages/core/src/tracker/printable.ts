const utf8 = new TextDecoder('utf-8');

/** Longest tracker-supplied text kept in an error or warning, in characters. */
export const MAX_TRACKER_TEXT_CHARS = 512;

/**
 * Makes tracker-supplied bytes safe to print: lossy UTF-8; control characters (terminal escapes
 * included) and bidirectional overrides replaced by '?'; whitespace runs collapsed; shortened to
 * `maxChars` with an ellipsis. Only the first `4 × maxChars` bytes are decoded, so a 2 MiB HTML
 * page costs no more than a short string.
 */
export function printableText(input: Uint8Array | string, maxChars = MAX_TRACKER_TEXT_CHARS): string {
  const limit = typeof input === 'string' ? maxChars * 2 : maxChars * 4;
  const cut = input.length > limit;
  const head = input.slice(0, limit);
  const text = typeof head === 'string' ? head : utf8.decode(head);
  const cleaned = text
    .replace(/[\u0000-\u0008\u000e-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, '?')
    .replace(/\s+/g, ' ')
    .trim();
  const chars = Array.from(cleaned);
  return cut || chars.length > maxChars ? `${chars.slice(0, maxChars).join('')}…` : cleaned;
}

/**
 * A tracker URL fit for messages and logs. Private trackers put the user's passkey in the query
 * (`/announce?passkey=…`) or in a path segment (`/0123abcd…/announce`): the query, fragment and
 * userinfo are dropped, and path segments of 16 or more token characters are replaced by '…'.
 */
export function displayUrl(url: string): string {
  try {
    const parsed = new URL(url);
    const path = parsed.pathname.replace(/[A-Za-z0-9_~.%-]{16,}/g, '…');
    return printableText(`${parsed.protocol}//${parsed.host}${path}`, 200);
  } catch {
    return printableText(url.replace(/[?#].*$/s, ''), 200);
  }
}
