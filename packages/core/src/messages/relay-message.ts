import * as z from 'zod';
import { TorkError, TorkErrorCode } from '../errors.js';

/**
 * The byte stream of an accepted connection, relayed between the coordinator (which owns the
 * socket: Node 20 cannot move one into a worker thread) and the PeerActor in a peer host, over a
 * MessagePort of its own. Both directions use the same kinds:
 * - an ArrayBuffer: stream bytes, transferred (never cloned);
 * - `ack`: bytes the other side has consumed (actor: decoded; coordinator: written to the
 *   socket). Each side pauses once `RELAY_WINDOW_BYTES` are unacknowledged, so neither a flooding
 *   peer nor a slow socket can grow a port's queue without bound;
 * - `end`: the stream is over (socket closed, or the actor closed the connection), with why;
 * - `open`: a dialled uTP connection is up (the UDP host to the actor; TCP dials need none).
 */
export const RelayMessage = z.union([
  z.instanceof(ArrayBuffer),
  /** The first `length` bytes of `buffer` (a pooled buffer, larger than the data). */
  z
    .object({
      type: z.literal('data'),
      buffer: z.instanceof(ArrayBuffer),
      length: z.number().int().positive(),
    })
    .refine((message) => message.length <= message.buffer.byteLength, {
      message: 'length beyond the buffer',
    }),
  /** `buffers`: the other side's written buffers, moved back for reuse. */
  z.object({
    type: z.literal('ack'),
    bytes: z.number().int().positive(),
    buffers: z.array(z.instanceof(ArrayBuffer)).max(1_024).optional(),
  }),
  z.object({ type: z.literal('end'), reason: z.string().max(1_000) }),
  z.object({ type: z.literal('open') }),
]);
export type RelayMessage = z.infer<typeof RelayMessage>;

/** Unacknowledged bytes after which a relay side stops sending (reads paused, writes held). */
export const RELAY_WINDOW_BYTES = 4 * 1024 * 1024;

// Compiled at first use (start-up time: most threads never see a relay message).
let compiled: ReturnType<typeof z.compile<typeof RelayMessage>> | undefined;

/** Parses one relay message on arrival; throws TORK_ERR_THREAD_MESSAGE. */
export function parseRelayMessage(value: unknown): RelayMessage {
  // The hot case (a chunk) is checked without zod's machinery.
  if (value instanceof ArrayBuffer) return value;
  // So is a written buffer (one per session write: zod's walk showed in seeders' profiles); what
  // this does not accept whole goes to the schema, which decides and words the error.
  const data = value as { type?: unknown; buffer?: unknown; length?: unknown } | null;
  if (
    typeof data === 'object' &&
    data !== null &&
    data.type === 'data' &&
    data.buffer instanceof ArrayBuffer &&
    Number.isInteger(data.length) &&
    (data.length as number) > 0 &&
    (data.length as number) <= data.buffer.byteLength
  )
    return { type: 'data', buffer: data.buffer, length: data.length as number };
  compiled ??= z.compile(RelayMessage);
  const result = compiled.safeParse(value);
  if (result.success) return result.data;
  throw new TorkError(
    TorkErrorCode.THREAD_MESSAGE,
    `malformed relay message: ${result.error.issues[0]?.message ?? 'invalid'}`,
    { direction: 'relay' },
  );
}
