import { type PeerAddress, TorkError, TorkErrorCode } from '@tork/core';

/** Small parsers the commands share; each throws TORK_ERR_USAGE naming the option. */

function usageError(message: string): TorkError {
  return new TorkError(TorkErrorCode.USAGE, message);
}

/** An integer option in [min, max]; `fallback` when absent. */
export function intOption(
  value: string | undefined,
  name: string,
  min: number,
  max: number,
  fallback: number,
): number {
  if (value === undefined) return fallback;
  const number = Number(value);
  if (!Number.isInteger(number) || number < min || number > max) {
    throw usageError(`--${name} must be an integer from ${min} to ${max}, got '${value}'`);
  }
  return number;
}

/** Seconds from `90`, `90s`, `30m`, `2h`. */
export function parseDuration(text: string, name: string): number {
  const match = /^(\d+(?:\.\d+)?)(s|m|h)?$/.exec(text.trim());
  if (!match) throw usageError(`--${name} must be a duration like 90, 30m or 2h, got '${text}'`);
  const unit = match[2] === 'h' ? 3600 : match[2] === 'm' ? 60 : 1;
  return Number(match[1]) * unit;
}

/** `host:port`, `[v6]:port`. */
export function parsePeerAddress(text: string): PeerAddress {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s]+)):(\d{1,5})$/.exec(text);
  const port = match ? Number(match[3]) : 0;
  if (!match || port < 1 || port > 65535) throw usageError(`--peer must be host:port, got '${text}'`);
  return { host: (match[1] ?? match[2])!, port };
}

/** One printable line: hostile input can carry newlines and control characters into messages. */
export function oneLine(error: TorkError): string {
  return `${error.message.replace(/[\u0000-\u001f\u007f]+/g, ' ')} [${error.code}]`;
}
