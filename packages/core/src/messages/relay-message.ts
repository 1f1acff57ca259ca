import * as z from 'zod';
import { RELAY_WINDOW_BYTES } from './message-limits.js';
import { dataFitsBuffer } from './message-predicates.js';

export { RELAY_WINDOW_BYTES };

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
    .refine(dataFitsBuffer, { message: 'length beyond the buffer' }),
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
