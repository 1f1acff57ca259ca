/**
 * Peer exchange (BEP 11) with libtorrent, both ways, on 127.0.0.1 only, no tracker:
 *
 * (a) three libtorrent seeders connected to each other; `tork download` given only the first
 *     (`--peer`) learns the other two from its PEX, dials them (their `peer-connected` events say
 *     source `pex`) and completes, byte-identical; with `--no-pex` it connects to its `--peer` only;
 * (b) a libtorrent seeder and a libtorrent leecher that do not know each other, both given to tork:
 *     tork's PEX tells each of the other, and libtorrent's peer list then shows the other as learned
 *     through PEX (`peer_info.source & pex`).
 *
 * libtorrent sends PEX about once a minute (its first message soon after the handshake); tork
 * too. Nothing here asserts a duration. Every process is stopped by PID.
 */
import '../support/hermetic.js';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { type Dataset, ensureDataset, verifyDownload } from '@tork/cli';
import { requireLibtorrentPython, root, runTork, type TorkEvent, type TorkRun } from '../download/support.js';
import { readyPort, type StartedProgram, startListeningProgram } from '../support/programs.js';

const SCRIPT = join(root, 'test/pex/libtorrent-pex-peer.py');
/** 8 MiB + a short last piece, in 64 KiB pieces. */
const SIZE = 8 * 1024 * 1024 + 4_321;
/** The first seeder's pace: the download outlasts a PEX exchange or two (8 MiB alone ≈ 32 s). */
const SLOW = 256 * 1024;
/** Time for libtorrent's first PEX messages between the seeders to go out. */
const FIRST_LISTS_MS = 10_000;
/** Longest a tork run may take before it is killed (and the test fails). */
const RUN_TIMEOUT_MS = 240_000;
/** Longest wait for libtorrent to show a peer learned through tork's PEX. */
const LEARN_TIMEOUT_MS = 150_000;

interface LtPeer {
  readonly address: string;
  readonly source: number;
  readonly pex: boolean;
  readonly outgoing: boolean;
  readonly seed: boolean;
  readonly client: string;
}

interface LtStatus {
  readonly progress: number;
  readonly isSeeding: boolean;
  readonly peers: LtPeer[];
  readonly seen: Record<string, LtPeer>;
}

interface LibtorrentPeer extends StartedProgram {
  readonly port: number;
  readonly address: string;
  /** Its last status line, if any. */
  status(): LtStatus | undefined;
}

let dataset: Dataset;
let work: string;

before(async () => {
  dataset = await ensureDataset(join(tmpdir(), 'tork-pex-cache'), {
    size: SIZE,
    files: 4,
    pieceLength: 64 * 1024,
    seed: 23,
  });
  work = await mkdtemp(join(tmpdir(), 'tork-pex-'));
});
after(() => (process.env.TORK_KEEP_WORK ? undefined : rm(work, { recursive: true, force: true })));

async function requireLibtorrent(t: TestContext): Promise<string | undefined> {
  return requireLibtorrentPython(t);
}

async function startPeer(
  t: TestContext,
  python: string,
  options: { seed: boolean; uploadLimit?: number; connect?: readonly string[]; dir?: string },
): Promise<LibtorrentPeer> {
  const dir = options.dir ?? (options.seed ? dataset.dataDir : await mkdtemp(join(work, 'lt-')));
  // Port 0: the kernel's choice, which nothing can take between pick and bind; it says which.
  const args = [SCRIPT, dataset.torrentPath, dir, '0'];
  if (options.seed) args.push('--seed');
  if (options.uploadLimit) args.push('--upload-limit', String(options.uploadLimit));
  for (const address of options.connect ?? []) args.push('--connect', address);
  const program = await startListeningProgram(python, args, {
    portFrom: readyPort,
    readyTimeoutMs: 15_000,
  });
  const port = program.port;
  t.after(() => program.stop());
  const status = (): LtStatus | undefined => {
    const lines = program.output().split('\n');
    for (let i = lines.length - 1; i >= 0; i--) {
      const line = lines[i]!.trim();
      if (!line.startsWith('{')) continue;
      try {
        const parsed = JSON.parse(line) as LtStatus & { event?: string };
        if (parsed.event === 'status') return parsed;
      } catch {
        // Cut by the capture window, or not a status line: an older one will do.
      }
    }
    return undefined;
  };
  return Object.assign(program, { port, address: `127.0.0.1:${port}`, status });
}

