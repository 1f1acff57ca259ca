/**
 * Every body the daemon's API reads or writes, as zod schemas: requests are parsed with them (a
 * mismatch is a 400 with TORK_ERR_API_BAD_REQUEST), responses are built to them (and checked in tests).
 */
import * as z from 'zod';
import { filePrioritySchema } from './daemon-state.js';

/** Largest request body (bytes): a large .torrent in base64 fits; more is refused with 413. */
export const MAX_API_BODY_BYTES = 8 * 1024 * 1024;

const rate = z
  .number()
  .int()
  .min(1024)
  .max(1024 ** 4);

/** Most peer connections one torrent (or all together) may have. */
export const MAX_API_MAX_PEERS = 10_000;
/** Most regular upload slots one torrent (or all together) may have. */
export const MAX_API_UPLOAD_SLOTS = 1_000;

/**
 * `PUT …/limits`: rate caps in bytes a second (a direction left out, or null, is not capped) and
 * peer limits (left out: unchanged; null: back to the default; the session's `uploadSlots` 0: no
 * cap over all torrents).
 */
export const rateLimitsBody = z.strictObject({
  download: rate.nullable().optional(),
  upload: rate.nullable().optional(),
  maxPeers: z.number().int().min(1).max(MAX_API_MAX_PEERS).nullable().optional(),
  uploadSlots: z.number().int().min(0).max(MAX_API_UPLOAD_SLOTS).nullable().optional(),
});

/** `POST /torrents`: exactly one of `magnet`, `path` (a .torrent on the daemon's disk), `metainfo` (base64). */
export const addTorrentBody = z
  .strictObject({
    magnet: z
      .string()
      .startsWith('magnet:')
      .max(64 * 1024)
      .optional(),
    path: z.string().min(1).max(4096).optional(),
    metainfo: z.base64().max(MAX_API_BODY_BYTES).optional(),
    /** Output directory; default the daemon's `--download-dir`. Must lie inside `--download-root`. */
    downloadDir: z.string().min(1).max(4096).optional(),
    paused: z.boolean().default(false),
    /** A priority per file (`skip` leaves a file out). */
    select: z.array(filePrioritySchema).max(1_000_000).optional(),
    /** Peers to dial, `host:port` (trackers and the DHT find the others). */
    peers: z.array(z.string().max(300)).max(200).optional(),
  })
  .refine(
    (body) => [body.magnet, body.path, body.metainfo].filter((given) => given !== undefined).length === 1,
    { message: 'give exactly one of magnet, path, metainfo' },
  );
export type AddTorrentBody = z.infer<typeof addTorrentBody>;

export const filesBody = z.strictObject({ priorities: z.array(filePrioritySchema).min(1).max(1_000_000) });

export const deleteQuery = z.strictObject({ deleteData: z.enum(['true', 'false']).default('false') });

export const errorBody = z.strictObject({
  error: z.strictObject({ code: z.string().startsWith('TORK_ERR_'), message: z.string() }),
});

const limitsOut = z.strictObject({ download: z.number().optional(), upload: z.number().optional() });

export const torrentSummary = z.strictObject({
  id: z.string(),
  name: z.string(),
  state: z.string(),
  outDir: z.string(),
  paused: z.boolean(),
  length: z.number(),
  wantedBytes: z.number(),
  verifiedBytes: z.number(),
  progress: z.number().min(0).max(1),
  downloadRate: z.number(),
  uploadRate: z.number(),
  downloadedBytes: z.number(),
  uploadedBytes: z.number(),
  resumedBytes: z.number(),
  peers: z.number(),
  rateLimits: limitsOut,
  /** This torrent's peer limit (its own, or the default). */
  maxPeers: z.number(),
  /** This torrent's regular upload slots (its own, or the default). */
  uploadSlots: z.number(),
  addedAt: z.number(),
  error: z.strictObject({ code: z.string(), message: z.string() }).nullable(),
});
export type TorrentSummaryBody = z.infer<typeof torrentSummary>;

export const torrentList = z.strictObject({ torrents: z.array(torrentSummary) });

export const torrentDetail = z.strictObject({
  ...torrentSummary.shape,
  files: z.array(
    z.strictObject({
      index: z.number(),
      path: z.string(),
      length: z.number(),
      priority: filePrioritySchema,
    }),
  ),
  /** What parsing the torrent sanitised or ignored (see Metainfo.warnings); [] for a magnet still fetching. */
  warnings: z.array(
    z.strictObject({ kind: z.string(), message: z.string(), fileIndex: z.number().optional() }),
  ),
  peers: z.number(),
  peerList: z.array(
    z.strictObject({
      address: z.string(),
      client: z.string(),
      transport: z.string(),
      encryption: z.string(),
      source: z.string(),
      seed: z.boolean(),
      downloadRate: z.number(),
      uploadRate: z.number(),
      downloaded: z.number(),
      uploaded: z.number(),
      queueDepth: z.number(),
      /** The peer host thread running this peer's session (`peer-host-N` in `/metrics`); null: none known. */
      thread: z.number().int().nonnegative().nullable(),
    }),
  ),
});

const lag = z.strictObject({
  /** Event-loop delay, ms: mean and max over the time since the previous sample (about a second). */
  eventLoopLagMs: z.number().nonnegative(),
  eventLoopLagMaxMs: z.number().nonnegative(),
});

/**
 * `GET /api/v1/threads`: the main (coordinator) thread's event-loop lag and each peer host
 * thread's counters. Counters are totals since the thread started (a client takes differences
 * for rates); lag figures cover the time since the previous sample.
 */
export const threadsBody = z.strictObject({
  /** When the sample was taken, ms since the epoch. */
  time: z.number(),
  main: lag,
  threads: z.array(
    z.strictObject({
      ...lag.shape,
      /** Host index, the `N` of `peer-host-N`. */
      index: z.number().int().nonnegative(),
      name: z.string(),
      actors: z.number().int().nonnegative(),
      torrents: z.number().int().nonnegative(),
      bytesReceived: z.number().nonnegative(),
      bytesSent: z.number().nonnegative(),
      /** Command batches / commands posted to the host, event batches / events received from it. */
      commandBatches: z.number().int().nonnegative(),
      commands: z.number().int().nonnegative(),
      eventBatches: z.number().int().nonnegative(),
      events: z.number().int().nonnegative(),
    }),
  ),
});
export type ThreadsBody = z.infer<typeof threadsBody>;

export const sessionBody = z.strictObject({
  version: z.string(),
  peerPort: z.number(),
  torrents: z.number(),
  running: z.number(),
  downloadRate: z.number(),
  uploadRate: z.number(),
  downloadedBytes: z.number(),
  uploadedBytes: z.number(),
  rateLimits: limitsOut,
  /** The cap on peer connections over all torrents. */
  maxPeers: z.number(),
  /** The cap on regular upload slots over all torrents; null: none. */
  uploadSlots: z.number().nullable(),
  /** Peer connections open over all torrents (connecting included). */
  connections: z.number(),
  /** The daemon process's memory: resident set and V8 heap in use (bytes). */
  memory: z.strictObject({ rssBytes: z.number(), heapUsedBytes: z.number() }),
  eventClients: z.number(),
});

export const okBody = z.strictObject({ ok: z.literal(true) });
