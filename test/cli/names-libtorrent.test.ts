/**
 * Names as libtorrent reads them (issue 16): python3-libtorrent builds torrents with odd names —
 * v2-only file trees with `..`, `.`, separators, controls, direction marks, over-long names and
 * names that differ only in case; v1 lists with case-only duplicates and BitComet pad files — and
 * prints the paths it gives their files. `tork info --json` must list the same paths (pad files
 * left out by both), with a warning for each change.
 */
import '../support/hermetic.js';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { requireLibtorrentPython, root, torkMain } from '../download/support.js';

describe('tork info names agree with libtorrent', () => {
  it('v2 trees sanitised, case-insensitive duplicates, BitComet pads: the same paths', async (t) => {
    const python = await requireLibtorrentPython(t);
    if (!python) return;
    const dir = await mkdtemp(join(tmpdir(), 'tork-names-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const stdout = await new Promise<string>((resolve, reject) =>
      execFile(
        python,
        [join(root, 'test/cli/libtorrent-names.py'), dir],
        { timeout: 30_000 },
        (error, out, stderr) => (error ? reject(new Error(`${error.message}: ${stderr}`)) : resolve(out)),
      ),
    );
    const expected = JSON.parse(stdout) as Record<string, string[]>;
    assert.ok(Object.keys(expected).length >= 9);
    for (const [name, paths] of Object.entries(expected)) {
      const run = spawnSync(process.execPath, [torkMain, 'info', join(dir, `${name}.torrent`), '--json'], {
        encoding: 'utf8',
        timeout: 20_000,
      });
      assert.equal(run.status, 0, `${name}: ${run.stderr}`);
      const info = JSON.parse(run.stdout) as {
        name: string;
        files: Array<{ path: string }>;
        warnings: Array<{ kind: string }>;
      };
      // libtorrent prefixes the torrent's directory name.
      assert.deepEqual(
        info.files.map((file) => `${info.name}/${file.path}`),
        paths,
        name,
      );
      const changed = name !== 'v1-bitcomet';
      assert.equal(info.warnings.length > 0, changed, `${name}: ${JSON.stringify(info.warnings)}`);
    }
  });
});
