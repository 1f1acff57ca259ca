/**
 * Debian's real `transmission-remote` (transmission-cli 3.00) drives `tork daemon` over Transmission
 * RPC: it adds a .torrent (announced through a loopback opentracker, where a libtorrent seeder
 * waits) and a magnet (whose `x.pe` names a second libtorrent seeder), lists them with progress,
 * shows a torrent's files, peers and details, selects files and caps a rate, stops, starts and
 * removes one. Each step is checked against the daemon's own JSON API; both downloads complete
 * byte-identical. The session-id handshake and the token as a Basic-auth password are checked
 * with raw requests too.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { access, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type Dataset, ensureDataset, type TorrentSummaryBody, torrentDetail, torrentList } from '@tork/cli';
import { parseMetainfo } from '@tork/core';
import {
  requireLibtorrentPython,
  startLibtorrentSeeder,
  waitForSeeders,
  withTrackers,
} from '../download/support.js';
import { startOpentracker } from '../support/opentracker.js';
import { requireProgram } from '../support/programs.js';
import { api, assertSameFiles, startDaemon, waitFor } from './support.js';

const TOKEN = 'transmission-remote-test-token';
const bearer = { authorization: `Bearer ${TOKEN}` };
/** Seeder cap for the .torrent: its 3 MiB take ~6 s, long enough to see the peer mid-download. */
const UPLOAD_LIMIT = 512 * 1024;

let work: string;
let fileSet: Dataset;
let magnetSet: Dataset;

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'tork-transmission-remote-'));
  const cache = join(tmpdir(), 'tork-daemon-cache');
  fileSet = await ensureDataset(cache, {
    size: 3 * 1024 * 1024 + 333,
    files: 5,
    pieceLength: 64 * 1024,
    seed: 61,
  });
  magnetSet = await ensureDataset(cache, {
    size: 1024 * 1024 + 55,
    files: 3,
    pieceLength: 32 * 1024,
    seed: 62,
  });
});
after(() => rm(work, { recursive: true, force: true }));

