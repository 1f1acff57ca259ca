import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { join } from 'node:path';
import { test } from 'node:test';
import { interopDataset, requireLibtorrentPython, root } from '../download/support.js';
import { LIBTORRENT_PEER_SCRIPT } from './libtorrent-peer.js';

/** The scripts' exit code when libtorrent could not listen on one port for TCP and uTP. */
const LISTEN_SPLIT = 4;

function run(python: string, args: readonly string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(python, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

// CI19: a uTP-only seeder's UDP port was taken by another test's socket; libtorrent listened for
// uTP one port up without a word, and every SYN tork sent went to the stranger. The scripts now
// check libtorrent's listen alerts and exit LISTEN_SPLIT (the test helpers start them again).
test('a libtorrent test seeder whose UDP port is taken exits 4 instead of listening for uTP elsewhere', async (t) => {
  const python = await requireLibtorrentPython(t);
  if (!python) return;
  const dataset = await interopDataset('libtorrent-listen');
  const udp = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => udp.bind(0, '127.0.0.1', resolve));
  t.after(() => udp.close());
  const taken = String(udp.address().port);
  const scripts: Array<[string, string[]]> = [
    [
      'libtorrent-mse-peer.py seed',
      [LIBTORRENT_PEER_SCRIPT, 'seed', dataset.torrentPath, dataset.dataDir, taken, 'enabled'],
    ],
    [
      'libtorrent-seeder.py',
      [join(root, 'test/support/libtorrent-seeder.py'), dataset.torrentPath, dataset.dataDir, taken],
    ],
  ];
  for (const [name, args] of scripts) {
    const result = await run(python, args);
    assert.equal(result.code, LISTEN_SPLIT, `${name}:\n${result.output}`);
    assert.match(result.output, /not one port for TCP and uTP/, name);
  }
  // And on port 0 they listen, and say where.
  const ok = await new Promise<string>((resolve, reject) => {
    const child = spawn(
      python,
      [LIBTORRENT_PEER_SCRIPT, 'seed', dataset.torrentPath, dataset.dataDir, '0', 'enabled'],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let output = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk;
      if (output.includes('"ready"')) child.kill('SIGTERM');
    });
    child.once('error', reject);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(output);
    });
  });
  assert.match(ok, /"event": "ready", "port": \d+/);
});
