/**
 * Hostile .torrent files, end to end through the CLI: refused or confined.
 * - Refused (broken numbers, bencode, structure): `tork download` (and `tork info` for the cases
 *   test/cli/info.test.ts does not already cover) must exit 2 with exactly one line on stderr naming
 *   the fault and its TORK_ERR_ code, and write nothing anywhere: the --out directory is not created
 *   (or stays empty if it existed), and the parent directory, the working directory and HOME gain
 *   no entry.
 * - Confined (hostile names: `..`, absolute paths, separators inside a name, NUL, drive letters,
 *   duplicates): the names are sanitised as libtorrent does, and a real download from a tork seeder
 *   writes exactly the sanitised files inside --out and nothing anywhere else.
 */
import '../support/hermetic.js';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseMetainfo } from '@tork/core';
import { buildTorrent, encodeBencodeOrdered } from '@tork/testkit';
import { startTork, type TorkProcess } from '../seed/support.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const tork = join(root, 'packages/cli/dist/main.js');
const work = mkdtempSync(join(tmpdir(), 'tork-hostile-'));
after(() => rmSync(work, { recursive: true, force: true }));

const text = (s: string): Uint8Array => new TextEncoder().encode(s);
const cat = (...parts: (Uint8Array | string)[]): Uint8Array =>
  new Uint8Array(Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : p))));

/** A single-file info dictionary written by hand, so that any integer text can go in. */
function rawSingleFile(lengthText: string, pieceLength = 16_384, pieces = new Uint8Array(20)): Uint8Array {
  return cat(
    'd4:infod6:lengthi',
    lengthText,
    'e4:name1:x12:piece lengthi',
    String(pieceLength),
    `e6:pieces${pieces.length}:`,
    pieces,
    'ee',
  );
}

const good = buildTorrent({ files: [{ path: ['a'], length: 100 }], pieceLength: 64 });

interface Case {
  readonly name: string;
  readonly bytes: Uint8Array;
  /** What the one line must contain besides `[TORK_ERR_…]`. */
  readonly pattern: RegExp;
  /** Already checked for `tork info` by test/cli/info.test.ts. */
  readonly infoCovered?: boolean;
}

