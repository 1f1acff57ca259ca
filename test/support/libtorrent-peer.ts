/**
 * A scripted libtorrent peer (`test/mse/libtorrent-mse-peer.py`) for interop tests: a seeder, or a
 * downloader, with a chosen encryption policy and transport, started on a free loopback port and
 * stopped by PID when the test ends.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import type { Dataset } from '@tork/cli';
import { root } from '../download/support.js';
import { readyPort, type StartedProgram, startListeningProgram, startProgram } from './programs.js';

export const LIBTORRENT_PEER_SCRIPT = join(root, 'test/mse/libtorrent-mse-peer.py');

/** The script's encryption policies (see its docstring). */
export type LibtorrentPolicy = 'forced-rc4' | 'forced-plaintext' | 'enabled' | 'disabled';
/** TCP only (the script's default), uTP only, or both as libtorrent defaults to. */
export type LibtorrentTransport = 'tcp' | 'utp' | 'both';

/** One peer as the script reports it. */
export interface LibtorrentPeerInfo {
  address: string;
  utp: boolean;
  rc4: boolean;
  plaintextEncrypted: boolean;
  downloaded: number;
  uploaded: number;
}

function env(transport: LibtorrentTransport, startDelaySeconds = 0): NodeJS.ProcessEnv {
  return { ...process.env, LT_TRANSPORT: transport, LT_START_DELAY: String(startDelaySeconds) };
}

/**
 * A libtorrent seeder of `data` on a kernel-chosen loopback port, one for TCP and uTP (the script
 * checks libtorrent's listen alerts and is started again when they differ); ready once it says
 * it listens. `startDelaySeconds`: its torrent stays paused that long after it listens (libtorrent
 * turns every connection for it away meanwhile). Default: 0, running at once.
 */
export async function startLibtorrentSeeder(
  t: TestContext,
  python: string,
  data: Dataset,
  policy: LibtorrentPolicy,
  transport: LibtorrentTransport = 'tcp',
  startDelaySeconds = 0,
): Promise<{ port: number; seeder: StartedProgram }> {
  const seeder = await startListeningProgram(
    python,
    [LIBTORRENT_PEER_SCRIPT, 'seed', data.torrentPath, data.dataDir, '0', policy],
    { env: env(transport, startDelaySeconds), portFrom: readyPort, readyTimeoutMs: 15_000 },
  );
  t.after(() => seeder.stop());
  return { port: seeder.port, seeder };
}

/** A libtorrent downloader of `data` into `out` from `peers` (it gives up after `timeoutSeconds`). */
export async function startLibtorrentDownloader(
  t: TestContext,
  python: string,
  data: Dataset,
  out: string,
  policy: LibtorrentPolicy,
  peers: readonly string[],
  options: { transport?: LibtorrentTransport; timeoutSeconds?: number } = {},
): Promise<StartedProgram> {
  const leecher = await startProgram(
    python,
    [
      LIBTORRENT_PEER_SCRIPT,
      'download',
      data.torrentPath,
      out,
      '0',
      policy,
      peers.join(','),
      String(options.timeoutSeconds ?? 120),
    ],
    { env: env(options.transport ?? 'tcp') },
  );
  t.after(() => leecher.stop());
  return leecher;
}

/** Waits for a downloader to finish; asserts it completed and returns the peers it saw. */
export async function libtorrentDownloadDone(leecher: StartedProgram): Promise<LibtorrentPeerInfo[]> {
  await new Promise<void>((resolve) =>
    leecher.running() ? leecher.child.once('exit', () => resolve()) : resolve(),
  );
  assert.equal(leecher.child.exitCode, 0, leecher.output());
  return (JSON.parse(leecher.output().trim().split('\n').at(-1)!) as { peers: LibtorrentPeerInfo[] }).peers;
}
