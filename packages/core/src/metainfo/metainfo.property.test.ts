import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildTorrent, encodeBencodeOrdered, type FixtureValue } from '@tork/testkit';
import fc from 'fast-check';
import { TorkError } from '../errors.js';
import { parseMetainfo } from './metainfo.js';

/** Cases per property: 10,000 in CI; a nightly run sets TORK_FUZZ_RUNS=200000. */
const RUNS = Number(process.env.TORK_FUZZ_RUNS ?? 10_000);

/** Parsing may succeed or throw a TorkError with a code; anything else is a bug. */
function parsesOrTorkError(bytes: Uint8Array): void {
  try {
    parseMetainfo(bytes);
  } catch (error) {
    assert.ok(error instanceof TorkError, `not a TorkError: ${String(error)}`);
    assert.match(error.code, /^TORK_ERR_/);
  }
}

const valid = buildTorrent({
  name: 'prop',
  pieceLength: 64,
  files: [
    { path: ['a', 'b.txt'], length: 100 },
    { path: ['.pad', '28'], length: 28, pad: true },
    { path: ['c'], length: 0 },
    { path: ['d'], length: 70 },
  ],
  announceList: [['udp://a:1'], ['http://b/']],
  urlList: ['http://seed/'],
}).bytes;

describe('parseMetainfo on hostile input (property)', () => {
  it('random bytes', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), parsesOrTorkError), { numRuns: RUNS });
  });

  it('random byte mutations of a valid torrent', () => {
    const mutation = fc.array(fc.tuple(fc.nat({ max: valid.length - 1 }), fc.integer({ min: 0, max: 255 })), {
      minLength: 1,
      maxLength: 4,
    });
    fc.assert(
      fc.property(mutation, (changes) => {
        const bytes = new Uint8Array(valid);
        for (const [at, value] of changes) bytes[at] = value;
        parsesOrTorkError(bytes);
      }),
      { numRuns: RUNS },
    );
  });

  it('truncations, splices and insertions of a valid torrent', () => {
    fc.assert(
      fc.property(
        fc.nat({ max: valid.length }),
        fc.nat({ max: valid.length }),
        fc.uint8Array({ maxLength: 8 }),
        (cut, resume, insert) => {
          parsesOrTorkError(valid.subarray(0, cut));
          parsesOrTorkError(
            Buffer.concat([valid.subarray(0, cut), insert, valid.subarray(Math.max(cut, resume))]),
          );
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('well-formed bencode with metainfo keys and values of every type', () => {
    const key = fc.constantFrom(
      'name',
      'name.utf-8',
      'piece length',
      'pieces',
      'length',
      'files',
      'path',
      'path.utf-8',
      'attr',
      'private',
      'meta version',
      'file tree',
      'announce',
      'announce-list',
      'url-list',
      'comment',
      'creation date',
      'info',
      '__proto__x',
      'constructor',
      'toString',
    );
    const leaf: fc.Arbitrary<FixtureValue> = fc.oneof(
      fc.integer({ min: -3, max: 300 }),
      fc.constantFrom(2 ** 53 - 1, -(2 ** 53 - 1), 0, 1, 2),
      fc.constantFrom('..', '.', '', '/etc', 'a\\b', 'C:', 'ok', 'udp://t:1', 'p', 'x'.repeat(256)),
      fc.uint8Array({ maxLength: 41 }),
      fc.constantFrom(new Uint8Array(20), new Uint8Array(40), new Uint8Array([0xff, 0xfe])),
    );
    const value = fc.letrec<{ value: FixtureValue }>((tie) => ({
      value: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        leaf,
        fc.array(tie('value'), { maxLength: 4 }),
        fc.dictionary(key, tie('value'), { maxKeys: 6 }),
      ),
    })).value;
    const info = fc.dictionary(key, value, { maxKeys: 8 });
    const root = fc.record(
      { info, announce: value, 'announce-list': value, 'url-list': value },
      { requiredKeys: ['info'] },
    );
    fc.assert(
      fc.property(root, (torrent) => parsesOrTorkError(encodeBencodeOrdered(torrent as FixtureValue))),
      { numRuns: RUNS },
    );
  });

  it('a valid torrent with one info field replaced by a value of any type', () => {
    const field = fc.constantFrom(
      'name',
      'piece length',
      'pieces',
      'files',
      'private',
      'length',
      'name.utf-8',
    );
    const value: fc.Arbitrary<FixtureValue> = fc.oneof(
      fc.integer(),
      fc.string(),
      fc.uint8Array({ maxLength: 60 }),
      fc.array(
        fc.oneof(
          fc.integer(),
          fc.string(),
          fc.dictionary(fc.constantFrom('length', 'path', 'attr'), fc.string()),
        ),
        {
          maxLength: 3,
        },
      ),
      fc.dictionary(fc.string(), fc.integer(), { maxKeys: 3 }),
    );
    fc.assert(
      fc.property(field, value, (name, replacement) =>
        parsesOrTorkError(
          buildTorrent({
            pieceLength: 64,
            files: [{ path: ['a'], length: 100 }],
            info: { [name]: replacement },
          }).bytes,
        ),
      ),
      { numRuns: RUNS },
    );
  });
});
