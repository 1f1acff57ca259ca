/**
 * Interop with the real opentracker (Debian package `opentracker`) on 127.0.0.1: two tork clients
 * announce over UDP and over HTTP, see each other, and scrape counts match what they announced.
 *
 * Debian's build only tracks whitelisted info-hashes. Started as root it chroots into `-d` and
 * drops to `-u nobody`; the whitelist path is read after the chdir/chroot, so a relative
 * `-w whitelist.txt` works both as root (chrooted) and as another user (chroot fails, chdir works).
 */
import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import {
  type AnnounceRequest,
  HttpTrackerClient,
  isTorkError,
  type PeerAddress,
  TorkErrorCode,
  type TrackerClient,
  UdpTrackerClient,
} from '@tork/core';
import { startOpentracker } from '../support/opentracker.js';
import { requireProgram } from '../support/programs.js';

const hash = (hex: string): Uint8Array => Uint8Array.from(Buffer.from(hex, 'hex'));
const peerId = (tag: string): Uint8Array => new TextEncoder().encode(`-TK0001-${tag.padEnd(12, '0')}`);

const UDP_SWARM = 'aa'.repeat(20);
const HTTP_SWARM = 'bb'.repeat(20);
const NOT_LISTED = 'dd'.repeat(20);

/** Fast UDP retransmission: opentracker answers loopback in well under a millisecond. */
const UDP_OPTIONS = { baseTimeoutMs: 200, maxRetransmissions: 3 };

function announceRequest(infoHex: string, tag: string, port: number, left: number): AnnounceRequest {
  return {
    infoHash: hash(infoHex),
    peerId: peerId(tag),
    port,
    uploaded: 0,
    downloaded: 0,
    left,
    event: 'started',
  };
}

/** The peers other than `self`, and a check that nothing but self and those appears. */
function others(peers: readonly PeerAddress[], selfPort: number): PeerAddress[] {
  for (const peer of peers) assert.equal(peer.host, '127.0.0.1', `unexpected peer ${peer.host}:${peer.port}`);
  return peers.filter((peer) => peer.port !== selfPort).sort((a, b) => a.port - b.port);
}

/**
 * One swarm over one protocol: a seeder (left = 0) and a leecher announce and see each other, the
 * counts follow a `completed` and two `stopped` events, and the scrape agrees at every step.
 */
async function exerciseSwarm(t: TestContext, seeder: TrackerClient, leecher: TrackerClient, infoHex: string) {
  const seed = announceRequest(infoHex, `${infoHex.slice(0, 2)}seed`, 40001, 0);
  const leech = announceRequest(infoHex, `${infoHex.slice(0, 2)}leech`, 40002, 1_000_000);
  const me = { host: '127.0.0.1', port: seed.port };
  const you = { host: '127.0.0.1', port: leech.port };
  const scrape = async () => (await seeder.scrape!([hash(infoHex)])).get(infoHex);

  const first = await seeder.announce(seed);
  assert.deepEqual(others(first.peers, seed.port), [], 'alone in the swarm at first');
  assert.ok(first.interval > 0);

  const second = await leecher.announce(leech);
  assert.deepEqual(others(second.peers, leech.port), [me], 'the leecher learns the seeder');
  assert.equal(second.complete, 1);
  assert.equal(second.incomplete, 1);

  const again = await seeder.announce({ ...seed, event: 'none' });
  assert.deepEqual(others(again.peers, seed.port), [you], 'the seeder learns the leecher');
  assert.deepEqual(await scrape(), { complete: 1, downloaded: 0, incomplete: 1 });

  await t.test('completed moves the leecher to the seeders and counts a download', async () => {
    const done = await leecher.announce({ ...leech, left: 0, downloaded: 1_000_000, event: 'completed' });
    assert.equal(done.complete, 2);
    assert.equal(done.incomplete, 0);
    assert.deepEqual(await scrape(), { complete: 2, downloaded: 1, incomplete: 0 });
  });

  await t.test('stopped removes both peers', async () => {
    await leecher.announce({ ...leech, left: 0, event: 'stopped' });
    await seeder.announce({ ...seed, event: 'stopped' });
    assert.deepEqual(await scrape(), { complete: 0, downloaded: 1, incomplete: 0 });
  });
}

test('opentracker interop (UDP and HTTP)', async (t) => {
  const bin = requireProgram(t, 'opentracker', 'opentracker');
  if (!bin) return;
  const tracker = await startOpentracker(bin, [UDP_SWARM, HTTP_SWARM]);
  const clients: TrackerClient[] = [];
  t.after(async () => {
    for (const client of clients) client.close?.();
    await tracker.stop();
  });
  t.diagnostic(`started: ${tracker.commandLine} (pid ${tracker.program.pid})`);
  const udp = (): UdpTrackerClient => {
    const client = new UdpTrackerClient(`udp://127.0.0.1:${tracker.port}/announce`, UDP_OPTIONS);
    clients.push(client);
    return client;
  };
  const http = (): HttpTrackerClient => {
    const client = new HttpTrackerClient(`http://127.0.0.1:${tracker.port}/announce`, { timeoutMs: 5000 });
    clients.push(client);
    return client;
  };

  await t.test('UDP: two peers see each other; scrape counts match', (t) =>
    exerciseSwarm(t, udp(), udp(), UDP_SWARM),
  );

  await t.test('HTTP: two peers see each other; scrape counts match', (t) =>
    exerciseSwarm(t, http(), http(), HTTP_SWARM),
  );

  await t.test('both protocols see one swarm per info-hash', async () => {
    const overUdp = await udp().announce(announceRequest(HTTP_SWARM, 'crossudp', 40003, 5));
    const overHttp = await http().announce(announceRequest(HTTP_SWARM, 'crosshttp', 40004, 0));
    assert.deepEqual(others(overHttp.peers, 40004), [{ host: '127.0.0.1', port: 40003 }]);
    assert.equal(overUdp.incomplete, 1);
    const hashes = [hash(HTTP_SWARM), hash(UDP_SWARM)];
    const [byUdp, byHttp] = await Promise.all([udp().scrape(hashes), http().scrape(hashes)]);
    // `downloaded` keeps the completed event of the HTTP test above: it is an all-time count.
    assert.deepEqual(byHttp.get(HTTP_SWARM), { complete: 1, downloaded: 1, incomplete: 1 });
    assert.deepEqual(byUdp.get(HTTP_SWARM), byHttp.get(HTTP_SWARM));
    assert.deepEqual(byUdp.get(UDP_SWARM), byHttp.get(UDP_SWARM));
  });

  await t.test(
    'an info-hash off the whitelist is refused (HTTP: failure reason; UDP: 8-byte reply, ignored)',
    async () => {
      const request = announceRequest(NOT_LISTED, 'unlisted', 40005, 1);
      await assert.rejects(http().announce(request), (error: unknown) => {
        assert.ok(isTorkError(error, TorkErrorCode.TRACKER_FAILURE), String(error));
        assert.match(error.message, /not authorized/);
        return true;
      });
      const quick = new UdpTrackerClient(`udp://127.0.0.1:${tracker.port}/announce`, {
        baseTimeoutMs: 50,
        maxRetransmissions: 1,
      });
      clients.push(quick);
      await assert.rejects(quick.announce(request), (error: unknown) => {
        assert.ok(isTorkError(error, TorkErrorCode.TRACKER_TIMEOUT), String(error));
        assert.match(
          error.message,
          /last ignored reply: UDP tracker: announce response of 8 bytes is truncated/,
        );
        return true;
      });
    },
  );
});
