import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PeerPool, peerKey } from './peer-pool.js';

describe('PeerPool', () => {
  it('hands out each address once until it disconnects, then backs off exponentially', () => {
    const pool = new PeerPool({ baseBackoffMs: 1_000, maxBackoffMs: 8_000 });
    assert.equal(pool.add([{ host: '127.0.0.1', port: 1 }], 'tracker', 0), 1);
    assert.equal(pool.add([{ host: '127.0.0.1', port: 1 }], 'tracker', 0), 0);
    const key = peerKey('127.0.0.1', 1);
    assert.deepEqual(pool.take(5, 0), [
      { host: '127.0.0.1', port: 1, source: 'tracker', plainRetry: false, transport: undefined },
    ]);
    assert.deepEqual(pool.take(5, 0), []);
    const delays: number[] = [];
    let now = 0;
    for (let i = 0; i < 5; i++) {
      pool.disconnected(key, true, now);
      const ready = pool.nextReadyAt()!;
      delays.push(ready - now);
      assert.deepEqual(pool.take(5, ready - 1), []);
      now = ready;
      assert.equal(pool.take(5, now).length, 1);
    }
    assert.deepEqual(delays, [1_000, 2_000, 4_000, 8_000, 8_000]);
  });

  it('while seeding, an address last seen as a seed is not dialled; downloading, it is', () => {
    const pool = new PeerPool({ baseBackoffMs: 1_000 });
    pool.add([{ host: '127.0.0.1', port: 1 }], 'incoming', 0);
    pool.add([{ host: '127.0.0.1', port: 2 }], 'incoming', 0);
    const seed = peerKey('127.0.0.1', 1);
    const leecher = peerKey('127.0.0.1', 2);
    assert.equal(pool.take(5, 0, true).length, 2, 'nothing known yet: both are candidates');
    pool.lastSeenSeed(seed, true);
    pool.lastSeenSeed(leecher, false);
    pool.disconnected(seed, false, 0);
    pool.disconnected(leecher, false, 0);
    assert.deepEqual(
      pool.take(5, 10_000, true).map((address) => address.port),
      [2],
      'seeding: the seed is left alone',
    );
    assert.deepEqual(
      pool.take(5, 10_000, false).map((address) => address.port),
      [1],
      'downloading again: a seed is worth dialling',
    );
  });

  it('drops tracker addresses after repeated failures but keeps manual ones', () => {
    const pool = new PeerPool({ maxFailures: 2, baseBackoffMs: 1 });
    pool.add([{ host: 'a', port: 1 }], 'tracker', 0);
    pool.add([{ host: 'b', port: 1 }], 'manual', 0);
    for (let i = 0; i < 3; i++) {
      for (const address of pool.take(10, 1e9))
        pool.disconnected(peerKey(address.host, address.port), true, 0);
    }
    assert.equal(pool.size, 1);
    assert.deepEqual(pool.take(10, 1e9), [
      { host: 'b', port: 1, source: 'manual', plainRetry: false, transport: undefined },
    ]);
  });

  it('never hands out a banned address and bounds its memory', () => {
    const pool = new PeerPool({ maxAddresses: 3 });
    pool.add(
      [1, 2, 3, 4, 5].map((port) => ({ host: 'h', port })),
      'tracker',
      0,
    );
    assert.equal(pool.size, 3);
    pool.ban(peerKey('h', 4));
    assert.ok(pool.isBanned(peerKey('h', 4)));
    assert.ok(pool.take(10, 0).every((address) => address.port !== 4));
    assert.equal(peerKey('::1', 6881), '[::1]:6881');
  });

  it('never hands out an address while a connection that is its peer lives (alias), then after the base delay', () => {
    const pool = new PeerPool({ baseBackoffMs: 2_000 });
    const key = pool.alias('127.0.0.4', 6881, 0);
    assert.equal(key, '127.0.0.4:6881');
    // The tracker lists the listen address of a peer connected to us from another port.
    assert.equal(pool.add([{ host: '127.0.0.4', port: 6881 }], 'tracker', 10), 0);
    assert.deepEqual(pool.take(5, 100_000), []);
    assert.equal(pool.candidates, 0);
    assert.equal(pool.nextReadyAt(), undefined);
    pool.unalias(key, 50_000);
    assert.deepEqual(pool.take(5, 51_999), []);
    assert.deepEqual(pool.take(5, 52_000), [
      { host: '127.0.0.4', port: 6881, source: 'incoming', plainRetry: false, transport: undefined },
    ]);
  });
  it('an encrypted dial that failed at its handshake is dialled again at once, plain, with no failure counted', () => {
    const pool = new PeerPool();
    pool.add([{ host: '127.0.0.9', port: 7 }], 'tracker', 0);
    assert.deepEqual(pool.take(1, 0), [
      { host: '127.0.0.9', port: 7, source: 'tracker', plainRetry: false, transport: undefined },
    ]);
    pool.encryptionFailed('127.0.0.9:7', 10);
    assert.deepEqual(pool.take(1, 10), [
      { host: '127.0.0.9', port: 7, source: 'tracker', plainRetry: true, transport: undefined },
    ]);
    // A plain failure afterwards backs off from the base delay: the MSE attempt was not a failure.
    pool.disconnected('127.0.0.9:7', true, 20);
    assert.deepEqual(pool.take(1, 2_019), []);
    assert.equal(pool.take(1, 2_020)[0]?.plainRetry, true, 'and stays plain');
  });
  it('a plain retry the peer closes at its handshake goes back to encrypted, after backoff: the two alternate', () => {
    const pool = new PeerPool();
    pool.add([{ host: '127.0.0.9', port: 9 }], 'tracker', 0);
    pool.take(1, 0);
    // The MSE handshake failed (a forced-encryption peer whose torrent was still starting).
    pool.encryptionFailed('127.0.0.9:9', 10);
    assert.equal(pool.take(1, 10)[0]?.plainRetry, true);
    // The peer closed the plain handshake: it wants encryption after all.
    pool.plainFailed('127.0.0.9:9', 20);
    assert.deepEqual(pool.take(1, 2_019), [], 'a failure: it backs off');
    assert.equal(pool.take(1, 2_020)[0]?.plainRetry, false, 'encrypted again');
    pool.encryptionFailed('127.0.0.9:9', 2_030);
    assert.equal(pool.take(1, 2_030)[0]?.plainRetry, true, 'and plain again at once');
    pool.plainFailed('127.0.0.9:9', 2_040);
    assert.deepEqual(pool.take(1, 6_039), [], 'the second round backs off twice as long');
    assert.equal(pool.take(1, 6_040)[0]?.plainRetry, false);
    // Rounds count as failures: a learnt address that refuses both is dropped in the end.
    for (let round = 0; round < 4; round++) {
      pool.encryptionFailed('127.0.0.9:9', 1_000_000 * (round + 1));
      pool.take(1, 1_000_000 * (round + 1));
      pool.plainFailed('127.0.0.9:9', 1_000_000 * (round + 1));
      pool.take(1, 1_000_000 * (round + 2) - 1);
    }
    assert.equal(pool.size, 0, 'dropped after maxFailures rounds');
  });
  it('a transport failure switches the transport: at once the first time, with backoff after; a connection resets it', () => {
    const pool = new PeerPool();
    pool.add([{ host: '127.0.0.9', port: 8 }], 'tracker', 0);
    assert.equal(pool.take(1, 0)[0]?.transport, undefined);
    pool.transportFailed('127.0.0.9:8', 'utp', 10);
    assert.equal(pool.take(1, 10)[0]?.transport, 'utp', 'the other transport at once');
    pool.transportFailed('127.0.0.9:8', 'tcp', 20);
    assert.deepEqual(pool.take(1, 21), [], 'the second failure backs off');
    assert.equal(pool.take(1, 2_020)[0]?.transport, 'tcp');
    pool.connected('127.0.0.9:8', 'tcp');
    pool.disconnected('127.0.0.9:8', false, 30);
    assert.equal(pool.take(1, 5_000)[0]?.transport, 'tcp', 'what worked stays');
    pool.transportFailed('127.0.0.9:8', 'utp', 5_010);
    assert.equal(pool.take(1, 5_010)[0]?.transport, 'utp', 'a connection re-armed the immediate switch');
  });
});