interface RemoteRun {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** One `transmission-remote HOST:PORT --auth tork:TOKEN ARGS` run. */
function remote(bin: string, hostPort: string, args: readonly string[], token = TOKEN): Promise<RemoteRun> {
  return new Promise((resolve) => {
    execFile(
      bin,
      [hostPort, '--auth', `tork:${token}`, ...args],
      { timeout: 30_000 },
      (error, stdout, stderr) =>
        resolve({ status: error ? ((error as { code?: number }).code ?? null) : 0, stdout, stderr }),
    );
  });
}

/** The `torrent-get` fields this test reads. */
interface RpcTorrentView {
  readonly fileStats: Array<{ bytesCompleted: number }>;
  readonly haveValid: number;
  readonly peersFrom: { fromTracker: number };
  readonly leftUntilDone: number;
  readonly status: number;
}

/** A row of `transmission-remote -l` (names without spaces: the status is the last word before). */
interface ListRow {
  readonly id: number;
  readonly done: string;
  readonly status: string;
  readonly name: string;
}

const LIST_ROW =
  /^\s*(\d+)\*?\s+(\d+%|n\/a)\s.*\s(Idle|Stopped|Downloading|Seeding|Up & Down|Uploading|Verifying|Will Verify|Queued|Finished|Unknown)\s+(\S+)$/;

/** Parses `-l`'s table (header, one row per torrent, the Sum line). */
function parseList(stdout: string): ListRow[] {
  const lines = stdout.trimEnd().split('\n');
  assert.match(lines[0] ?? '', /^\s+ID\s+Done\s+Have\s+ETA\s+Up\s+Down\s+Ratio\s+Status\s+Name$/, stdout);
  assert.match(lines.at(-1) ?? '', /^Sum:/, stdout);
  return lines.slice(1, -1).map((line) => {
    const match = LIST_ROW.exec(line);
    assert.ok(match, `a -l row: ${JSON.stringify(line)}`);
    return { id: Number(match[1]), done: match[2]!, status: match[3]!, name: match[4]! };
  });
}

describe('transmission-remote against tork daemon', { timeout: 120_000 }, () => {
  it('adds a .torrent and a magnet, lists, shows files/peers/info, stops, starts and removes', async (t) => {
    const bin = requireProgram(t, 'transmission-remote', 'transmission-cli');
    const opentracker = bin && requireProgram(t, 'opentracker', 'opentracker');
    if (!bin || !opentracker) return;
    const python = await requireLibtorrentPython(t);
    if (!python) return;
    const fileHash = parseMetainfo(await readFile(fileSet.torrentPath)).infoHashHex;
    const magnetHash = parseMetainfo(await readFile(magnetSet.torrentPath)).infoHashHex;
    const tracker = await startOpentracker(opentracker, [fileHash]);
    t.after(() => tracker.stop());
    // The .torrent names the loopback tracker: the daemon finds the seeder through it.
    const torrentPath = await withTrackers(fileSet, [[tracker.httpUrl]], join(work, 'with-tracker.torrent'));
    const fileSeeder = await startLibtorrentSeeder(python, torrentPath, fileSet.dataDir, {
      uploadLimit: UPLOAD_LIMIT,
    });
    t.after(() => fileSeeder.stop());
    const magnetSeeder = await startLibtorrentSeeder(python, magnetSet.torrentPath, magnetSet.dataDir);
    t.after(() => magnetSeeder.stop());
    await waitForSeeders(tracker.httpUrl, fileHash, 1);

    const out = join(work, 'out');
    const daemon = await startDaemon([
      '--state',
      join(work, 'state'),
      '--download-dir',
      out,
      '--download-root',
      work,
      '--rpc-token',
      TOKEN,
    ]);
    t.after(() => daemon.program.stop());
    const hostPort = daemon.url.replace(/^http:\/\//, '');
    const rpcUrl = `${daemon.url}/transmission/rpc`;
    const basic = { authorization: `Basic ${Buffer.from(`anyone:${TOKEN}`).toString('base64')}` };

    // The handshake: no id → 409 with the id; the id → an answer; the token is required either way.
    const noAuth = await fetch(rpcUrl, { method: 'POST', body: '{"method":"session-get"}' });
    assert.equal(noAuth.status, 401);
    const conflict = await fetch(rpcUrl, {
      method: 'POST',
      headers: basic,
      body: '{"method":"session-get"}',
    });
    assert.equal(conflict.status, 409);
    const sessionId = conflict.headers.get('x-transmission-session-id');
    assert.ok(sessionId && sessionId.length >= 32, String(sessionId));
    const wrongId = await fetch(rpcUrl, {
      method: 'POST',
      headers: { ...basic, 'X-Transmission-Session-Id': 'not-the-id' },
      body: '{"method":"session-get"}',
    });
    assert.equal(wrongId.status, 409);
    const answered = await fetch(rpcUrl, {
      method: 'POST',
      headers: { ...basic, 'X-Transmission-Session-Id': sessionId },
      body: '{"method":"session-get","tag":7}',
    });
    assert.equal(answered.status, 200);
    const session = (await answered.json()) as {
      result: string;
      tag: number;
      arguments: Record<string, unknown>;
    };
    assert.equal(session.result, 'success');
    assert.equal(session.tag, 7);
    assert.equal(session.arguments['download-dir'], out);

    const ok = (run: RemoteRun) => {
      assert.equal(run.status, 0, `${run.stdout}\n${run.stderr}`);
      assert.match(run.stdout, /responded: "success"/);
    };
    ok(await remote(bin, hostPort, ['-a', torrentPath]));
    const magnet = `magnet:?xt=urn:btih:${magnetHash}&dn=${magnetSet.name}&x.pe=127.0.0.1:${magnetSeeder.port}`;
    ok(await remote(bin, hostPort, ['-a', magnet]));
    // Again: a duplicate is still "success" in Transmission's RPC.
    ok(await remote(bin, hostPort, ['-a', magnet]));
    // A URL is refused: the daemon fetches nothing from the web.
    const url = await remote(bin, hostPort, ['-a', 'http://127.0.0.1:1/x.torrent']);
    assert.notEqual(url.status, 0);
    assert.match(url.stdout, /does not download \.torrent files from URLs/);

    const apiList = async (): Promise<TorrentSummaryBody[]> =>
      torrentList.parse((await api(daemon.url, 'GET', '/api/v1/torrents', undefined, bearer)).json).torrents;
    const listed = await apiList();
    assert.deepEqual(
      listed.map((torrent) => torrent.id),
      [fileHash, magnetHash],
      'ids follow the order of adding',
    );
    const list = async () => {
      const run = await remote(bin, hostPort, ['-l']);
      assert.equal(run.status, 0, run.stderr);
      return parseList(run.stdout);
    };

    // Mid-download: the .torrent's row shows progress between the API's figures before and after,
    // and its peers list the libtorrent seeder the API lists.
    const before = await waitFor('the .torrent to start downloading', 30_000, async () => {
      const [file] = await apiList();
      return file && file.progress > 0.05 && file.progress < 0.9 ? file : undefined;
    });
    const [row1, row2] = await list();
    const afterList = (await apiList())[0]!;
    assert.equal(row1?.id, 1);
    assert.equal(row1?.name, fileSet.name);
    assert.equal(row2?.id, 2);
    const percent = Number(row1!.done.replace('%', ''));
    assert.ok(
      percent >= Math.floor(before.progress * 100) && percent <= Math.ceil(afterList.progress * 100),
      `-l says ${percent}%, the API ${before.progress} then ${afterList.progress}`,
    );
    const peersShown = await waitFor('the seeder in -t 1 -pi', 20_000, async () => {
      const run = await remote(bin, hostPort, ['-t', '1', '-pi']);
      assert.equal(run.status, 0, run.stderr);
      // The seeder has every piece: Done 100.0 (from its bitfield).
      return /^127\.0\.0\.1\s+\S*\s+100\.0\s+[\d.]+\s+[\d.]+\s+libtorrent/m.test(run.stdout)
        ? run.stdout
        : undefined;
    });
    assert.match(peersShown, /^Address\s+Flags\s+Done\s+Down\s+Up\s+Client$/m);
    const detailNow = torrentDetail.parse(
      (await api(daemon.url, 'GET', `/api/v1/torrents/${fileHash}`, undefined, bearer)).json,
    );
    assert.ok(
      detailNow.peerList.some((peer) => peer.address === `127.0.0.1:${fileSeeder.port}`),
      JSON.stringify(detailNow.peerList),
    );

    // Per-file progress mid-download (raw RPC): the files' completed bytes come from the pieces on
    // disk, so they sum to no more than the verified bytes, and some file has some.
    const rpc = async (body: object) => {
      const response = await fetch(rpcUrl, {
        method: 'POST',
        headers: { ...basic, 'X-Transmission-Session-Id': sessionId },
        body: JSON.stringify(body),
      });
      assert.equal(response.status, 200);
      return (await response.json()) as {
        result: string;
        arguments: { torrents: RpcTorrentView[] };
      };
    };
    const partial = await rpc({
      method: 'torrent-get',
      arguments: { ids: [1], fields: ['fileStats', 'haveValid', 'percentDone', 'peersFrom'] },
    });
    const [midway] = partial.arguments.torrents;
    const fileBytes = midway!.fileStats.reduce((sum, file) => sum + file.bytesCompleted, 0);
    assert.ok(
      fileBytes > 0 && fileBytes <= midway!.haveValid,
      `${fileBytes} file bytes, ${midway!.haveValid} verified`,
    );
    assert.ok(midway!.peersFrom.fromTracker >= 1, 'the seeder came from the loopback tracker');

    // Both complete, byte-identical; -l agrees with the API.
    await waitFor('both downloads to complete', 60_000, async () => {
      const torrents = await apiList();
      return torrents.length === 2 && torrents.every((torrent) => torrent.progress === 1)
        ? torrents
        : undefined;
    });
    await assertSameFiles(fileSet, out);
    await assertSameFiles(magnetSet, out);
    const complete = await rpc({
      method: 'torrent-get',
      arguments: { fields: ['id', 'fileStats', 'leftUntilDone', 'status'] },
    });
    for (const torrent of complete.arguments.torrents) {
      assert.equal(torrent.leftUntilDone, 0);
      assert.equal(torrent.status, 6, 'seeding');
    }
    assert.deepEqual(
      complete.arguments.torrents[0]!.fileStats.map(
        (file: { bytesCompleted: number }) => file.bytesCompleted,
      ),
      fileSet.files.map((file) => file.length),
      'every file complete, byte for byte',
    );
    const done = await list();
    assert.deepEqual(
      done.map((row) => [row.id, row.done, row.name]),
      [
        [1, '100%', fileSet.name],
        [2, '100%', magnetSet.name],
      ],
    );
    for (const row of done) assert.ok(['Seeding', 'Idle', 'Uploading'].includes(row.status), row.status);

    // Files: one line per file, each 100 %, wanted, with its path under the torrent's name.
    const files = await remote(bin, hostPort, ['-t', '1', '-f']);
    assert.equal(files.status, 0, files.stderr);
    assert.match(files.stdout, new RegExp(`^${fileSet.name} \\(${fileSet.files.length} files\\):$`, 'm'));
    for (const [index, file] of fileSet.files.entries()) {
      // transmission-remote divides by the length: an empty file shows as -nan% (Transmission's too).
      const done = file.length === 0 ? '-?nan%' : '100%';
      const line = new RegExp(
        `^\\s*${index}: ${done} Normal\\s+Yes\\s+.+\\s${fileSet.name}/${file.path.join('/')}$`,
        'm',
      );
      assert.match(files.stdout, line);
    }

    // Details: name, hash, location and completion as the API has them.
    const info = await remote(bin, hostPort, ['-t', '1', '-i']);
    assert.equal(info.status, 0, info.stderr);
    const detail = torrentDetail.parse(
      (await api(daemon.url, 'GET', `/api/v1/torrents/${fileHash}`, undefined, bearer)).json,
    );
    assert.match(info.stdout, new RegExp(`^\\s+Name: ${detail.name}$`, 'm'));
    assert.match(info.stdout, new RegExp(`^\\s+Hash: ${detail.id}$`, 'm'));
    assert.match(info.stdout, new RegExp(`^\\s+Location: ${detail.outDir}$`, 'm'));
    assert.match(info.stdout, /^\s+Percent Done: 100%$/m);
    assert.match(
      info.stdout,
      new RegExp(`^\\s+Piece Count: ${Math.ceil(fileSet.length / (64 * 1024))}$`, 'm'),
    );

    // torrent-set: skip a file and bring it back; cap the download rate (KB/s are 1000 bytes).
    ok(await remote(bin, hostPort, ['-t', '1', '-G', '0']));
    const skipped = torrentDetail.parse(
      (await api(daemon.url, 'GET', `/api/v1/torrents/${fileHash}`, undefined, bearer)).json,
    );
    assert.equal(skipped.files[0]?.priority, 'skip');
    ok(await remote(bin, hostPort, ['-t', '1', '-g', '0', '-ph', '1']));
    const selected = torrentDetail.parse(
      (await api(daemon.url, 'GET', `/api/v1/torrents/${fileHash}`, undefined, bearer)).json,
    );
    assert.deepEqual(
      selected.files.slice(0, 2).map((file) => file.priority),
      ['normal', 'high'],
    );
    ok(await remote(bin, hostPort, ['-t', '1', '-d', '250']));
    assert.deepEqual((await apiList())[0]?.rateLimits, { download: 250_000 });

    // A wrong token is refused; verify is refused with its reason; neither changes anything.
    const wrongToken = await remote(bin, hostPort, ['-l'], `${TOKEN}-not`);
    assert.notEqual(wrongToken.status, 0);
    assert.match(`${wrongToken.stdout}${wrongToken.stderr}`, /TORK_ERR_API_UNAUTHORIZED/);
    const verify = await remote(bin, hostPort, ['-t', '1', '-v']);
    assert.notEqual(verify.status, 0);
    assert.match(verify.stdout, /torrent-verify is not supported/);

    // Session: version and RPC level shown by -si; -st counts bytes.
    const sessionInfo = await remote(bin, hostPort, ['-si']);
    assert.match(sessionInfo.stdout, /Daemon version: 3\.00 \(tork /);
    assert.match(sessionInfo.stdout, /RPC version: 16/);
    const stats = await remote(bin, hostPort, ['-st']);
    assert.match(stats.stdout, /Downloaded:/);

    // Stop, start, remove the magnet's torrent; each checked in the API.
    ok(await remote(bin, hostPort, ['-t', '2', '-S']));
    const stopped = (await apiList()).find((torrent) => torrent.id === magnetHash);
    assert.equal(stopped?.state, 'paused');
    assert.equal((await list())[1]?.status, 'Stopped');
    ok(await remote(bin, hostPort, ['-t', '2', '-s']));
    const started = await waitFor('the magnet torrent to seed again', 20_000, async () => {
      const torrent = (await apiList()).find((one) => one.id === magnetHash);
      return torrent && !torrent.paused && torrent.state === 'seeding' ? torrent : undefined;
    });
    assert.equal(started.progress, 1, 'resumed from its resume data');
    ok(await remote(bin, hostPort, ['-t', '2', '-r']));
    assert.deepEqual(
      (await apiList()).map((torrent) => torrent.id),
      [fileHash],
    );
    assert.deepEqual(
      (await list()).map((row) => row.id),
      [1],
      'the remaining torrent keeps its id',
    );
    await access(join(out, magnetSet.name));
    await assertSameFiles(magnetSet, out);
  });
});
