import { readFile } from 'node:fs/promises';
import { TorkErrorCode, toTorkError } from '@tork/core';
import type { z } from 'zod';
import { parsePeerAddress } from '../args.js';
import { apiError } from './api-errors.js';
import {
  addTorrentBody,
  deleteQuery,
  filesBody,
  type okBody,
  rateLimitsBody,
  type torrentDetail,
  type torrentList,
} from './api-schemas.js';
import { type ApiContext, type RouteModule, readBody } from './api-server.js';
import type { LimitsChange } from './torrent-registry.js';

const ok: z.infer<typeof okBody> = { ok: true };

/**
 * A limits body as the registry takes it: a rate left out is uncapped (the API's meaning since
 * its first version), a peer limit left out is unchanged.
 */
function limits(body: z.infer<typeof rateLimitsBody>): LimitsChange {
  return {
    download: body.download ?? null,
    upload: body.upload ?? null,
    ...(body.maxPeers !== undefined ? { maxPeers: body.maxPeers } : {}),
    ...(body.uploadSlots !== undefined ? { uploadSlots: body.uploadSlots } : {}),
  };
}

/** Largest .torrent read from the daemon's disk for `path` (bytes). */
const MAX_TORRENT_FILE_BYTES = 8 * 1024 * 1024;

async function detail(context: ApiContext, id: string): Promise<z.infer<typeof torrentDetail>> {
  const { registry } = context;
  const summary = registry.summary(id);
  const meta = registry.meta(id);
  const torrent = registry.torrent(id);
  const priorities = torrent?.files.priorities ?? registry.record(id).filePriorities;
  return {
    ...summary,
    files: (meta?.files ?? []).map((file, index) => ({
      index,
      path: file.path.join('/'),
      length: file.length,
      priority: priorities?.[index] ?? 'normal',
    })),
    warnings: (meta?.warnings ?? []).map((warning) => ({ ...warning })),
    peerList: (torrent?.peerViews() ?? []).map((peer) => ({
      address: peer.address,
      client: peer.client,
      transport: peer.transport,
      encryption: peer.encryption,
      source: peer.source,
      seed: peer.seed,
      downloadRate: peer.downloadRate,
      uploadRate: peer.uploadRate,
      downloaded: peer.downloaded,
      uploaded: peer.uploaded,
      queueDepth: peer.queueDepth,
      thread: context.threads?.hostOf(peer.actorId) ?? null,
    })),
  };
}

/** The JSON API's torrent routes, under /api/v1/torrents. */
export const torrentRoutes: RouteModule = {
  paths: [
    '/api/v1/torrents',
    '/api/v1/torrents/:id',
    '/api/v1/torrents/:id/pause',
    '/api/v1/torrents/:id/resume',
    '/api/v1/torrents/:id/files',
    '/api/v1/torrents/:id/limits',
    '/api/v1/session/limits',
  ],
  mount(app, context) {
    const { registry, root } = context;
    app.get('/api/v1/torrents', (c) => {
      const body: z.infer<typeof torrentList> = { torrents: registry.list() };
      return c.json(body);
    });
    app.post('/api/v1/torrents', async (c) => {
      const body = await readBody(c, addTorrentBody);
      const outDir = await root.check(body.downloadDir ?? context.downloadDir, 'downloadDir');
      let metainfo: Uint8Array | undefined;
      if (body.metainfo !== undefined) metainfo = Buffer.from(body.metainfo, 'base64');
      if (body.path !== undefined) {
        const path = await root.check(body.path, 'path');
        metainfo = await readFile(path).catch((error: unknown) => {
          throw toTorkError(error, TorkErrorCode.API_BAD_REQUEST, `cannot read ${path}`);
        });
        if (metainfo.byteLength > MAX_TORRENT_FILE_BYTES)
          throw apiError(TorkErrorCode.LIMIT_EXCEEDED, `${path} is over ${MAX_TORRENT_FILE_BYTES} bytes`);
      }
      const peers = body.peers ?? [];
      try {
        peers.forEach(parsePeerAddress);
      } catch (error) {
        throw apiError(TorkErrorCode.API_BAD_REQUEST, toTorkError(error).message);
      }
      const added = await registry.add({
        ...(metainfo ? { metainfo } : {}),
        ...(body.magnet ? { magnet: body.magnet } : {}),
        outDir,
        paused: body.paused,
        ...(body.select ? { filePriorities: body.select } : {}),
        peers,
      });
      return c.json(added, 201);
    });
    app.get('/api/v1/torrents/:id', async (c) => c.json(await detail(context, c.req.param('id'))));
    app.delete('/api/v1/torrents/:id', async (c) => {
      const query = deleteQuery.safeParse(c.req.query());
      if (!query.success) throw apiError(TorkErrorCode.API_BAD_REQUEST, 'deleteData must be true or false');
      await registry.remove(c.req.param('id'), query.data.deleteData === 'true');
      return c.json(ok);
    });
    app.post('/api/v1/torrents/:id/pause', async (c) => {
      await registry.pause(c.req.param('id'));
      return c.json(ok);
    });
    app.post('/api/v1/torrents/:id/resume', async (c) => {
      await registry.resume(c.req.param('id'));
      return c.json(ok);
    });
    app.put('/api/v1/torrents/:id/files', async (c) => {
      const body = await readBody(c, filesBody);
      await registry.setFiles(c.req.param('id'), body.priorities);
      return c.json(ok);
    });
    app.put('/api/v1/torrents/:id/limits', async (c) => {
      const body = await readBody(c, rateLimitsBody);
      await registry.setLimits(c.req.param('id'), limits(body));
      return c.json(ok);
    });
    app.put('/api/v1/session/limits', async (c) => {
      const body = await readBody(c, rateLimitsBody);
      await registry.setSessionLimits(limits(body));
      return c.json(ok);
    });
  },
};
