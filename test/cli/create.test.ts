import '../support/hermetic.js';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseMetainfo } from '@tork/core';
import { fixtureBytes } from '@tork/testkit';
import { requireProgram } from '../support/programs.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const tork = join(root, 'packages/cli/dist/main.js');
const ANNOUNCE = 'udp://127.0.0.1:6969/announce';
const SYSTEM_PYTHON = '/usr/bin/python3';

function run(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) {
  const result = spawnSync(process.execPath, [tork, ...args], {
    cwd: options.cwd ?? root,
    env: options.env ?? process.env,
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/**
 * The system python with libtorrent (the `python3` on PATH may be a pyenv without it). Same rule as
 * requireProgram: skip with the reason, except under CI=true where it fails.
 */
function requireLibtorrent(t: TestContext): string | undefined {
  const probe = spawnSync(SYSTEM_PYTHON, ['-c', 'import libtorrent'], { encoding: 'utf8' });
  if (probe.status === 0) return SYSTEM_PYTHON;
  const reason = `libtorrent for ${SYSTEM_PYTHON} not installed: apt-get install python3-libtorrent`;
  if (process.env.CI === 'true') throw new Error(`${reason} (required when CI=true)`);
  t.skip(reason);
  return undefined;
}

/** libtorrent's v1 info-hash of a .torrent, and whether it reads it as private. */
function libtorrentView(
  python: string,
  file: string,
): { infoHash: string; private: boolean; files: string[] } {
  const script = [
    'import json, sys, libtorrent as lt',
    'ti = lt.torrent_info(sys.argv[1])',
    'h = ti.info_hashes().v1 if hasattr(ti, "info_hashes") else ti.info_hash()',
    'fs = ti.files()',
    'print(json.dumps({"infoHash": str(h), "private": ti.priv(),',
    '  "files": [fs.file_path(i).replace("\\\\", "/") for i in range(fs.num_files())]}))',
  ].join('\n');
  const result = spawnSync(python, ['-c', script, file], { encoding: 'utf8' });
  assert.equal(result.status, 0, `libtorrent failed: ${result.stderr}`);
  return JSON.parse(result.stdout);
}

/** SHA-1 of each piece of the concatenation of `files`, computed here independently of tork. */
function expectedHashes(files: string[], pieceLength: number): Uint8Array {
  const payload = Buffer.concat(files.map((file) => readFileSync(file)));
  const count = Math.ceil(payload.length / pieceLength);
  const out = new Uint8Array(count * 20);
  for (let piece = 0; piece < count; piece++) {
    const slice = payload.subarray(piece * pieceLength, (piece + 1) * pieceLength);
    out.set(createHash('sha1').update(slice).digest(), piece * 20);
  }
  return out;
}

function infoJson(file: string) {
  const result = run(['info', file, '--json']);
  assert.equal(result.status, 0, result.stderr);
  return JSON.parse(result.stdout);
}

describe('tork create', () => {
  let dir: string;
  let tree: string;
  let single: string;
  /** Files of `tree` in the order a torrent must list them (path components, byte order). */
  const treeFiles: Array<[string, number]> = [
    ['README.txt', 1000],
    ['Zebra.bin', 5],
    ['data/a.bin', 40_001],
    ['data/empty.bin', 0],
    ['data/nested/deep/b.bin', 17],
    ['data/nested-file', 33_333],
    ['z', 16_385],
  ];

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'tork-create-'));
    tree = join(dir, 'tree');
    treeFiles.forEach(([path, length], index) => {
      const full = join(tree, path);
      mkdirSync(join(full, '..'), { recursive: true });
      writeFileSync(full, fixtureBytes(length, index + 1));
    });
    single = join(dir, 'single.bin');
    writeFileSync(single, fixtureBytes(50_000, 99));
  });

  after(() => rmSync(dir, { recursive: true, force: true }));

  it('makes a multi-file torrent that tork, libtorrent and aria2c agree on', (t) => {
    const out = join(dir, 'tree.torrent');
    const created = run([
      'create',
      tree,
      '--announce',
      ANNOUNCE,
      '--announce',
      'http://127.0.0.1:8080/announce,http://127.0.0.1:8081/announce',
      '--piece-size',
      '16KiB',
      '--workers',
      '2',
      '--comment',
      'made by a test',
      '-o',
      out,
      '--json',
    ]);
    assert.equal(created.status, 0, created.stderr);
    assert.equal(created.stderr, '');
    const summary = JSON.parse(created.stdout);
    const total = treeFiles.reduce((sum, [, length]) => sum + length, 0);
    assert.equal(summary.name, 'tree');
    assert.equal(summary.pieceLength, 16 * 1024);
    assert.equal(summary.pieceCount, Math.ceil(total / (16 * 1024)));
    assert.equal(summary.fileCount, treeFiles.length);
    assert.equal(summary.length, total);
    assert.equal(summary.private, false);

    const info = infoJson(out);
    assert.equal(info.infoHash, summary.infoHash);
    assert.deepEqual(
      info.files.map((file: { path: string; length: number }) => [file.path, file.length]),
      treeFiles,
    );
    assert.deepEqual(info.announceTiers, [
      [ANNOUNCE],
      ['http://127.0.0.1:8080/announce', 'http://127.0.0.1:8081/announce'],
    ]);
    const meta = parseMetainfo(readFileSync(out));
    assert.equal(meta.comment, 'made by a test');
    assert.equal(meta.createdBy, 'tork');
    assert.equal(meta.creationDate, undefined);
    assert.deepEqual(
      meta.pieceHashes,
      expectedHashes(
        treeFiles.map(([path]) => join(tree, path)),
        16 * 1024,
      ),
      'piece hashes match the data',
    );

    const text = run([
      'create',
      tree,
      '--announce',
      ANNOUNCE,
      '--piece-size',
      '16KiB',
      '-o',
      join(dir, 't2.torrent'),
    ]);
    assert.equal(text.status, 0, text.stderr);
    assert.match(text.stdout, new RegExp(`info-hash: +${summary.infoHash}`));
    assert.match(text.stdout, /piece length: +16\.0 KiB/);
    assert.match(text.stdout, /files: +7/);
    assert.match(text.stdout, /total size: +88\.6 KiB \(90,741 bytes\)/);

    const python = requireLibtorrent(t);
    if (python) {
      const view = libtorrentView(python, out);
      assert.equal(view.infoHash, summary.infoHash);
      assert.equal(view.private, false);
      assert.deepEqual(
        view.files,
        treeFiles.map(([path]) => `tree/${path}`),
      );
    }
    const aria2c = requireProgram(t, 'aria2c', 'aria2');
    if (aria2c) {
      const shown = spawnSync(aria2c, ['-S', out], { encoding: 'utf8' });
      assert.equal(shown.status, 0, shown.stderr);
      for (const [path] of treeFiles)
        assert.ok(shown.stdout.includes(`./tree/${path}`), `aria2c lists ${path}`);
    }
  });

  it('makes a single-file torrent with an automatic piece size', (t) => {
    const out = join(dir, 'single.torrent');
    const created = run(['create', single, '--announce', ANNOUNCE, '-o', out, '--json']);
    assert.equal(created.status, 0, created.stderr);
    const summary = JSON.parse(created.stdout);
    assert.equal(summary.name, 'single.bin');
    assert.equal(summary.pieceLength, 16 * 1024);
    assert.equal(summary.pieceCount, 4);
    const meta = parseMetainfo(readFileSync(out));
    assert.equal(meta.isMultiFile, false);
    assert.equal(meta.infoHashHex, summary.infoHash);
    assert.deepEqual(meta.pieceHashes, expectedHashes([single], 16 * 1024));
    assert.equal(infoJson(out).infoHash, summary.infoHash);

    const python = requireLibtorrent(t);
    if (python) assert.equal(libtorrentView(python, out).infoHash, summary.infoHash);
    const aria2c = requireProgram(t, 'aria2c', 'aria2');
    if (aria2c) {
      const shown = spawnSync(aria2c, ['-S', out], { encoding: 'utf8' });
      assert.equal(shown.status, 0, shown.stderr);
      assert.match(shown.stdout, /single\.bin/);
    }
  });

  it('is deterministic: two runs give the same bytes', () => {
    const a = join(dir, 'det-a.torrent');
    const b = join(dir, 'det-b.torrent');
    for (const [out, workers] of [
      [a, '1'],
      [b, '3'],
    ] as const) {
      const result = run(['create', tree, '--announce', ANNOUNCE, '--workers', workers, '-o', out]);
      assert.equal(result.status, 0, result.stderr);
    }
    assert.deepEqual(readFileSync(a), readFileSync(b));
    // --date with SOURCE_DATE_EPOCH is reproducible too, and changes only the outer dictionary.
    const env = { ...process.env, SOURCE_DATE_EPOCH: '1700000000' };
    const dated = join(dir, 'det-dated.torrent');
    assert.equal(run(['create', tree, '--announce', ANNOUNCE, '--date', '-o', dated], { env }).status, 0);
    const meta = parseMetainfo(readFileSync(dated));
    assert.equal(meta.creationDate, 1_700_000_000);
    assert.equal(meta.infoHashHex, parseMetainfo(readFileSync(a)).infoHashHex);
  });

  it('--private sets the flag and changes the info-hash', (t) => {
    const plain = join(dir, 'plain.torrent');
    const priv = join(dir, 'private.torrent');
    assert.equal(run(['create', tree, '--announce', ANNOUNCE, '-o', plain]).status, 0);
    const created = run(['create', tree, '--announce', ANNOUNCE, '--private', '-o', priv]);
    assert.equal(created.status, 0, created.stderr);
    assert.match(created.stdout, /private: +yes/);
    const info = infoJson(priv);
    assert.equal(info.private, true);
    assert.notEqual(info.infoHash, infoJson(plain).infoHash);
    const python = requireLibtorrent(t);
    if (python) {
      const view = libtorrentView(python, priv);
      assert.equal(view.private, true);
      assert.equal(view.infoHash, info.infoHash);
    }
  });

  it('refuses to overwrite unless --force', () => {
    const out = join(dir, 'force.torrent');
    writeFileSync(out, 'keep me');
    const refused = run(['create', single, '--announce', ANNOUNCE, '-o', out]);
    assert.equal(refused.status, 2);
    assert.match(refused.stderr, /already exists: pass --force/);
    assert.equal(readFileSync(out, 'utf8'), 'keep me');
    assert.equal(run(['create', single, '--announce', ANNOUNCE, '-o', out, '--force']).status, 0);
    assert.equal(parseMetainfo(readFileSync(out)).name, 'single.bin');
  });

  it('skips a symlink inside the directory with a warning', () => {
    const linked = join(dir, 'linked');
    mkdirSync(linked);
    writeFileSync(join(linked, 'real.bin'), fixtureBytes(100, 5));
    symlinkSync('real.bin', join(linked, 'alias.bin'));
    const out = join(dir, 'linked.torrent');
    const created = run(['create', linked, '--announce', ANNOUNCE, '-o', out]);
    assert.equal(created.status, 0, created.stderr);
    assert.match(created.stderr, /warning: skipped symlink "alias\.bin"/);
    assert.deepEqual(
      infoJson(out).files.map((file: { path: string }) => file.path),
      ['real.bin'],
    );
  });

  it('bad usage exits 2 with one clear line and writes nothing', () => {
    const bad = mkdtempSync(join(dir, 'bad-'));
    const empty = join(bad, 'empty-dir');
    mkdirSync(empty);
    const zeros = join(bad, 'zeros');
    mkdirSync(zeros);
    writeFileSync(join(zeros, 'a'), '');
    const escaping = join(bad, 'escaping');
    mkdirSync(escaping);
    writeFileSync(join(escaping, 'ok.bin'), 'data');
    symlinkSync(single, join(escaping, 'outside'));
    const broken = join(bad, 'broken');
    mkdirSync(broken);
    writeFileSync(join(broken, 'ok.bin'), 'data');
    symlinkSync('no-such-target', join(broken, 'dangling'));
    const out = join(bad, 'out.torrent');
    const cases: Array<[string, string[], RegExp]> = [
      ['no arguments', ['create'], /exactly one file or directory/],
      ['no output', ['create', tree, '--announce', ANNOUNCE], /-o out\.torrent is required/],
      ['no tracker', ['create', tree, '-o', out], /--announce URL is required/],
      ['missing input', ['create', join(bad, 'nope'), '--announce', ANNOUNCE, '-o', out], /does not exist/],
      ['empty dir', ['create', empty, '--announce', ANNOUNCE, '-o', out], /holds no files/],
      ['only empty files', ['create', zeros, '--announce', ANNOUNCE, '-o', out], /nothing to share/],
      [
        'piece size',
        ['create', tree, '--announce', ANNOUNCE, '--piece-size', '20000', '-o', out],
        /power of two/,
      ],
      [
        'piece size text',
        ['create', tree, '--announce', ANNOUNCE, '--piece-size', 'big', '-o', out],
        /--piece-size/,
      ],
      ['tracker scheme', ['create', tree, '--announce', 'ftp://127.0.0.1/announce', '-o', out], /must use/],
      ['symlink out', ['create', escaping, '--announce', ANNOUNCE, '-o', out], /points outside/],
      ['dangling symlink', ['create', broken, '--announce', ANNOUNCE, '-o', out], /is broken/],
      ['output inside', ['create', tree, '--announce', ANNOUNCE, '-o', join(tree, 'x.torrent')], /inside it/],
      [
        'output dir missing',
        ['create', tree, '--announce', ANNOUNCE, '-o', join(bad, 'no', 'x.torrent')],
        /does not exist/,
      ],
      ['workers', ['create', tree, '--announce', ANNOUNCE, '--workers', '0', '-o', out], /--workers/],
      ['bad name', ['create', tree, '--announce', ANNOUNCE, '--name', '..', '-o', out], /relative directory/],
      ['unknown option', ['create', tree, '--announce', ANNOUNCE, '--bogus', '-o', out], /bogus/],
    ];
    for (const [label, args, pattern] of cases) {
      const result = run(args);
      assert.equal(result.status, 2, `${label}: exit status (stderr: ${result.stderr})`);
      assert.equal(result.stdout, '', `${label}: nothing on stdout`);
      const lines = result.stderr.trimEnd().split('\n');
      assert.equal(lines.length, 1, `${label}: one line, got ${JSON.stringify(result.stderr)}`);
      assert.match(lines[0]!, /^tork create: .*\[TORK_ERR_[A-Z_]+\]$/, label);
      assert.match(lines[0]!, pattern, label);
      assert.equal(existsSync(out), false, `${label}: no output file`);
    }
    assert.equal(existsSync(join(tree, 'x.torrent')), false);
    assert.deepEqual(
      readdirSync(bad).sort(),
      ['broken', 'empty-dir', 'escaping', 'zeros'],
      'no temp files left',
    );
    assert.equal(run(['create', '--help']).status, 0);
  });
});
