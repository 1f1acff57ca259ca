/** Running `tork bench` as a child process for the bench tests: to its end, killed by PID on a timeout. */
import '../support/hermetic.js';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../../', import.meta.url));

/** This build's CLI entry. */
export const tork = join(root, 'packages/cli/dist/main.js');

/** Runs `tork bench ARGS` to its end (killed by PID after `timeoutMs`): its exit status and output. */
export async function bench(
  t: TestContext,
  args: readonly string[],
  timeoutMs = 90_000,
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [tork, 'bench', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
  const timer = setTimeout(() => child.kill('SIGTERM'), timeoutMs);
  t.after(() => {
    clearTimeout(timer);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const status = await new Promise<number | null>((resolve) => child.once('close', resolve));
  clearTimeout(timer);
  return { status, stdout, stderr };
}

/** Runs `tork bench … --json` on a fresh cache to its end; parses its one JSON document. */
export async function runBench(
  t: TestContext,
  args: readonly string[],
): Promise<{ status: number | null; report: Record<string, unknown>; stderr: string }> {
  const cache = mkdtempSync(join(tmpdir(), 'tork-bench-test-'));
  t.after(() => rmSync(cache, { recursive: true, force: true }));
  const { status, stdout, stderr } = await bench(t, [...args, '--cache', cache]);
  let report: Record<string, unknown>;
  try {
    report = JSON.parse(stdout) as Record<string, unknown>;
  } catch (error) {
    assert.fail(
      `tork bench --json printed no valid JSON (${(error as Error).message}); status ${status}\n${stderr}\n${stdout.slice(0, 2000)}`,
    );
  }
  return { status, report, stderr };
}
