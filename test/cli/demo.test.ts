import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { requireProgram } from '../support/programs.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const tork = join(root, 'packages/cli/dist/main.js');

describe('tork demo (the README main job)', () => {
  it('downloads a cached data set from an aria2c swarm and verifies every byte', async (t) => {
    if (!requireProgram(t, 'aria2c', 'aria2')) return;
    const cache = mkdtempSync(join(tmpdir(), 'tork-demo-test-'));
    t.after(() => rmSync(cache, { recursive: true, force: true }));
    const args = [
      tork,
      'demo',
      '--size',
      '12MiB',
      '--files',
      '7',
      '--piece-size',
      '256KiB',
      '--seeders',
      '2',
    ];
    const child = spawn(process.execPath, [...args, '--cache', cache, '--json', '--workers', '2'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
    const status = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    clearTimeout(timer);
    assert.equal(status, 0, stderr);
    const events = stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { event: string; [key: string]: unknown });
    const kinds = new Set(events.map((event) => event.event));
    for (const kind of ['started', 'peer-connected', 'piece-verified', 'done', 'verified']) {
      assert.ok(kinds.has(kind), `missing ${kind} event`);
    }
    const done = events.find((event) => event.event === 'done')!;
    assert.equal(done.verifiedPieces, 48);
    assert.equal(done.length, 12 * 1024 * 1024);
    const verified = events.find((event) => event.event === 'verified')!;
    assert.equal(verified.identical, true);
    t.diagnostic(`demo: ${((done.elapsedMs as number) / 1000).toFixed(2)} s for 12 MiB`);
  });
});
