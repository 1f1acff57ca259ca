#!/usr/bin/env node
// What the link costs — the transport (TCP, uTP) and message stream encryption: tork and
// libtorrent in turn, alternating, downloading the same data from the same libtorrent seeders,
// once per mode. The seeders speak plain BitTorrent only over TCP (`plain`), insist on the
// encrypted handshake then plaintext (`mse-plaintext`), insist on RC4 (`rc4`), speak only uTP
// (`utp`), or only uTP with RC4 (`utp-rc4`); both downloaders are told the same. Wall seconds from
// the downloader's start to completion, and CPU seconds of the downloader's process (user +
// system, all threads), each the median of --runs.
//
//   pnpm build && node scripts/link-bench.mjs [--size 256] [--files 40] [--seeders 8] [--runs 3]
//       [--modes plain,mse-plaintext,rc4,utp,utp-rc4]
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { ensureDataset } from '../packages/cli/dist/index.js';
import { freePort, startProgram, tcpPortOpen } from '../test/dist/support/programs.js';

const run = promisify(execFile);
const root = fileURLToPath(new URL('..', import.meta.url));
const { values } = parseArgs({
  options: {
    size: { type: 'string', default: '256' },
    files: { type: 'string', default: '40' },
    seeders: { type: 'string', default: '8' },
    runs: { type: 'string', default: '3' },
    modes: { type: 'string', default: 'plain,mse-plaintext,rc4,utp,utp-rc4' },
  },
});
process.env.TORK_HERMETIC = '1';
const python = '/usr/bin/python3';
const script = join(root, 'test/mse/libtorrent-mse-peer.py');
const dataset = await ensureDataset(join(tmpdir(), 'tork-interop-matrix-cache'), {
  size: Number.parseInt(values.size, 10) * 1024 * 1024,
  files: Number(values.files),
  pieceLength: 256 * 1024,
  seed: 11,
});
const work = await mkdtemp(join(tmpdir(), 'tork-link-bench-'));
const allModes = [
  // [name, seeder policy, tork --encryption, libtorrent downloader policy, transport of all three]
  ['plain', 'disabled', 'disable', 'disabled', 'tcp'],
  ['mse-plaintext', 'forced-plaintext', 'prefer', 'forced-plaintext', 'tcp'],
  ['rc4', 'forced-rc4', 'require', 'forced-rc4', 'tcp'],
  ['utp', 'disabled', 'disable', 'disabled', 'utp'],
  ['utp-rc4', 'forced-rc4', 'require', 'forced-rc4', 'utp'],
];
const wanted = values.modes.split(',');
const modes = allModes.filter(([name]) => wanted.includes(name));

/** `/usr/bin/time -f` around a command: wall and CPU seconds of the whole process. */
async function timed(command, args, env = process.env) {
  const { stderr } = await run('/usr/bin/time', ['-f', 'TIMED %e %U %S', command, ...args], {
    maxBuffer: 64 * 1024 * 1024,
    timeout: 600_000,
    env,
  });
  const line = stderr.split('\n').find((l) => l.startsWith('TIMED '));
  const [, wall, user, system] = line.split(' ').map(Number);
  return { wall, cpu: user + system };
}

const rows = [];
for (const [mode, seederPolicy, torkEncryption, leecherPolicy, transport] of modes) {
  const env = { ...process.env, LT_TRANSPORT: transport };
  const seeders = [];
  for (let i = 0; i < Number(values.seeders); i++) {
    const port = await freePort();
    const seeder = await startProgram(
      python,
      [script, 'seed', dataset.torrentPath, dataset.dataDir, String(port), seederPolicy],
      {
        env,
        // A uTP-only seeder has no TCP port to probe: it says when it is ready.
        ready: async (output) =>
          transport === 'tcp' ? tcpPortOpen('127.0.0.1', port) : output.includes('"ready"'),
      },
    );
    seeders.push(Object.assign(seeder, { port }));
  }
  const peers = seeders.map((s) => `127.0.0.1:${s.port}`);
  for (let r = 1; r <= Number(values.runs); r++) {
    const torkOut = join(work, `tork-${mode}-${r}`);
    const tork = await timed(process.execPath, [
      join(root, 'packages/cli/dist/main.js'),
      'download',
      dataset.torrentPath,
      '--out',
      torkOut,
      '--port',
      '0',
      '--listen-host',
      '127.0.0.1',
      '--no-trackers',
      '--no-dht',
      '--quiet',
      '--encryption',
      torkEncryption,
      '--transport',
      transport,
      ...peers.flatMap((peer) => ['--peer', peer]),
    ]);
    rows.push({ mode, client: 'tork', ...tork });
    await rm(torkOut, { recursive: true, force: true });
    const ltOut = join(work, `lt-${mode}-${r}`);
    const lt = await timed(
      python,
      [
        script,
        'download',
        dataset.torrentPath,
        ltOut,
        String(await freePort()),
        leecherPolicy,
        peers.join(','),
        '300',
      ],
      env,
    );
    rows.push({ mode, client: 'libtorrent', ...lt });
    await rm(ltOut, { recursive: true, force: true });
    process.stderr.write(
      `${mode} run ${r}: tork ${tork.wall.toFixed(2)} s (CPU ${tork.cpu.toFixed(2)} s), libtorrent ${lt.wall.toFixed(2)} s (CPU ${lt.cpu.toFixed(2)} s)\n`,
    );
  }
  for (const seeder of seeders) await seeder.stop();
}
await rm(work, { recursive: true, force: true });
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const gib = dataset.length / 2 ** 30;
process.stdout.write(
  '| mode | client | wall s | MB/s | CPU s | CPU s per GiB |\n| --- | --- | --- | --- | --- | --- |\n',
);
for (const [mode] of modes) {
  for (const client of ['tork', 'libtorrent']) {
    const mine = rows.filter((row) => row.mode === mode && row.client === client);
    const wall = median(mine.map((row) => row.wall));
    const cpu = median(mine.map((row) => row.cpu));
    process.stdout.write(
      `| ${mode} | ${client} | ${wall.toFixed(2)} | ${(dataset.length / 1e6 / wall).toFixed(0)} | ${cpu.toFixed(2)} | ${(cpu / gib).toFixed(2)} |\n`,
    );
  }
}
