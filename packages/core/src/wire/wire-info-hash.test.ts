import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { TorkError, TorkErrorCode } from '../errors.js';
import { encodeHandshake, parseHandshake } from './handshake.js';
import { InfoHashRouter, matchWireInfoHash, speaksV2, wireInfoHash } from './wire-info-hash.js';

const sha1 = (text: string) => new Uint8Array(createHash('sha1').update(text).digest());
const sha256 = (text: string) => new Uint8Array(createHash('sha256').update(text).digest());

describe('v2 info-hashes on the wire (BEP 52)', () => {
  const v1 = sha1('hybrid info');
  const v2 = sha256('hybrid info');

  it('truncates a v2 info-hash to its first 20 bytes, keeps a v1 one, copies both', () => {
    const wire = wireInfoHash(v2);
    assert.equal(wire.length, 20);
    assert.deepEqual(wire, v2.subarray(0, 20));
    assert.notEqual(wire.buffer, v2.buffer);
    assert.deepEqual(wireInfoHash(v1), v1);
    assert.throws(
      () => wireInfoHash(new Uint8Array(31)),
      (e) => e instanceof TorkError && e.code === TorkErrorCode.INTERNAL,
    );
    // It goes into a handshake as is.
    const handshake = parseHandshake(
      encodeHandshake({ infoHash: wire, peerId: new Uint8Array(20), v2: true }),
    );
    assert.deepEqual(handshake.infoHash, v2.subarray(0, 20));
    assert.equal(handshake.v2, true);
  });

  it('tells which half of a hybrid an incoming hash names', () => {
    assert.equal(matchWireInfoHash(v2.subarray(0, 20), { v1, v2 }), 2);
    assert.equal(matchWireInfoHash(v1, { v1, v2 }), 1);
    assert.equal(matchWireInfoHash(v1, { v2 }), undefined);
    assert.equal(matchWireInfoHash(sha1('other'), { v1, v2 }), undefined);
    assert.equal(matchWireInfoHash(v2, { v1, v2 }), undefined, 'a 32-byte hash is never on the wire');
  });

  it('speaks v2 on the v2 hash, or on the v1 hash of a hybrid with the v2 bit', () => {
    assert.equal(speaksV2(2, false, { v1, v2 }), true);
    assert.equal(speaksV2(1, true, { v1, v2 }), true);
    assert.equal(speaksV2(1, false, { v1, v2 }), false);
    assert.equal(speaksV2(1, true, { v1 }), false);
  });

  it('routes both hashes of a hybrid to one torrent, and each of v1-only and v2-only ones', () => {
    const router = new InfoHashRouter<string>();
    const v2only = sha256('v2 only');
    const v1only = sha1('v1 only');
    router.add('hybrid', { v1, v2 });
    router.add('v2', { v2: v2only });
    router.add('v1', { v1: v1only });
    assert.equal(router.size, 3);
    assert.deepEqual(router.lookup(v1), { key: 'hybrid', version: 1 });
    assert.deepEqual(router.lookup(wireInfoHash(v2)), { key: 'hybrid', version: 2 });
    assert.deepEqual(router.lookup(wireInfoHash(v2only)), { key: 'v2', version: 2 });
    assert.deepEqual(router.lookup(v1only), { key: 'v1', version: 1 });
    assert.equal(router.lookup(v2only), undefined);
    assert.equal(router.lookup(sha1('unknown')), undefined);

    const usage = (e: unknown) => e instanceof TorkError && e.code === TorkErrorCode.USAGE;
    assert.throws(() => router.add('hybrid', { v1: sha1('x') }), usage);
    assert.throws(() => router.add('clash', { v2 }), usage, 'its truncated hash already leads to the hybrid');
    assert.throws(() => router.add('nothing', {}), usage);
    assert.equal(router.lookup(sha1('x')), undefined, 'a refused add routes nothing');

    assert.equal(router.remove('hybrid'), true);
    assert.equal(router.remove('hybrid'), false);
    assert.equal(router.lookup(v1), undefined);
    assert.equal(router.lookup(wireInfoHash(v2)), undefined);
    router.add('clash', { v2 });
    assert.deepEqual(router.lookup(wireInfoHash(v2)), { key: 'clash', version: 2 });
  });
});
