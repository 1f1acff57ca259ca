/**
 * Local service discovery (BEP 14) end to end, inside a private network namespace that has only
 * `lo` (see netns.ts): the multicast stays on this machine whatever happens. A `tork seed` and a
 * `tork download` of the interop data set meet through LSD alone (the seeder reads the
 * downloader's announce and dials it) — the torrent has no trackers and no `--peer` is given —
 * and the download completes byte-identical. A listener in the namespace reads what goes over the
 * group: the seeder's announce names its listening port, and a private torrent is never announced
 * (BEP 27). `--lsd` turns LSD on over the TORK_HERMETIC=1 of a test run. Every process is stopped
 * by PID.
 */
import '../support/hermetic.js';
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { verifyDownload } from '@tork/cli';
import { decodeLsdAnnounce, LSD_IPV4_GROUP, LSD_PORT, type LsdAnnounce, parseMetainfo } from '@tork/core';
import { linkTree } from '../clients/support.js';
import { interopDataset, type TorkEvent, torkMain } from '../download/support.js';
import { killOnExit } from '../seed/support.js';
import { type StartedProgram, startProgram } from '../support/programs.js';
import { type PrivateNetns, privateNetns } from './netns.js';

/** Longest waits: generous, they only keep a broken run from hanging (nothing here is timed). */
const CHECK_TIMEOUT_MS = 120_000;
const DOWNLOAD_TIMEOUT_MS = 240_000;

interface TorkProcess {
  readonly pid: number;
  readonly events: TorkEvent[];
  readonly exited: Promise<{ status: number | null; signal: NodeJS.Signals | null }>;
  waitFor(event: string, timeoutMs: number, match?: (e: TorkEvent) => boolean): Promise<TorkEvent>;
  /** SIGINT by PID (a clean stop), SIGKILL after 10 s; resolves once it has exited. */
  stop(): Promise<void>;
  transcript(): string;
}

/** `tork <command> …args --json` inside the namespace. */
async function startTork(
  netns: PrivateNetns,
  command: 'seed' | 'download',
  args: readonly string[],
): Promise<TorkProcess> {
  const [program, argv] = netns.wrap(process.execPath, [torkMain, command, ...args, '--json']);
  const child: ChildProcess = spawn(program, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  const pid = await new Promise<number>((resolve, reject) => {
    child.once('spawn', () => resolve(child.pid!));
    child.once('error', reject);
  });
  killOnExit(child);
  const events: TorkEvent[] = [];
  const waiters = new Set<() => void>();
  let stderr = '';
  let partial = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    partial += chunk.toString('utf8');
    const lines = partial.split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      if (!line.trim()) continue;
      try {
        events.push(JSON.parse(line) as TorkEvent);
      } catch {
        events.push({ event: 'unparsed-line', line });
      }
    }
    for (const waiter of waiters) waiter();
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString('utf8')).slice(-64 * 1024);
  });
  const exited = new Promise<{ status: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (status, signal) => {
      resolve({ status, signal });
      for (const waiter of waiters) waiter();
    });
  });
  const running = () => child.exitCode === null && child.signalCode === null;
  const transcript = () =>
    [
      `tork ${command} ${args.join(' ')} (pid ${pid})`,
      ...events.filter((event) => event.event !== 'progress').map((event) => JSON.stringify(event)),
      `stderr: ${stderr}`,
    ].join('\n');
  let stopping: Promise<void> | undefined;
  return {
    pid,
    events,
    exited,
    transcript,
    waitFor: (name, timeoutMs, match = () => true) =>
      new Promise((resolve, reject) => {
        const check = () => {
          const found = events.find((event) => event.event === name && match(event));
          if (found) done(() => resolve(found));
          else if (!running()) done(() => reject(new Error(`exited before '${name}'\n${transcript()}`)));
        };
        const timer = setTimeout(
          () => done(() => reject(new Error(`no '${name}' within ${timeoutMs} ms\n${transcript()}`))),
          timeoutMs,
        );
        const done = (settle: () => void) => {
          clearTimeout(timer);
          waiters.delete(check);
          settle();
        };
        waiters.add(check);
        check();
      }),
    stop: () => {
      stopping ??= (async () => {
        if (running()) {
          process.kill(pid, 'SIGINT');
          const timer = setTimeout(() => running() && process.kill(pid, 'SIGKILL'), 10_000);
          await exited;
          clearTimeout(timer);
        }
      })();
      return stopping;
    },
  };
}

/** A process in the namespace that joins the group and prints every datagram as a JSON line. */
const LISTENER = `
const dgram = require('node:dgram');
const socket = dgram.createSocket({ type: 'udp4', reuseAddr: true });
socket.on('message', (message, from) =>
  process.stdout.write(JSON.stringify({ from: from.address, data: message.toString('base64') }) + '\\n'));
socket.bind(${LSD_PORT}, () => {
  socket.addMembership('${LSD_IPV4_GROUP}');
  process.stdout.write('listening\\n');
});
`;

function announcesHeard(listener: StartedProgram): Array<{ from: string; announce: LsdAnnounce }> {
  return listener
    .output()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as { from: string; data: string })
    .map(({ from, data }) => ({ from, announce: decodeLsdAnnounce(Buffer.from(data, 'base64')) }));
}

