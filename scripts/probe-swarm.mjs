// What the probe scripts (floor-download-probe, warm-download-probe) share: the data set's options,
// the data set itself, libtorrent's hermetic settings, and one libtorrent farm on 127.0.0.1.
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseSize } from '../packages/cli/dist/format.js';
import { ensureDataset } from '../packages/cli/dist/index.js';

/** `parseArgs` options for the data set and the farm (the bench's 256 MiB / 40 files / 16 KiB, 8 seeders). */
export const swarmOptions = {
  size: { type: 'string', default: '256MiB' },
  files: { type: 'string', default: '40' },
  'piece-size': { type: 'string', default: '16KiB' },
  seeders: { type: 'string', default: '8' },
  cache: { type: 'string', default: join(tmpdir(), 'tork-bench-cache') },
  python: { type: 'string', default: '/usr/bin/python3' },
};

/** A size such as 256MiB in bytes; throws on anything else. */
export function size(text) {
  const bytes = parseSize(text);
  if (bytes === undefined) throw new Error(`not a size: ${text}`);
  return bytes;
}

/** The bench's data set for `swarmOptions` values (made in `--cache` when missing). */
export function probeDataset(values) {
  return ensureDataset(values.cache, {
    size: size(values.size),
    files: Number(values.files),
    pieceLength: size(values['piece-size']),
  });
}

/**
 * libtorrent session settings of every probe downloader, as a Python dict: 127.0.0.1 only, no DHT,
 * LSD, UPnP or NAT-PMP, TCP only, several peers on one address.
 */
export const LIBTORRENT_SETTINGS = `{'listen_interfaces': '127.0.0.1:0', 'outgoing_interfaces': '127.0.0.1',
  'enable_dht': False, 'enable_lsd': False, 'enable_upnp': False, 'enable_natpmp': False,
  'allow_multiple_connections_per_ip': True, 'enable_outgoing_utp': False, 'enable_incoming_utp': False}`;

/**
 * Starts `seeders` libtorrent seeders of `dataset` in one process (packages/cli/python/libtorrent-farm.py)
 * on 127.0.0.1; resolves with the process and the seeders' ports. It is killed when this process exits.
 */
export async function startFarm(python, dataset, seeders) {
  const child = spawn(
    python,
    [
      new URL('../packages/cli/python/libtorrent-farm.py', import.meta.url).pathname,
      dataset.torrentPath,
      dataset.dataDir,
      String(seeders),
      '--host',
      '127.0.0.1',
    ],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  process.on('exit', () => child.kill('SIGKILL'));
  const first = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no answer from the farm in 60 s')), 60_000);
    createInterface({ input: child.stdout }).once('line', (line) => {
      clearTimeout(timer);
      resolve(line);
    });
  });
  return { child, ports: JSON.parse(first).ports };
}
