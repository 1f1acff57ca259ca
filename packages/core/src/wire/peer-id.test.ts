import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TorkError, TorkErrorCode } from '../errors.js';
import { describePeerId, generatePeerId, PEER_ID_LENGTH, TORK_PEER_ID_PREFIX } from './peer-id.js';

const ascii = (text: string) => Uint8Array.from(text, (char) => char.charCodeAt(0));
/** A 20-byte id: `prefix`, then filler. */
const id = (prefix: string) => ascii(prefix.padEnd(20, 'x').slice(0, 20));

describe('generatePeerId', () => {
  it('is tork’s prefix then 12 random alphanumerics', () => {
    const first = generatePeerId();
    assert.equal(first.length, PEER_ID_LENGTH);
    const text = new TextDecoder().decode(first);
    assert.match(text, /^-TK0100-[0-9A-Za-z]{12}$/);
    assert.equal(text.slice(0, 8), TORK_PEER_ID_PREFIX);
    assert.notDeepEqual(generatePeerId(), first);
  });

  it('is deterministic with a given random source, and skips biased bytes', () => {
    let next = 240;
    const random = (bytes: Uint8Array) => {
      for (let i = 0; i < bytes.length; i++) bytes[i] = next++ & 0xff;
    };
    const text = new TextDecoder().decode(generatePeerId({ random, prefix: '-XX1234-' }));
    // 240..247 map to 240 % 62 = 54 → 's'…'z'; 248..255 are redrawn (skipped); 0.. map to '0'….
    assert.equal(text, '-XX1234-stuvwxyz0123');
  });

  it('refuses a prefix that is too long or not printable', () => {
    const usage = (error: unknown) => error instanceof TorkError && error.code === TorkErrorCode.USAGE;
    assert.throws(() => generatePeerId({ prefix: 'x'.repeat(21) }), usage);
    assert.throws(() => generatePeerId({ prefix: '-TK\n001-' }), usage);
    assert.equal(new TextDecoder().decode(generatePeerId({ prefix: 'x'.repeat(20) })), 'x'.repeat(20));
  });
});

describe('describePeerId', () => {
  const cases: [string, string][] = [
    ['-TK0001-', 'tork 0.0.0.1'],
    ['-TK0100-', 'tork 0.1'],
    ['-lt0D80-', 'libTorrent (rTorrent) 0.13.8'],
    ['-LT2090-', 'libtorrent (Rasterbar) 2.0.9'],
    ['-TR3000-', 'Transmission 3.00'],
    ['-TR294Z-', 'Transmission 2.94+'],
    ['-TR4050-', 'Transmission 4.0.5'],
    ['-TR400B-', 'Transmission 4.0.0 (beta)'],
    ['-qB4620-', 'qBittorrent 4.6.2'],
    ['-UT355W-', 'µTorrent 3.5.5'],
    ['-UT360B-', 'µTorrent 3.6.0 (beta)'],
    ['-DE13F0-', 'Deluge 1.3.15'],
    ['-WW0109-', 'WebTorrent 1.9'],
    ['-aria2-', 'aria2'],
    ['A2-1-36-0-', 'aria2 1.36.0'],
    ['M4-3-6--', 'BitTorrent 4.3.6'],
    ['-AZ5750-', 'Vuze 5.7.5'],
    ['S58B-----', 'Shadow 5.8.11'],
    ['T03I-----', 'BitTornado 0.3.18'],
  ];
  for (const [prefix, expected] of cases) {
    it(`names ${prefix} as ${expected}`, () => assert.equal(describePeerId(id(prefix)), expected));
  }

  it('shows unknown ids as escaped text or hex', () => {
    assert.equal(describePeerId(id('-ZZ1234-')), 'unknown "-ZZ1234-xxxxxxxxxxxx"');
    const mixed = id('-ZZ1234-');
    mixed[19] = 0x00;
    mixed[18] = 0x22;
    assert.equal(describePeerId(mixed), 'unknown "-ZZ1234-xxxxxxxxxx\\x22\\x00"');
    const binary = Uint8Array.from({ length: 20 }, (_, i) => 0x80 + i);
    assert.equal(describePeerId(binary), `unknown ${Buffer.from(binary).toString('hex')}`);
    assert.equal(describePeerId(new Uint8Array(0)), 'unknown ""');
  });
});