async function until(what: string, done: () => boolean, timeoutMs: number, why: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`no ${what} within ${timeoutMs / 1000} s\n${why()}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

function transcript(run: TorkRun | undefined, peers: readonly LibtorrentPeer[]): string {
  const events = (run?.events ?? []).filter((event) => !['progress', 'piece-verified'].includes(event.event));
  return [
    '--- tork events (without progress) ---',
    ...events.map((event) => JSON.stringify(event)),
    '--- tork stderr ---',
    run?.stderr ?? '',
    ...peers.map((peer) => `--- libtorrent ${peer.address} ---\n${JSON.stringify(peer.status() ?? null)}`),
  ].join('\n');
}

async function assertComplete(run: TorkRun, out: string, why: string): Promise<void> {
  assert.equal(run.status, 0, `tork exited ${run.status} (${run.signal})\n${why}`);
  const done = run.events.find((event) => event.event === 'done');
  assert.ok(done, `a done event\n${why}`);
  assert.equal(done.verifiedPieces, done.pieceCount);
  assert.deepEqual(await verifyDownload(dataset, out), [], 'every file byte-identical');
}

const torkArgs = (out: string, peers: readonly string[], extra: readonly string[] = []) => [
  dataset.torrentPath,
  '--out',
  out,
  ...peers.flatMap((peer) => ['--peer', peer]),
  '--no-trackers',
  '--port',
  '0',
  '--listen-host',
  '127.0.0.1',
  ...extra,
];

describe('peer exchange with libtorrent', { concurrency: 1 }, () => {
  it('tork, given one libtorrent seeder, learns the two others through its PEX, connects to them and completes', async (t) => {
    const python = await requireLibtorrent(t);
    if (!python) return;
    const second = await startPeer(t, python, { seed: true });
    const third = await startPeer(t, python, { seed: true });
    // The one tork is given: slow, so the download lasts while PEX does its work.
    const first = await startPeer(t, python, {
      seed: true,
      uploadLimit: SLOW,
      connect: [second.address, third.address],
    });
    const seeders = [first, second, third];
    await until(
      'seeders connected to each other',
      () => (first.status()?.peers.length ?? 0) >= 2,
      30_000,
      () => transcript(undefined, seeders),
    );

    // libtorrent sends each new connection its full peer list within seconds (spaced 3 s apart
    // across connections), then a difference a minute later: once those first lists are out, the
    // two others learn of tork only from tork's dials, not from the first seeder's PEX (had they
    // dialled tork first, tork would know them as incoming, not through PEX).
    await new Promise((resolve) => setTimeout(resolve, FIRST_LISTS_MS));
    const out = join(work, 'out-a');
    await mkdir(out, { recursive: true });
    const run = await runTork(torkArgs(out, [first.address]), { timeoutMs: RUN_TIMEOUT_MS });
    const why = transcript(run, seeders);
    await assertComplete(run, out, why);

    const connected = run.events.filter((event) => event.event === 'peer-connected');
    const source = (address: string) =>
      connected.find((event: TorkEvent) => event.address === address)?.source;
    assert.equal(source(first.address), 'manual', `the one given by --peer\n${why}`);
    assert.equal(source(second.address), 'pex', `${second.address} learned through PEX\n${why}`);
    assert.equal(source(third.address), 'pex', `${third.address} learned through PEX\n${why}`);
    const pex = run.events.filter((event) => event.event === 'pex-peers');
    assert.ok(pex.length > 0, `a pex-peers event\n${why}`);
    assert.ok(
      pex.some((event) => (event.peers as number) >= 2 && (event.added as number) >= 2),
      `counts in pex-peers\n${why}`,
    );

    // --no-pex, in the same swarm, given one of the others: it dials that one only (it does not
    // offer ut_pex, so libtorrent never sends it a PEX message). The seeders may still dial it: its
    // --peer tells the others its listen port through libtorrent's own PEX; those connections are
    // `incoming`, not tork's doing.
    const quietOut = join(work, 'out-a-no-pex');
    await mkdir(quietOut, { recursive: true });
    const quiet = await runTork(torkArgs(quietOut, [second.address], ['--no-pex']), {
      timeoutMs: RUN_TIMEOUT_MS,
    });
    const quietWhy = transcript(quiet, seeders);
    await assertComplete(quiet, quietOut, quietWhy);
    assert.deepEqual(
      quiet.events
        .filter((event) => event.event === 'peer-connected' && event.source !== 'incoming')
        .map((event) => event.address),
      [second.address],
      `--no-pex: it dials only the --peer\n${quietWhy}`,
    );
    assert.equal(quiet.events.filter((event) => event.event === 'pex-peers').length, 0, quietWhy);
    t.diagnostic(
      `pex-peers: ${pex.map((event) => JSON.stringify({ peers: event.peers, added: event.added })).join(' ')}; ` +
        `connected: ${connected.map((event) => `${event.address} (${event.source})`).join(', ')}`,
    );
  });

  it("a libtorrent peer learns of another from tork's PEX", async (t) => {
    const python = await requireLibtorrent(t);
    if (!python) return;
    // A seeder and a leecher that know nothing of each other; tork is given both.
    const seeder = await startPeer(t, python, { seed: true, uploadLimit: SLOW });
    const leecher = await startPeer(t, python, { seed: false });
    const both = [seeder, leecher];
    const out = join(work, 'out-b');
    await mkdir(out, { recursive: true });
    const running = runTork(torkArgs(out, [seeder.address, leecher.address]), { timeoutMs: RUN_TIMEOUT_MS });

    // Either learns the other from tork (the only peer each knows) and dials it: the dialler's
    // peer list shows the other, at its listen address, with the PEX source bit.
    const learned = (by: LibtorrentPeer, of: LibtorrentPeer) => by.status()?.seen[of.address]?.pex === true;
    let run: TorkRun | undefined;
    void running.then((finished) => {
      run = finished;
    });
    await until(
      "a libtorrent peer that learned of the other through tork's PEX",
      () => learned(seeder, leecher) || learned(leecher, seeder),
      LEARN_TIMEOUT_MS,
      () => transcript(run, both),
    );
    run = await running;
    const why = transcript(run, both);
    await assertComplete(run, out, why);
    t.diagnostic(
      `seeder learned of the leecher: ${learned(seeder, leecher)}, leecher learned of the seeder: ${learned(leecher, seeder)}`,
    );
  });
});
