/**
 * Two more independent clients for interop tests, run as a user would, on their own loopback
 * addresses and stopped by PID: rtorrent (Debian's, on libtorrent-rakshasa) and Transmission's
 * `transmission-cli` (3.00). Both are kept from reaching beyond the machine: no DHT, LSD/LPD, PEX,
 * UPnP/NAT-PMP, UDP trackers or uTP.
 *
 * What shapes these helpers (see ../shared/INTEROP-NOTES.md):
 * - rtorrent keeps one peer entry per IP and Transmission one peer per IP, so each gets its own
 *   loopback address (127.0.0.4, 127.0.0.5): tork's connections come from 127.0.0.1.
 * - Transmission never dials a 127.0.0.0/8 peer learnt from a tracker: tork dials it (`--peer`).
 * - Transmission does not create zero-length files of a multi-file torrent.
 */
import { existsSync } from 'node:fs';
import { chmod, mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { sha1File } from '../seed/support.js';
import { freePort, retry, type StartedProgram, startProgram, tcpPortOpen } from '../support/programs.js';

export const RTORRENT_ADDRESS = '127.0.0.4';
export const TRANSMISSION_ADDRESS = '127.0.0.5';

export interface Client extends StartedProgram {
  readonly port: number;
  readonly address: string;
  /** True once the client says the download is complete. */
  finished(): boolean;
  /** Resolves once finished; rejects when the process exits first or after `timeoutMs`. */
  waitFinished(timeoutMs: number): Promise<void>;
}

function clientOf(
  program: StartedProgram,
  address: string,
  port: number,
  doneFile: string,
  name: string,
): Client {
  const finished = () => existsSync(doneFile);
  return Object.assign(program, {
    port,
    address,
    finished,
    async waitFinished(timeoutMs: number) {
      const deadline = Date.now() + timeoutMs;
      while (!finished()) {
        if (!program.running()) throw new Error(`${name} exited before finishing:\n${program.output()}`);
        if (Date.now() > deadline) throw new Error(`${name} not finished after ${timeoutMs} ms`);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    },
  });
}

/**
 * rtorrent on `127.0.0.4`, non-interactive (`system.daemon`), with `torrent` loaded and started:
 * it downloads into (or seeds from) `dataDir`, where a multi-file torrent is `dataDir/<name>/…`.
 * Ready once it listens. It finds peers through the torrent's (HTTP) tracker.
 */
export async function startRtorrent(
  bin: string,
  work: string,
  torrent: string,
  dataDir: string,
): Promise<Client> {
  const session = join(work, 'session');
  await mkdir(session, { recursive: true });
  await mkdir(dataDir, { recursive: true });
  // A port another process took between the pick and rtorrent's bind: another port (`listens`).
  return retry(3, async () => {
    const port = await freePort({ host: RTORRENT_ADDRESS, protocols: ['tcp'] });
    const doneFile = join(work, 'finished');
    const config = join(work, 'rtorrent.rc');
    await writeFile(
      config,
      [
        `directory.default.set = ${dataDir}`,
        `session.path.set = ${session}`,
        `network.port_range.set = ${port}-${port}`,
        'network.port_random.set = no',
        `network.bind_address.set = ${RTORRENT_ADDRESS}`,
        `network.local_address.set = ${RTORRENT_ADDRESS}`,
        // Nothing that could reach beyond the machine.
        'dht.mode.set = disable',
        'protocol.pex.set = no',
        'trackers.use_udp.set = no',
        'system.daemon.set = true',
        `method.set_key = event.download.finished, tork_test, "execute.nothrow = touch, ${doneFile}"`,
        `log.open_file = "main", ${join(work, 'rtorrent.log')}`,
        'log.add_output = "info", "main"',
        `load.start = ${torrent}`,
        '',
      ].join('\n'),
    );
    const program = await startProgram(bin, ['-n', '-o', `import=${config}`], {
      env: { ...process.env, HOME: work, TERM: 'dumb' },
      ready: () => tcpPortOpen(RTORRENT_ADDRESS, port),
      readyTimeoutMs: 15_000,
      listens: { port, address: RTORRENT_ADDRESS },
    });
    return clientOf(program, RTORRENT_ADDRESS, port, doneFile, 'rtorrent');
  });
}

/**
 * `transmission-cli` listening on `port` (all addresses; tork dials it at 127.0.0.5), with its
 * settings in `work/config`: downloads into `dataDir`, or verifies what is there and seeds it.
 */
export async function startTransmission(
  bin: string,
  work: string,
  torrent: string,
  dataDir: string,
  /** Transmission's `encryption`: 0 tolerated, 1 preferred (its default), 2 required (RC4). */
  encryption: 0 | 1 | 2 = 1,
  /** Transmission's `utp-enabled` (libutp, on the UDP port of the same number). Default: off. */
  utp = false,
): Promise<Client> {
  const configDir = join(work, 'config');
  await mkdir(configDir, { recursive: true });
  await mkdir(dataDir, { recursive: true });
  return retry(3, async () => {
    const port = await freePort({ protocols: utp ? ['tcp', 'udp'] : ['tcp'] });
    await writeFile(
      join(configDir, 'settings.json'),
      JSON.stringify({
        'dht-enabled': false,
        'lpd-enabled': false,
        'pex-enabled': false,
        'port-forwarding-enabled': false,
        'utp-enabled': utp,
        'blocklist-enabled': false,
        'bind-address-ipv4': TRANSMISSION_ADDRESS,
        'bind-address-ipv6': '::1',
        'rpc-enabled': false,
        'speed-limit-down-enabled': false,
        'speed-limit-up-enabled': false,
        'peer-port': port,
        encryption,
      }),
    );
    const doneFile = join(work, 'finished');
    const script = join(work, 'finished.sh');
    await writeFile(script, `#!/bin/sh\ntouch '${doneFile}'\n`);
    await chmod(script, 0o755);
    const program = await startProgram(
      bin,
      ['-g', configDir, '-w', dataDir, '-p', String(port), '-f', script, torrent],
      {
        ready: () => tcpPortOpen(TRANSMISSION_ADDRESS, port),
        readyTimeoutMs: 15_000,
        listens: { port, address: TRANSMISSION_ADDRESS },
      },
    );
    await outlivesItsVerification(program, doneFile);
    return clientOf(program, TRANSMISSION_ADDRESS, port, doneFile, 'transmission-cli');
  });
}

/**
 * transmission-cli 3.00 quits once its 200 ms loop finds the torrent stopped, and a torrent is
 * stopped for a moment between its start-up check of the data and its restart: a start whose
 * loop meets that moment ends at once, on its own (CI73: a seeder gone 0.25 s after it started,
 * before tork dialled it). Waits for the check (a seeder's "finished" script runs at its end; a
 * leecher's check of empty files is quick), then two loop turns more; a start that did not
 * survive is retried by the caller (the next one has its resume file, and checks nothing).
 */
async function outlivesItsVerification(program: StartedProgram, doneFile: string): Promise<void> {
  const deadline = Date.now() + 2_000;
  while (!existsSync(doneFile) && Date.now() < deadline && program.running())
    await new Promise((resolve) => setTimeout(resolve, 50));
  await new Promise((resolve) => setTimeout(resolve, 600));
  if (!program.running()) {
    await program.stop();
    throw new Error(`transmission-cli quit on its own right after starting:\n${program.output()}`);
  }
}

/**
 * Differences between two trees, file by file (sizes and SHA-1): `expected` must all be in
 * `actual`, except zero-length files when `allowMissingEmpty` (Transmission creates none).
 */
export async function compareTrees(
  expected: string,
  actual: string,
  options: { allowMissingEmpty?: boolean } = {},
): Promise<string[]> {
  const problems: string[] = [];
  for (const path of await listFiles(expected)) {
    const want = await stat(path);
    const other = join(actual, relative(expected, path));
    const got = await stat(other).catch(() => undefined);
    if (!got) {
      if (!(options.allowMissingEmpty && want.size === 0))
        problems.push(`${relative(expected, path)}: missing`);
      continue;
    }
    if (got.size !== want.size)
      problems.push(`${relative(expected, path)}: ${got.size} bytes, expected ${want.size}`);
    else if ((await sha1File(path)) !== (await sha1File(other)))
      problems.push(`${relative(expected, path)}: differs`);
  }
  return problems;
}

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== '.tork') out.push(...(await listFiles(path)));
    } else if (entry.isFile()) out.push(path);
  }
  return out;
}

/** `from` hard-linked into `to` (copied where a link fails): the data without sharing its state. */
export async function linkTree(from: string, to: string): Promise<void> {
  const { copyFile, link } = await import('node:fs/promises');
  for (const path of await listFiles(from)) {
    const target = join(to, relative(from, path));
    await mkdir(join(target, '..'), { recursive: true });
    await link(path, target).catch(() => copyFile(path, target));
  }
}
