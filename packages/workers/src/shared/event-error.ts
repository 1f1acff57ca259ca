import type { HostEvent } from '@tork/core';

/**
 * An error as host events carry it (`closed`, `unreadable`). `TorkError.toPlain()` already drops
 * undefined details, which the schema refuses, but its declared type (core's `PlainTorkError`)
 * still allows them: events cast its result to this type.
 */
export type EventError = Extract<HostEvent, { type: 'closed' }>['error'];
