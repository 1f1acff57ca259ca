/**
 * The daemon's web page in headless Chromium (Debian's `chromium`, driven by `playwright-core`):
 * the page asks for the API token, adds a magnet whose only peer is a libtorrent seeder on
 * loopback (`x.pe=`), shows the peers table with the seeder and the thread hosting it, draws its
 * charts, sees the torrent reach 100 %, deselects a file, pauses and resumes it, adds a .torrent
 * file and removes it (each checked against the JSON API).
 * Chromium loads only http://127.0.0.1:PORT: every other request is aborted and fails the test.
 */
import assert from 'node:assert/strict';
import { access, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { type Dataset, ensureDataset, torrentDetail, torrentList } from '@tork/cli';
import { parseMetainfo } from '@tork/core';
import { libtorrentPython, startLibtorrentSeeder } from '../download/support.js';
import { api, type RunningDaemon, startDaemon, waitFor } from './support.js';

/** The browser: `TORK_CHROMIUM` or Debian's launcher. */
const CHROMIUM = process.env.TORK_CHROMIUM ?? '/usr/bin/chromium';
/** Seeder cap: the 3 MiB download takes ~6 s, long enough to see the peer and the charts move. */
const UPLOAD_LIMIT = 512 * 1024;
const TOKEN = 'web-page-test-token-0123456789';

/** Flags that keep Chromium from reaching out (updates, sync, metrics, field trials, safe browsing). */
const CHROMIUM_ARGS = [
  '--headless=new',
  '--no-first-run',
  '--no-default-browser-check',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-default-apps',
  '--disable-extensions',
  '--disable-domain-reliability',
  '--disable-client-side-phishing-detection',
  '--disable-features=Translate,MediaRouter,OptimizationHints,AutofillServerCommunication',
  '--metrics-recording-only',
  '--password-store=basic',
  '--use-mock-keychain',
  // Containers often have a tiny /dev/shm; Chromium then crashes its renderer.
  '--disable-dev-shm-usage',
  // Root in a container has no user namespace for the sandbox.
  ...(process.getuid?.() === 0 ? ['--no-sandbox'] : []),
];

/**
 * Run in the page (a string: the test compiles without the DOM types): per chart canvas, the
 * painted pixels and the rows holding the "down" series colour (#2b7a4b, antialiasing allowed).
 */
const CANVAS_PIXELS = `[...document.querySelectorAll('.uplot canvas')].map((canvas) => {
  const { data, width } = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
  let painted = 0;
  const rows = new Set();
  for (let at = 0; at < data.length; at += 4) {
    if (data[at + 3] > 0) painted++;
    const near = (value, target) => Math.abs(value - target) < 24;
    if (data[at + 3] > 128 && near(data[at], 0x2b) && near(data[at + 1], 0x7a) && near(data[at + 2], 0x4b))
      rows.add(Math.floor(at / 4 / width));
  }
  return { painted, downRows: rows.size };
})`;

let work: string;
let dataset: Dataset;
/** A second, small torrent, added as a .torrent file through the page. */
let other: Dataset;

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'tork-web-page-'));
  dataset = await ensureDataset(join(tmpdir(), 'tork-daemon-cache'), {
    size: 3 * 1024 * 1024 + 555,
    files: 4,
    pieceLength: 32 * 1024,
    seed: 61,
  });
  other = await ensureDataset(join(tmpdir(), 'tork-daemon-cache'), {
    size: 96 * 1024 + 7,
    files: 2,
    pieceLength: 32 * 1024,
    seed: 62,
  });
});
after(() => rm(work, { recursive: true, force: true }));

/** A missing prerequisite: skipped with the reason, or a failure under CI=true. */
function missing(t: TestContext, reason: string): void {
  if (process.env.CI === 'true') throw new Error(`${reason} (required when CI=true)`);
  t.skip(reason);
}

