/**
 * `report-stats`: a torrent's tick takes its actors' counters itself, once per tick, and the
 * host's own periodic stats leave those actors out while the torrent keeps asking (two sources
 * of the same counters, on clocks that drift apart, made a progress event see no report or two).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { PlainTorkError } from '@tork/core';
import { type HostThread, silentPeer, startHostThread } from './host-thread.test.fixture.js';

const STATS_EVERY_MS = 100;
const ASK_EVERY_MS = 400;

function addTorrent(byte: number) {
  return {
    type: 'add-torrent',
    torrentId: byte.toString(16).padStart(2, '0').repeat(20),
    infoHash: new Uint8Array(20).fill(byte),
    peerId: new Uint8Array(20).fill(0x2d),
    pieceLength: 16_384,
    length: 40_000,
    pieceHashes: new Uint8Array(60),
    have: new Uint8Array(1),
    files: [],
  };
}
const asked = addTorrent(0xaa);
const unasked = addTorrent(0xbb);

interface Arrival {
  at: number;
  actors: number[];
}

describe('peer host: stats on request (report-stats)', { timeout: 30_000 }, () => {
  let host: HostThread;
  let api: HostThread['api'];
  let port: HostThread['port'];
  let peer: Awaited<ReturnType<typeof silentPeer>>;
  const arrivals: Arrival[] = [];
  const reports: PlainTorkError[] = [];

  before(async () => {
    // Accepts and stays silent: the actors wait in their handshake, long past this test.
    peer = await silentPeer();
    const serverPort = peer.port;
    host = await startHostThread(
      { tickMs: 25, statsIntervalMs: STATS_EVERY_MS, actor: { handshakeTimeoutMs: 60_000 } },
      (events) => {
        for (const event of events)
          if (event.type === 'stats')
            arrivals.push({ at: performance.now(), actors: event.actors.map((stats) => stats.actorId) });
      },
      (error) => reports.push(error),
    );
    ({ api, port } = host);
    port.postMessage({
      commands: [
        asked,
        unasked,
        { type: 'connect', actorId: 1, torrentId: asked.torrentId, host: '127.0.0.1', port: serverPort },
        { type: 'connect', actorId: 2, torrentId: asked.torrentId, host: '127.0.0.1', port: serverPort },
        { type: 'connect', actorId: 3, torrentId: unasked.torrentId, host: '127.0.0.1', port: serverPort },
      ],
    });
  });

  after(async () => {
    await host.stop();
    peer.close();
  });

  it('answers at once for the torrent asked, and reports it only on request while it keeps asking', async () => {
    await until(
      () => arrivals.some((arrival) => arrival.actors.length === 3),
      5_000,
      'periodic stats of all three',
    );
    assert.deepEqual(reports, []);

    // Asked every ASK_EVERY_MS for 2 s: one answer per request, the periodic stats carry actor 3 alone.
    const askedFrom = arrivals.length;
    const start = performance.now();
    let requests = 0;
    while (performance.now() - start < 2_000) {
      const sentAt = performance.now();
      const before = arrivals.length;
      port.postMessage({
        commands: [{ type: 'report-stats', torrentId: asked.torrentId, intervalMs: ASK_EVERY_MS }],
      });
      requests++;
      await until(
        () => arrivals.slice(before).some((arrival) => arrival.actors.includes(1)),
        1_000,
        'the answer to a request',
      );
      const answer = arrivals.slice(before).find((arrival) => arrival.actors.includes(1))!;
      assert.deepEqual(answer.actors.sort(), [1, 2], "the answer holds the torrent's actors, and only them");
      assert.ok(
        answer.at - sentAt < 500,
        `answered within 500 ms (took ${(answer.at - sentAt).toFixed(0)} ms)`,
      );
      await sleep(ASK_EVERY_MS - (performance.now() - sentAt));
    }
    const during = arrivals.slice(askedFrom);
    const withAsked = during.filter((arrival) => arrival.actors.includes(1));
    const periodic = during.filter((arrival) => arrival.actors.includes(3));
    assert.equal(withAsked.length, requests, 'actor 1 reported once per request, never by the timer');
    assert.ok(
      periodic.length >= 2_000 / STATS_EVERY_MS / 2,
      `the unasked torrent's actor still reported periodically (${periodic.length} times)`,
    );
    assert.ok(
      periodic.every((arrival) => arrival.actors.length === 1),
      'no periodic report of the asked torrent',
    );

    // No more requests: after twice the interval, the timer reports the torrent's actors again.
    const stopped = performance.now();
    await until(
      () =>
        arrivals.some(
          (arrival) => arrival.at > stopped && arrival.actors.includes(1) && arrival.actors.includes(3),
        ),
      3_000,
      'periodic stats of all three again',
    );
    const resumed = arrivals.find(
      (arrival) => arrival.at > stopped && arrival.actors.includes(3) && arrival.actors.includes(1),
    )!;
    assert.ok(
      resumed.at - stopped >= ASK_EVERY_MS / 2,
      `not before the last request's grace ran out (${(resumed.at - stopped).toFixed(0)} ms)`,
    );
  });

  it('a request for a torrent the host does not have answers nothing and breaks nothing', async () => {
    const before = arrivals.length;
    const rejectedBefore = (await api.stats()).rejectedBatches;
    port.postMessage({ commands: [{ type: 'report-stats', torrentId: 'ee'.repeat(20), intervalMs: 1_000 }] });
    await sleep(3 * STATS_EVERY_MS);
    assert.ok(arrivals.slice(before).every((arrival) => arrival.actors.length === 3));
    assert.equal((await api.stats()).rejectedBatches, rejectedBefore);
  });
});

async function until(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timeout: ${what}`);
    await sleep(10);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}
