#!/usr/bin/env node
// What the daemon's web page costs: the browser's CPU (Chrome DevTools Protocol `Performance`
// metrics) and the daemon's CPU while a page polls it, with N paused torrents listed.
// Usage: node scripts/web-page-cost.mjs [--torrents 20] [--seconds 30]   (after `pnpm run build`;
// needs Debian's chromium, or TORK_CHROMIUM=path). Loopback only; nothing leaves the machine.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: { torrents: { type: 'string', default: '20' }, seconds: { type: 'string', default: '30' } },
});
const torrents = Number(values.torrents);
const seconds = Number(values.seconds);
const root = new URL('../', import.meta.url);
// playwright-core is a dependency of the test package.
const { chromium } = createRequire(new URL('test/package.json', root))('playwright-core');

const work = await mkdtemp(join(tmpdir(), 'tork-web-cost-'));
const daemon = spawn(
  process.execPath,
  [
    new URL('packages/cli/dist/main.js', root).pathname,
    'daemon',
    '--rpc-listen',
    '127.0.0.1:0',
    '--port',
    '0',
    '--listen-host',
    '127.0.0.1',
    '--no-dht',
    '--state',
    join(work, 'state'),
    '--download-dir',
    join(work, 'out'),
  ],
  { stdio: ['ignore', 'pipe', 'inherit'] },
);
const url = await new Promise((resolve, reject) => {
  let text = '';
  daemon.stdout.on('data', (chunk) => {
    text += chunk;
    const match = /API on (http:\/\/\S+)\/api\/v1/.exec(text);
    if (match) resolve(match[1]);
  });
  daemon.once('exit', (code) => reject(new Error(`daemon exited ${code}`)));
});

/** The daemon's CPU time so far, ms (utime + stime from /proc, in clock ticks of 10 ms). */
async function daemonCpuMs() {
  const stat = (await readFile(`/proc/${daemon.pid}/stat`, 'utf8')).split(') ')[1].split(' ');
  return (Number(stat[11]) + Number(stat[12])) * 10;
}
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

try {
  for (let index = 0; index < torrents; index++) {
    const magnet = `magnet:?xt=urn:btih:${randomBytes(20).toString('hex')}&dn=idle-${index}`;
    const response = await fetch(`${url}/api/v1/torrents`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ magnet, paused: true }),
    });
    if (response.status !== 201) throw new Error(`add: ${response.status} ${await response.text()}`);
  }
  await sleep(2_000);
  const idle0 = await daemonCpuMs();
  await sleep(seconds * 500);
  const idleMs = (await daemonCpuMs()) - idle0;

  const browser = await chromium.launch({
    executablePath: process.env.TORK_CHROMIUM ?? '/usr/bin/chromium',
    args: [
      '--headless=new',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-default-apps',
      '--disable-dev-shm-usage',
      ...(process.getuid?.() === 0 ? ['--no-sandbox'] : []),
    ],
  });
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  await page.goto(`${url}/`);
  const navigation = await page.evaluate(
    `(() => { const n = performance.getEntriesByType('navigation')[0]; return { load: n.loadEventEnd, bytes: performance.getEntriesByType('resource').reduce((sum, r) => sum + r.transferSize, n.transferSize) }; })()`,
  );
  await sleep(3_000);
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Performance.enable');
  const metrics = async () =>
    Object.fromEntries((await cdp.send('Performance.getMetrics')).metrics.map((m) => [m.name, m.value]));
  const before = await metrics();
  const busy0 = await daemonCpuMs();
  await sleep(seconds * 1_000);
  const busyMs = (await daemonCpuMs()) - busy0;
  const after = await metrics();
  await browser.close();

  const perSecond = (key) => ((after[key] - before[key]) * 1000) / seconds;
  console.log(`torrents listed: ${torrents}; measured ${seconds} s`);
  console.log(`page load: ${navigation.load.toFixed(0)} ms, ${navigation.bytes} bytes transferred`);
  console.log(
    `browser, per second: task ${perSecond('TaskDuration').toFixed(1)} ms, script ${perSecond('ScriptDuration').toFixed(1)} ms, ` +
      `layout ${perSecond('LayoutDuration').toFixed(1)} ms, style ${perSecond('RecalcStyleDuration').toFixed(1)} ms; ` +
      `JS heap ${(after.JSHeapUsedSize / 1024 / 1024).toFixed(1)} MiB`,
  );
  console.log(
    `daemon CPU, per second: ${(idleMs / (seconds / 2)).toFixed(1)} ms with no page, ${(busyMs / seconds).toFixed(1)} ms with the page polling`,
  );
} finally {
  daemon.kill('SIGTERM');
  await rm(work, { recursive: true, force: true });
}
