import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { Bitfield } from '../bitfield.js';
import { TorkError, TorkErrorCode } from '../errors.js';
import { MAX_RESUME_SNAPSHOT_BYTES } from './limits.js';
import { decodeSnapshot, encodeSnapshot, type ResumeSnapshot } from './snapshot.js';

const HEX = 'c12fe1c06bba254a9dc9f519b335aa7c1367a88a';

function sample(overrides: Partial<ResumeSnapshot> = {}): ResumeSnapshot {
  const verified = new Bitfield(11);
  for (const piece of [0, 3, 10]) verified.set(piece);
  return {
    version: 1,
    infoHashHex: HEX,
    pieceCount: 11,
    pieceLength: 16384,
    verified,
    files: [
      { path: ['tor', 'a.bin'], size: 100_000, mtimeMs: 1_700_000_000_123.457 },
      { path: ['tor', 'b é.bin'], size: 80_224, mtimeMs: 0 },
    ],
    clean: true,
    journalOffset: 12,
    ...overrides,
  };
}

/** Rebuilds a snapshot file with a valid checksum around an arbitrary body. */
function withBody(body: unknown, version = 1): Uint8Array {
  const json =
    body instanceof Uint8Array ? body : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
  const digest = createHash('sha256').update(json).digest('hex');
  return Buffer.concat([Buffer.from(`TORK-RESUME ${version} ${digest}\n`), json]);
}

function bodyOf(bytes: Uint8Array): Record<string, unknown> {
  const text = Buffer.from(bytes).toString('utf8');
  return JSON.parse(text.slice(text.indexOf('\n') + 1));
}

function problem(bytes: Uint8Array, hex = HEX): string {
  const decoded = decodeSnapshot(bytes, hex);
  assert.equal(decoded.ok, false, 'expected the snapshot to be refused');
  return decoded.ok ? '' : decoded.problem;
}

describe('resume snapshot codec', () => {
  it('round-trips every field, fractional mtimes exactly', () => {
    const snapshot = sample();
    const decoded = decodeSnapshot(encodeSnapshot(snapshot), HEX);
    assert.ok(decoded.ok);
    assert.deepEqual([...decoded.snapshot.verified.indices()], [0, 3, 10]);
    assert.deepEqual({ ...decoded.snapshot, verified: null }, { ...snapshot, verified: null });
  });

  it('round-trips an empty torrent state', () => {
    const decoded = decodeSnapshot(
      encodeSnapshot(sample({ pieceCount: 0, verified: new Bitfield(0), files: [], journalOffset: 0 })),
      HEX,
    );
    assert.ok(decoded.ok);
    assert.equal(decoded.snapshot.pieceCount, 0);
  });

  it('refuses a flipped bit, truncation, a foreign file and an empty file', () => {
    const bytes = encodeSnapshot(sample());
    const flipped = Uint8Array.from(bytes);
    flipped[flipped.length - 20]! ^= 0x01;
    assert.match(problem(flipped), /checksum/);
    assert.match(problem(bytes.subarray(0, bytes.length - 1)), /checksum/);
    assert.match(problem(new Uint8Array(0)), /header/);
    assert.match(problem(Buffer.from('d8:announce3:fooe')), /header/);
    assert.match(problem(Buffer.from('GARBAGE 1 x\n{}')), /not a tork resume/);
  });

  it('refuses another info-hash, another version, and oversized input', () => {
    assert.match(problem(encodeSnapshot(sample()), 'ab'.repeat(20)), /info-hash/);
    const body = bodyOf(encodeSnapshot(sample()));
    assert.match(problem(withBody({ ...body, version: 2 }, 2)), /unsupported version 2/);
    assert.match(problem(withBody(body, 0)), /unsupported version 0/);
    assert.match(problem(new Uint8Array(MAX_RESUME_SNAPSHOT_BYTES + 1)), /cap/);
  });

  it('validates every field strictly, even with a valid checksum', () => {
    const body = bodyOf(encodeSnapshot(sample()));
    const cases: Array<[unknown, RegExp]> = [
      ['not json', /not JSON/],
      [[], /not an object/],
      [{ ...body, extra: 1 }, /keys/],
      [{ ...body, version: undefined }, /keys/],
      [{ ...body, infoHash: HEX.toUpperCase() }, /infoHash/],
      [{ ...body, pieceCount: -1 }, /pieceCount/],
      [{ ...body, pieceCount: 2 ** 40 }, /pieceCount/],
      [{ ...body, pieceLength: 0 }, /pieceLength/],
      [{ ...body, pieceLength: 1.5 }, /pieceLength/],
      [{ ...body, clean: 'yes' }, /clean/],
      [{ ...body, journalOffset: 6 }, /journalOffset/],
      [{ ...body, journalOffset: -4 }, /journalOffset/],
      [{ ...body, files: {} }, /files/],
      [{ ...body, files: [{ path: [], size: 1, mtimeMs: 1 }] }, /path/],
      [{ ...body, files: [{ path: ['a', ''], size: 1, mtimeMs: 1 }] }, /component/],
      [{ ...body, files: [{ path: ['a'], size: -1, mtimeMs: 1 }] }, /size/],
      [{ ...body, files: [{ path: ['a'], size: 1, mtimeMs: null }] }, /mtimeMs/],
      [{ ...body, files: [{ path: ['a'], size: 1 }] }, /files\[0\]/],
      [{ ...body, verified: 'AAAA' }, /bitfield/],
      [{ ...body, verified: 'kQ=!' }, /base64/],
      [{ ...body, verified: 'kAE=' }, /spare bits/],
    ];
    for (const [value, pattern] of cases) {
      assert.match(problem(withBody(value)), pattern, JSON.stringify(value).slice(0, 80));
    }
    const invalidUtf8 = Buffer.concat([
      Buffer.from(JSON.stringify(body).slice(0, -1)),
      Buffer.from(',"x":"'),
      Buffer.from([0xff]),
      Buffer.from('"}'),
    ]);
    assert.match(problem(withBody(invalidUtf8)), /not JSON/);
  });

  it('refuses to encode what it would not load', () => {
    const bad = [
      sample({ journalOffset: 3 }),
      sample({ pieceLength: 0 }),
      sample({ files: [{ path: [], size: 1, mtimeMs: 1 }] }),
      sample({ pieceCount: 12 }),
    ];
    for (const snapshot of bad) {
      assert.throws(
        () => encodeSnapshot(snapshot),
        (error: unknown) => error instanceof TorkError && error.code === TorkErrorCode.USAGE,
      );
    }
  });
});
