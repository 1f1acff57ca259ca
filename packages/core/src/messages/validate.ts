import type { PlainTorkError } from '../errors.js';
import { TorkError, TorkErrorCode } from '../errors.js';
import type { HostListenOptions, HostStats, PeerHostWorkerData } from './control-plane.js';
import {
  INVALID,
  lastFailure,
  validateHashJob,
  validateHashJobResult,
  validateHostCommandBatch,
  validateHostEvent,
  validateHostEventBatch,
  validateHostListenOptions,
  validateHostStats,
  validatePeerHostWorkerData,
  validatePlainTorkError,
  validateRelayMessage,
  validateUdpHostCommand,
  validateUdpHostEvent,
  validateUdpHostWorkerData,
} from './generated/message-validators.js';
import type { HashJob, HashJobResult } from './hash-job.js';
import type { HostCommandBatch } from './host-command.js';
import type { HostEvent, HostEventBatch } from './host-event.js';
import { MAX_EVENTS_PER_BATCH } from './message-limits.js';
import type { RelayMessage } from './relay-message.js';
import type { UdpHostCommand, UdpHostEvent, UdpHostWorkerData } from './udp-host.js';

export { MAX_EVENTS_PER_BATCH };

// Every message crossing a thread is checked on arrival against its zod schema, through the
// validator generated from that schema at build time (validator-codegen.ts): no thread loads zod,
// builds schemas or compiles parsers to check a message. These functions turn a rejection into the
// project's typed error.

function check<T>(validate: (value: unknown) => T | typeof INVALID, value: unknown, direction: string): T {
  const result = validate(value);
  if (result !== INVALID) return result;
  throw describe(direction);
}

/** The last validator's failure as TORK_ERR_THREAD_MESSAGE: where, and what was wrong. */
function describe(direction: string, prefix: ReadonlyArray<string | number> = []): TorkError {
  const failure = lastFailure();
  const path = [...prefix, ...failure.path].map(String);
  const where = path.length ? path.join('.') : '(root)';
  return new TorkError(
    TorkErrorCode.THREAD_MESSAGE,
    `malformed ${direction} message at ${where}: ${failure.message}`,
    {
      direction,
      path: where,
    },
  );
}

/** Parses a coordinator → host batch on arrival in the host; throws TORK_ERR_THREAD_MESSAGE. */
export function parseHostCommandBatch(value: unknown): HostCommandBatch {
  return check(validateHostCommandBatch, value, 'coordinator→host');
}

/** Parses a whole host → coordinator batch, all or nothing; throws TORK_ERR_THREAD_MESSAGE. */
export function parseHostEventBatch(value: unknown): HostEventBatch {
  return check(validateHostEventBatch, value, 'host→coordinator');
}

/**
 * Parses a host → coordinator batch event by event: the well-formed events are kept and each
 * malformed one is reported, so one bad event cannot throw away a batch that also carries verified
 * pieces (whose buffers were transferred: dropped, they are gone). Throws TORK_ERR_THREAD_MESSAGE
 * only when the envelope itself is malformed.
 */
export function parseHostEvents(value: unknown): { events: HostEvent[]; rejected: TorkError[] } {
  const direction = 'host→coordinator';
  const list =
    value !== null && typeof value === 'object' ? (value as { events?: unknown }).events : undefined;
  if (!Array.isArray(list)) {
    throw new TorkError(
      TorkErrorCode.THREAD_MESSAGE,
      `malformed ${direction} message at events: expected an array`,
      {
        direction,
        path: 'events',
      },
    );
  }
  if (list.length > MAX_EVENTS_PER_BATCH) {
    throw new TorkError(TorkErrorCode.THREAD_MESSAGE, `host batch of ${list.length} events`, {
      direction,
      limit: MAX_EVENTS_PER_BATCH,
    });
  }
  const events: HostEvent[] = [];
  const rejected: TorkError[] = [];
  for (let i = 0; i < list.length; i++) {
    const event = validateHostEvent(list[i]);
    if (event !== INVALID) events.push(event);
    else rejected.push(describe(direction, ['events', i]));
  }
  return { events, rejected };
}

/** Parses a hash job on arrival in a hash pool worker; throws TORK_ERR_THREAD_MESSAGE. */
export function parseHashJob(value: unknown): HashJob {
  return check(validateHashJob, value, 'coordinator→hash worker');
}

/** Parses a hash job's result on arrival from the pool; throws TORK_ERR_THREAD_MESSAGE. */
export function parseHashJobResult(value: unknown): HashJobResult {
  return check(validateHashJobResult, value, 'hash worker→coordinator');
}

/** Parses a peer host's `workerData` in its thread, before the host starts; throws TORK_ERR_THREAD_MESSAGE. */
export function parsePeerHostWorkerData(value: unknown): PeerHostWorkerData {
  return check(validatePeerHostWorkerData, value ?? {}, 'coordinator→host workerData');
}

/** Parses a host's answer to the control plane's `stats` call; throws TORK_ERR_THREAD_MESSAGE. */
export function parseHostStats(value: unknown): HostStats {
  return check(validateHostStats, value, 'host→coordinator stats');
}

/** Parses a host's `listen` call (control plane) in the host; throws TORK_ERR_THREAD_MESSAGE. */
export function parseHostListenOptions(value: unknown): HostListenOptions {
  return check(validateHostListenOptions, value, 'coordinator→host listen');
}

/** Parses an error a thread reports as plain data (a host's error report); throws TORK_ERR_THREAD_MESSAGE. */
export function parsePlainError(value: unknown): PlainTorkError {
  return check(validatePlainTorkError, value, 'error report');
}

/** Parses a command on arrival in the UDP host thread; throws TORK_ERR_THREAD_MESSAGE. */
export function parseUdpHostCommand(value: unknown): UdpHostCommand {
  return check(validateUdpHostCommand, value, 'coordinator→udp host');
}

/** Parses a UDP host event on arrival in the coordinator; throws TORK_ERR_THREAD_MESSAGE. */
export function parseUdpHostEvent(value: unknown): UdpHostEvent {
  return check(validateUdpHostEvent, value, 'udp host→coordinator');
}

/** Parses the UDP host's `workerData` in its thread, before the socket is bound; throws TORK_ERR_THREAD_MESSAGE. */
export function parseUdpHostWorkerData(value: unknown): UdpHostWorkerData {
  return check(validateUdpHostWorkerData, value, 'coordinator→udp host workerData');
}

/** Parses one relay message on arrival; throws TORK_ERR_THREAD_MESSAGE. */
export function parseRelayMessage(value: unknown): RelayMessage {
  // The hot case (a chunk) is answered before the validator is called.
  if (value instanceof ArrayBuffer) return value;
  // So is a written buffer (one per session write): the union's options before it would each fail
  // first. What this does not accept whole goes to the validator, which decides and words the error.
  const data = value as { type?: unknown; buffer?: unknown; length?: unknown } | null;
  if (
    typeof data === 'object' &&
    data !== null &&
    data.type === 'data' &&
    data.buffer instanceof ArrayBuffer &&
    Number.isSafeInteger(data.length) &&
    (data.length as number) > 0 &&
    (data.length as number) <= data.buffer.byteLength
  )
    return { type: 'data', buffer: data.buffer, length: data.length as number };
  const result = validateRelayMessage(value);
  if (result !== INVALID) return result;
  throw new TorkError(TorkErrorCode.THREAD_MESSAGE, `malformed relay message: ${lastFailure().message}`, {
    direction: 'relay',
  });
}
