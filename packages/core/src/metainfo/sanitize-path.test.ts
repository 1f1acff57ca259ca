import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { MAX_PATH_COMPONENT_BYTES } from './limits.js';
import { resolveInside, unsafeComponentReason } from './safe-path.js';
import {
  renameDuplicates,
  SANITIZED_COMPONENT_BYTES,
  sanitizeComponent,
  sanitizePath,
} from './sanitize-path.js';

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

describe('sanitizeComponent', () => {
  it('follows libtorrent on the corpus forms', () => {
    const cases: Array<[string | Uint8Array, string | undefined]> = [
      ['plain.txt', 'plain.txt'],
      ['', '_'],
      ['.', undefined],
      ['..', undefined],
      ['/', undefined],
      ['\\', undefined],
      ['/foobar', 'foobar'],
      ['foo/../../../bar', 'foo......bar'],
      ['\\est2', 'est2'],
      ['...', '...'],
      ['foobar ', 'foobar '],
      [new Uint8Array([0x66, 0xc3]), 'f_'], // a truncated two-byte sequence
      [new Uint8Array([0xed, 0xa0, 0x80]), '___'], // an encoded surrogate is not UTF-8
      ['tab\there', 'tab_here'],
      ['del\u007f', 'del_'],
      ['\u200fx\u202e', 'x'],
    ];
    for (const [input, expected] of cases) {
      assert.equal(
        sanitizeComponent(typeof input === 'string' ? bytes(input) : input),
        expected,
        String(input),
      );
    }
  });

  it('cuts a long component at a character boundary, keeping a short extension only', () => {
    // Every expectation here is what python3-libtorrent 2.0.8 gives for the same name.
    const withExt = sanitizeComponent(bytes(`${'ab'.repeat(150)}.23456789`))!;
    assert.equal(withExt, `${'ab'.repeat(120)}.23456789`);
    const longExt = sanitizeComponent(bytes(`${'a'.repeat(250)}.${'e'.repeat(20)}`))!;
    assert.equal(longExt, 'a'.repeat(SANITIZED_COMPONENT_BYTES));
    assert.equal(
      sanitizeComponent(bytes(`${'x'.repeat(300)}.abcdefghi`)),
      'x'.repeat(SANITIZED_COMPONENT_BYTES),
    );
    const wide = sanitizeComponent(bytes('😀'.repeat(70)))!; // 280 bytes
    assert.equal(wide, '😀'.repeat(60));
    assert.equal(sanitizeComponent(bytes('x'.repeat(MAX_PATH_COMPONENT_BYTES))), 'x'.repeat(240));
    assert.equal(sanitizeComponent(bytes('x'.repeat(241))), 'x'.repeat(240));
    assert.equal(sanitizeComponent(bytes('x'.repeat(240))), 'x'.repeat(240));
    assert.equal(sanitizeComponent(bytes(`${'x'.repeat(250)}.txt`)), `${'x'.repeat(240)}.txt`);
    assert.equal(sanitizeComponent(bytes(`${'x'.repeat(237)}.txt`)), `${'x'.repeat(237)}.tx`);
    assert.equal(sanitizeComponent(bytes(`${'x'.repeat(238)}.ayyyyy.txt`)), `${'x'.repeat(238)}.a.txt`);
    // The character that reaches 240 bytes is copied whole: 241 bytes.
    assert.equal(sanitizeComponent(bytes(`x${'é'.repeat(150)}`)), `x${'é'.repeat(120)}`);
  });

  it('always yields a plain name or nothing, for any bytes (property)', () => {
    const alphabet = fc.constantFrom(
      0x2e,
      0x2f,
      0x5c,
      0x00,
      0x3a,
      0x43,
      0x61,
      0xc3,
      0xa9,
      0xe2,
      0x80,
      0xae,
      0xff,
    );
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.uint8Array({ maxLength: 300 }), fc.array(alphabet, { maxLength: 300 })), {
          maxLength: 6,
        }),
        (raw) => {
          const components = raw.map((c) => (c instanceof Uint8Array ? c : new Uint8Array(c)));
          const out = sanitizePath(components);
          assert.ok(out.length >= 1 && out.length <= Math.max(1, components.length));
          for (const part of out) assert.equal(unsafeComponentReason(part), undefined, JSON.stringify(part));
          const root = path.resolve('/tmp/tork-root');
          const full = resolveInside(root, ['name', ...out]);
          assert.ok(full.startsWith(`${root}${path.sep}name${path.sep}`), full);
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('sanitizePath', () => {
  it('drops . and .. components and uses _ when nothing is left', () => {
    assert.deepEqual(sanitizePath(['..', '..', 'bar'].map(bytes)), ['bar']);
    assert.deepEqual(sanitizePath(['/', '/', 'bar'].map(bytes)), ['bar']);
    assert.deepEqual(sanitizePath(['', ''].map(bytes)), ['_', '_']);
    assert.deepEqual(sanitizePath(['.', '.'].map(bytes)), ['_']);
    assert.deepEqual(sanitizePath([]), ['_']);
  });
});

describe('renameDuplicates', () => {
  it('renames base.N.ext in order, lets directories win, and skips pad entries', () => {
    const { paths, renamed } = renameDuplicates([
      { path: ['foo', 'bar.txt'] },
      { path: ['foo', 'bar.txt'] },
      { path: ['foo', 'bar.1.txt'] },
      { path: ['.pad', '16'], skip: true },
      { path: ['.pad', '16'], skip: true },
      { path: ['d'] },
      { path: ['d', 'e'] },
      { path: ['.hidden'] },
      { path: ['.hidden'] },
    ]);
    assert.deepEqual(
      paths.map((p) => p.join('/')),
      [
        'foo/bar.txt',
        'foo/bar.1.txt',
        'foo/bar.1.1.txt',
        '.pad/16',
        '.pad/16',
        'd.1',
        'd/e',
        '.hidden',
        '.hidden.1',
      ],
    );
    assert.deepEqual(renamed, [1, 2, 5, 8]);
  });

  it('gives many copies of one name distinct names (the per-name counter resumes its search)', () => {
    const files = Array.from({ length: 20_000 }, () => ({ path: ['same.bin'] }));
    const { paths } = renameDuplicates(files);
    assert.equal(paths.at(-1)!.join('/'), 'same.19999.bin');
    assert.equal(new Set(paths.map((p) => p.join('/'))).size, files.length);
  });

  it('keeps a renamed component within NAME_MAX', () => {
    const long = 'z'.repeat(MAX_PATH_COMPONENT_BYTES);
    const { paths } = renameDuplicates([{ path: [long] }, { path: [long] }]);
    assert.equal(Buffer.byteLength(paths[1]![0]!), MAX_PATH_COMPONENT_BYTES);
    assert.ok(paths[1]![0]!.endsWith('.1'));
  });
});
