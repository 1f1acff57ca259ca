import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { parseMagnet } from './magnet.js';
import { magnetInfoHashes, metadataMatches } from './metadata-hashes.js';

const info = new TextEncoder().encode('d4:name1:ae');
const v1 = createHash('sha1').update(info).digest();
const v2 = createHash('sha256').update(info).digest();

describe('metadata hashes of a magnet (BEP 9 + BEP 52)', () => {
  it('a v2-only link checks SHA-256 alone; its truncated hash is not taken for a SHA-1', () => {
    const magnet = parseMagnet(`magnet:?xt=urn:btmh:1220${v2.toString('hex')}`);
    const hashes = magnetInfoHashes(magnet);
    assert.equal(hashes.v1, undefined);
    assert.ok(Buffer.from(hashes.v2!).equals(v2));
    assert.equal(metadataMatches(info, hashes), true);
    assert.equal(metadataMatches(new TextEncoder().encode('d4:name1:be'), hashes), false);
  });

  it('a hybrid link checks both: a dictionary matching only one is refused', () => {
    const magnet = parseMagnet(
      `magnet:?xt=urn:btih:${v1.toString('hex')}&xt=urn:btmh:1220${v2.toString('hex')}`,
    );
    const hashes = magnetInfoHashes(magnet);
    assert.equal(metadataMatches(info, hashes), true);
    assert.equal(metadataMatches(info, { v1: hashes.v1!, v2: new Uint8Array(32) }), false);
    assert.equal(metadataMatches(info, { v1: new Uint8Array(20), v2: hashes.v2! }), false);
    assert.equal(metadataMatches(info, {}), false);
  });

  it('a v1 link checks SHA-1', () => {
    const hashes = magnetInfoHashes(parseMagnet(`magnet:?xt=urn:btih:${v1.toString('hex')}`));
    assert.deepEqual(Object.keys(hashes), ['v1']);
    assert.equal(metadataMatches(info, hashes), true);
  });
});
