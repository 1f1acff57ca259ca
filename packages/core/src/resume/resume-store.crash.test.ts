/**
 * SIGKILL at random moments while a child process appends, saves and marks clean as fast as it can:
 * whatever is left on disk must load without a warning, and, because the child appends pieces 0, 1,
 * 2… in order, the claimed pieces must always be a prefix 0..n-1 (a gap would mean an offset that
 * skipped journal entries), never shrinking from one kill to the next.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { tempDir } from '@tork/testkit';
import { ResumeStore } from './resume-store.js';

const HEX = '0123456789abcdef0123456789abcdef01234567';
const HERE = fileURLToPath(new URL('.', import.meta.url));
const STORE_URL = pathToFileURL(join(HERE, 'resume-store.js')).href;
const BITFIELD_URL = pathToFileURL(join(HERE, '..', 'bitfield.js')).href;
const PIECES = 1 << 20;
const KILLS = 8;

// The child: continue from what is on disk, then append/save/markClean without end. It exits by
// itself after 5 s so that a failed test can never leave it running.
const CHILD = `
import { ResumeStore } from ${JSON.stringify(STORE_URL)};
import { Bitfield } from ${JSON.stringify(BITFIELD_URL)};
setTimeout(() => process.exit(0), 5000);
const store = ResumeStore.open({ dir: process.env.RESUME_DIR, infoHashHex: ${JSON.stringify(HEX)} });
const loaded = await store.load();
const verified = new Bitfield(${PIECES});
for (const piece of loaded?.pieces ?? []) verified.set(piece);
let next = loaded?.pieces.length ?? 0;
const files = [{ path: ['data.bin'], size: 1, mtimeMs: 1 }];
process.stdout.write('ready\\n');
for (let round = 0; next < ${PIECES} - 64; round++) {
  const pending = [];
  const batch = 1 + (round % 3);
  for (let i = 0; i < batch; i++) {
    // Marked before the append is even queued: a save called now must include it.
    verified.set(next);
    pending.push(store.appendPieces([next++]));
  }
  if (round % 16 === 0) pending.push(store.save({ verified, pieceLength: 16384, files, clean: round % 32 === 0 }));
  if (round % 97 === 0) pending.push(store.markClean({ verified, pieceLength: 16384, files }));
  if (round % 4 === 0) await Promise.all(pending);
}
`;

function runChild(dir: string, killAfterMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', CHILD], {
      env: { ...process.env, RESUME_DIR: dir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    let timer: NodeJS.Timeout | undefined;
    const guard = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    child.stdout.on('data', (chunk: Buffer) => {
      if (timer === undefined && chunk.toString().includes('ready')) {
        timer = setTimeout(() => process.kill(child.pid!, 'SIGKILL'), killAfterMs);
      }
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(guard);
      if (timer) clearTimeout(timer);
      if (signal === 'SIGKILL' && timer !== undefined) resolve(stderr);
      else reject(new Error(`child ended with ${code ?? signal} before the kill: ${stderr}`));
    });
  });
}

describe('ResumeStore under SIGKILL', () => {
  it('always leaves a state that loads, claiming a prefix that never shrinks', async () => {
    const dir = join(await tempDir('tork-resume-crash-'), '.tork');
    let previous = 0;
    for (let kill = 0; kill < KILLS; kill++) {
      const stderr = await runChild(dir, 20 + Math.floor(Math.random() * 150));
      assert.equal(stderr, '', 'the child must not fail before it is killed');
      const store = ResumeStore.open({ dir, infoHashHex: HEX });
      const loaded = await store.load();
      await store.close();
      if (loaded === null) {
        // Killed before its first write reached the disk (a loaded machine: the kill may come 20 ms
        // after "ready"): nothing is a state that loads, but only while nothing was claimed before.
        assert.equal(previous, 0, `kill ${kill}: nothing on disk after ${previous} pieces were claimed`);
        continue;
      }
      assert.equal(loaded.warning, undefined, `kill ${kill}: ${loaded.warning}`);
      const count = loaded.pieces.length;
      assert.ok(
        loaded.pieces.every((piece, index) => piece === index),
        `kill ${kill}: claimed pieces have a gap`,
      );
      assert.ok(count >= previous, `kill ${kill}: ${count} pieces claimed, ${previous} before`);
      if (loaded.clean) assert.deepEqual(loaded.journalPieces, []);
      previous = count;
    }
    assert.ok(previous > 0, 'the children appended nothing');
  });
});
