/**
 * Transmission RPC bodies as zod schemas: the envelope every request and answer has, the arguments
 * of each method (parsed before the method runs), and the answers' arguments (built to these and
 * checked in tests). Like Transmission, argument keys a method does not know are ignored (stripped);
 * a known key of the wrong type is refused with a result string.
 */
import * as z from 'zod';
import { MAX_API_MAX_PEERS } from '../api-schemas.js';

/** Requests name a method, may carry arguments, and may carry a tag the answer repeats. */
export const rpcRequest = z.object({
  method: z.string().min(1).max(64),
  arguments: z.record(z.string(), z.unknown()).optional(),
  tag: z.number().int().optional(),
});
export type RpcRequest = z.infer<typeof rpcRequest>;

/** Every answer: `result` is `success` or what went wrong (HTTP 200 either way, as Transmission). */
export const rpcResponse = z.strictObject({
  result: z.string(),
  arguments: z.record(z.string(), z.unknown()),
  tag: z.number().int().optional(),
});
export type RpcResponse = z.infer<typeof rpcResponse>;

/** Most ids one request may list. */
export const MAX_RPC_IDS = 100_000;

const torrentId = z.union([
  z
    .number()
    .int()
    .min(0)
    .max(2 ** 31),
  z.string().min(1).max(64),
]);

/**
 * Which torrents: absent is all of them; a number (the daemon's integer id), an info-hash, the
 * string `recently-active`, or a list of numbers and hashes. Ids that name no torrent are skipped,
 * as Transmission does.
 */
export const idsSchema = z.union([torrentId, z.array(torrentId).max(MAX_RPC_IDS)]).optional();
export type IdsSelector = z.infer<typeof idsSchema>;

/** Transmission's speeds are KB/s, 1 KB = 1000 bytes. */
const kiloBytesPerSecond = z.number().int().min(0).max(1_000_000_000);

const fileIndices = z.array(z.number().int().min(0).max(999_999)).max(1_000_000);

export const torrentGetArgs = z.object({
  ids: idsSchema,
  fields: z.array(z.string().max(64)).min(1).max(256),
  format: z.enum(['objects', 'table']).default('objects'),
});

export const torrentActionArgs = z.object({ ids: idsSchema });

export const torrentRemoveArgs = z.object({
  ids: idsSchema,
  'delete-local-data': z.boolean().default(false),
});

/** Base64 as transmission-remote sends it (libb64 wraps lines): whitespace is dropped first. */
const wrappedBase64 = z
  .string()
  .max(16 * 1024 * 1024)
  .transform((text) => text.replace(/\s+/g, ''))
  .pipe(z.base64().min(1));

export const torrentAddArgs = z
  .object({
    /** A magnet, or a .torrent's path on the daemon's disk (inside `--download-root`); no URLs. */
    filename: z
      .string()
      .min(1)
      .max(64 * 1024)
      .optional(),
    metainfo: wrappedBase64.optional(),
    'download-dir': z.string().min(1).max(4096).optional(),
    paused: z.boolean().default(false),
  })
  .refine((args) => (args.filename === undefined) !== (args.metainfo === undefined), {
    message: 'give exactly one of filename, metainfo',
  });

export const torrentSetArgs = z.object({
  ids: idsSchema,
  'files-wanted': fileIndices.optional(),
  'files-unwanted': fileIndices.optional(),
  'priority-high': fileIndices.optional(),
  'priority-normal': fileIndices.optional(),
  'priority-low': fileIndices.optional(),
  downloadLimit: kiloBytesPerSecond.optional(),
  downloadLimited: z.boolean().optional(),
  uploadLimit: kiloBytesPerSecond.optional(),
  uploadLimited: z.boolean().optional(),
  'peer-limit': z.number().int().min(0).max(100_000).optional(),
});
export type TorrentSetArgs = z.infer<typeof torrentSetArgs>;

export const sessionGetArgs = z.object({ fields: z.array(z.string().max(64)).max(256).optional() });

export const sessionSetArgs = z.object({
  'speed-limit-down': kiloBytesPerSecond.optional(),
  'speed-limit-down-enabled': z.boolean().optional(),
  'speed-limit-up': kiloBytesPerSecond.optional(),
  'speed-limit-up-enabled': z.boolean().optional(),
  'download-dir': z.string().min(1).max(4096).optional(),
  'peer-port': z.number().int().min(0).max(65535).optional(),
  /** The daemon's cap on connected peers over all torrents. */
  'peer-limit-global': z.number().int().min(1).max(MAX_API_MAX_PEERS).optional(),
});
export type SessionSetArgs = z.infer<typeof sessionSetArgs>;

/** `torrent-added` / `torrent-duplicate`: the torrent's id, name and hash. */
export const addedTorrent = z.strictObject({
  id: z.number().int(),
  name: z.string(),
  hashString: z.string(),
});
export const torrentAddResult = z.union([
  z.strictObject({ 'torrent-added': addedTorrent }),
  z.strictObject({ 'torrent-duplicate': addedTorrent }),
]);

const int = z.number().int();

