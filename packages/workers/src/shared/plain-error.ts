import type { HostEvent, TorkError } from '@tork/core';

/** An error as the `closed` event schema carries it. */
export type EventError = Extract<HostEvent, { type: 'closed' }>['error'];

/**
 * `TorkError.toPlain()` for an event: the schema allows no `undefined` detail (structured clone
 * keeps the key, and one such value would get the whole event batch rejected), so those are dropped.
 */
export function eventError(error: TorkError): EventError {
  const plain = error.toPlain();
  const details: EventError['details'] = {};
  for (const [key, value] of Object.entries(plain.details)) if (value !== undefined) details[key] = value;
  return { code: plain.code, message: plain.message, details };
}
