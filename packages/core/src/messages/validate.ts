import * as z from 'zod';
import { PlainTorkError, TorkError, TorkErrorCode } from '../errors.js';
import { HostStats, PeerHostWorkerData } from './control-plane.js';
import { HashJob, HashJobResult } from './hash-job.js';
import { HostCommandBatch } from './host-command.js';
import { HostEvent, HostEventBatch } from './host-event.js';
import { UdpHostCommand, UdpHostEvent, UdpHostWorkerData } from './udp-host.js';
import { WarmingParser } from './warming-parser.js';

// Every batch crossing a thread is parsed on arrival, so parsing is on the hot path; but compiling
// all of them costs ~150 ms of start-up in every thread (main, each peer host, hash worker, UDP
// host), each thread uses only a few, and a compile at the first message was on the way to the
// first peer: each compiles after a few uses, or when a thread waits (WarmingParser).
const commandsParser = new WarmingParser(HostCommandBatch);
const eventsParser = new WarmingParser(HostEventBatch);
const eventParser = new WarmingParser(HostEvent);
const hashJobParser = new WarmingParser(HashJob);
const hashJobResultParser = new WarmingParser(HashJobResult);
const workerDataParser = new WarmingParser(PeerHostWorkerData);
const hostStatsParser = new WarmingParser(HostStats);
const plainErrorParser = new WarmingParser(PlainTorkError);
const udpHostCommandParser = new WarmingParser(UdpHostCommand);
const udpHostEventParser = new WarmingParser(UdpHostEvent);
const udpHostWorkerDataParser = new WarmingParser(UdpHostWorkerData);

/**
 * Compiles the coordinator→host batch parser now (a peer host, once it is ready and waiting for
 * its first batch): compiling at the first batch's arrival put 10–16 ms on the way to the first
 * peer (docs/performance.md "Start-up, third pass"). Later calls do nothing.
 */
export function precompileHostCommandParser(): void {
  commandsParser.compile();
}

/**
 * Compiles the coordinator's parsers now (once its first dials are out and it waits for the
 * network): the host→coordinator event parser (compiling at the first events' arrival put 20–26
 * ms on the way to the first peer) and the command batch parser its sends are checked with.
 * Later calls do nothing.
 */
export function precompileCoordinatorParsers(): void {
  eventParser.compile();
  // The coordinator checks its own command batches before sending them (ThreadActorSystem.send).
  commandsParser.compile();
}

/** Most events one host batch may carry: a host's batch is one event-loop turn's events. */
export const MAX_EVENTS_PER_BATCH = 100_000;

function check<T>(
  schema: { safeParse(value: unknown): z.ZodSafeParseResult<T> },
  value: unknown,
  direction: string,
): T {
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
  return check(commandsParser, value, 'coordinator→host');
}

/** Parses a whole host → coordinator batch, all or nothing; throws TORK_ERR_THREAD_MESSAGE. */
export function parseHostEventBatch(value: unknown): HostEventBatch {
  return check(eventsParser, value, 'host→coordinator');
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
    const result = eventParser.safeParse(list[i]);
    if (result.success) events.push(result.data);
    else rejected.push(describe(result.error, direction, ['events', i]));
  }
  return { events, rejected };
}

/** Parses a hash job on arrival in a hash pool worker; throws TORK_ERR_THREAD_MESSAGE. */
export function parseHashJob(value: unknown): HashJob {
  return check(hashJobParser, value, 'coordinator→hash worker');
}

/** Parses a hash job's result on arrival from the pool; throws TORK_ERR_THREAD_MESSAGE. */
export function parseHashJobResult(value: unknown): HashJobResult {
  return check(hashJobResultParser, value, 'hash worker→coordinator');
}

/** Parses a peer host's `workerData` in its thread, before the host starts; throws TORK_ERR_THREAD_MESSAGE. */
export function parsePeerHostWorkerData(value: unknown): PeerHostWorkerData {
  return check(workerDataParser, value ?? {}, 'coordinator→host workerData');
}

/** Parses a host's answer to the control plane's `stats` call; throws TORK_ERR_THREAD_MESSAGE. */
export function parseHostStats(value: unknown): HostStats {
  return check(hostStatsParser, value, 'host→coordinator stats');
}

/** Parses an error a thread reports as plain data (a host's error report); throws TORK_ERR_THREAD_MESSAGE. */
export function parsePlainError(value: unknown): PlainTorkError {
  return check(plainErrorParser, value, 'error report');
}

/** Parses a command on arrival in the UDP host thread; throws TORK_ERR_THREAD_MESSAGE. */
export function parseUdpHostCommand(value: unknown): UdpHostCommand {
  return check(udpHostCommandParser, value, 'coordinator→udp host');
}

/** Parses a UDP host event on arrival in the coordinator; throws TORK_ERR_THREAD_MESSAGE. */
export function parseUdpHostEvent(value: unknown): UdpHostEvent {
  return check(udpHostEventParser, value, 'udp host→coordinator');
}

/** Parses the UDP host's `workerData` in its thread, before the socket is bound; throws TORK_ERR_THREAD_MESSAGE. */
export function parseUdpHostWorkerData(value: unknown): UdpHostWorkerData {
  return check(udpHostWorkerDataParser, value, 'coordinator→udp host workerData');
}