const cases: Case[] = [
  { name: 'huge-length', bytes: rawSingleFile(String(2n ** 60n)), pattern: /TORK_ERR_METAINFO/ },
  { name: 'huge-length-2^64', bytes: rawSingleFile(String(2n ** 64n)), pattern: /TORK_ERR_METAINFO/ },
  {
    name: 'huge-file-length',
    bytes: cat(
      'd4:infod5:filesld6:lengthi',
      String(2n ** 60n),
      'e4:pathl1:aeee4:name1:x12:piece lengthi16384e6:pieces20:',
      new Uint8Array(20),
      'ee',
    ),
    pattern: /TORK_ERR_METAINFO/,
  },
  { name: 'negative-length', bytes: rawSingleFile('-5'), pattern: /TORK_ERR_METAINFO/, infoCovered: true },
  {
    name: 'negative-file-length',
    bytes: encodeBencodeOrdered({
      info: {
        name: 'x',
        'piece length': 16_384,
        pieces: new Uint8Array(20),
        files: [{ path: ['a'], length: -1 }],
      },
    }),
    pattern: /TORK_ERR_METAINFO/,
  },
  { name: 'negative-piece-length', bytes: rawSingleFile('10', -16_384), pattern: /TORK_ERR_METAINFO/ },
  { name: 'zero-piece-length', bytes: rawSingleFile('10', 0), pattern: /TORK_ERR_METAINFO/ },
  {
    name: 'pieces-not-multiple-of-20',
    bytes: buildTorrent({
      files: [{ path: ['a'], length: 100 }],
      pieceLength: 64,
      info: { pieces: new Uint8Array(39) },
    }).bytes,
    pattern: /TORK_ERR_METAINFO/,
  },
  {
    name: 'pieces-count-too-many',
    bytes: buildTorrent({
      files: [{ path: ['a'], length: 100 }],
      pieceLength: 64,
      info: { pieces: new Uint8Array(60) },
    }).bytes,
    pattern: /TORK_ERR_METAINFO/,
  },
  {
    name: 'pieces-count-too-few',
    bytes: buildTorrent({
      files: [{ path: ['a'], length: 100 }],
      pieceLength: 64,
      info: { pieces: new Uint8Array(20) },
    }).bytes,
    pattern: /TORK_ERR_METAINFO/,
  },
  {
    name: 'trailing-garbage-over-64KiB',
    bytes: cat(good.bytes, new Uint8Array(64 * 1024 + 1)),
    pattern: /65537 bytes of trailing data/,
  },
  {
    name: 'nested-100000',
    bytes: text(`${'l'.repeat(100_000)}${'e'.repeat(100_000)}`),
    pattern: /TORK_ERR_BENCODE/,
    infoCovered: true,
  },
  {
    name: 'nested-100000-in-info',
    bytes: cat('d4:infod4:name', 'l'.repeat(100_000), 'e'.repeat(100_000), 'ee'),
    pattern: /TORK_ERR_BENCODE/,
  },
  { name: 'nested-100000-unclosed', bytes: text('l'.repeat(100_000)), pattern: /TORK_ERR_BENCODE/ },
  {
    name: 'truncated',
    bytes: good.bytes.subarray(0, good.bytes.length - 5),
    pattern: /TORK_ERR_BENCODE/,
    infoCovered: true,
  },
  {
    name: 'truncated-half',
    bytes: good.bytes.subarray(0, good.bytes.length >> 1),
    pattern: /TORK_ERR_BENCODE/,
  },
  { name: 'string-length-past-end', bytes: text('d4:info999999999:xe'), pattern: /TORK_ERR_BENCODE/ },
  {
    name: 'not-bencode',
    bytes: text('<html>not a torrent</html>'),
    pattern: /TORK_ERR_BENCODE/,
    infoCovered: true,
  },
  {
    name: 'binary-noise',
    bytes: new Uint8Array(512).map((_, i) => (i * 131 + 7) & 0xff),
    pattern: /TORK_ERR_BENCODE/,
  },
  { name: 'empty', bytes: new Uint8Array(0), pattern: /TORK_ERR_BENCODE/ },
  { name: 'not-a-dict', bytes: text('li1ei2ee'), pattern: /TORK_ERR_METAINFO/ },
  { name: 'no-info', bytes: text('d8:announce3:urle'), pattern: /TORK_ERR_METAINFO/ },
];

/** Every entry under `dir`, recursively, as relative paths. */
function listing(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).sort();
}

function run(args: string[], cwd: string, home: string) {
  const result = spawnSync(process.execPath, [tork, ...args], {
    cwd,
    encoding: 'utf8',
    timeout: 30_000,
    env: {
      ...process.env,
      HOME: home,
      XDG_CONFIG_HOME: join(home, '.config'),
      XDG_CACHE_HOME: join(home, '.cache'),
    },
  });
  return { status: result.status, signal: result.signal, stdout: result.stdout, stderr: result.stderr };
}

