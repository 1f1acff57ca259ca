import { open } from 'node:fs/promises';
import { parseMagnet, parseMetainfo, TorkError, TorkErrorCode, toTorkError } from '@tork/core';
import type { z } from 'zod';
import type { torrentAddArgs, torrentAddResult } from './rpc-schemas.js';
import { RpcFailure, type RpcState } from './rpc-state.js';

/** Largest .torrent `torrent-add` reads from the daemon's disk (bytes). */
export const MAX_RPC_TORRENT_FILE_BYTES = 8 * 1024 * 1024;

/** A URL scheme other than `magnet:` (http, https, ftp, …). */
const URL_SCHEME = /^[a-z][a-z0-9+.-]*:\/\//i;

async function readTorrentFile(path: string): Promise<Uint8Array> {
  const file = await open(path, 'r').catch((error: unknown) => {
    throw toTorkError(error, TorkErrorCode.API_BAD_REQUEST, `cannot read ${path}`);
  });
  try {
    const { size } = await file.stat();
    if (size > MAX_RPC_TORRENT_FILE_BYTES)
      throw new TorkError(
        TorkErrorCode.LIMIT_EXCEEDED,
        `${path} is over ${MAX_RPC_TORRENT_FILE_BYTES} bytes`,
      );
    return await file.readFile();
  } finally {
    await file.close();
  }
}

/**
 * `torrent-add`: `metainfo` (a .torrent in base64) or `filename` (a magnet, or a .torrent's path on
 * the daemon's disk inside `--download-root`). A URL is refused: the daemon fetches nothing from the
 * web on a client's word. `download-dir` must lie inside `--download-root`. A torrent already
 * listed answers `torrent-duplicate` (success, as Transmission).
 */
export async function torrentAdd(
  state: RpcState,
  args: z.infer<typeof torrentAddArgs>,
): Promise<z.infer<typeof torrentAddResult>> {
  const { registry, root } = state.context;
  let metainfo: Uint8Array | undefined;
  let magnet: string | undefined;
  if (args.metainfo !== undefined) metainfo = Buffer.from(args.metainfo, 'base64');
  else if (/^magnet:/i.test(args.filename!)) magnet = args.filename!;
  else if (URL_SCHEME.test(args.filename!))
    throw new RpcFailure(
      "tork does not download .torrent files from URLs (nothing leaves the machine on a client's word): fetch it yourself and send it as metainfo",
    );
  else metainfo = await readTorrentFile(await root.check(args.filename!, 'filename'));
  const outDir = await root.check(args['download-dir'] ?? state.downloadDir, 'download-dir');
  let infoHash: string;
  try {
    infoHash = metainfo ? parseMetainfo(metainfo).infoHashHex : parseMagnet(magnet!).infoHashHex;
  } catch (error) {
    throw new RpcFailure(`invalid or corrupt torrent file: ${toTorkError(error).message}`);
  }
  state.sync();
  if (registry.ids.includes(infoHash)) return { 'torrent-duplicate': state.brief(infoHash) };
  await registry.add({
    ...(metainfo ? { metainfo } : {}),
    ...(magnet ? { magnet } : {}),
    outDir,
    paused: args.paused,
  });
  state.sync();
  return { 'torrent-added': state.brief(infoHash) };
}
