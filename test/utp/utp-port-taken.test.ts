/**
 * `--transport utp` with its UDP port held by another process: no peer could ever be reached, so
 * tork says so and exits 1 at once (it used to wait, every dial refused with "uTP is off"). With
 * `--port 0` it picks a port free for both TCP and UDP instead (Listener `udpTwin`).
 */
import '../support/hermetic.js';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { root, runTork } from '../download/support.js';

const sample = join(root, 'examples/sample.torrent');
/** Loopback only, nothing discovered; one dead peer to dial. */
const offline = [
  '--listen-host',
  '127.0.0.1',
  '--no-trackers',
  '--no-dht',
  '--no-lsd',
  '--peer',
  '127.0.0.1:9',
];

describe('tork download --transport utp, its UDP port taken', { timeout: 60_000 }, () => {
  let work: string;
  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'tork-utp-port-'));
  });
  after(() => rm(work, { recursive: true, force: true }));

  it('a fixed port: exits 1 at once, naming the port and why; nothing downloaded', async () => {
    const holder = createSocket('udp4');
    await new Promise<void>((resolve) => holder.bind(0, '127.0.0.1', () => resolve()));
    const port = holder.address().port;
    try {
      const run = await runTork(
        [sample, '--out', join(work, 'fixed'), '--transport', 'utp', '--port', String(port), ...offline],
        { timeoutMs: 30_000 },
      );
      assert.equal(run.status, 1, run.stderr);
      assert.ok(run.seconds < 15, `exited after ${run.seconds} s`);
      const error = run.events.find((event) => event.event === 'error');
      assert.ok(error, JSON.stringify(run.events));
      const message = (error.error as { message: string }).message;
      assert.match(message, new RegExp(`--transport utp: cannot listen for uTP on UDP port ${port}`));
      assert.match(run.stderr, /cannot listen for uTP/);
      assert.equal(
        run.events.some((event) => event.event === 'peer-connected'),
        false,
      );
    } finally {
      holder.close();
    }
  });

  it('--port 0: listens for uTP on the port it chose', async () => {
    const run = await runTork([sample, '--out', join(work, 'any'), '--transport', 'utp', ...offline], {
      timeoutMs: 30_000,
      // Listening for uTP is all this case needs to see: then it is stopped.
      onEvent: (event, pid) => {
        if (event.event === 'utp-listening') process.kill(pid, 'SIGTERM');
      },
    });
    const tcp = run.events.find((event) => event.event === 'listening');
    const udp = run.events.find((event) => event.event === 'utp-listening');
    assert.ok(tcp && udp, `${JSON.stringify(run.events)}\n${run.stderr}`);
    assert.equal(udp.port, tcp.port);
  });
});
