/**
 * Web seeds (BEP 19) against a real web server: Debian's nginx, started by the test on a free
 * loopback port and stopped by PID. tork downloads from nginx alone (multi-file with names that need
 * percent-encoding, a zero-length file and pieces spanning small files; single-file), from nginx and
 * libtorrent seeders together (both deliver), from a server with corrupted data (the web seed is
 * banned for hash failures, the peers finish), from nginx with `max_ranges 0` (it ignores Range:
 * tork skips to each span and completes), and with a 404 web seed and a dead one beside a peer.
 */
import '../support/hermetic.js';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Dataset } from '@tork/cli';
import { decodeBencode, encodeBencode } from '@tork/core';
import {
  libtorrentPython,
  requireLibtorrentPython,
  runTork,
  type TorkEvent,
  type TorkRun,
} from '../download/support.js';
import { startLibtorrentSeeder } from '../support/libtorrent-peer.js';
import { requireNginx, startNginx } from '../support/nginx.js';
import { freePort } from '../support/programs.js';
import { sameAsSource, webSeedDataset } from './support.js';

const MiB = 1024 * 1024;
let work: string;
let multi: Dataset & { badDir: string };
let single: Dataset & { badDir: string };

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'tork-webseed-'));
  multi = await webSeedDataset(join(work, 'multi'), true, 24 * MiB + 12_345);
  single = await webSeedDataset(join(work, 'single'), false, 6 * MiB + 4_321);
});
after(() => rm(work, { recursive: true, force: true }));

function args(torrent: string, out: string, extra: readonly string[]): string[] {
  return [
    torrent,
    '--out',
    out,
    '--no-trackers',
    '--no-dht',
    '--no-lsd',
    '--port',
    '0',
    '--listen-host',
    '127.0.0.1',
    ...extra,
  ];
}

/** Web seeds closed before the end (at the end every seed is closed: "both seeds: nothing to trade"). */
function webSeedDrops(run: TorkRun): TorkEvent[] {
  return run.events.filter(
    (event) =>
      event.event === 'peer-disconnected' &&
      event.source === 'webseed' &&
      !(event.reason as { message: string }).message.includes('both seeds'),
  );
}

function bySource(run: TorkRun): Record<string, number> {
  const stopped = run.events.find((event) => event.event === 'stopped') as
    | { peers: { downloadedBySource: Record<string, number> } }
    | undefined;
  return stopped?.peers.downloadedBySource ?? {};
}

function explain(run: TorkRun): string {
  return `status ${run.status}; stderr: ${run.stderr.slice(-2000)}; drops: ${JSON.stringify(webSeedDrops(run))}`;
}

