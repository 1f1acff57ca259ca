/** The guard's bookkeeping: answers only for our queries, once; bounded memory; our answers trimmed. */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { DHT_MAX_PENDING_QUERIES, decodeBencode, encodeBencode, MAX_VALUES_IN_OUR_REPLY } from '@tork/core';
import { KrpcGuard } from './krpc-guard.js';
import { OwnAddress } from './own-address.js';

const node = { address: '10.0.0.5', port: 4000 };
const query = (t: string) => encodeBencode({ t, y: 'q', q: 'ping', a: { id: randomBytes(20) } });
const pong = (t: string) => encodeBencode({ t, y: 'r', r: { id: randomBytes(20) } });

describe('KrpcGuard', () => {
  it('accepts an answer only from where our query went, with its transaction id, once', () => {
    let now = 0;
    const guard = new KrpcGuard({ self: new OwnAddress('127.0.0.1', 6881, 6881), now: () => now });
    assert.equal(guard.incoming(pong('ab'), node), undefined, 'nothing asked yet');
    guard.outgoing(query('ab'), node);
    assert.equal(guard.incoming(pong('ab'), { ...node, port: 4001 }), undefined, 'another port');
    assert.equal(guard.incoming(pong('zz'), node), undefined, 'another transaction');
    assert.ok(guard.incoming(pong('ab'), node), 'the answer');
    assert.equal(guard.incoming(pong('ab'), node), undefined, 'a second copy');
    guard.outgoing(query('cd'), node);
    now += 60_000;
    assert.equal(guard.incoming(pong('cd'), node), undefined, 'too late');
    assert.equal(guard.counters.unsolicited, 5);
    assert.equal(guard.counters.responses, 1);
  });

  it('remembers at most DHT_MAX_PENDING_QUERIES queries', () => {
    const guard = new KrpcGuard({ self: new OwnAddress('127.0.0.1', 6881, 6881), now: () => 0 });
    for (let i = 0; i < DHT_MAX_PENDING_QUERIES * 3; i++)
      guard.outgoing(query(`t${i}`), { ...node, port: 1 + i });
    assert.equal(guard.pendingQueries, DHT_MAX_PENDING_QUERIES);
  });

  it('rate-limits queries per source IP, not answers', () => {
    const guard = new KrpcGuard({
      self: new OwnAddress('127.0.0.1', 6881, 6881),
      queriesPerSecondPerIp: 1,
      queryBurstPerIp: 5,
      now: () => 0,
    });
    let passed = 0;
    for (let i = 0; i < 100; i++) if (guard.incoming(query(`q${i}`), node)) passed++;
    assert.equal(passed, 5);
    assert.ok(guard.incoming(query('x'), { ...node, address: '10.0.0.6' }), 'another IP still gets through');
    guard.outgoing(query('me'), node);
    assert.ok(guard.incoming(pong('me'), node), 'an answer from the flooding IP is not rate-limited');
    assert.equal(guard.counters.rateLimited, 95);
  });

  it(`puts at most MAX_VALUES_IN_OUR_REPLY (${MAX_VALUES_IN_OUR_REPLY}) peers in our get_peers answers`, () => {
    const guard = new KrpcGuard({ self: new OwnAddress('127.0.0.1', 6881, 6881) });
    const values = Array.from({ length: 300 }, () => randomBytes(6));
    const out = guard.outgoing(encodeBencode({ t: 'aa', y: 'r', r: { id: randomBytes(20), values } }), node);
    const r = (decodeBencode(out) as { r: { values: Uint8Array[] } }).r;
    assert.equal(r.values.length, MAX_VALUES_IN_OUR_REPLY);
  });
});
