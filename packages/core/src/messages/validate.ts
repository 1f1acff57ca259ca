import * as z from 'zod';
import { PlainTorkError, TorkError, TorkErrorCode } from '../errors.js';
import { HostStats, PeerHostWorkerData } from './control-plane.js';
import { HashJob, HashJobResult } from './hash-job.js';
import { HostCommandBatch } from './host-command.js';
import { HostEvent, HostEventBatch } from './host-event.js';
import { UdpHostCommand, UdpHostEvent, UdpHostWorkerData } from './udp-host.js';

// Compiled once, at first use: every batch crossing a thread is parsed on arrival, so parsing is on
// the hot path; but compiling all of them costs ~150 ms of start-up in every thread (main, each peer
// host, hash worker, UDP host), and each thread uses only a few (docs/performance.md "Start-up").
function lazyCompile<S extends z.ZodType>(schema: S): () => ReturnType<typeof z.compile<S>> {
  let compiled: ReturnType<typeof z.compile<S>> | undefined;
  return () => {
    compiled ??= z.compile(schema);
    return compiled;
  };
}
const compiledCommands = lazyCompile(HostCommandBatch);
const compiledEvents = lazyCompile(HostEventBatch);
const compiledEvent = lazyCompile(HostEvent);
const compiledHashJob = lazyCompile(HashJob);
const compiledHashJobResult = lazyCompile(HashJobResult);
const compiledWorkerData = lazyCompile(PeerHostWorkerData);
const compiledHostStats = lazyCompile(HostStats);
const compiledPlainError = lazyCompile(PlainTorkError);
const compiledUdpHostCommand = lazyCompile(UdpHostCommand);
const compiledUdpHostEvent = lazyCompile(UdpHostEvent);
const compiledUdpHostWorkerData = lazyCompile(UdpHostWorkerData);

/**
 * Compiles the coordinator→host batch parser now (a peer host, once it is ready and waiting for
 * its first batch): compiling at the first batch's arrival put 10–16 ms on the way to the first
 * peer (docs/performance.md "Start-up, third pass"). Later calls do nothing.
 */
export function precompileHostCommandParser(): void {
  compiledCommands();
}

/**
 * Compiles the host→coordinator event parser now (the coordinator, once its first dials are out
 * and it waits for the network): compiling at the first events' arrival put 20–26 ms on the way
 * to the first peer. Later calls do nothing.
 */
export function precompileHostEventParser(): void {
  compiledEvent();
}

/** Most events one host batch may carry: a host's batch is one event-loop turn's events. */
export const MAX_EVENTS_PER_BATCH = 100_000;

function check<T>(schema: z.ZodType<T>, value: unknown, direction: string): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw describe(result.error, direction);
}

function describe(error: z.ZodError, direction: string, prefix: (string | number)[] = []): TorkError {
  const issue = error.issues[0];
  const path = [...prefix, ...(issue?.path ?? [])].map(String);
  const where = path.length ? path.join('.') : '(root)';
  return new TorkError(
    TorkErrorCode.THREAD_MESSAGE,
    `malformed ${direction} message at ${where}: ${issue?.message ?? 'invalid'}`,
    { direction, path: where },
  );
}

/** Parses a coordinator → host batch on arrival in the host; throws TORK_ERR_THREAD_MESSAGE. */
export function parseHostCommandBatch(value: unknown): HostCommandBatch {
  return check(compiledCommands(), value, 'coordinator→host');
}

/** Parses a whole host → coordinator batch, all or nothing; throws TORK_ERR_THREAD_MESSAGE. */
export function parseHostEventBatch(value: unknown): HostEventBatch {
  return check(compiledEvents(), value, 'host→coordinator');
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
  if (!Array.isArray(list))
    throw describe(
      new z.ZodError([{ code: 'custom', path: ['events'], message: 'expected an array', input: list }]),
      direction,
    );
  if (list.length > MAX_EVENTS_PER_BATCH) {
    throw new TorkError(TorkErrorCode.THREAD_MESSAGE, `host batch of ${list.length} events`, {
      direction,
      limit: MAX_EVENTS_PER_BATCH,
    });
  }
  const events: HostEvent[] = [];
  const rejected: TorkError[] = [];
  for (let i = 0; i < list.length; i++) {
    const result = compiledEvent().safeParse(list[i]);
    if (result.success) events.push(result.data);
    else rejected.push(describe(result.error, direction, ['events', i]));
  }
  return { events, rejected };
}

/** Parses a hash job on arrival in a hash pool worker; throws TORK_ERR_THREAD_MESSAGE. */
export function parseHashJob(value: unknown): HashJob {
  return check(compiledHashJob(), value, 'coordinator→hash worker');
}

/** Parses a hash job's result on arrival from the pool; throws TORK_ERR_THREAD_MESSAGE. */
export function parseHashJobResult(value: unknown): HashJobResult {
  return check(compiledHashJobResult(), value, 'hash worker→coordinator');
}

/** Parses a peer host's `workerData` in its thread, before the host starts; throws TORK_ERR_THREAD_MESSAGE. */
export function parsePeerHostWorkerData(value: unknown): PeerHostWorkerData {
  return check(compiledWorkerData(), value ?? {}, 'coordinator→host workerData');
}

/** Parses a host's answer to the control plane's `stats` call; throws TORK_ERR_THREAD_MESSAGE. */
export function parseHostStats(value: unknown): HostStats {
  return check(compiledHostStats(), value, 'host→coordinator stats');
}

/** Parses an error a thread reports as plain data (a host's error report); throws TORK_ERR_THREAD_MESSAGE. */
export function parsePlainError(value: unknown): PlainTorkError {
  return check(compiledPlainError(), value, 'error report');
}

/** Parses a command on arrival in the UDP host thread; throws TORK_ERR_THREAD_MESSAGE. */
export function parseUdpHostCommand(value: unknown): UdpHostCommand {
  return check(compiledUdpHostCommand(), value, 'coordinator→udp host');
}

/** Parses a UDP host event on arrival in the coordinator; throws TORK_ERR_THREAD_MESSAGE. */
export function parseUdpHostEvent(value: unknown): UdpHostEvent {
  return check(compiledUdpHostEvent(), value, 'udp host→coordinator');
}

/** Parses the UDP host's `workerData` in its thread, before the socket is bound; throws TORK_ERR_THREAD_MESSAGE. */
export function parseUdpHostWorkerData(value: unknown): UdpHostWorkerData {
  return check(compiledUdpHostWorkerData(), value, 'coordinator→udp host workerData');
}