/** Runs one command on a hostile file and checks exit 2, one line, nothing written. */
function checkRefused(command: 'download' | 'info', c: Case, outExists: boolean): void {
  const label = `${command} ${c.name}${outExists ? ' (existing --out)' : ''}`;
  const caseDir = mkdtempSync(join(work, `${command}-`));
  const inputDir = join(caseDir, 'input');
  const parent = join(caseDir, 'parent');
  const cwd = join(caseDir, 'cwd');
  const home = join(caseDir, 'home');
  for (const dir of [inputDir, parent, cwd, home]) mkdirSync(dir);
  const file = join(inputDir, `${c.name}.torrent`);
  writeFileSync(file, c.bytes);
  const out = join(parent, 'out');
  if (outExists) mkdirSync(out);
  const before = {
    parent: listing(parent),
    cwd: listing(cwd),
    home: listing(home),
    input: listing(inputDir),
  };

  const args =
    command === 'download'
      ? ['download', file, '--out', out, '--no-trackers', '--peer', '127.0.0.1:9', '--port', '0']
      : ['info', file];
  const { status, signal, stdout, stderr } = run(args, cwd, home);

  assert.equal(signal, null, `${label}: killed by ${signal} (a hang?)\nstderr: ${stderr}`);
  assert.equal(status, 2, `${label}: exit status\nstdout: ${stdout}\nstderr: ${stderr}`);
  assert.equal(stdout, '', `${label}: nothing on stdout`);
  const lines = stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `${label}: one line on stderr, got ${JSON.stringify(stderr.slice(0, 2000))}`);
  assert.ok(lines[0]!.length < 400, `${label}: a short line, got ${lines[0]!.length} chars`);
  assert.match(lines[0]!, new RegExp(`^tork ${command}: .*\\[TORK_ERR_[A-Z_]+\\]$`), label);
  assert.match(lines[0]!, c.pattern, label);

  assert.deepEqual(listing(parent), before.parent, `${label}: nothing written next to --out`);
  if (outExists) assert.deepEqual(listing(out), [], `${label}: --out stays empty`);
  assert.deepEqual(listing(cwd), before.cwd, `${label}: nothing written in the working directory`);
  assert.deepEqual(listing(home), before.home, `${label}: nothing written in HOME`);
  assert.deepEqual(listing(inputDir), before.input, `${label}: nothing written beside the torrent`);
}

describe('hostile .torrent files through the CLI', () => {
  it('the harness accepts a good torrent (control)', () => {
    const dir = mkdtempSync(join(work, 'control-'));
    const file = join(dir, 'good.torrent');
    writeFileSync(file, good.bytes);
    const { status, stdout } = run(['info', file], dir, dir);
    assert.equal(status, 0);
    assert.match(stdout, /pieces: +2/);
  });

  for (const c of cases) {
    it(`download refuses ${c.name}: exit 2, one line, nothing written`, () => {
      checkRefused('download', c, false);
    });
  }

  it('download with an existing, empty --out leaves it empty (every case)', () => {
    for (const c of cases) checkRefused('download', c, true);
  });

  for (const c of cases.filter((c) => !c.infoCovered)) {
    it(`info refuses ${c.name}: exit 2, one line, nothing written`, () => {
      checkRefused('info', c, false);
    });
  }
});

/**
 * Hostile names are sanitised, not refused: the payload's lengths stay, the names change. One
 * multi-file torrent holds every path form; a single-file one has `..` as its name.
 */
const hostilePaths: string[][] = [
  ['ok'],
  ['..', 'x'],
  ['../x'],
  ['a/../../b'],
  ['a', '..', '..', 'b'],
  ['..\\x'],
  ['.'],
  ['/etc/x'],
  ['C:\\x'],
  ['C:x'],
  ['a\0b'],
  ['..', '..', '..', '..', 'etc', 'passwd'],
  ['/', 'ok'],
];

function hostileTorrents() {
  const lengths = hostilePaths.map((_, index) => 100 + index * 37);
  const multi = buildTorrent({
    name: '../../escape',
    pieceLength: 256,
    files: lengths.map((length, index) => ({ path: [`f${index}`], length })),
    info: { files: hostilePaths.map((path, index) => ({ length: lengths[index]!, path })) },
  });
  const single = buildTorrent({ name: '..', length: 5000, pieceLength: 1024 });
  // BEP 47 symlinks (zero bytes of payload, whatever length they declare): tork creates no link,
  // not even one whose target stays inside.
  const links = buildTorrent({
    name: 'links',
    pieceLength: 256,
    files: [{ path: ['real'], length: 700 }],
    info: {
      files: [
        { length: 700, path: ['real'] },
        { attr: 'l', length: 700, path: ['out-link'], 'symlink path': ['..', '..', '..', '..', 'etc'] },
        { attr: 'l', path: ['in-link'], 'symlink path': ['real'] },
      ],
    },
  });
  return [
    { label: 'multi-file, every path form', built: multi },
    { label: 'single-file named ..', built: single },
    { label: 'BEP 47 symlinks (none created)', built: links },
  ];
}

