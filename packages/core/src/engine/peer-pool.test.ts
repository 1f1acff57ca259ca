import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PeerPool, peerKey } from './peer-pool.js';

describe('PeerPool', () => {
  it('hands out each address once until it disconnects, then backs off exponentially', () => {
    const pool = new PeerPool({ baseBackoffMs: 1_000, maxBackoffMs: 8_000 });
    assert.equal(pool.add([{ host: '127.0.0.1', port: 1 }], 'tracker', 0), 1);
    assert.equal(pool.add([{ host: '127.0.0.1', port: 1 }], 'tracker', 0), 0);
    const key = peerKey('127.0.0.1', 1);
    assert.deepEqual(pool.take(5, 0), [{ host: '127.0.0.1', port: 1, source: 'tracker', plainRetry: false }]);
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

  it('drops tracker addresses after repeated failures but keeps manual ones', () => {
    const pool = new PeerPool({ maxFailures: 2, baseBackoffMs: 1 });
    pool.add([{ host: 'a', port: 1 }], 'tracker', 0);
    pool.add([{ host: 'b', port: 1 }], 'manual', 0);
    for (let i = 0; i < 3; i++) {
      for (const address of pool.take(10, 1e9))
        pool.disconnected(peerKey(address.host, address.port), true, 0);
    }
    assert.equal(pool.size, 1);
    assert.deepEqual(pool.take(10, 1e9), [{ host: 'b', port: 1, source: 'manual', plainRetry: false }]);
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
      { host: '127.0.0.4', port: 6881, source: 'incoming', plainRetry: false },
    ]);
  });
  it('an encrypted dial that failed at its handshake is dialled again at once, plain, with no failure counted', () => {
    const pool = new PeerPool();
    pool.add([{ host: '127.0.0.9', port: 7 }], 'tracker', 0);
    assert.deepEqual(pool.take(1, 0), [{ host: '127.0.0.9', port: 7, source: 'tracker', plainRetry: false }]);
    pool.encryptionFailed('127.0.0.9:7', 10);
    assert.deepEqual(pool.take(1, 10), [{ host: '127.0.0.9', port: 7, source: 'tracker', plainRetry: true }]);
    // A plain failure afterwards backs off from the base delay: the MSE attempt was not a failure.
    pool.disconnected('127.0.0.9:7', true, 20);
    assert.deepEqual(pool.take(1, 2_019), []);
    assert.equal(pool.take(1, 2_020)[0]?.plainRetry, true, 'and stays plain');
  });
});