describe('web seeds (BEP 19) from a real nginx', { timeout: 600_000 }, () => {
  it('multi-file torrent from nginx alone: byte-identical, every byte from the web seed', async (t) => {
    const bin = requireNginx(t);
    if (!bin) return;
    const nginx = await startNginx(t, bin, multi.dataDir);
    const out = await mkdtemp(join(work, 'out-'));
    const run = await runTork(args(multi.torrentPath, out, ['--web-seed', nginx.url]), {
      timeoutMs: 120_000,
    });
    assert.equal(run.status, 0, explain(run));
    assert.deepEqual(await sameAsSource(multi, out, true), []);
    const connected = run.events.find((event) => event.event === 'peer-connected');
    assert.equal(connected?.source, 'webseed');
    assert.equal(connected?.address, nginx.url);
    assert.ok((bySource(run).webseed ?? 0) >= multi.length, JSON.stringify(bySource(run)));
  });

  it("single-file torrent from the torrent's own url-list (a directory URL ending in /)", async (t) => {
    const bin = requireNginx(t);
    if (!bin) return;
    const nginx = await startNginx(t, bin, single.dataDir);
    // The same info (same info-hash) with a url-list: a loopback URL, so TORK_HERMETIC=1 keeps it.
    const torrent = decodeBencode(await readFile(single.torrentPath)) as Record<string, unknown>;
    torrent['url-list'] = [nginx.url, 'ftp://127.0.0.1/ignored', 'http://mirror.invalid/not-on-loopback'];
    const withList = join(work, 'single-url-list.torrent');
    await writeFile(withList, encodeBencode(torrent));
    const out = await mkdtemp(join(work, 'out-'));
    const run = await runTork(args(withList, out, []), { timeoutMs: 120_000 });
    assert.equal(run.status, 0, explain(run));
    assert.deepEqual(await sameAsSource(single, out, false), []);
    const ignored = run.events
      .filter((event) => event.event === 'web-seed-ignored')
      .map((event) => event.url);
    assert.deepEqual(ignored.sort(), ['ftp://127.0.0.1/ignored', 'http://mirror.invalid/not-on-loopback']);
  });

  it('nginx and libtorrent seeders together: complete, and both sources delivered', async (t) => {
    const bin = requireNginx(t);
    if (!bin) return;
    const python = await requireLibtorrentPython(t);
    if (!python) return;
    const nginx = await startNginx(t, bin, multi.dataDir);
    const a = await startLibtorrentSeeder(t, python, multi, 'enabled');
    const b = await startLibtorrentSeeder(t, python, multi, 'enabled');
    const out = await mkdtemp(join(work, 'out-'));
    const run = await runTork(
      args(multi.torrentPath, out, [
        '--web-seed',
        nginx.url,
        '--peer',
        `127.0.0.1:${a.port}`,
        '--peer',
        `127.0.0.1:${b.port}`,
        '--encryption',
        'disable',
      ]),
      { timeoutMs: 120_000 },
    );
    assert.equal(run.status, 0, explain(run));
    assert.deepEqual(await sameAsSource(multi, out, true), []);
    const sources = bySource(run);
    t.diagnostic(`bytes by source: ${JSON.stringify(sources)}`);
    assert.ok((sources.webseed ?? 0) > 0, `the web seed delivered nothing: ${JSON.stringify(sources)}`);
    assert.ok((sources.manual ?? 0) > 0, `the peers delivered nothing: ${JSON.stringify(sources)}`);
  });

  it('a server with corrupted data: the web seed is banned for hash failures, the peers finish', async (t) => {
    const bin = requireNginx(t);
    if (!bin) return;
    const python = await libtorrentPython();
    if (!python) {
      if (process.env.CI === 'true') throw new Error('python3-libtorrent is required when CI=true');
      t.skip('python3-libtorrent not installed');
      return;
    }
    const bad = await startNginx(t, bin, multi.badDir);
    const seeder = await startLibtorrentSeeder(t, python, multi, 'enabled');
    const out = await mkdtemp(join(work, 'out-'));
    const run = await runTork(
      args(multi.torrentPath, out, [
        '--web-seed',
        bad.url,
        '--peer',
        `127.0.0.1:${seeder.port}`,
        '--encryption',
        'disable',
      ]),
      { timeoutMs: 120_000 },
    );
    assert.equal(run.status, 0, explain(run));
    assert.deepEqual(await sameAsSource(multi, out, true), []);
    const drops = webSeedDrops(run);
    assert.equal(drops.length, 1, explain(run));
    assert.equal(drops[0]?.banned, true);
    assert.match(
      (drops[0]?.reason as { message: string } | undefined)?.message ?? '',
      /failed the hash check/,
    );
    const done = run.events.find((event) => event.event === 'done') as { hashFailures: number } | undefined;
    assert.ok((done?.hashFailures ?? 0) >= 1);
  });

  it('nginx ignoring Range (max_ranges 0): tork reads each whole file up to its span and completes', async (t) => {
    const bin = requireNginx(t);
    if (!bin) return;
    const nginx = await startNginx(t, bin, single.dataDir, { ignoreRange: true });
    // Proof that this nginx ignores Range: a ranged GET gets 200 and the whole file.
    const probe = await fetch(new URL(encodeURIComponent(single.name), nginx.url), {
      headers: { Range: 'bytes=0-9' },
    });
    assert.equal(probe.status, 200);
    await probe.body?.cancel();
    const out = await mkdtemp(join(work, 'out-'));
    const run = await runTork(args(single.torrentPath, out, ['--web-seed', nginx.url]), {
      timeoutMs: 120_000,
    });
    assert.equal(run.status, 0, explain(run));
    assert.deepEqual(await sameAsSource(single, out, false), []);
    assert.deepEqual(webSeedDrops(run), []);
  });

  it('--max-download caps what a web seed fetches', async (t) => {
    const bin = requireNginx(t);
    if (!bin) return;
    const nginx = await startNginx(t, bin, single.dataDir);
    const out = await mkdtemp(join(work, 'out-'));
    const cap = 2 * MiB;
    const run = await runTork(
      args(single.torrentPath, out, ['--web-seed', nginx.url, '--max-download', '2MiB']),
      {
        timeoutMs: 120_000,
      },
    );
    assert.equal(run.status, 0, explain(run));
    assert.deepEqual(await sameAsSource(single, out, false), []);
    const done = run.events.find((event) => event.event === 'done') as { elapsedMs: number } | undefined;
    const rate = single.length / ((done?.elapsedMs ?? 1) / 1000);
    t.diagnostic(`${(rate / MiB).toFixed(2)} MiB/s under a 2 MiB/s cap`);
    // 6 MiB at 2 MiB/s: about 3 s (a quarter second of burst, socket buffers at the start).
    assert.ok(rate <= cap * 1.15, `${rate} bytes/s over the cap`);
  });

  it('a 404 web seed is dropped with the reason and a dead one stays out of the way; the peer finishes', async (t) => {
    const bin = requireNginx(t);
    if (!bin) return;
    const python = await libtorrentPython();
    if (!python) {
      if (process.env.CI === 'true') throw new Error('python3-libtorrent is required when CI=true');
      t.skip('python3-libtorrent not installed');
      return;
    }
    const nginx = await startNginx(t, bin, multi.dataDir);
    const seeder = await startLibtorrentSeeder(t, python, multi, 'enabled');
    const missing = new URL('no/such/dir/', nginx.url).href;
    const dead = `http://127.0.0.1:${await freePort({ protocols: ['tcp'] })}/`;
    const out = await mkdtemp(join(work, 'out-'));
    const run = await runTork(
      args(multi.torrentPath, out, [
        '--web-seed',
        missing,
        '--web-seed',
        dead,
        '--peer',
        `127.0.0.1:${seeder.port}`,
        '--encryption',
        'disable',
      ]),
      { timeoutMs: 120_000 },
    );
    assert.equal(run.status, 0, explain(run));
    assert.deepEqual(await sameAsSource(multi, out, true), []);
    const drop404 = webSeedDrops(run).find((event) => event.address === missing);
    assert.ok(drop404, explain(run));
    assert.match((drop404.reason as { message: string }).message, /HTTP 404/);
    assert.equal((drop404.reason as { code: string }).code, 'TORK_ERR_WEB_SEED');
    assert.equal(bySource(run).webseed ?? 0, 0);
  });
});
