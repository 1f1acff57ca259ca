/**
 * The Node flags tork's launcher runs with (TORK_NODE_FLAGS): the same in the shebang of the built
 * `tork` (which pnpm's bin shim copies), in `pnpm tork`, and for the processes `tork bench` starts;
 * and a `tork seed` run under them starts every thread it needs: V8 flags are refused in a worker's
 * `execArgv`, and a UDP host or hash worker started with them would fail.
 */
import '../support/hermetic.js';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { TORK_NODE_FLAGS, torkNodeFlags } from '@tork/cli';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const torkMain = join(root, 'packages/cli/dist/main.js');

let work: string;
before(async () => {
  work = await mkdtemp(join(tmpdir(), 'tork-node-flags-'));
});
after(() => rm(work, { recursive: true, force: true }));

describe('tork node flags', () => {
  it('the shebang, `pnpm tork` and tork bench use TORK_NODE_FLAGS', async () => {
    assert.ok(TORK_NODE_FLAGS.length > 0);
    const firstLine = (await readFile(torkMain, 'utf8')).split('\n')[0];
    assert.equal(firstLine, `#!/usr/bin/env -S node ${TORK_NODE_FLAGS.join(' ')}`);
    const scripts = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')).scripts as Record<
      string,
      string
    >;
    assert.equal(scripts.tork, `node ${TORK_NODE_FLAGS.join(' ')} packages/cli/dist/main.js`);
    const saved = process.env.TORK_NODE_FLAGS;
    try {
      delete process.env.TORK_NODE_FLAGS;
      assert.deepEqual(torkNodeFlags(), [...TORK_NODE_FLAGS]);
      process.env.TORK_NODE_FLAGS = '';
      assert.deepEqual(torkNodeFlags(), [], 'empty: none, for comparisons');
    } finally {
      if (saved === undefined) delete process.env.TORK_NODE_FLAGS;
      else process.env.TORK_NODE_FLAGS = saved;
    }
  });

  it('tork seed under them starts its peer host, UDP host and hash pool, and checks its data', async () => {
    const data = join(work, 'data');
    await mkdir(data, { recursive: true });
    await writeFile(join(data, 'a.bin'), Buffer.alloc(300_000, 7));
    const torrent = join(work, 'a.torrent');
    const created = spawnSync(
      process.execPath,
      [torkMain, 'create', join(data, 'a.bin'), '--announce', 'http://127.0.0.1:1/announce', '-o', torrent],
      { encoding: 'utf8', timeout: 30_000 },
    );
    assert.equal(created.status, 0, created.stderr);
    const run = spawnSync(
      process.execPath,
      [
        ...TORK_NODE_FLAGS,
        torkMain,
        'seed',
        torrent,
        '--data',
        data,
        '--port',
        '0',
        '--listen-host',
        '127.0.0.1',
        '--no-trackers',
        '--no-dht',
        '--no-lsd',
        '--seed-time',
        '1',
        '--json',
      ],
      { encoding: 'utf8', timeout: 60_000 },
    );
    assert.equal(run.status, 0, `${run.stderr}\n${run.stdout}`);
    const events = run.stdout
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as { event: string; [key: string]: unknown });
    const names = events.map((event) => event.event);
    // The UDP host listened (a refused execArgv would have failed its thread: no such event).
    assert.ok(names.includes('utp-listening'), run.stdout);
    // The resume check hashed the data in the hash pool's threads: every piece verified.
    const resumed = events.find((event) => event.event === 'resumed');
    assert.ok(resumed && (resumed.verified as number) > 0, run.stdout);
    assert.match(run.stderr, /^$/, 'nothing on stderr');
  });
});
