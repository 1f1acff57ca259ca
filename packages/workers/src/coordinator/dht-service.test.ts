/**
 * DhtService over real UDP host threads on loopback (each on its own 127.0.0.x, bootstrapped from
 * each other, never from a public router): peers found through announce_peer and get_peers, the
 * routing table saved and loaded so that a second start needs no bootstrap, no thread at all
 * until a torrent joins, and a port in use turns the DHT off without failing anything.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { DiscoveryTorrent, PeerAddress } from '@tork/core';
import { DhtService, type DhtServiceEvent, type DhtServiceOptions } from './dht-service.js';

let work: string;
before(async () => {
  work = await mkdtemp(join(tmpdir(), 'tork-dht-service-'));
});
after(() => rm(work, { recursive: true, force: true }));

const services: DhtService[] = [];
after(() => Promise.all(services.map((service) => service.close())));

function start(
  options: Omit<DhtServiceOptions, 'onEvent' | 'udpPort' | 'bootstrap'> & Partial<DhtServiceOptions>,
) {
  const events: DhtServiceEvent[] = [];
  const waiters: Array<() => void> = [];
  const service = new DhtService({
    udpPort: 0,
    bootstrap: [],
    minLookupIntervalMs: 0,
    ...options,
    onEvent: (event) => {
      events.push(event);
      for (const wake of waiters.splice(0)) wake();
    },
  });
  services.push(service);
  /** Resolves with the first event (from now on, or already seen when `seen`) that matches. */
  const next = (match: (event: DhtServiceEvent) => boolean, from = events.length) =>
    new Promise<DhtServiceEvent>((resolve) => {
      const look = () => {
        const found = events.slice(from).find(match);
        if (found) resolve(found);
        else waiters.push(look);
      };
      look();
    });
  return { service, events, next };
}

function torrent(infoHash: Buffer, port: number): DiscoveryTorrent {
  return { infoHash, infoHashHex: infoHash.toString('hex'), port };
}

function collector() {
  const peers: PeerAddress[] = [];
  const waiters: Array<() => void> = [];
  return {
    peers,
    found: (list: readonly PeerAddress[]) => {
      peers.push(...list);
      for (const wake of waiters.splice(0)) wake();
    },
    until: (host: string, port: number) =>
      new Promise<void>((resolve) => {
        const look = () => {
          if (peers.some((peer) => peer.host === host && peer.port === port)) resolve();
          else waiters.push(look);
        };
        look();
      }),
  };
}

describe('DhtService', () => {
  it('finds a peer announced by another node, and starts a second time from the saved table', async () => {
    const hash = randomBytes(20);
    const statePath = join(work, 'b', 'dht.json');
    const a = start({ host: '127.0.0.50', port: 7001 });
    const joinA = a.service.join(torrent(hash, 7001), () => {});
    const listening = (await a.next((e) => e.type === 'listening', 0)) as { port: number };
    await a.next((e) => e.type === 'lookup-done', 0);

    const b = start({
      host: '127.0.0.51',
      port: 7002,
      bootstrap: [{ host: '127.0.0.50', port: listening.port }],
      statePath,
    });
    const foundB = collector();
    const joinB = b.service.join(torrent(hash, 7002), foundB.found);
    await b.next((e) => e.type === 'lookup-done', 0);
    // A knows B now (B queried it): A's next lookup announces to B.
    const mark = a.events.length;
    joinA.lookup();
    const announced = (await a.next((e) => e.type === 'lookup-done', mark)) as { announced: number };
    assert.ok(announced.announced >= 1, 'A announced to B');
    joinB.lookup();
    await foundB.until('127.0.0.50', 7001);
    assert.ok(!foundB.peers.some((peer) => peer.port === 7002), 'never our own address');

    joinB.leave();
    await b.service.close();
    const saved = JSON.parse(await readFile(statePath, 'utf8')) as { nodes: Array<{ host: string }> };
    assert.ok(
      saved.nodes.some((node) => node.host === '127.0.0.50'),
      'the table lists A',
    );

    // Same state file, no bootstrap at all: the saved table is where it starts from.
    const b2 = start({ host: '127.0.0.51', port: 7002, statePath });
    b2.service.join(torrent(hash, 7002), () => {});
    const again = (await b2.next((e) => e.type === 'listening', 0)) as {
      loadedNodes: number;
      nodeId: string;
    };
    assert.ok(again.loadedNodes >= 1);
    const firstRun = b.events.find((e) => e.type === 'listening') as { nodeId: string };
    assert.equal(again.nodeId, firstRun.nodeId, 'the node id is kept too');
    const walked = (await b2.next((e) => e.type === 'lookup-done', 0)) as {
      nodes: number;
      announced: number;
    };
    assert.ok(walked.nodes >= 1 && walked.announced >= 1, 'the lookup reached A through the saved table');
  });

  it('with no listener (port 0) only looks: finds the announced peers, announces nothing', async () => {
    const hash = randomBytes(20);
    const a = start({ host: '127.0.0.53', port: 7004 });
    a.service.join(torrent(hash, 7004), () => {});
    const listening = (await a.next((e) => e.type === 'listening', 0)) as { port: number };
    await a.next((e) => e.type === 'lookup-done', 0);
    const looker = start({
      host: '127.0.0.54',
      port: 0,
      bootstrap: [{ host: '127.0.0.53', port: listening.port }],
    });
    const found = collector();
    const joined = looker.service.join(torrent(hash, 0), found.found);
    const first = (await looker.next((e) => e.type === 'lookup-done', 0)) as {
      nodes: number;
      announced: number;
    };
    assert.equal(first.announced, 0, 'nothing announced');
    const bound = (await looker.next((e) => e.type === 'listening', 0)) as { port: number };
    assert.ok(bound.port > 0, 'a free UDP port');
    // A knows the looker now; A's announce reaches it, and the looker's next lookup finds A.
    const mark = a.events.length;
    a.service.join(torrent(hash, 7004), () => {}).lookup();
    await a.next((e) => e.type === 'lookup-done', mark);
    const again = looker.events.length;
    joined.lookup();
    const second = (await looker.next((e) => e.type === 'lookup-done', again)) as { announced: number };
    assert.equal(second.announced, 0, 'still nothing announced');
    await found.until('127.0.0.53', 7004);
  });

  it('starts no thread and opens no socket until a torrent joins', async () => {
    const c = start({ host: '127.0.0.52', port: 7003 });
    await c.service.close();
    assert.equal(c.service.started, false);
    assert.equal(c.events.length, 0);
    // Closed: a later join is inert.
    c.service.join(torrent(randomBytes(20), 7003), () => assert.fail('no peers after close')).lookup();
    assert.equal(c.service.started, false);
  });

  it('turns itself off, without failing the torrent, when the UDP port is taken', async (t) => {
    const taken = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => taken.bind(0, '127.0.0.53', resolve));
    t.after(() => new Promise<void>((resolve) => taken.close(() => resolve())));
    const d = start({ host: '127.0.0.53', port: 7004, udpPort: taken.address().port });
    const handle = d.service.join(torrent(randomBytes(20), 7004), () => {});
    const error = (await d.next((e) => e.type === 'error', 0)) as { fatal: boolean; error: { code: string } };
    assert.equal(error.fatal, true);
    assert.equal(error.error.code, 'TORK_ERR_DHT');
    handle.lookup();
    handle.leave();
    await d.service.close();
  });
});
