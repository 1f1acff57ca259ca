/**
 * LocalServiceDiscovery over unicast loopback: the group is 127.0.0.1 (nothing is joined, nothing
 * multicast), so these tests cannot reach the LAN. Real multicast is tested by
 * `test/lsd/lsd.test.ts`, inside a network namespace that has only `lo`.
 */
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { after, describe, it } from 'node:test';
import {
  type DiscoveryTorrent,
  decodeLsdAnnounce,
  encodeLsdAnnounce,
  isTorkError,
  type LsdAnnounce,
  MAX_LSD_INFOHASHES,
  type PeerAddress,
  TorkErrorCode,
} from '@tork/core';
import {
  LocalServiceDiscovery,
  type LocalServiceDiscoveryOptions,
  LSD_MAX_MESSAGES_PER_SECOND,
  LSD_MIN_ANNOUNCE_INTERVAL_MS,
} from './lsd.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(what: string, done: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`no ${what} within ${timeoutMs} ms`);
    await sleep(5);
  }
}

function torrent(n: number, port = 6881): DiscoveryTorrent {
  const infoHash = new Uint8Array(20).fill(n);
  return { infoHash, infoHashHex: Buffer.from(infoHash).toString('hex'), port };
}

/** A UDP socket on 127.0.0.x that keeps the announces it receives. */
async function probe(host = '127.0.0.1') {
  const socket = dgram.createSocket('udp4');
  const announces: LsdAnnounce[] = [];
  socket.on('message', (message) => announces.push(decodeLsdAnnounce(message)));
  await new Promise<void>((resolve) => socket.bind(0, host, resolve));
  const port = socket.address().port;
  return {
    port,
    announces,
    send: (to: number, data: Uint8Array) =>
      new Promise<void>((resolve, reject) =>
        socket.send(data, to, '127.0.0.1', (error) => (error ? reject(error) : resolve())),
      ),
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}

const opened: Array<{ close(): Promise<void> }> = [];
after(() => Promise.all(opened.map((item) => item.close())));

/** A service bound to a free port on 127.0.0.1 whose announces go to `to` (a probe). */
async function service(to: number, options: LocalServiceDiscoveryOptions = {}) {
  const lsd = await LocalServiceDiscovery.open({
    group: '127.0.0.1',
    port: to,
    address: '127.0.0.1',
    bindPort: 0,
    ...options,
  });
  opened.push(lsd);
  return lsd;
}

function clock(start = 1_000_000) {
  const state = { now: start };
  return { state, now: () => state.now };
}

describe('LocalServiceDiscovery', { timeout: 60_000 }, () => {
  it('announces a torrent at join, then at most once a minute when asked, and not after leave', async () => {
    const sink = await probe();
    opened.push(sink);
    const time = clock();
    const lsd = await service(sink.port, { now: time.now });
    const handle = lsd.join(torrent(1, 51413), () => {});
    await until('the join announce', () => sink.announces.length === 1);
    assert.deepEqual(sink.announces[0], {
      host: `127.0.0.1:${sink.port}`,
      port: 51413,
      infoHashes: [torrent(1).infoHashHex],
      cookie: lsd.cookie,
    });
    handle.lookup();
    time.state.now += LSD_MIN_ANNOUNCE_INTERVAL_MS - 1;
    handle.lookup();
    assert.equal(lsd.stats().sent, 1, 'no second announce within the minute');
    time.state.now += 1;
    handle.lookup();
    assert.equal(lsd.stats().sent, 2);
    await until('the lookup announce', () => sink.announces.length === 2);
    handle.leave();
    handle.leave();
    time.state.now += 10 * LSD_MIN_ANNOUNCE_INTERVAL_MS;
    handle.lookup();
    assert.equal(lsd.stats().sent, 2, 'nothing after leave');
    assert.equal(lsd.stats().joined, 0);
  });

  it('announces every interval, the torrents due together in datagrams of up to MAX_LSD_INFOHASHES', async () => {
    const sink = await probe();
    opened.push(sink);
    const time = clock();
    const lsd = await service(sink.port, { now: time.now, intervalMs: 100 });
    const count = MAX_LSD_INFOHASHES + 5;
    for (let n = 1; n <= count; n++) lsd.join(torrent(n), () => {});
    await until('one announce per join', () => sink.announces.length === count);
    assert.equal(lsd.stats().sent, count);
    // The clock does not move: the ticks find nothing due.
    await sleep(50);
    assert.equal(lsd.stats().sent, count);
    time.state.now += 100;
    await until('the periodic announces', () => sink.announces.length === count + 2);
    const periodic = sink.announces.slice(count);
    assert.deepEqual(
      periodic.map((announce) => announce.infoHashes.length),
      [MAX_LSD_INFOHASHES, 5],
    );
    assert.deepEqual(
      new Set(periodic.flatMap((announce) => announce.infoHashes)),
      new Set(Array.from({ length: count }, (_, i) => torrent(i + 1).infoHashHex)),
    );
  });

  it('reports the sender with the announced port to the torrents joined, and nothing else', async () => {
    const sender = await probe();
    opened.push(sender);
    const lsd = await service(sender.port);
    const found: PeerAddress[][] = [];
    const other: PeerAddress[][] = [];
    const handle = lsd.join(torrent(7), (peers) => found.push([...peers]));
    lsd.join(torrent(8), (peers) => other.push([...peers]));
    const to = lsd.boundPort;
    const announce = (fields: Parameters<typeof encodeLsdAnnounce>[0]) =>
      sender.send(to, encodeLsdAnnounce(fields));

    await announce({ port: 5000, infoHashes: [torrent(7).infoHashHex, torrent(9).infoHashHex], cookie: 'x' });
    await until('the announce read', () => lsd.stats().received === 1);
    assert.deepEqual(found, [[{ host: '127.0.0.1', port: 5000 }]]);
    assert.deepEqual(other, []);

    // Our own announce coming back (same cookie), garbage, and an announce for no torrent of ours.
    await announce({ port: 5001, infoHashes: [torrent(7).infoHashHex], cookie: lsd.cookie });
    await sender.send(to, new TextEncoder().encode('M-SEARCH * HTTP/1.1\r\n\r\n'));
    await sender.send(to, new Uint8Array(2000));
    await announce({ port: 5002, infoHashes: [torrent(9).infoHashHex] });
    await until('four more read', () => lsd.stats().received === 5);
    assert.equal(found.length, 1);
    assert.deepEqual(
      { own: lsd.stats().own, malformed: lsd.stats().malformed, accepted: lsd.stats().accepted },
      { own: 1, malformed: 2, accepted: 2 },
    );

    handle.leave();
    await announce({ port: 5003, infoHashes: [torrent(7).infoHashHex, torrent(8).infoHashHex] });
    await until('one more read', () => lsd.stats().received === 6);
    assert.equal(found.length, 1, 'a torrent that left hears nothing');
    assert.deepEqual(other, [[{ host: '127.0.0.1', port: 5003 }]]);
    assert.equal(lsd.stats().peersFound, 2);
  });

  it(`reads at most LSD_MAX_MESSAGES_PER_SECOND (${LSD_MAX_MESSAGES_PER_SECOND}) announces per source each second`, async () => {
    const sender = await probe();
    opened.push(sender);
    const time = clock();
    const lsd = await service(sender.port, { now: time.now });
    let found = 0;
    lsd.join(torrent(3), () => found++);
    const datagram = encodeLsdAnnounce({ port: 6000, infoHashes: [torrent(3).infoHashHex] });
    const sent = 3 * LSD_MAX_MESSAGES_PER_SECOND;
    for (let i = 0; i < sent; i++) await sender.send(lsd.boundPort, datagram);
    await until('every datagram received', () => lsd.stats().received === sent);
    assert.equal(found, LSD_MAX_MESSAGES_PER_SECOND);
    assert.equal(lsd.stats().rateLimited, sent - LSD_MAX_MESSAGES_PER_SECOND);
    // A new second: the source is read again.
    time.state.now += 1000;
    await sender.send(lsd.boundPort, datagram);
    await until('one more', () => lsd.stats().received === sent + 1);
    assert.equal(found, LSD_MAX_MESSAGES_PER_SECOND + 1);
  });

  it('reads from at most maxSourcesPerSecond addresses each second', async () => {
    const sink = await probe();
    opened.push(sink);
    const time = clock();
    const lsd = await service(sink.port, { now: time.now, maxSourcesPerSecond: 2 });
    const hosts: string[] = [];
    lsd.join(torrent(4), (peers) => hosts.push(...peers.map((peer) => peer.host)));
    const datagram = encodeLsdAnnounce({ port: 6000, infoHashes: [torrent(4).infoHashHex] });
    // Loopback answers the whole of 127.0.0.0/8 on Linux: three sources on one host.
    const senders = await Promise.all(['127.0.0.2', '127.0.0.3', '127.0.0.4'].map((host) => probe(host)));
    opened.push(...senders);
    for (const [i, sender] of senders.entries()) {
      await sender.send(lsd.boundPort, datagram);
      await until('the datagram', () => lsd.stats().received === i + 1);
    }
    assert.deepEqual(hosts, ['127.0.0.2', '127.0.0.3']);
    assert.equal(lsd.stats().rateLimited, 1);
  });

  it('rejects with TORK_ERR_IO when its port is taken, and refuses a group that is not IPv4', async () => {
    const taken = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => taken.bind(0, '127.0.0.1', resolve));
    try {
      await assert.rejects(
        LocalServiceDiscovery.open({ address: '127.0.0.1', group: '127.0.0.1', port: taken.address().port }),
        (error) => isTorkError(error, TorkErrorCode.IO) && /cannot bind/.test(error.message),
      );
    } finally {
      taken.close();
    }
    await assert.rejects(LocalServiceDiscovery.open({ group: 'ff15::efc0:988f' }), (error) =>
      isTorkError(error, TorkErrorCode.USAGE),
    );
  });

  it('sends nothing and reads nothing once closed; close is idempotent', async () => {
    const sink = await probe();
    opened.push(sink);
    const lsd = await service(sink.port);
    const handle = lsd.join(torrent(5), () => {});
    await until('the join announce', () => sink.announces.length === 1);
    await lsd.close();
    await lsd.close();
    handle.lookup();
    lsd.join(torrent(6), () => {});
    assert.equal(lsd.stats().sent, 1);
  });
});
