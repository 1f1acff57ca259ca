import '../support/hermetic.js';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { buildTorrent, encodeBencodeOrdered } from '@tork/testkit';
import { buildSampleTorrent } from '../support/sample-torrent.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const tork = join(root, 'packages/cli/dist/main.js');
const sample = join(root, 'examples/sample.torrent');

function run(args: string[], cwd = root) {
  const result = spawnSync(process.execPath, [tork, ...args], { cwd, encoding: 'utf8', timeout: 20_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('tork info', () => {
  it('the committed example torrent is what the generator makes', () => {
    assert.deepEqual(new Uint8Array(readFileSync(sample)), buildSampleTorrent().bytes);
  });

  it('prints the name, info-hash, sizes and files', () => {
    const { status, stdout } = run(['info', sample]);
    assert.equal(status, 0);
    const built = buildSampleTorrent();
    assert.match(stdout, /name: +tork-sample/);
    assert.match(stdout, new RegExp(`info-hash: +${built.infoHashHex}`));
    assert.match(stdout, /total size: +207 KiB \(211,754 bytes\)/);
    assert.match(stdout, /pieces: +7/);
    assert.match(stdout, /tier 1: .*udp:\/\/127\.0\.0\.1:6969\/announce/);
    assert.match(stdout, /files \(6\):/);
    assert.match(stdout, /0 B {2}data\/empty\.bin/);
  });

  it('--json prints the documented object', () => {
    const { status, stdout } = run(['info', sample, '--json']);
    assert.equal(status, 0);
    const info = JSON.parse(stdout);
    const built = buildSampleTorrent();
    assert.equal(info.infoHash, built.infoHashHex);
    assert.equal(info.name, 'tork-sample');
    assert.equal(info.length, 211_754);
    assert.equal(info.pieceLength, 32_768);
    assert.equal(info.pieceCount, 7);
    assert.equal(info.private, false);
    assert.deepEqual(info.announce, info.announceTiers.flat());
    assert.equal(info.announce.length, 2);
    assert.deepEqual(
      info.files.map((file: { path: string }) => file.path),
      [
        'README.txt',
        'data/alpha.bin',
        'data/beta.bin',
        'data/empty.bin',
        'data/tiny.bin',
        'docs/notes/gamma.txt',
      ],
    );
    assert.equal(
      info.files.reduce((sum: number, file: { length: number }) => sum + file.length, 0),
      211_754,
    );
  });

  it('a hostile or broken torrent exits 2 with one clear line and writes nothing', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tork-info-'));
    try {
      const good = buildTorrent({ files: [{ path: ['a'], length: 10 }] });
      const cases: Array<[string, Uint8Array, RegExp]> = [
        [
          'same path, other length',
          buildTorrent({
            files: [
              { path: ['a'], length: 10 },
              { path: ['a'], length: 11 },
            ],
          }).bytes,
          /also the path of file 0.*TORK_ERR_UNSAFE_PATH/,
        ],
        ['truncated', good.bytes.subarray(0, good.bytes.length - 5), /TORK_ERR_BENCODE/],
        ['garbage', new TextEncoder().encode('<html>not a torrent</html>'), /TORK_ERR_BENCODE/],
        ['trailing', new Uint8Array([...good.bytes, ...new Uint8Array(64 * 1024 + 1)]), /trailing/],
        ['nested', new TextEncoder().encode(`${'l'.repeat(100_000)}${'e'.repeat(100_000)}`), /nesting/],
        [
          'negative',
          encodeBencodeOrdered({
            info: { name: 'x', 'piece length': 16384, pieces: new Uint8Array(20), length: -5 },
          }),
          /TORK_ERR_METAINFO/,
        ],
      ];
      for (const [name, bytes, pattern] of cases) {
        const file = join(dir, `${name}.torrent`);
        writeFileSync(file, bytes);
        const { status, stdout, stderr } = run(['info', file], dir);
        assert.equal(status, 2, `${name}: exit status`);
        assert.equal(stdout, '', `${name}: nothing on stdout`);
        const lines = stderr.trimEnd().split('\n');
        assert.equal(lines.length, 1, `${name}: one line, got ${JSON.stringify(stderr)}`);
        assert.match(lines[0]!, /^tork info: .*\[TORK_ERR_[A-Z_]+\]$/);
        assert.match(lines[0]!, pattern, name);
      }
      assert.deepEqual(
        readdirSync(dir).sort(),
        cases.map(([name]) => `${name}.torrent`).sort(),
        'nothing else written',
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('sanitises hostile names and trailing bytes instead of refusing, and lists the warnings', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tork-info-'));
    try {
      const built = buildTorrent({
        name: '/etc',
        files: [
          { path: ['x'], length: 10 },
          { path: ['y'], length: 20 },
        ],
        info: {
          files: [
            { length: 10, path: ['..', '..', 'etc', 'passwd'] },
            { length: 20, path: ['etc', 'passwd'] },
          ],
        },
      });
      const file = join(dir, 'hostile.torrent');
      writeFileSync(file, new Uint8Array([...built.bytes, 0x0a]));
      const json = run(['info', file, '--json'], dir);
      assert.equal(json.status, 0, json.stderr);
      assert.equal(json.stderr, '');
      const info = JSON.parse(json.stdout);
      assert.equal(info.name, 'etc');
      assert.deepEqual(
        info.files.map((entry: { path: string }) => entry.path),
        ['etc/passwd', 'etc/passwd.1'],
      );
      assert.deepEqual(
        info.warnings.map((warning: { kind: string; fileIndex?: number }) => [
          warning.kind,
          warning.fileIndex,
        ]),
        [
          ['trailing-data', undefined],
          ['path-sanitized', undefined],
          ['path-sanitized', 0],
          ['path-renamed', 1],
        ],
      );
      const text = run(['info', file], dir);
      assert.equal(text.status, 0, text.stderr);
      assert.match(text.stdout, /warnings \(4\):\n {2}1 byte after the end of the torrent ignored\n/);
      assert.match(text.stdout, /file 0: path "\.\.\/\.\.\/etc\/passwd" is used as "etc\/passwd"/);
      assert.deepEqual(readdirSync(dir), ['hostile.torrent'], 'nothing else written');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('usage errors exit 2', () => {
    assert.equal(run(['info']).status, 2);
    assert.equal(run(['info', sample, '--bogus']).status, 2);
    assert.equal(run(['info', join(root, 'no-such.torrent')]).status, 2);
    assert.equal(run(['frobnicate']).status, 2);
    assert.equal(run(['--help']).status, 0);
  });
});