/** One peer, as `torrent-get` `peers` lists it. */
export const rpcPeer = z.strictObject({
  address: z.string(),
  port: int,
  clientName: z.string(),
  clientIsChoked: z.boolean(),
  flagStr: z.string(),
  isDownloadingFrom: z.boolean(),
  isEncrypted: z.boolean(),
  isIncoming: z.boolean(),
  isUploadingTo: z.boolean(),
  isUTP: z.boolean(),
  peerIsChoked: z.boolean(),
  progress: z.number().min(0).max(1),
  rateToClient: int,
  rateToPeer: int,
});

/**
 * Every `torrent-get` field this daemon answers, with its type: integers are integers (Transmission's
 * clients read them as such and drop a row whose integer field is a fraction). A request names
 * the fields it wants; others it names are left out, as Transmission leaves out unknown ones.
 */
export const rpcTorrent = z
  .strictObject({
    id: int,
    hashString: z.string(),
    name: z.string(),
    status: int.min(0).max(6),
    error: int.min(0).max(3),
    errorString: z.string(),
    eta: int,
    etaIdle: int,
    percentDone: z.number().min(0).max(1),
    metadataPercentComplete: z.number().min(0).max(1),
    recheckProgress: z.number(),
    sizeWhenDone: int,
    leftUntilDone: int,
    totalSize: int,
    haveValid: int,
    haveUnchecked: int,
    desiredAvailable: int,
    corruptEver: int,
    rateDownload: int,
    rateUpload: int,
    peersConnected: int,
    'peer-limit': int,
    peersGettingFromUs: int,
    peersSendingToUs: int,
    peersFrom: z.strictObject({
      fromCache: int,
      fromDht: int,
      fromIncoming: int,
      fromLpd: int,
      fromLtep: int,
      fromPex: int,
      fromTracker: int,
    }),
    uploadedEver: int,
    downloadedEver: int,
    uploadRatio: z.number(),
    isFinished: z.boolean(),
    isPrivate: z.boolean(),
    downloadDir: z.string(),
    addedDate: int,
    dateCreated: int,
    comment: z.string(),
    creator: z.string(),
    pieceCount: int,
    pieceSize: int,
    magnetLink: z.string(),
    labels: z.array(z.string()),
    bandwidthPriority: int,
    honorsSessionLimits: z.boolean(),
    downloadLimit: int,
    downloadLimited: z.boolean(),
    uploadLimit: int,
    uploadLimited: z.boolean(),
    seedRatioMode: int,
    seedRatioLimit: z.number(),
    seedIdleMode: int,
    seedIdleLimit: int,
    webseeds: z.array(z.string()),
    'file-count': int,
    files: z.array(z.strictObject({ name: z.string(), length: int, bytesCompleted: int })),
    fileStats: z.array(
      z.strictObject({ bytesCompleted: int, wanted: z.boolean(), priority: int.min(-1).max(1) }),
    ),
    priorities: z.array(int.min(-1).max(1)),
    wanted: z.array(z.boolean()),
    peers: z.array(rpcPeer),
    trackers: z.array(z.strictObject({ announce: z.string(), id: int, scrape: z.string(), tier: int })),
    trackerStats: z.array(z.strictObject({})),
  })
  .partial();
export type RpcTorrent = z.infer<typeof rpcTorrent>;
export type RpcTorrentField = keyof RpcTorrent;

export const torrentGetResult = z.strictObject({
  torrents: z.union([z.array(rpcTorrent), z.array(z.array(z.unknown()))]),
  removed: z.array(int).optional(),
});

const stats = z.strictObject({
  uploadedBytes: int,
  downloadedBytes: int,
  filesAdded: int,
  sessionCount: int,
  secondsActive: int,
});

export const sessionStatsResult = z.strictObject({
  activeTorrentCount: int,
  pausedTorrentCount: int,
  torrentCount: int,
  downloadSpeed: int,
  uploadSpeed: int,
  'cumulative-stats': stats,
  'current-stats': stats,
});

export const sessionGetResult = z
  .strictObject({
    version: z.string(),
    'rpc-version': int,
    'rpc-version-minimum': int,
    'session-id': z.string(),
    'download-dir': z.string(),
    'peer-port': int,
    'speed-limit-down': int,
    'speed-limit-down-enabled': z.boolean(),
    'speed-limit-up': int,
    'speed-limit-up-enabled': z.boolean(),
    'alt-speed-enabled': z.boolean(),
    'alt-speed-down': int,
    'alt-speed-up': int,
    'alt-speed-time-enabled': z.boolean(),
    'alt-speed-time-begin': int,
    'alt-speed-time-end': int,
    'alt-speed-time-day': int,
    'peer-limit-global': int,
    'peer-limit-per-torrent': int,
    seedRatioLimit: z.number(),
    seedRatioLimited: z.boolean(),
    'idle-seeding-limit': int,
    'idle-seeding-limit-enabled': z.boolean(),
    'utp-enabled': z.boolean(),
    'port-forwarding-enabled': z.boolean(),
    encryption: z.string(),
    'start-added-torrents': z.boolean(),
    'rename-partial-files': z.boolean(),
    'incomplete-dir-enabled': z.boolean(),
    'download-queue-enabled': z.boolean(),
    'seed-queue-enabled': z.boolean(),
    units: z.strictObject({
      'speed-units': z.array(z.string()),
      'speed-bytes': int,
      'size-units': z.array(z.string()),
      'size-bytes': int,
      'memory-units': z.array(z.string()),
      'memory-bytes': int,
    }),
  })
  .partial();