describe('the web page', { timeout: 120_000 }, () => {
  it('adds a magnet, shows peers with their thread, charts, 100 %; deselects a file; pause, resume, add a file, remove', async (t) => {
    const python = await libtorrentPython();
    if (!python) return missing(t, 'no python3 with libtorrent: apt-get install python3-libtorrent');
    if (
      !(await access(CHROMIUM).then(
        () => true,
        () => false,
      ))
    )
      return missing(t, `no Chromium at ${CHROMIUM}: apt-get install chromium`);
    let playwright: typeof import('playwright-core');
    try {
      playwright = await import('playwright-core');
    } catch {
      return missing(t, 'no playwright-core: pnpm install');
    }

    const seeder = await startLibtorrentSeeder(python, dataset.torrentPath, dataset.dataDir, {
      uploadLimit: UPLOAD_LIMIT,
    });
    t.after(() => seeder.stop());
    const daemon: RunningDaemon = await startDaemon([
      '--state',
      join(work, 'state'),
      '--download-dir',
      join(work, 'out'),
      '--rpc-token',
      TOKEN,
    ]);
    t.after(() => daemon.program.stop());
    const auth = { authorization: `Bearer ${TOKEN}` };
    const infoHash = parseMetainfo(await readFile(dataset.torrentPath)).infoHashHex;
    const seederAddress = `127.0.0.1:${seeder.port}`;

    const browser = await playwright.chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    t.after(() => browser.close());
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    const origin = new URL(daemon.url).origin;
    const foreign: string[] = [];
    await page.route('**/*', (route) => {
      const url = route.request().url();
      if (url.startsWith(`${origin}/`)) return route.continue();
      foreign.push(url);
      return route.abort();
    });
    const pageErrors: string[] = [];
    page.on('pageerror', (error) => pageErrors.push(error.message));
    page.on('console', (message) => {
      // The first poll before the token is given answers 401: expected; anything else is not.
      // The URL says which request failed ("Failed to load resource" alone does not).
      if (message.type() === 'error' && !/401/.test(message.text()))
        pageErrors.push(`${message.text()} (${message.location()?.url ?? 'no url'})`);
    });

    await page.goto(`${origin}/`);
    // The daemon has a token: the page asks for it, keeps it in sessionStorage and sends it.
    await page.locator('#token-input').waitFor({ state: 'visible', timeout: 10_000 });
    await page.fill('#token-input', TOKEN);
    await page.click('#token-form button[type=submit]');
    await page.locator('#no-torrents').waitFor({ state: 'visible', timeout: 10_000 });

    await page.fill('#magnet', `magnet:?xt=urn:btih:${infoHash}&dn=${dataset.name}&x.pe=${seederAddress}`);
    await page.click('#add-form button[type=submit]');
    const row = page.locator(`#torrents tr[data-id="${infoHash}"]`);
    await row.waitFor({ timeout: 10_000 });

    // The peers table fills: the seeder's row, with the peer host thread that runs its session.
    const peerRow = page.locator(`#peers tr[data-address="${seederAddress}"]`);
    await peerRow.waitFor({ timeout: 30_000 });
    const threadText = await peerRow.locator('td.thread').textContent();
    assert.match(threadText ?? '', /^peer-host-\d+$/, `thread cell ${threadText}`);
    const detail = torrentDetail.parse(
      (await api(daemon.url, 'GET', `/api/v1/torrents/${infoHash}`, undefined, auth)).json,
    );
    const apiPeer = detail.peerList.find((peer) => peer.address === seederAddress);
    if (apiPeer) assert.equal(`peer-host-${apiPeer.thread}`, threadText, 'the page shows the API thread');

    // Mid-download, with a few seconds of chart data: the screenshot that goes in docs/.
    await waitFor('a third downloaded', 30_000, async () => {
      const text = (await row.locator('.pct').textContent()) ?? '';
      return Number.parseFloat(text) >= 33 ? text : undefined;
    });
    await page.waitForTimeout(1_500);
    const shots = process.env.TORK_SCREENSHOT_DIR ?? join(work, 'screenshots');
    await mkdir(shots, { recursive: true });
    await page.screenshot({ path: join(shots, 'web-page.png'), fullPage: true });
    t.diagnostic(`screenshot: ${join(shots, 'web-page.png')}`);

    // Every chart canvas is drawn; the throughput chart's "down" line rose off the zero line.
    const drawn = (await page.evaluate(CANVAS_PIXELS)) as Array<{ painted: number; downRows: number }>;
    assert.equal(drawn.length, 3, 'three charts');
    for (const chart of drawn)
      assert.ok(chart.painted > 500, `a chart canvas is blank: ${JSON.stringify(drawn)}`);
    assert.ok(drawn[0]!.downRows > 10, `the throughput line never left zero: ${JSON.stringify(drawn[0])}`);

    await waitFor('100 %', 60_000, async () =>
      (await row.locator('.pct').textContent()) === '100.0 %' ? true : undefined,
    );

    // Deselect the third file (1.4 MiB) in the page; the daemon's own API then has it as skip.
    const box = page.locator('#files tr[data-index="2"] input[type=checkbox]');
    assert.equal(await box.isChecked(), true);
    await box.uncheck();
    const skipped = await waitFor('file 2 skipped in the API', 10_000, async () => {
      const answer = await api(daemon.url, 'GET', `/api/v1/torrents/${infoHash}`, undefined, auth);
      const files = torrentDetail.parse(answer.json).files;
      return files[2]?.priority === 'skip' ? files : undefined;
    });
    assert.deepEqual(
      skipped.map((file) => file.priority),
      dataset.files.map((_, index) => (index === 2 ? 'skip' : 'normal')),
    );
    await page.locator('#files tr[data-index="2"].skipped').waitFor({ timeout: 5_000 });
    await page.screenshot({ path: join(shots, 'web-page-done.png'), fullPage: true });

    // Pause and Resume buttons, checked against the API.
    const paused = async (id: string) => {
      const answer = await api(daemon.url, 'GET', `/api/v1/torrents/${id}`, undefined, auth);
      return torrentDetail.parse(answer.json).paused;
    };
    await row.locator('button[data-action=pause]').click();
    await waitFor('paused in the API', 10_000, async () => ((await paused(infoHash)) ? true : undefined));
    await row.locator('button[data-action=resume]').click();
    await waitFor('resumed in the API', 10_000, async () => ((await paused(infoHash)) ? undefined : true));

    // A .torrent file through the form's file input (no seeder: it only has to be added), then Remove.
    const otherHash = parseMetainfo(await readFile(other.torrentPath)).infoHashHex;
    await page.setInputFiles('#torrent-file', other.torrentPath);
    await page.click('#add-form button[type=submit]');
    const otherRow = page.locator(`#torrents tr[data-id="${otherHash}"]`);
    await otherRow.waitFor({ timeout: 10_000 });
    const listed = async () => {
      const answer = await api(daemon.url, 'GET', '/api/v1/torrents', undefined, auth);
      return torrentList.parse(answer.json).torrents.map((torrent) => torrent.id);
    };
    assert.deepEqual((await listed()).sort(), [infoHash, otherHash].sort());
    await otherRow.locator('button[data-action=remove]').click();
    await otherRow.waitFor({ state: 'detached', timeout: 10_000 });
    assert.deepEqual(await listed(), [infoHash], 'removed through the page');

    assert.deepEqual(foreign, [], 'Chromium asked for something other than the daemon');
    assert.deepEqual(pageErrors, [], 'errors in the page');
  });
});
