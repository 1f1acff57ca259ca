#!/usr/bin/env node
// Measures the bare `bittorrent-dht` (no tork guard) against tork's requirements, on loopback
// only (127.0.1.x): what docs/architecture.md's DHT section reports. Never bootstraps from the
// public routers: every node gets an explicit loopback (or empty) bootstrap list.
//   pnpm run build && node scripts/dht-library-probe.mjs
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { Worker } from 'node:worker_threads';

const library = new URL('../packages/workers/node_modules/bittorrent-dht/index.js', import.meta.url).href;
const { default: DHT } = await import(library);
const { decodeBencode, encodeBencode } = await import('../packages/core/dist/index.js');

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const results = {};

async function bare(host, bootstrap = [], k = undefined) {
  const dht = new DHT({ bootstrap, host: false, ...(k ? { k } : {}) });
  dht.on('warning', () => {});
  dht.on('error', () => {});
  await new Promise((resolve) => dht.listen(0, host, resolve));
  return dht;
}

async function client(host) {
  const socket = dgram.createSocket('udp4');
  await new Promise((resolve) => socket.bind(0, host, resolve));
  const got = [];
  socket.on('message', (bytes) => got.push(bytes));
  return { socket, got, send: (message, port, to) => socket.send(encodeBencode(message), port, to) };
}

// 1. Runs in a worker thread.
{
  const source = `
    const { parentPort, workerData } = require('node:worker_threads');
    import(workerData).then(({ default: DHT }) => {
      const dht = new DHT({ bootstrap: [] });
      dht.listen(0, '127.0.1.1', () => { parentPort.postMessage(dht.address().port); dht.destroy(); });
    });`;
  const worker = new Worker(source, { eval: true, workerData: library });
  results.runsInWorker = await new Promise((resolve) => worker.once('message', (port) => resolve(port > 0)));
  await worker.terminate();
}

// 2. A query flood from one address: how many pings are answered.
{
  const dht = await bare('127.0.1.2');
  const flooder = await client('127.0.1.3');
  const sent = 2000;
  for (let i = 0; i < sent; i++) {
    flooder.send(
      { t: Buffer.from([i >> 8, i & 255]), y: 'q', q: 'ping', a: { id: randomBytes(20) } },
      dht.address().port,
      '127.0.1.2',
    );
    if (i % 20 === 0) await sleep(1);
  }
  await sleep(300);
  results.floodPingsAnswered = `${flooder.got.length} of ${sent}`;
  results.routingTableAfterFlood = dht.nodes.count();
  flooder.socket.close();
  dht.destroy();
}

// 3. An unsolicited answer with a fresh id: does it enter the routing table?
{
  const dht = await bare('127.0.1.4');
  const stranger = await client('127.0.1.5');
  const before = dht.nodes.count();
  for (let i = 0; i < 50; i++) {
    stranger.send(
      { t: Buffer.from([9, i]), y: 'r', r: { id: randomBytes(20) } },
      dht.address().port,
      '127.0.1.4',
    );
  }
  await sleep(200);
  results.unsolicitedAnswersAddedNodes = dht.nodes.count() - before;
  stranger.socket.close();
  dht.destroy();
}

// 4. A get_peers answer with 5,000 values (~40 KB) and 18-byte ones: what the lookup emits.
{
  const fake = await client('127.0.1.6');
  const values = [];
  for (let i = 0; i < 5000; i++) values.push(Buffer.from([10, 0, i >> 8, i & 255, 0x1a, 0xe1]));
  for (let i = 0; i < 10; i++) values.push(randomBytes(18));
  fake.socket.on('message', (bytes, from) => {
    const query = decodeBencode(bytes);
    const r = { id: randomBytes(20), token: Buffer.from('tk') };
    if (Buffer.from(query.q).toString() === 'get_peers') r.values = values;
    fake.socket.send(encodeBencode({ t: query.t, y: 'r', r }), from.port, from.address);
  });
  const dht = await bare('127.0.1.7', [{ host: '127.0.1.6', port: fake.socket.address().port }]);
  let peers = 0;
  let datagram = 0;
  dht.on('peer', () => peers++);
  datagram = encodeBencode({ t: 'aa', y: 'r', r: { id: randomBytes(20), token: 'tk', values } }).length;
  await new Promise((resolve) => dht.lookup(randomBytes(20), resolve));
  await sleep(100);
  results.thousandsOfValues = `a ${datagram}-byte answer of 5,010 values gave ${peers} 'peer' events`;
  fake.socket.close();
  dht.destroy();
}

// 5. Our own get_peers answer once 1,000 peers announced one hash (amplification), and persistence.
{
  const dht = await bare('127.0.1.8');
  const hash = randomBytes(20);
  const asker = await client('127.0.1.9');
  asker.send(
    { t: 'g1', y: 'q', q: 'get_peers', a: { id: randomBytes(20), info_hash: hash } },
    dht.address().port,
    '127.0.1.8',
  );
  await sleep(100);
  const token = decodeBencode(asker.got[0]).r.token;
  for (let i = 0; i < 1000; i++) {
    const a = { id: randomBytes(20), info_hash: hash, port: 2000 + i, token };
    asker.send(
      { t: Buffer.from([1, i >> 8, i & 255]), y: 'q', q: 'announce_peer', a },
      dht.address().port,
      '127.0.1.8',
    );
    if (i % 20 === 0) await sleep(1);
  }
  await sleep(200);
  asker.got.length = 0;
  asker.send(
    { t: 'g2', y: 'q', q: 'get_peers', a: { id: randomBytes(20), info_hash: hash } },
    dht.address().port,
    '127.0.1.8',
  );
  await sleep(100);
  const answer = asker.got[0];
  results.ourAnswerAfter1000Announces = `${decodeBencode(answer).r.values.length} values, ${answer.length} bytes (the query was ~90)`;
  results.toJSONNodeFields = Object.keys(dht.toJSON().nodes[0] ?? { host: '', port: 0 }).join(',');
  asker.socket.close();
  dht.destroy();
}

// 6. How many nodes one announce reaches after a lookup across 40 nodes, with the library's K
// (20) and with K = 8: every node of the lookup's table, not the K closest.
for (const k of [undefined, 8]) {
  const nodes = [await bare('127.0.2.1', [], k)];
  const first = { host: '127.0.2.1', port: nodes[0].address().port };
  for (let i = 2; i <= 40; i++) nodes.push(await bare(`127.0.2.${i}`, [first], k));
  await sleep(1500);
  let reached = 0;
  for (const node of nodes) node.on('announce_peer', () => reached++);
  const announcer = await bare('127.0.2.100', [first], k);
  await sleep(500);
  await new Promise((resolve) => announcer.announce(randomBytes(20), 6881, resolve));
  await sleep(200);
  results[`announceReachedK${k ?? 20}`] = `${reached} of 40 nodes`;
  for (const node of [...nodes, announcer]) node.destroy();
  await sleep(200);
}

console.log(JSON.stringify(results, null, 2));
process.exit(0);
