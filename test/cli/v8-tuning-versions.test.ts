/**
 * `tork download` tunes V8's tier-up before any thread exists (packages/cli/src/v8-tuning.ts). The
 * flag it sets exists in V8 11 (Node 20) only: on Node 22 setting it printed "Error: unrecognized
 * flag --interrupt-budget=…" on every download's stderr. Checked here under this Node and under the
 * Node 22.12 binary the host-accept tests use: the tuning says what it did, and stderr stays empty.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { torkMain } from '../download/support.js';
import { requireNewerNode } from '../support/newer-node.js';

const tuning = join(dirname(torkMain), 'v8-tuning.js');

function tuneUnder(node: string): { set: string; stderr: string; v8: string } {
  const script = `import(${JSON.stringify(tuning)}).then((m) => console.log(m.tuneV8({}, []), process.versions.v8));`;
  const run = spawnSync(node, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(run.status, 0, `${node} exited ${run.status}: ${run.stderr}`);
  const [set = '', v8 = ''] = run.stdout.trim().split(' ');
  return { set, stderr: run.stderr, v8 };
}

describe('V8 tuning across Node versions', () => {
  it('this Node: the budget is set where V8 has it, and nothing is printed', () => {
    const { set, stderr, v8 } = tuneUnder(process.execPath);
    assert.equal(set, String(Number(v8.split('.')[0]) <= 11));
    assert.equal(stderr, '');
  });

  it('Node 22 (V8 12): left alone, no "unrecognized flag" on stderr', (t) => {
    const node = requireNewerNode(t);
    if (node === undefined) return;
    const { set, stderr, v8 } = tuneUnder(node);
    assert.ok(Number(v8.split('.')[0]) >= 12, `V8 ${v8}`);
    assert.equal(set, 'false');
    assert.equal(stderr, '');
  });
});
