/**
 * BEP 52 interop with libtorrent 2.0 (Debian's python3-libtorrent): torrents `tork create --v2` and
 * `--hybrid` write load in libtorrent with the same v1 and v2 info-hashes, file layout (pad files
 * included) and pieces roots / piece layers; torrents libtorrent creates (v2-only and hybrid)
 * parse in tork with the same hashes, roots and layers. `tork info` shows both hashes and a magnet
 * with both; `tork download` refuses a v2-only torrent with one line.
 */
import '../support/hermetic.js';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseMetainfo } from '@tork/core';
import { fixtureBytes } from '@tork/testkit';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const tork = join(root, 'packages/cli/dist/main.js');
const SYSTEM_PYTHON = '/usr/bin/python3';
const ANNOUNCE = 'http://127.0.0.1:6969/announce';
const PIECE = 16 * 1024;

function run(args: string[]) {
  const result = spawnSync(process.execPath, [tork, ...args], {
    cwd: root,
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Same rule as requireProgram: skip with the reason, except under CI=true where it fails. */
function requireLibtorrent(t: TestContext): string | undefined {
  const probe = spawnSync(SYSTEM_PYTHON, ['-c', 'import libtorrent'], { encoding: 'utf8' });
  if (probe.status === 0) return SYSTEM_PYTHON;
  const reason = `libtorrent for ${SYSTEM_PYTHON} not installed: apt-get install python3-libtorrent`;
  if (process.env.CI === 'true') throw new Error(`${reason} (required when CI=true)`);
  t.skip(reason);
  return undefined;
}

/** What libtorrent reads from a .torrent: hashes, files and the v2 roots/layers it loaded. */
interface LibtorrentView {
  v1: string;
  v2: string;
  pieces: number;
  files: Array<[string, number, boolean]>;
  roots: string[];
  layers: Record<string, string>;
}

const VIEW = String.raw`
import json, sys, libtorrent as lt
data = open(sys.argv[1], 'rb').read()
ti = lt.torrent_info(data)
ih = ti.info_hashes()
fs = ti.files()
pad = lambda i: bool(fs.file_flags(i) & fs.flag_pad_file)
e = lt.bdecode(data)
layers = {k.hex(): v.hex() for k, v in (e.get(b'piece layers') or {}).items()}
roots = [fs.root(i).to_bytes().hex() if not pad(i) and fs.file_size(i) > 0 else '' for i in range(fs.num_files())]
print(json.dumps({'v1': '' if ih.v1.is_all_zeros() else str(ih.v1), 'v2': '' if ih.v2.is_all_zeros() else str(ih.v2),
  'pieces': ti.num_pieces(),
  'files': [['/'.join(fs.file_path(i).replace('\\', '/').split('/')[-2:]) if pad(i) else fs.file_path(i).replace('\\', '/'), fs.file_size(i), pad(i)] for i in range(fs.num_files())],
  'roots': roots, 'layers': layers}))
`;

function libtorrentView(python: string, file: string): LibtorrentView {
  const result = spawnSync(python, ['-c', VIEW, file], { encoding: 'utf8' });
  assert.equal(result.status, 0, `libtorrent refused ${file}: ${result.stderr}`);
  return JSON.parse(result.stdout);
}

/** libtorrent creates a torrent of `dir` (inside `parent`): 'v2' or 'hybrid'. */
const CREATE = `
import sys, libtorrent as lt
parent, name, kind, out = sys.argv[1:5]
fs = lt.file_storage()
lt.add_files(fs, parent + '/' + name)
flags = lt.create_torrent.v2_only if kind == 'v2' else 0
ct = lt.create_torrent(fs, 16384, flags=flags)
ct.add_tracker('http://127.0.0.1:6969/announce')
lt.set_piece_hashes(ct, parent)
open(out, 'wb').write(lt.bencode(ct.generate()))
`;

/** tork's view, in libtorrent's terms (paths below the torrent's name, pads included). */
function torkView(file: Uint8Array, withName: boolean): LibtorrentView {
  const meta = parseMetainfo(file);
  const prefix = withName ? `${meta.name}/` : '';
  return {
    v1: meta.version === 2 ? '' : meta.infoHashHex,
    v2: meta.infoHashV2Hex ?? '',
    pieces: meta.pieceCount,
    // Pad files compared by their `.pad/N` tail: libtorrent puts a single file's pad under its name.
    files: meta.files.map((f) => [f.pad ? f.path.join('/') : prefix + f.path.join('/'), f.length, f.pad]),
    roots: meta.v2!.piecesRoots.map((r) => (r ? Buffer.from(r).toString('hex') : '')),
    layers: Object.fromEntries(
      [...meta.v2!.pieceLayers].map(([k, v]) => [k, Buffer.from(v).toString('hex')]),
    ),
  };
}

let work: string;
let dataDir: string;

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'tork-v2-'));
  dataDir = join(work, 'data');
  await mkdir(join(dataDir, 'sub'), { recursive: true });
  // Lengths chosen for every case: sub-block, one piece exactly, multi-piece with a short tail, empty.
  await writeFile(join(dataDir, 'a.bin'), fixtureBytes(40_000, 1));
  await writeFile(join(dataDir, 'empty'), new Uint8Array(0));
  await writeFile(join(dataDir, 'sub', 'b.txt'), fixtureBytes(100, 2));
  await writeFile(join(dataDir, 'sub', 'c.bin'), fixtureBytes(PIECE, 3));
  await writeFile(join(dataDir, 'z.bin'), fixtureBytes(5 * PIECE + 123, 4));
  await writeFile(join(work, 'single.bin'), fixtureBytes(3 * PIECE + 5, 5));
});

