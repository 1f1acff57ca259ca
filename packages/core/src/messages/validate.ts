import { z } from 'zod';
import { TorkError, TorkErrorCode } from '../errors.js';
import { HostCommandBatch } from './host-command.js';
import { HostEventBatch } from './host-event.js';

// Compiled once: every batch crossing a thread is parsed on arrival, so parsing is on the hot path.
const compiledCommands = z.compile(HostCommandBatch);
const compiledEvents = z.compile(HostEventBatch);

function check<T>(schema: z.ZodType<T>, value: unknown, direction: string): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const where = issue?.path.length ? issue.path.join('.') : '(root)';
  throw new TorkError(
    TorkErrorCode.THREAD_MESSAGE,
    `malformed ${direction} message at ${where}: ${issue?.message ?? 'invalid'}`,
    { direction, path: where },
  );
}

/** Parses a coordinator → host batch on arrival in the host; throws TORK_ERR_THREAD_MESSAGE. */
export function parseHostCommandBatch(value: unknown): HostCommandBatch {
  return check(compiledCommands, value, 'coordinator→host');
}

/** Parses a host → coordinator batch on arrival in the coordinator; throws TORK_ERR_THREAD_MESSAGE. */
export function parseHostEventBatch(value: unknown): HostEventBatch {
  return check(compiledEvents, value, 'host→coordinator');
}
