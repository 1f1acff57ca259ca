#!/usr/bin/env node
// What a piece check costs, in-process, per 1 MiB piece: SHA-1 (v1), one SHA-256 context over the
// piece (the floor for v2's 64 leaves), and core's `verifyV2Piece` (the merkle check a v2 or hybrid
// piece gets in the peer host), for this build and, with --baseline, another build's core. Each
// figure is taken --reps times (interleaved) of --count checks; the median is printed.
//
//   pnpm build && node scripts/v2-check-bench.mjs [--reps 7] [--count 300] [--baseline OTHER_REPO_DIR]
import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    reps: { type: 'string', default: '7' },
    count: { type: 'string', default: '300' },
    baseline: { type: 'string' },
  },
});
const reps = Number(values.reps);
const count = Number(values.count);
const here = resolve(import.meta.dirname, '..');
const load = (dir) => import(pathToFileURL(resolve(dir, 'packages/core/dist/index.js')).href);
const builds = [['this build', await load(here)]];
if (values.baseline) builds.push([`baseline (${values.baseline})`, await load(values.baseline)]);

const PIECE = 1 << 20;
const data = new Uint8Array(PIECE).map((_, i) => (i * 31 + 7) & 255);

/** A two-piece file's check table; the check of piece 0 is what is timed. */
function table(core) {
  const builder = new core.FileMerkleBuilder(PIECE);
  builder.update(data);
  builder.update(data);
  const { root, pieceLayer } = builder.digest();
  return core.v2PieceChecks({
    pieceLength: PIECE,
    pieceCount: 2,
    files: [{ length: 2 * PIECE, pad: false }],
    v2: { piecesRoots: [root], pieceLayers: new Map([[Buffer.from(root).toString('hex'), pieceLayer]]) },
  });
}

const cases = [
  ['SHA-1 of the piece (v1)', () => createHash('sha1').update(data).digest()],
  ['SHA-256 of the piece, one context', () => createHash('sha256').update(data).digest()],
  ...builds.map(([name, core]) => {
    const checks = table(core);
    return [
      `verifyV2Piece, ${name}`,
      () => {
        if (!core.verifyV2Piece(checks, 0, data)) throw new Error(`${name}: the piece did not verify`);
      },
    ];
  }),
];
const times = cases.map(() => []);
for (let rep = 0; rep < reps; rep++)
  cases.forEach(([, check], i) => {
    check();
    const started = process.hrtime.bigint();
    for (let n = 0; n < count; n++) check();
    times[i].push(Number(process.hrtime.bigint() - started) / 1e6 / count);
  });
const median = (list) => [...list].sort((a, b) => a - b)[list.length >> 1];
for (const [i, [name]] of cases.entries())
  console.log(
    `${name.padEnd(48)} ${median(times[i]).toFixed(3)} ms per MiB (runs: ${times[i].map((t) => t.toFixed(2)).join(' ')})`,
  );