/** `tork create DIR --private` (its tracker answers nothing); returns the info-hash. */
function torkCreatePrivate(dir: string, out: string): string {
  const result = spawnSync(
    process.execPath,
    [torkMain, 'create', dir, '--announce', 'http://127.0.0.1:1/announce', '--private', '-o', out, '--json'],
    { encoding: 'utf8', timeout: 60_000 },
  );
  if (result.status !== 0) throw new Error(`tork create exited ${result.status}: ${result.stderr}`);
  return JSON.parse(result.stdout.trim().split('\n').at(-1)!).infoHash;
}

const work = await mkdtemp(join(tmpdir(), 'tork-lsd-'));
after(() => (process.env.TORK_KEEP_WORK ? undefined : rm(work, { recursive: true, force: true })));

describe('local service discovery (BEP 14) in a private network namespace', { timeout: 600_000 }, () => {
  it('a seeder and a downloader meet through LSD alone, the download is byte-identical, a private torrent is never announced', async (t) => {
    const netns = await privateNetns(t);
    if (!netns) return;
    const dataset = await interopDataset('lsd');
    const seedData = join(work, 'seed-data');
    await linkTree(dataset.dataDir, seedData);
    const all: Array<{ stop(): Promise<void> }> = [];
    t.after(() => Promise.all(all.map((process) => process.stop())));

    const [node, listenerArgs] = netns.wrap(process.execPath, ['-e', LISTENER]);
    const listener = await startProgram(node, listenerArgs);
    all.push(listener);
    for (const deadline = Date.now() + CHECK_TIMEOUT_MS; !listener.output().includes('listening'); ) {
      if (!listener.running() || Date.now() > deadline) throw new Error(`no listener: ${listener.output()}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }

    // A private torrent first (its tracker is an address that answers nothing, in the namespace).
    const privateDir = join(work, 'private');
    await mkdir(join(privateDir, 'secret'), { recursive: true });
    await writeFile(join(privateDir, 'secret', 'file.bin'), Buffer.alloc(100_000, 7));
    const privateTorrent = join(work, 'private.torrent');
    const privateHash = torkCreatePrivate(join(privateDir, 'secret'), privateTorrent);
    const privateSeeder = await startTork(netns, 'seed', [
      privateTorrent,
      '--data',
      privateDir,
      '--port',
      '0',
      '--lsd',
    ]);
    all.push(privateSeeder);
    await privateSeeder.waitFor('done', CHECK_TIMEOUT_MS);

    // The seeder of the public torrent: no trackers in it, no --peer anywhere below. It listens on
    // 127.0.0.1, so its announces leave by that interface (IP_MULTICAST_IF); the downloader's
    // listen on every address, so theirs follow the route to the group.
    const seeder = await startTork(netns, 'seed', [
      dataset.torrentPath,
      '--data',
      seedData,
      '--port',
      '0',
      '--listen-host',
      '127.0.0.1',
      '--lsd',
    ]);
    all.push(seeder);
    const seederPort = (await seeder.waitFor('listening', CHECK_TIMEOUT_MS)).port as number;
    await seeder.waitFor('done', CHECK_TIMEOUT_MS);

    const out = join(work, 'out');
    const downloader = await startTork(netns, 'download', [
      dataset.torrentPath,
      '--out',
      out,
      '--port',
      '0',
      '--lsd',
    ]);
    all.push(downloader);
    const done = await downloader.waitFor('done', DOWNLOAD_TIMEOUT_MS);
    const downloaderExit = await downloader.exited;
    assert.equal(downloaderExit.status, 0, `the download exits 0\n${downloader.transcript()}`);
    assert.equal(done.verifiedPieces, done.pieceCount);
    assert.deepEqual(await verifyDownload(dataset, out), [], 'every file byte-identical');

    // Through LSD: at least one side learnt of the other from an announce.
    const found = [...seeder.events, ...downloader.events].filter(
      (event) => event.event === 'lsd-peers' && (event.added as number) > 0,
    );
    assert.ok(found.length > 0, `an lsd-peers event\n${seeder.transcript()}\n${downloader.transcript()}`);
    const lsdEvents = (events: TorkEvent[]) => events.filter((event) => event.event === 'lsd-peers').length;
    t.diagnostic(
      `lsd-peers events: seeder ${lsdEvents(seeder.events)}, downloader ${lsdEvents(downloader.events)}; ` +
        `downloader's peers: ${JSON.stringify(downloader.events.filter((event) => event.event === 'peer-connected').map((event) => event.address))}`,
    );

    await seeder.stop();
    await privateSeeder.stop();
    for (const process of [seeder, privateSeeder]) {
      const exit = await process.exited;
      assert.equal(exit.status, 0, `exit after SIGINT (${exit.signal})\n${process.transcript()}`);
    }

    // On the wire: the seeder's announce, from 127.0.0.1 with its listening port; nothing private.
    const heard = announcesHeard(listener);
    const publicHash = parseMetainfo(await readFile(dataset.torrentPath)).infoHashHex;
    assert.ok(
      heard.some(
        ({ from, announce }) =>
          from === '127.0.0.1' && announce.port === seederPort && announce.infoHashes.includes(publicHash),
      ),
      `the seeder's announce (port ${seederPort}, ${publicHash}) among ${JSON.stringify(heard)}`,
    );
    assert.ok(
      heard.every(({ announce }) => !announce.infoHashes.includes(privateHash)),
      'the private torrent was never announced',
    );
  });
});
