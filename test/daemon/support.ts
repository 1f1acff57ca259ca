import '../support/hermetic.js';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Dataset } from '@tork/cli';
import { torkMain } from '../download/support.js';
import { type StartedProgram, startProgram } from '../support/programs.js';

export interface RunningDaemon {
  readonly program: StartedProgram;
  /** `http://127.0.0.1:PORT`. */
  readonly url: string;
}

/** Starts `tork daemon ARGS` (a free API port and peer port unless given) and waits for its API line. */
export async function startDaemon(args: readonly string[]): Promise<RunningDaemon> {
  const all = [
    torkMain,
    'daemon',
    ...(args.includes('--rpc-listen') ? [] : ['--rpc-listen', '127.0.0.1:0']),
    ...(args.includes('--port') ? [] : ['--port', '0']),
    '--listen-host',
    '127.0.0.1',
    '--no-dht',
    ...args,
  ];
  const program = await startProgram(process.execPath, all, {
    ready: async (output) => /API on http:\/\/\S+\/api\/v1/.test(output),
    readyTimeoutMs: 30_000,
  });
  const url = /API on (http:\/\/\S+)\/api\/v1/.exec(program.output())![1]!;
  return { program, url };
}

export interface ApiAnswer {
  readonly status: number;
  readonly json: unknown;
}

/** One API request; never throws on an HTTP error (the test looks at the status and body). */
export async function api(
  url: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<ApiAnswer> {
  const response = await fetch(`${url}${path}`, {
    method,
    headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
    ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: response.status, json };
}

/** Polls `check` until it returns a value (not undefined) or `timeoutMs` passes (then throws `what`). */
export async function waitFor<T>(
  what: string,
  timeoutMs: number,
  check: () => Promise<T | undefined>,
  intervalMs = 250,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** Runs `tork remote --rpc URL ARGS`; resolves with its exit status and output. */
export function runRemote(
  url: string,
  args: readonly string[],
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [torkMain, 'remote', '--rpc', url, ...args],
      { timeout: 60_000 },
      (error, stdout, stderr) =>
        resolve({ status: error ? ((error as { code?: number }).code ?? null) : 0, stdout, stderr }),
    );
  });
}

/** Every file of the data set, byte for byte, under `outDir/<name>/`. */
export async function assertSameFiles(dataset: Dataset, outDir: string): Promise<void> {
  for (const file of dataset.files) {
    const expected = await readFile(join(dataset.dataDir, dataset.name, ...file.path));
    const actual = await readFile(join(outDir, dataset.name, ...file.path));
    if (!expected.equals(actual)) throw new Error(`${file.path.join('/')} differs in ${outDir}`);
  }
}