describe('hostile names through a real download: confined', () => {
  for (const { label, built } of hostileTorrents()) {
    it(`${label}: seeded and downloaded, every byte inside --out`, async (t) => {
      const meta = parseMetainfo(built.bytes);
      assert.ok(meta.warnings.length > 0, 'the names were sanitised');
      const caseDir = mkdtempSync(join(work, 'confined-'));
      // Deep enough that `..` chains from --out would land inside caseDir, where we look.
      const out = join(caseDir, 'a', 'b', 'c', 'out');
      const data = join(caseDir, 'seed-data');
      mkdirSync(join(caseDir, 'a', 'b', 'c'), { recursive: true });
      const torrent = join(caseDir, 'hostile.torrent');
      writeFileSync(torrent, built.bytes);
      // The seeder reads the payload where the sanitised names put it.
      const expected: string[] = [];
      meta.files.forEach((file, index) => {
        if (file.pad) return; // symlinks: nothing on disk
        const relative = meta.isMultiFile ? [meta.name, ...file.path] : [meta.name];
        mkdirSync(join(data, ...relative.slice(0, -1)), { recursive: true });
        writeFileSync(join(data, ...relative), built.fileData[index]!);
        expected.push(relative.join('/'));
      });
      const before = listing(caseDir).filter((entry) => !entry.startsWith('seed-data'));
      const running: TorkProcess[] = [];
      t.after(() => Promise.all(running.map((process) => process.stop())));
      const seeder = await startTork('seed', [torrent, '--data', data, '--no-trackers', '--no-dht']);
      running.push(seeder);
      await seeder.waitFor('done', 30_000);
      const downloader = await startTork('download', [
        torrent,
        '--out',
        out,
        '--no-trackers',
        '--no-dht',
        '--peer',
        `127.0.0.1:${seeder.port}`,
      ]);
      running.push(downloader);
      await downloader.waitFor('done', 60_000).catch((error: unknown) => {
        throw new Error(`${String(error)}\n${downloader.transcript()}`);
      });
      const warnings = downloader.events.filter((event) => event.event === 'metainfo-warning');
      assert.equal(warnings.length, meta.warnings.length, downloader.transcript());
      await downloader.stop();
      await seeder.stop();

      // Inside --out: exactly the sanitised files, byte for byte.
      // .tork/ holds the resume state tork keeps beside the payload.
      const files = listing(out).filter(
        (entry) => !entry.startsWith('.tork') && !statIsDir(join(out, entry)),
      );
      assert.deepEqual(files.sort(), [...expected].sort());
      let written = 0;
      meta.files.forEach((file, index) => {
        if (file.pad) return;
        const got = readFileSync(join(out, ...expected[written]!.split('/')));
        assert.deepEqual(new Uint8Array(got), built.fileData[index], expected[written]);
        written++;
      });
      for (const entry of listing(out)) {
        assert.ok(!lstatSync(join(out, entry)).isSymbolicLink(), `${entry} is not a symlink`);
      }
      // Outside --out: nothing new anywhere under the case directory.
      const after = listing(caseDir).filter(
        (entry) => !entry.startsWith('seed-data') && !entry.startsWith(join('a', 'b', 'c', 'out')),
      );
      const beforeOutside = before.filter((entry) => entry !== join('a', 'b', 'c', 'out'));
      assert.deepEqual(after, beforeOutside);
    });
  }
});

function statIsDir(path: string): boolean {
  return statSync(path).isDirectory();
}
