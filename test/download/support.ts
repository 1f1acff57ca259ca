import '../support/hermetic.js';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type Dataset, ensureDataset } from '@tork/cli';
import {
  decodeBencode,
  encodeBencode,
  encodeBitfield,
  encodeHandshake,
  encodePieceHeader,
  encodeUnchoke,
  HttpTrackerClient,
  WireDecoder,
} from '@tork/core';
import { datasetView } from '../support/dataset-view.js';
import { findProgram, readyPort, type StartedProgram, startListeningProgram } from '../support/programs.js';

export const root = fileURLToPath(new URL('../../../', import.meta.url));
export const torkMain = join(root, 'packages/cli/dist/main.js');

/**
 * The interop data set: ≥ 64 MiB in 12 files, with a zero-length file, a 1,000-byte file (less
 * than a block), a run of small files one piece spans, and a short last piece (size is not a
 * multiple of the 256 KiB piece). Cached between runs under the OS temp directory.
 */
export const INTEROP_SIZE = 64 * 1024 * 1024 + 12_345;
export const INTEROP_PIECE = 256 * 1024;

/** The interop data set as test file `owner` (a short kebab-case name of its own) sees it. */
export async function interopDataset(owner: string): Promise<Dataset> {
  const shared = await ensureDataset(join(tmpdir(), 'tork-interop-cache'), {
    size: INTEROP_SIZE,
    files: 12,
    pieceLength: INTEROP_PIECE,
    seed: 3,
  });
  // Each test file under its own name, so its own info-hash: see `datasetView`.
  return datasetView(shared, owner);
}

/** The same torrent (same info, same info-hash) with other trackers. */
export async function withTrackers(dataset: Dataset, tiers: string[][], path: string): Promise<string> {
  const { readFile } = await import('node:fs/promises');
  const torrent = decodeBencode(await readFile(dataset.torrentPath)) as Record<string, unknown>;
  torrent.announce = tiers[0]?.[0];
  torrent['announce-list'] = tiers;
  await writeFile(path, encodeBencode(torrent));
  return path;
}

export interface TorkEvent {
  readonly event: string;
  readonly [key: string]: unknown;
}

export interface TorkRun {
  readonly status: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly events: TorkEvent[];
  readonly stderr: string;
  readonly seconds: number;
}

/** Runs `tork download … --json` as a user would; kills it by PID after `timeoutMs`. */
export function runTork(
  args: readonly string[],
  options: { timeoutMs?: number; onEvent?: (event: TorkEvent, pid: number) => void } = {},
): Promise<TorkRun> {
  const started = Date.now();
  // A free port unless the test names one: two test files run at once, and two downloads on the
  // default 6881 collide ("address in use").
  const port = args.includes('--port') ? [] : ['--port', '0'];
  const child = spawn(process.execPath, [torkMain, 'download', ...args, ...port, '--json'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const events: TorkEvent[] = [];
  let stderr = '';
  let partial = '';
  child.stdout.on('data', (chunk: Buffer) => {
    partial += chunk.toString('utf8');
    const lines = partial.split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      if (!line.trim()) continue;
      const event = JSON.parse(line) as TorkEvent;
      events.push(event);
      options.onEvent?.(event, child.pid!);
    }
  });
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000);
  return new Promise((resolve) => {
    child.once('exit', (status, signal) => {
      clearTimeout(timer);
      resolve({ status, signal, events, stderr, seconds: (Date.now() - started) / 1000 });
    });
  });
}

export function throughput(run: TorkRun): string {
  const done = run.events.find((event) => event.event === 'done');
  if (!done) return 'not done';
  const seconds = (done.elapsedMs as number) / 1000;
  return `${((done.length as number) / 1048576 / seconds).toFixed(0)} MiB/s (${seconds.toFixed(2)} s in the engine, ${run.seconds.toFixed(2)} s process)`;
}

/** A python3 that can import libtorrent (Debian's, not a pyenv one on PATH), or undefined. */
export async function libtorrentPython(): Promise<string | undefined> {
  const candidates = ['/usr/bin/python3', findProgram('python3')].filter((p): p is string => Boolean(p));
  for (const python of candidates) {
    const ok = await new Promise<boolean>((resolve) => {
      const child = spawn(python, ['-c', 'import libtorrent'], { stdio: 'ignore' });
      child.once('exit', (code) => resolve(code === 0));
      child.once('error', () => resolve(false));
    });
    if (ok) return python;
  }
  return undefined;
}