after(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('tork create --v2/--hybrid, read by libtorrent', { timeout: 120_000 }, () => {
  for (const kind of ['v2', 'hybrid'] as const) {
    for (const input of ['data', 'single.bin']) {
      it(`${kind} of ${input === 'data' ? 'a directory' : 'a single file'}: same hashes, files, roots and layers`, async (t) => {
        const python = requireLibtorrent(t);
        if (!python) return;
        const out = join(work, `${kind}-${input}.torrent`);
        const args = [
          'create',
          join(work, input),
          '--announce',
          ANNOUNCE,
          '--piece-size',
          '16KiB',
          `--${kind}`,
          '-o',
          out,
          '--force',
          '--json',
        ];
        const first = run(args);
        assert.equal(first.status, 0, first.stderr);
        const bytes = await readFile(out);
        // Byte-identical for the same input (no date unless --date).
        assert.equal(run(args).status, 0);
        assert.deepEqual(await readFile(out), bytes);
        const summary = JSON.parse(first.stdout);
        assert.equal(summary.version, kind === 'v2' ? 2 : 'hybrid');
        const lt = libtorrentView(python, out);
        const ours = torkView(bytes, input === 'data');
        assert.equal(lt.v2, summary.infoHashV2);
        assert.deepEqual(ours, lt);
        if (kind === 'hybrid') assert.equal(lt.v1, summary.infoHash);
      });
    }
  }
});

describe('torrents libtorrent creates, read by tork', { timeout: 120_000 }, () => {
  for (const kind of ['v2', 'hybrid'] as const) {
    it(`${kind}: same hashes, files, roots and layers; tork info shows both hashes`, async (t) => {
      const python = requireLibtorrent(t);
      if (!python) return;
      const out = join(work, `lt-${kind}.torrent`);
      const made = spawnSync(python, ['-c', CREATE, work, 'data', kind, out], { encoding: 'utf8' });
      assert.equal(made.status, 0, made.stderr);
      const bytes = await readFile(out);
      assert.deepEqual(torkView(bytes, true), libtorrentView(python, out));

      const info = run(['info', out, '--json']);
      assert.equal(info.status, 0, info.stderr);
      const json = JSON.parse(info.stdout);
      const lt = libtorrentView(python, out);
      assert.equal(json.infoHashV2, lt.v2);
      assert.equal(json.version, kind === 'v2' ? 2 : 'hybrid');
      assert.ok(json.magnet.includes(`xt=urn:btmh:1220${lt.v2}`), json.magnet);
      assert.equal(json.magnet.includes('xt=urn:btih:'), kind === 'hybrid', json.magnet);
      if (kind === 'hybrid') assert.equal(json.infoHash, lt.v1);
      const text = run(['info', out]);
      assert.match(text.stdout, new RegExp(`info-hash v2:\\s+${lt.v2}`));

      if (kind === 'v2') {
        const download = run(['download', out, '-o', join(work, 'dl'), '--no-dht', '--no-trackers']);
        assert.equal(download.status, 2, download.stderr);
        const lines = (download.stdout + download.stderr)
          .split('\n')
          .filter((line) => line.includes('tork download:'));
        assert.deepEqual(lines.length, 1, download.stderr);
        assert.match(lines[0]!, /v2-only torrents cannot be downloaded yet/);
      }
    });
  }
});
