import * as z from 'zod';
import { PlainTorkErrorSchema } from './plain-error.js';

/**
 * The control plane of a peer host thread (comlink calls: attach, stats, shutdown) and the data
 * the thread starts with (`workerData`). Rare messages, but they cross a thread like the data
 * plane, so they are declared and checked the same way: the host parses its `workerData` before
 * it starts, and the coordinator parses every `stats` answer and error report.
 */

const count = z.number().int().nonnegative();
const positiveMs = z
  .number()
  .int()
  .positive()
  .max(24 * 3600 * 1000);

/** Per-connection behaviour and limits that can cross to a host thread (see `PeerActorOptions`). */
export const PeerActorSettings = z
  .object({
    connectTimeoutMs: positiveMs,
    handshakeTimeoutMs: positiveMs,
    keepAliveIntervalMs: positiveMs,
    idleTimeoutMs: positiveMs,
    maxUnexpectedBlocks: count,
    advertisedRequestQueue: z.number().int().positive().max(100_000),
    maxQueuedRequests: z.number().int().positive().max(1_000_000),
    maxQueuedRequestBytes: z.number().int().positive(),
    uploadStallMs: positiveMs,
    maxBadRequests: count,
    uploadHighWaterBytes: z.number().int().positive(),
    firstMessageTimeoutMs: positiveMs,
    maxRedundantPerSecond: count,
    clientName: z.string().max(256),
    // RequestPipelineOptions
    pipelineSeconds: z.number().positive(),
    minQueueDepth: z.number().int().positive(),
    maxQueueDepth: z.number().int().positive(),
    snubTimeoutMs: positiveMs,
    rate: z
      .object({
        windowMs: positiveMs,
        buckets: z.number().int().positive().max(10_000),
        minElapsedMs: z.number().nonnegative(),
      })
      .partial()
      .strict(),
  })
  .partial()
  .strict();

/** The upload read cache's settings that can cross to a host thread (see `PieceReaderOptions`). */
export const PieceReaderSettings = z
  .object({
    cacheBytes: count,
    maxOpenFiles: z.number().int().positive(),
    maxConcurrentReads: z.number().int().positive(),
    recycle: z.boolean(),
  })
  .partial()
  .strict();

/** A peer host's options as they cross to its thread in `workerData` (see `PeerHostOptions`). */
export const PeerHostSettings = z
  .object({
    tickMs: positiveMs,
    statsIntervalMs: positiveMs,
    bufferPoolBytes: count,
    actor: PeerActorSettings,
    reader: PieceReaderSettings,
  })
  .partial()
  .strict();
export type PeerHostSettings = z.infer<typeof PeerHostSettings>;

/** `workerData` of a peer host thread: cloned once at start, parsed before the host exists. */
export const PeerHostWorkerData = z.object({
  index: count.optional(),
  options: PeerHostSettings.optional(),
});
export type PeerHostWorkerData = z.infer<typeof PeerHostWorkerData>;

/** A host's counters, the answer to the control plane's `stats` call. */
export const HostStats = z.object({
  /** Live actors (connections, including those still connecting). */
  actors: count,
  torrents: count,
  /** Socket bytes received / sent by all actors of this host since it started. */
  bytesReceived: z.number().nonnegative(),
  bytesSent: z.number().nonnegative(),
  /** Event-loop delay of the host thread, ms (mean and max since the last `stats` call). */
  eventLoopLagMs: z.number().nonnegative(),
  eventLoopLagMaxMs: z.number().nonnegative(),
  /** Share of the time the host thread was busy (0..1) since the last `stats` call. Default: unknown. */
  eventLoopUtilization: z.number().min(0).max(1).optional(),
  /**
   * Queueing delay of the command batches that carried a `sentAt` (a trace is on), ms: mean and
   * max since the last `stats` call. Absent when none did.
   */
  commandQueueMs: z.number().nonnegative().optional(),
  commandQueueMaxMs: z.number().nonnegative().optional(),
  /** Command batches refused because they failed their schema (never acted on). */
  rejectedBatches: count,
  lastRejection: PlainTorkErrorSchema.nullable(),
  /** Piece buffers kept for reuse (bytes), and buffers reused / newly allocated since the start. */
  bufferPoolBytes: z.number().nonnegative(),
  buffersReused: count,
  buffersAllocated: count,
  /** Connections this host accepted on its own socket (`reusePort`) and ran; absent: none. */
  acceptedInHost: count.optional(),
});
export type HostStats = z.infer<typeof HostStats>;

/**
 * What a peer host's `listen` call carries (control plane): the engine's TCP port and address,
 * bound again by the host with `reusePort`, and the encryption policy its handshakes follow.
 */
export const HostListenOptions = z.object({
  port: z.number().int().min(1).max(65535),
  host: z.string().min(1).max(255),
  encryption: z.enum(['prefer', 'require', 'disable']),
  handshakeTimeoutMs: z.number().int().positive().optional(),
});
export type HostListenOptions = z.infer<typeof HostListenOptions>;