/**
 * `libtorrentPython()` for a test that needs it: without one the test is skipped with the reason
 * printed, and under CI=true it fails (a missing program is never a silent skip there).
 */
export async function requireLibtorrentPython(t: TestContext): Promise<string | undefined> {
  const python = await libtorrentPython();
  if (python) return python;
  const reason = 'no python3 with libtorrent: apt-get install python3-libtorrent';
  if (process.env.CI === 'true') throw new Error(`${reason} (required when CI=true)`);
  t.skip(reason);
  return undefined;
}

export async function startLibtorrentSeeder(
  python: string,
  torrentPath: string,
  dataDir: string,
  options: { uploadLimit?: number } = {},
): Promise<StartedProgram & { port: number }> {
  const script = join(root, 'test/support/libtorrent-seeder.py');
  const args = [script, torrentPath, dataDir, '0'];
  if (options.uploadLimit) args.push(String(options.uploadLimit));
  // The script listens on a kernel-chosen port, one for TCP and uTP, and says which.
  return startListeningProgram(python, args, { portFrom: readyPort, readyTimeoutMs: 15_000 });
}

/** Waits until the tracker counts `seeders` complete peers for the info-hash. */
export async function waitForSeeders(
  announceUrl: string,
  infoHashHex: string,
  seeders: number,
): Promise<void> {
  const client = new HttpTrackerClient(announceUrl, { timeoutMs: 2_000 });
  try {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const scrape = await client
        .scrape([Uint8Array.from(Buffer.from(infoHashHex, 'hex'))])
        .catch(() => undefined);
      const complete = scrape?.get(infoHashHex)?.complete ?? 0;
      if (complete >= seeders) return;
      if (Date.now() > deadline)
        throw new Error(`tracker lists ${complete} of ${seeders} seeders after 30 s`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  } finally {
    client.close();
  }
}

/** Tracker counts for an info-hash (HTTP scrape). */
export async function scrapeCounts(announceUrl: string, infoHashHex: string) {
  const client = new HttpTrackerClient(announceUrl, { timeoutMs: 2_000 });
  try {
    const scrape = await client.scrape([Uint8Array.from(Buffer.from(infoHashHex, 'hex'))]);
    return scrape.get(infoHashHex);
  } finally {
    client.close();
  }
}

export interface CorruptPeerOptions {
  /** Set the BEP 52 bit in the handshake (a v2 or hybrid torrent's peer). Default false. */
  readonly v2?: boolean;
  /**
   * The bytes to answer a request with; undefined (the default, or returned) sends random bytes.
   * Lets a peer serve some pieces right and spoil others.
   */
  readonly block?: (index: number, begin: number, length: number) => Uint8Array | undefined;
}

/**
 * A peer that claims every piece, unchokes at once, and answers every request with random bytes
 * (or what `options.block` gives): every piece it spoils fails its hash check.
 */
export async function startCorruptPeer(
  infoHash: Uint8Array,
  pieceCount: number,
  options: CorruptPeerOptions = {},
): Promise<{ port: number; close(): Promise<void>; served(): number }> {
  let served = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    const decoder = new WireDecoder({ expectHandshake: true, pieceCount });
    socket.on('data', (chunk: Buffer) => {
      let messages: ReturnType<WireDecoder['push']>;
      try {
        messages = decoder.push(chunk);
      } catch {
        socket.destroy();
        return;
      }
      for (const message of messages) {
        if (message.type === 'handshake') {
          const bits = new Uint8Array(Math.ceil(pieceCount / 8)).fill(0xff);
          const spare = bits.length * 8 - pieceCount;
          if (spare > 0) bits[bits.length - 1] = (0xff << spare) & 0xff;
          socket.write(
            encodeHandshake({
              infoHash,
              peerId: randomBytes(20),
              fastExtension: false,
              extensionProtocol: false,
              v2: options.v2 ?? false,
            }),
          );
          socket.write(encodeBitfield(bits));
          socket.write(encodeUnchoke());
        } else if (message.type === 'request') {
          served++;
          socket.write(encodePieceHeader(message.index, message.begin, message.length));
          socket.write(
            options.block?.(message.index, message.begin, message.length) ?? randomBytes(message.length),
          );
        }
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    port,
    served: () => served,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
