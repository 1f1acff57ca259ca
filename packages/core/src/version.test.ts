import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { peerIdVersionDigits, TORK_CLIENT_NAME, TORK_VERSION } from './version.js';
import { TORK_PEER_ID_PREFIX } from './wire/peer-id.js';

const packageVersion = (name: string): string =>
  JSON.parse(readFileSync(new URL(`../../${name}/package.json`, import.meta.url), 'utf8')).version;

describe('TORK_VERSION', () => {
  it('is the version of every published package', () => {
    for (const name of ['core', 'workers', 'cli']) assert.equal(packageVersion(name), TORK_VERSION, name);
  });

  it('is what the peer id prefix and the BEP 10 client name say', () => {
    assert.equal(TORK_PEER_ID_PREFIX, `-TK${peerIdVersionDigits()}-`);
    assert.equal(TORK_CLIENT_NAME, `tork ${TORK_VERSION}`);
    assert.equal(peerIdVersionDigits('0.1.0'), '0100');
    assert.equal(peerIdVersionDigits('1.12.3'), '1C30');
  });
});
